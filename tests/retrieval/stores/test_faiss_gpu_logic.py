"""FaissGpuStore's own logic (filters, IVF, falling back to the CPU index) run on the CPU
through a stand-in GPU index, so it is tested where no GPU is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

from ragline.retrieval.errors import BackendUnavailable
from ragline.retrieval.stores import faiss_store, open_store
from ragline.retrieval.stores.faiss_store import FaissGpuStore, FaissStore
from ragline.retrieval.types import Condition, Filter
from tests.retrieval.stores.contract import (
    DIM,
    StoreFactory,
    VectorStoreContract,
    make_chunks,
    reference,
    unit_vectors,
)
from tests.retrieval.stores.test_faiss import factory, ids_of


class IgnoresSelectors:
    """What a (non-cuVS) FAISS GPU index does with SearchParameters: ignores the selector."""

    def __init__(self, index: Any) -> None:
        self.index = faiss.clone_index(index)
        self.nprobe = 0

    def search(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        assert k <= faiss_store.GPU_MAX_K
        result: tuple[np.ndarray, np.ndarray] = self.index.search(x, k)
        return result

    def add_with_ids(self, x: np.ndarray, ids: np.ndarray) -> None:
        self.index.add_with_ids(x, ids)


class FakeGpuStore(FaissGpuStore):
    def _to_device(self, index: Any) -> Any:
        return IgnoresSelectors(index)


class TestGpuLogicOnCpu(VectorStoreContract):
    """FaissGpuStore's over-fetch + CPU fallback, with a stand-in device index."""

    @pytest.fixture
    def store_factory(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[StoreFactory]:
        monkeypatch.setattr(faiss_store, "gpu_count", lambda _faiss: 1)
        yield from factory(tmp_path, lambda p: FakeGpuStore(p, DIM))


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_small_filtered_sets_are_searched_exactly(tmp_path: Path, kind: str) -> None:
    """At the default threshold few matches skip the index: exact over their own vectors."""
    rng = np.random.default_rng(12)
    chunks = make_chunks(120)
    vectors = unit_vectors(rng, 120)
    queries = unit_vectors(rng, 4)
    with FaissStore(tmp_path, DIM, kind) as store:
        store.upsert(chunks, vectors)
        for where in (Filter.where(group="g2"), Filter((Condition("rank", "lte", 1),))):
            for k in (3, 200):
                expected = reference(vectors, chunks, queries, k, where)
                got = store.search(queries, k, where)
                assert ids_of_hits(got) == [[c for c, _ in r] for r in expected]


def ids_of_hits(rows: list[list[Any]]) -> list[list[str]]:
    return [[h.chunk_id for h in row] for row in rows]


class TestGpuIvfLogicOnCpu(VectorStoreContract):
    @pytest.fixture
    def store_factory(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[StoreFactory]:
        monkeypatch.setattr(faiss_store, "gpu_count", lambda _faiss: 1)
        yield from factory(tmp_path, lambda p: FakeGpuStore(p, DIM, "ivf", nlist=4, nprobe=4))


def test_gpu_search_failure_falls_back_to_the_cpu_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(IgnoresSelectors):
        def search(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
            raise RuntimeError("k > GPU_MAX_SELECTION_K")

    class BrokenGpuStore(FaissGpuStore):
        def _to_device(self, index: Any) -> Any:
            return Broken(index)

    monkeypatch.setattr(faiss_store, "gpu_count", lambda _faiss: 1)
    rng = np.random.default_rng(13)
    chunks = make_chunks(30)
    vectors = unit_vectors(rng, 30)
    with BrokenGpuStore(tmp_path, DIM) as store:
        store.upsert(chunks, vectors)
        expected = reference(vectors, chunks, vectors[:2], 3)
        assert ids_of(store, vectors[:2], 3) == [[c for c, _ in r] for r in expected]


def test_faiss_gpu_unavailable_is_a_clear_error(tmp_path: Path) -> None:
    if faiss_store.gpu_count(faiss):
        pytest.skip("this FAISS sees a GPU")
    with pytest.raises(BackendUnavailable, match="faiss-gpu needs FAISS built with GPU support"):
        open_store("faiss-gpu", tmp_path / "store", DIM)
