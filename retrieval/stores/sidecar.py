"""What the FAISS and torch stores share: the SQLite sidecar and a derived search structure.

A subclass keeps one in-memory structure (a FAISS index, a tensor) built from the sidecar and
tagged with the sidecar generation it reflects. Before each search the tag is compared with the
sidecar's generation (another process may have written), and the structure is brought up to
date; writes go to the sidecar first, then are applied to the structure if it was current.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ragline.retrieval.errors import UsageError
from ragline.retrieval.stores.base import Closable
from ragline.retrieval.stores.sqlite_meta import Change, MetaDB
from ragline.retrieval.types import Chunk, Filter, Hit

log = logging.getLogger(__name__)

EXACT_MAX = 4096
"""Filters matching at most this many chunks are searched exactly over just those vectors."""


def chunk_vectors(chunks: Sequence[Chunk], vectors: np.ndarray, dim: int) -> np.ndarray:
    """:func:`as_matrix` of the vectors given with ``chunks``: one row per chunk."""
    matrix = as_matrix(vectors, dim, "vectors")
    if matrix.shape[0] != len(chunks):
        raise UsageError(f"got {len(chunks)} chunks but {matrix.shape[0]} vectors")
    return matrix


def as_matrix(vectors: np.ndarray, dim: int, what: str) -> np.ndarray:
    """``vectors`` as a C-contiguous float32 (n, dim) array with L2-normalised rows."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1 and array.shape[0] == dim:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != dim:
        raise UsageError(f"{what} must have shape (n, {dim}), got {tuple(array.shape)}")
    if not np.isfinite(array).all():
        raise UsageError(f"{what} contain NaN or infinite values")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(array / norms, dtype=np.float32)


