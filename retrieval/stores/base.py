"""The VectorStore protocol. Every backend passes tests/retrieval/stores/contract.py."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol, Self, runtime_checkable

import numpy as np

from ragline.retrieval.errors import UsageError
from ragline.retrieval.types import Chunk, Filter, Hit


@runtime_checkable
class VectorStore(Protocol):
    """Persistent store of chunk vectors + chunk text and metadata.

    - ``upsert`` is idempotent by chunk id (same id again replaces, never duplicates).
    - ``delete`` of ids that are not there is not an error; it returns how many were removed.
    - ``search`` takes a (q, dim) float32 array of L2-normalised queries and returns, per query,
      up to ``k`` hits sorted by descending cosine similarity (``Hit.score``); the filter is
      applied inside the search, so ``k`` hits come back whenever ``k`` chunks match.
    - Everything written is on disk when the call returns (``close``/reopen keeps it).
    """

    dim: int

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None: ...

    def delete(self, chunk_ids: Iterable[str]) -> int: ...

    def search(
        self, vectors: np.ndarray, k: int, where: Filter | None = None
    ) -> list[list[Hit]]: ...

    def search_ids(
        self, vectors: np.ndarray, k: int, where: Filter | None = None
    ) -> list[list[tuple[str, float]]]:
        """``search`` as (chunk id, score) pairs: no text or metadata is read, so rankings
        that are fused and cut before anyone reads them cost a fraction of a search."""
        ...

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        """The stored chunks among ``chunk_ids`` (missing ids are left out), in the given order."""
        ...

    def count(self) -> int: ...

    def refresh(self) -> None:
        """Catch up with writes other processes made since the store was opened."""
        ...

    def close(self) -> None: ...


class Closable:
    """What every backend shares about its lifecycle: a closed store refuses calls, and a
    store is a context manager that closes on exit."""

    backend: str
    path: Path
    _closed: bool = False

    def close(self) -> None:
        raise NotImplementedError

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError(f"the {self.backend} store at {self.path} is closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
