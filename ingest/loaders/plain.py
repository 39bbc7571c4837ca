"""Plain text and reStructuredText read without unstructured: paragraphs, and RST titles.

RST is read as text, never run through docutils: directives are not executed, so an
``.. include::`` never pulls another file into the document (the directive line is dropped;
the named file is ingested, or not, on its own).
"""

from __future__ import annotations

import re

from ragline.ingest.elements import TEXT, TITLE, Element
from ragline.ingest.loaders.headings import HeadingPath

# A line of one repeated ASCII punctuation character: an RST title adornment or transition.
_ADORNMENT = re.compile(r"([!-/:-@\[-`{-~])\1*[ \t]*$")
_INCLUDE = re.compile(r"^[ \t]*\.\.[ \t]+(?:include|literalinclude)::.*$", re.MULTILINE)
# docutils accepts an underline shorter than its title from this length on.
_MIN_ADORNMENT = 4


def parse_plain(text: str) -> list[Element]:
    """Paragraphs separated by blank lines; form feeds (as pdftotext writes) number pages."""
    pages = text.split("\f")
    numbered = len(pages) > 1
    out: list[Element] = []
    for number, page in enumerate(pages, start=1):
        for paragraph in _paragraphs(page.split("\n")):
            out.append(Element(paragraph, TEXT, page=number if numbered else None))
    return out


def _paragraphs(lines: list[str]) -> list[str]:
    paragraphs: list[str] = []
    block: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            block.append(line.rstrip())
        elif block:
            paragraphs.append("\n".join(block))
            block = []
    return paragraphs


def parse_rst(text: str) -> list[Element]:
    """reStructuredText: titles (underlined, optionally overlined) nest by order of first use
    of their adornment style, as docutils does; everything else is paragraphs."""
    lines = _INCLUDE.sub("", text).split("\n")
    styles: list[tuple[str, bool]] = []
    headings = HeadingPath()
    out: list[Element] = []
    block: list[str] = []

    def flush() -> None:
        out.extend(Element(p, TEXT, heading=headings.path) for p in _paragraphs(block))
        block.clear()

    def title(style: tuple[str, bool], text: str) -> None:
        if style not in styles:
            styles.append(style)
        out.append(Element(text, TITLE, heading=headings.enter(styles.index(style), text)))

    i = 0
    while i < len(lines):
        line = lines[i]
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if not line.strip():
            flush()
            i += 1
        elif block:
            block.append(line)
            i += 1
        elif (
            _is_adornment(line) and i + 2 < len(lines) and _overlined(line, following, lines[i + 2])
        ):
            title((line[0], True), following.strip())
            i += 3
        elif not _is_adornment(line) and not line[0].isspace() and _underlines(following, line):
            title((following[0], False), line.strip())
            i += 2
        elif _is_adornment(line) and len(line.strip()) >= _MIN_ADORNMENT:
            i += 1  # a transition
        else:
            block.append(line)
            i += 1
    flush()
    return out


def _is_adornment(line: str) -> bool:
    return _ADORNMENT.match(line) is not None


def _underlines(adornment: str, text: str) -> bool:
    if not _is_adornment(adornment):
        return False
    size = len(adornment.rstrip())
    return size >= _MIN_ADORNMENT or size >= len(text.rstrip())


def _overlined(overline: str, text: str, underline: str) -> bool:
    return (
        bool(text.strip())
        and not _is_adornment(text)
        and _is_adornment(underline)
        and underline[0] == overline[0]
    )