def merge_topk(
    scores: np.ndarray, ids: np.ndarray, new_scores: np.ndarray, new_ids: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` per row of two (q, *) candidate sets, sorted by descending score."""
    all_scores = np.concatenate([scores, new_scores], axis=1)
    all_ids = np.concatenate([ids, new_ids], axis=1)
    kk = min(k, all_scores.shape[1])
    if kk < all_scores.shape[1]:
        part = np.argpartition(-all_scores, kk - 1, axis=1)[:, :kk]
        all_scores = np.take_along_axis(all_scores, part, axis=1)
        all_ids = np.take_along_axis(all_ids, part, axis=1)
    order = np.argsort(-all_scores, axis=1, kind="stable")
    return np.take_along_axis(all_scores, order, axis=1), np.take_along_axis(all_ids, order, axis=1)


def exact_search(
    queries: np.ndarray, k: int, batches: Iterable[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top-k over streamed (ids, vectors) batches; -1 pads short rows."""
    nq = queries.shape[0]
    scores = np.full((nq, 0), -np.inf, dtype=np.float32)
    ids = np.full((nq, 0), -1, dtype=np.int64)
    for batch_ids, vecs in batches:
        block = queries @ vecs.T
        scores, ids = merge_topk(scores, ids, block, np.broadcast_to(batch_ids, block.shape), k)
    return pad(scores, ids, k)


def pad(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows padded to ``k`` columns with (-inf, -1)."""
    missing = k - scores.shape[1]
    if missing <= 0:
        return scores[:, :k], ids[:, :k]
    nq = scores.shape[0]
    return (
        np.concatenate([scores, np.full((nq, missing), -np.inf, dtype=np.float32)], axis=1),
        np.concatenate([ids, np.full((nq, missing), -1, dtype=np.int64)], axis=1),
    )


class SidecarStore(Closable):
    """VectorStore plumbing over the SQLite sidecar; subclasses own the search structure."""

    backend = "sidecar"

    def __init__(self, path: Path, dim: int) -> None:
        if dim <= 0:
            raise UsageError(f"vector dimension must be positive, got {dim}")
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.dim = dim
        self.db = MetaDB(path / "meta.sqlite", dim)
        self._lock = threading.RLock()
        self._closed = False
        self.exact_max = EXACT_MAX

    # -- hooks for subclasses ---------------------------------------------------------------
    def _current_generation(self) -> int | None:
        """Generation the in-memory structure reflects; None when there is none."""
        raise NotImplementedError

    def _load(self) -> None:
        """(Re)build the structure so that it reflects the sidecar's current generation."""
        raise NotImplementedError

    def _apply(self, change: Change) -> None:
        """Follow a change the sidecar just committed (the structure was at change.before)."""
        raise NotImplementedError

    def _drop(self) -> None:
        """Forget the structure (it is rebuilt by ``_load`` before the next search)."""
        raise NotImplementedError

    def _before_write(self) -> None:
        """Called before a write, with the lock held."""

    def _after_write(self) -> None:
        """Called after a write was applied, with the lock held (e.g. to save a file)."""

    def _search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, fids) arrays of shape (q, k), -1 fids where fewer than k were found."""
        raise NotImplementedError

    # -- the VectorStore protocol -----------------------------------------------------------
    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        self._check_open()
        if len(chunks) == 0:
            return
        matrix = chunk_vectors(chunks, vectors, self.dim)
        with self._lock:
            self._before_write()
            self._follow(self.db.upsert(chunks, matrix))

    def delete(self, chunk_ids: Iterable[str]) -> int:
        self._check_open()
        ids = list(chunk_ids)
        if not ids:
            return 0
        with self._lock:
            self._before_write()
            change = self.db.delete(ids)
            if change.removed:
                self._follow(change)
            return len(change.removed)

    def _follow(self, change: Change) -> None:
        if self._current_generation() == change.before:
            self._apply(change)
        else:
            self._drop()
        self._after_write()

    def search(self, vectors: np.ndarray, k: int, where: Filter | None = None) -> list[list[Hit]]:
        with self._lock:
            found = self._ranked(vectors, k, where)
            if isinstance(found, int):
                return [[] for _ in range(found)]
            return self.db.hits(*found)

    def search_ids(
        self, vectors: np.ndarray, k: int, where: Filter | None = None
    ) -> list[list[tuple[str, float]]]:
        """:meth:`search` as (chunk id, cosine) pairs, without reading text or metadata."""
        with self._lock:
            found = self._ranked(vectors, k, where)
            if isinstance(found, int):
                return [[] for _ in range(found)]
            return self.db.ranked_ids(*found)

    def _ranked(
        self, vectors: np.ndarray, k: int, where: Filter | None
    ) -> tuple[np.ndarray, np.ndarray] | int:
        """(scores, fids) of the best ``k`` per query, or the number of queries when there
        is nothing to search (every row empty)."""
        self._check_open()
        queries = as_matrix(vectors, self.dim, "query vectors")
        n = int(queries.shape[0])
        if k <= 0 or n == 0:
            return n
        self.sync()
        allowed: np.ndarray | None = None
        if where:
            allowed = self.db.fids_matching(where)
            if allowed.size == 0:
                return n
        size = self._size()
        if size == 0:
            return n
        k = min(k, size if allowed is None else int(allowed.size))
        if allowed is not None and allowed.size <= self.exact_max:
            return exact_search(queries, k, self.db.iter_vectors(fids=allowed))
        scores, fids = self._search(queries, k, allowed)
        return self._complete(queries, k, allowed, scores, fids)

    def _size(self) -> int:
        return self.db.count()

    def _complete(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None,
        scores: np.ndarray,
        fids: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Redo exactly the queries an approximate search left short of min(k, matches)."""
        matches = allowed.size if allowed is not None else self._size()
        short = np.flatnonzero((fids >= 0).sum(axis=1) < min(k, matches))
        if short.size == 0:
            return scores, fids
        log.debug("%s: %d queries short of k=%d; searching them exactly", self, short.size, k)
        batches = self.db.iter_vectors(batch=16384, fids=allowed)
        exact_scores, exact_fids = exact_search(queries[short], k, batches)
        scores, fids = scores.copy(), fids.copy()
        scores[short], fids[short] = exact_scores, exact_fids
        return scores, fids

    def refresh(self) -> None:
        """See what other processes wrote (every search also does this by itself)."""
        self._check_open()
        self.sync()

    def sync(self) -> None:
        """Bring the search structure up to the sidecar's generation (rebuilding if needed)."""
        with self._lock:
            if self._current_generation() != self.db.generation():
                self._load()

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        self._check_open()
        with self._lock:
            return self.db.get(list(chunk_ids))

    def count(self) -> int:
        self._check_open()
        with self._lock:
            return self.db.count()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._drop()
            self.db.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, dim={self.dim})"
