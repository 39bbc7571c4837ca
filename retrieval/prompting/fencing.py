"""Retrieved text is data: each source goes inside a fence the text itself cannot close.

A fence is an XML-like tag carrying a per-prompt nonce::

    <source-d7e0 n="1" origin="guide.pdf" page="3">
    ...document text...
    </source-d7e0>

The prompt builder derives the nonce from the question and the chunks (so that the same
question gives byte-for-byte the same prompt); ``Fence.new()`` draws a random one. Any
``<source-`` / ``</source-`` sequence inside the text is defused (its ``<`` becomes ``‹``), so
even a known nonce cannot end the fence; the nonce only keeps one prompt's tags apart from
tags a document may quote. It is short (:data:`NONCE_HEX` digits) because it is paid for
in prompt tokens: Qwen's tokenizer makes every hex digit a token, and 16-digit nonces were 24
of the ~54 tokens each source's tags cost, ~13% of an answer prompt (docs/benchmarks.md,
"Answer quality"). The system prompt tells the model that fenced text is material to quote,
never instructions.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

_TAG = "source"
NONCE_HEX = 4
"""Hex digits of a fence nonce (the first always a letter, see :func:`nonce_of`)."""


def nonce_of(digest_hex: str) -> str:
    """A nonce from hex digits: the first :data:`NONCE_HEX` of them, the first made a letter
    (a-f), so that no nonce reads as a citation number ("[1234]")."""
    head = digest_hex[:NONCE_HEX]
    return "abcdef"[int(head[0], 16) % 6] + head[1:]


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
    origins: bool = True
    """Whether a tag names its source's file (``origin``)."""

    @classmethod
    def new(cls, nonce: str | None = None, *, origins: bool = True) -> Fence:
        return cls(nonce or nonce_of(secrets.token_hex(NONCE_HEX // 2)), origins)

    @property
    def name(self) -> str:
        return f"{_TAG}-{self.nonce}"

    def open(self, number: int, origin: str, page: int | None = None) -> str:
        attrs = f' n="{number}"'
        if self.origins:
            attrs += f' origin="{_attr(_short(origin))}"'
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
