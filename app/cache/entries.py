"""Values the answer cache stores and returns."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ragline.retrieval.errors import BackendUnavailable, UsageError

if TYPE_CHECKING:
    import numpy as np

HitKind = Literal["exact", "semantic"]
Source = Literal["exact", "semantic", "computed", "shared"]


class CacheUnavailable(BackendUnavailable):
    """The cache's Redis cannot be reached or answered too slowly (the cache then bypasses
    itself; callers of AnswerCache never see this)."""


@dataclass(frozen=True, eq=False)
class CacheEntry:
    """One stored answer."""

    key: str
    namespace: str
    """The namespace digest."""
    question: str
    """The normalised question."""
    payload: dict[str, Any]
    cited: tuple[str, ...]
    created: float
    guard: tuple[str, ...] = ()
    vector: np.ndarray | None = None

    def payload_json(self) -> str:
        try:
            return json.dumps(self.payload, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise UsageError(f"answer payload is not JSON-serialisable: {exc}") from exc


@dataclass(frozen=True)
class Candidate:
    """A stored question close enough to the new one, before the guard and overlap checks."""

    key: str
    similarity: float
    cited: frozenset[str]
    guard: tuple[str, ...]


@dataclass(frozen=True)
class CacheHit:
    """A reusable answer: ``kind`` exact (same normalised question) or semantic (paraphrase)."""

    payload: dict[str, Any]
    kind: HitKind
    similarity: float
    key: str
    question: str
    """The cached (normalised) question the answer was made for."""
    cited_chunk_ids: tuple[str, ...]
    age_s: float
    overlap: float = 1.0


@dataclass(frozen=True)
class CacheableAnswer:
    """What ``get_or_compute``'s compute function returns."""

    payload: dict[str, Any]
    cited_chunk_ids: Sequence[str] = ()
    cacheable: bool = True
    """False for answers that must not be reused (errors, partial streams)."""


@dataclass(frozen=True)
class CacheOutcome:
    """The answer ``get_or_compute`` returns and where it came from: a cache hit, this call's
    own computation, or one shared with a concurrent identical request."""

    payload: dict[str, Any]
    source: Source
    similarity: float | None = None
    hit: CacheHit | None = field(default=None, repr=False)

    @property
    def cached(self) -> bool:
        return self.source in ("exact", "semantic")
