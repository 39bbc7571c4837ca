"""The fixed query split: tune on one half of a set's queries, report on the other.

A query's half is decided by a hash of its id alone, so it never depends on the order, the
size or the other queries of a set, and the two Debian editions (same ids) split alike:
``sha256(id)``'s first byte even → ``"tune"``, odd → ``"report"`` (the split
``bench/answer_quality.py`` uses for questions). Settings are chosen on ``tune``; the
numbers published are measured on ``report``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Literal, TypeVar

Half = Literal["tune", "report"]
HALVES: tuple[Half, ...] = ("tune", "report")
V = TypeVar("V")


def half_of(query_id: str) -> Half:
    """The half ``query_id`` belongs to."""
    return "tune" if hashlib.sha256(query_id.encode()).digest()[0] % 2 == 0 else "report"


def select(items: Mapping[str, V], half: Half | Literal["all"]) -> dict[str, V]:
    """The entries of ``items`` (keyed by query id) in ``half`` (``"all"``: every one)."""
    if half == "all":
        return dict(items)
    return {k: v for k, v in items.items() if half_of(k) == half}
