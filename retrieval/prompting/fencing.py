"""Retrieved text is data: each source goes inside a fence the text itself cannot close.

A fence is an XML-like tag carrying a per-prompt nonce::

    <source-5f0c2a9e1b7d4c38 n="1" origin="guide.pdf" page="3">
    ...document text...
    </source-5f0c2a9e1b7d4c38>

The prompt builder derives the nonce from the question and the chunks (so that the same
question gives byte-for-byte the same prompt); ``Fence.new()`` draws a random one. Either way a
document cannot contain its closing tag in advance (it would have to contain a hash of
itself); in addition any ``<source-`` / ``</source-`` sequence inside the text is defused (its
``<`` becomes ``‹``), so even a known nonce cannot end the fence. The
system prompt tells the model that fenced text is material to quote, never instructions.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

_TAG = "source"
_DEFUSE = re.compile(rf"<(/?\s*{_TAG}\b)", re.IGNORECASE)


class Fenceable(Protocol):
    @property
    def number(self) -> int: ...
    @property
    def source(self) -> str: ...
    @property
    def page(self) -> int | None: ...
    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class Fence:
    nonce: str

    @classmethod
    def new(cls, nonce: str | None = None) -> Fence:
        return cls(nonce or secrets.token_hex(8))

    @property
    def name(self) -> str:
        return f"{_TAG}-{self.nonce}"

    def open(self, number: int, origin: str, page: int | None = None) -> str:
        attrs = f' n="{number}" origin="{_attr(_short(origin))}"'
        if page is not None:
            attrs += f' page="{page}"'
        return f"<{self.name}{attrs}>"

    def close(self) -> str:
        return f"</{self.name}>"

    def wrap(self, item: Fenceable) -> str:
        return (
            f"{self.open(item.number, item.source, item.page)}\n{defuse(item.text)}\n{self.close()}"
        )

    def render(self, items: Sequence[Fenceable]) -> str:
        """All sources, fenced, in order (empty string for none)."""
        return "\n\n".join(self.wrap(i) for i in items)


def defuse(text: str) -> str:
    """Neutralise anything in ``text`` that looks like a fence tag."""
    return _DEFUSE.sub(lambda m: "‹" + m.group(1), text)


def _attr(value: str) -> str:
    return (
        value.replace("&", "&amp;")
        .replace('"', "&quot;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\n", " ")
    )


def _short(origin: str) -> str:
    """A source's file name (a path's last part; a URL stays whole): enough for the model
    to tell sources apart, without the data directory's layout."""
    if "://" in origin:
        return origin
    return origin.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or origin
