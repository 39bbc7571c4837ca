"""GPU stores: the contract on FaissGpuStore and TorchStore(cuda), and agreement with FAISS CPU.

Skipped cleanly without CUDA (TorchStore) or without a FAISS that has GPU support and sees a
GPU (FaissGpuStore).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragline.retrieval.stores import select
from ragline.retrieval.stores.faiss_store import FaissStore
from ragline.retrieval.types import Condition, Filter
from tests.retrieval.stores.contract import (
    DIM,
    StoreFactory,
    VectorStoreContract,
    make_chunks,
    unit_vectors,
)

pytestmark = pytest.mark.gpu

needs_cuda = pytest.mark.skipif(
    select.torch_cuda_reason() is not None, reason=str(select.torch_cuda_reason())
)
needs_faiss_gpu = pytest.mark.skipif(
    select.faiss_gpu_reason() is not None, reason=str(select.faiss_gpu_reason())
)


def opener(tmp_path: Path, make: Callable[[Path], Any]) -> Iterator[StoreFactory]:
    opened: list[Any] = []

    def open_() -> Any:
        store = make(tmp_path / "store")
        store.exact_max = 0  # filters go through the device search, not the exact path
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@needs_faiss_gpu
class TestFaissGpuFlat(VectorStoreContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Iterator[StoreFactory]:
        from ragline.retrieval.stores.faiss_store import FaissGpuStore

        yield from opener(tmp_path, lambda p: FaissGpuStore(p, DIM))


@needs_faiss_gpu
class TestFaissGpuIvf(VectorStoreContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Iterator[StoreFactory]:
        from ragline.retrieval.stores.faiss_store import FaissGpuStore

        yield from opener(tmp_path, lambda p: FaissGpuStore(p, DIM, "ivf", nlist=4, nprobe=4))


@needs_cuda
class TestTorchCuda(VectorStoreContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Iterator[StoreFactory]:
        from ragline.retrieval.stores.torch_store import TorchStore

        yield from opener(
            tmp_path,
            lambda p: TorchStore(p, DIM, device="cuda", dtype="fp32", block_size=16),
        )


# -- agreement with FAISS CPU flat at a size where the GPU paths matter --------------------
N, D, NQ, K = 20_000, 64, 32, 10
WHERE = Filter((Condition("rank", "gte", 15_000), Condition("flag", "eq", True)))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    path = tmp_path_factory.mktemp("gpu-corpus")
    rng = np.random.default_rng(99)
    vectors = unit_vectors(rng, N, D)
    with FaissStore(path, D) as store:
        store.upsert(make_chunks(N), vectors)
    return path, vectors, unit_vectors(rng, NQ, D)


def cpu_ids(path: Path, queries: np.ndarray, k: int, where: Filter | None) -> list[list[str]]:
    with FaissStore(path, D) as store:
        store.exact_max = 0
        return [[h.chunk_id for h in r] for r in store.search(queries, k, where)]


def agreement(a: list[list[str]], b: list[list[str]]) -> float:
    same = sum(len(set(x) & set(y)) for x, y in zip(a, b, strict=True))
    return same / max(1, sum(len(y) for y in b))


@pytest.mark.parametrize("where", [None, WHERE], ids=["all", "filtered"])
@pytest.mark.parametrize("k", [K, 3000], ids=["k10", "k3000"])
@pytest.mark.parametrize("backend", ["faiss-gpu", "torch-fp32", "torch-fp16"])
def test_same_ids_as_faiss_cpu_flat(
    corpus: tuple[Path, np.ndarray, np.ndarray], backend: str, k: int, where: Filter | None
) -> None:
    path, _vectors, queries = corpus
    if backend == "faiss-gpu":
        if select.faiss_gpu_reason() is not None:
            pytest.skip(str(select.faiss_gpu_reason()))
        from ragline.retrieval.stores.faiss_store import FaissGpuStore

        store: Any = FaissGpuStore(path, D)
    else:
        if select.torch_cuda_reason() is not None:
            pytest.skip(str(select.torch_cuda_reason()))
        from ragline.retrieval.stores.torch_store import TorchStore

        store = TorchStore(path, D, device="cuda", dtype=backend.split("-")[1], block_size=4096)
    with store:
        store.exact_max = 0
        got = [[h.chunk_id for h in r] for r in store.search(queries, k, where)]
    expected = cpu_ids(path, queries, k, where)
    assert [len(r) for r in got] == [len(r) for r in expected]
    if backend == "torch-fp16":
        assert agreement(got, expected) >= 0.95
    else:
        assert agreement(got, expected) >= 0.999  # exact: only float ties may differ


@needs_cuda
def test_auto_keeps_a_collection_that_fits_in_fp32(tmp_path: Path) -> None:
    """Exact by default on the GPU: fp32 unless the collection would crowd the card."""
    import torch

    from ragline.retrieval.stores.torch_store import TorchStore

    with TorchStore(tmp_path, DIM, device="cuda") as store:
        assert store.dtype == torch.float32
        vectors = unit_vectors(np.random.default_rng(5), 50)
        store.upsert(make_chunks(50), vectors)
        hits = store.search(vectors[:3], 1)
    assert [h[0].chunk_id for h in hits] == [c.id for c in make_chunks(50)[:3]]
