"""The semantic layer's in-process search: one small matrix of question vectors per namespace
(brute-force cosine with numpy; a namespace holds at most ``cache.max_entries`` answers),
plus the rules a paraphrase must pass besides similarity."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ragline.cache.entries import Candidate
from ragline.cache.keys import compatible
from ragline.retrieval.embedders.e5 import E5_ID
from ragline.retrieval.embedders.sentence import MINILM_ID
from ragline.retrieval.embedders.use import USE_ID

OverlapKind = Literal["cited_share", "jaccard"]
_MAX_CANDIDATES = 8

THRESHOLDS = {E5_ID: 0.95, MINILM_ID: 0.90, USE_ID: 0.85}
"""Least similarity of a paraphrase, per embedder of the question vectors. Models spread
cosines differently: e5-small puts two different questions of one FAQ at up to 0.935 ("Which
standard module runs the examples written in docstrings as tests?" / "… can produce HTML
documentation from docstrings?") and its paraphrases at 0.947-0.999, where MiniLM puts them
at up to 0.86 and its paraphrases from 0.80. Chosen on the tune half of the gold QA sets'
questions (every pair of two different questions is a false hit) and the hand-written
paraphrases; bench/answer_cache.py measures both."""
DEFAULT_THRESHOLD = 0.90
"""An embedder not measured above."""


def threshold_for(embedder_id: str, configured: float | None = None) -> float:
    """``configured`` when set, else the threshold measured for ``embedder_id``."""
    if configured is not None:
        return configured
    return THRESHOLDS.get(embedder_id, DEFAULT_THRESHOLD)


@dataclass(frozen=True)
class Row:
    key: str
    created: float
    vector: np.ndarray
    cited: frozenset[str]
    guard: tuple[str, ...]


def unit(vector: Any) -> np.ndarray:
    """float32, 1-d, L2-normalised."""
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


class VectorIndex:
    """Rows addressable by key; capacity doubles on growth, removal swaps in the last row."""

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim
        self._matrix = np.zeros((0, dim or 0), dtype=np.float32)
        self._created = np.zeros(0, dtype=np.float64)
        self._rows: list[Row] = []
        self._pos: dict[str, int] = {}
        self.max_created = 0.0

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: object) -> bool:
        return key in self._pos

    def keys(self) -> list[str]:
        return [r.key for r in self._rows]

    def add(self, rows: Iterable[Row]) -> None:
        for row in rows:
            if self.dim is None:
                self.dim = row.vector.shape[0]
                self._matrix = np.zeros((0, self.dim), dtype=np.float32)
            if row.vector.shape[0] != self.dim:
                continue  # another embedder's vector: never comparable
            self.remove([row.key])
            n = len(self._rows)
            if n == self._matrix.shape[0]:
                grow = max(16, n)
                self._matrix = np.vstack([self._matrix, np.zeros((grow, self.dim), np.float32)])
                self._created = np.concatenate([self._created, np.zeros(grow)])
            self._matrix[n] = row.vector
            self._created[n] = row.created
            self._rows.append(row)
            self._pos[row.key] = n
            self.max_created = max(self.max_created, row.created)

    def remove(self, keys: Iterable[str]) -> int:
        removed = 0
        for key in keys:
            i = self._pos.pop(key, None)
            if i is None:
                continue
            last = len(self._rows) - 1
            if i != last:
                moved = self._rows[last]
                self._rows[i] = moved
                self._matrix[i] = self._matrix[last]
                self._created[i] = self._created[last]
                self._pos[moved.key] = i
            self._rows.pop()
            removed += 1
        return removed

    def search(self, vector: np.ndarray, threshold: float, min_created: float) -> list[Candidate]:
        """Rows with cosine similarity ≥ threshold created at or after ``min_created``,
        best first (at most a handful)."""
        n = len(self._rows)
        if n == 0 or vector.shape[0] != self.dim:
            return []
        sims = self._matrix[:n] @ vector
        ok = np.flatnonzero((sims >= threshold) & (self._created[:n] >= min_created))
        if ok.size == 0:
            return []
        best = ok[np.argsort(-sims[ok], kind="stable")[:_MAX_CANDIDATES]]
        out = []
        for i in best:
            row = self._rows[int(i)]
            out.append(Candidate(row.key, float(sims[i]), row.cited, row.guard))
        return out


def overlap(cited: Collection[str], retrieved: Collection[str], kind: OverlapKind) -> float:
    """How well the new question's retrieved chunks support a cached answer.

    cited_share: share of the answer's cited chunks that were retrieved again; jaccard:
    |cited ∩ retrieved| / |cited ∪ retrieved|. An answer that cites nothing scores 0 (it is
    only reused for the exact same question)."""
    if not cited:
        return 0.0
    common = len(set(cited) & set(retrieved))
    if kind == "jaccard":
        return common / len(set(cited) | set(retrieved))
    return common / len(cited)


def accept(
    candidates: Sequence[Candidate],
    guard: tuple[str, ...],
    retrieved: Collection[str],
    min_overlap: float,
    kind: OverlapKind,
) -> list[tuple[Candidate, float]]:
    """Candidates that pass the guard-token and overlap rules, best first, with overlap."""
    out = []
    for candidate in candidates:
        if not compatible(candidate.guard, guard):
            continue
        share = overlap(candidate.cited, retrieved, kind)
        if share >= min_overlap:
            out.append((candidate, share))
    return out
