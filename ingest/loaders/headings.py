"""The path of section titles above the current position, as a document is read in order."""

from __future__ import annotations


class HeadingPath:
    """A stack of (level, title): entering a title closes the titles at its level or deeper.

    Levels are any integers, smaller meaning outer (Markdown: 1 for ``#``; unstructured:
    ``category_depth`` from 0).
    """

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def enter(self, level: int, title: str) -> tuple[str, ...]:
        """Open a section; returns the path including the new title."""
        self._stack = [(lvl, text) for lvl, text in self._stack if lvl < level]
        self._stack.append((level, title))
        return self.path

    def reset(self) -> None:
        self._stack = []

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(text for _, text in self._stack)
