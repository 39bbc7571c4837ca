"""TorchStore on the CPU: the contract, blockwise top-k, masks, memory checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from ragline.retrieval.errors import BackendUnavailable, ConfigError
from ragline.retrieval.stores.torch_store import HEADROOM, TorchStore, auto_dtype
from ragline.retrieval.types import Condition, Filter, Hit
from tests.retrieval.stores.contract import (
    DIM,
    StoreFactory,
    VectorStoreContract,
    make_chunks,
    recall,
    reference,
    unit_vectors,
)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny matmuls: one thread is faster, and immune to a busy machine's OpenMP stalls."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class TestTorchCpu(VectorStoreContract):
    """Small blocks and query batches, so every search merges several blocks."""

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Iterator[StoreFactory]:
        opened: list[TorchStore] = []

        def open_() -> TorchStore:
            store = TorchStore(tmp_path / "store", DIM, device="cpu", block_size=16, query_batch=3)
            store.exact_max = 0  # filters go through the row mask
            opened.append(store)
            return store

        yield open_
        for store in opened:
            store.close()


def ids(rows: list[list[Hit]]) -> list[list[str]]:
    return [[h.chunk_id for h in row] for row in rows]


@pytest.mark.parametrize(("block_size", "query_batch"), [(1, 1), (7, 4), (64, 100), (1000, 2)])
def test_blockwise_topk_equals_full_topk(tmp_path: Path, block_size: int, query_batch: int) -> None:
    rng = np.random.default_rng(2)
    chunks = make_chunks(300)
    vectors = unit_vectors(rng, 300)
    queries = unit_vectors(rng, 9)
    where = Filter((Condition("rank", "gte", 150), Condition("source", "prefix", "docs/api/")))
    with TorchStore(
        tmp_path, DIM, device="cpu", block_size=block_size, query_batch=query_batch
    ) as s:
        s.exact_max = 0
        s.upsert(chunks, vectors)
        for k, filt in [(1, None), (10, None), (25, where), (400, where)]:
            expected = reference(vectors, chunks, queries, k, filt)
            got = s.search(queries, k, filt)
            assert ids(got) == [[c for c, _ in r] for r in expected]
            for row, ref in zip(got, expected, strict=True):
                np.testing.assert_allclose([h.score for h in row], [x for _, x in ref], atol=1e-5)


def test_in_memory_updates_follow_writes(tmp_path: Path) -> None:
    """Upserts, replacements and deletes applied to the loaded tensor, checked against a fresh load."""
    rng = np.random.default_rng(3)
    chunks = make_chunks(100)
    vectors = unit_vectors(rng, 100)
    queries = unit_vectors(rng, 5)
    with TorchStore(tmp_path, DIM, device="cpu", block_size=8) as live:
        live.upsert(chunks[:40], vectors[:40])
        live.search(queries, 1)  # loads the tensor
        live.upsert(chunks[40:], vectors[40:])  # appended, capacity grows
        live.delete([c.id for c in chunks[::3]])
        new_vectors = unit_vectors(rng, 10)
        live.upsert(chunks[1:11], new_vectors)  # replaced in place (and some re-added)
        assert live._gen == live.db.generation()  # followed, not reloaded
        expected = ids(live.search(queries, 20))
        with TorchStore(tmp_path, DIM, device="cpu") as fresh:
            assert ids(fresh.search(queries, 20)) == expected
            assert fresh.count() == live.count() == live._n


def test_fp16_on_cpu_is_close(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    chunks = make_chunks(200)
    vectors = unit_vectors(rng, 200)
    queries = unit_vectors(rng, 10)
    with TorchStore(tmp_path, DIM, device="cpu", dtype="fp16") as store:
        store.upsert(chunks, vectors)
        got = store.search(queries, 10)
    expected = reference(vectors, chunks, queries, 10)
    assert recall(got, expected) >= 0.9
    assert got[0][0].score == pytest.approx(expected[0][0][1], abs=1e-2)


def test_bad_options(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        TorchStore(tmp_path, DIM, device="cpu", dtype="int8")
    with pytest.raises(ConfigError):
        TorchStore(tmp_path, DIM, device="cpu", block_size=0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="torch sees no GPU"):
        TorchStore(tmp_path, DIM, device="cuda")


def test_memory_check_refuses_what_does_not_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TorchStore(tmp_path, DIM, device="cpu")
    store.device = torch.device("cuda", 0)  # pretend; nothing is moved in this test
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda _device=None: (2**30, 80 * 2**30))
    store._check_memory(1000)  # a few KiB: fits
    with pytest.raises(BackendUnavailable, match="GiB are free; use 'faiss'"):
        store._check_memory(100_000_000)
    store.device = torch.device("cpu")
    store.close()


# -- the precision auto picks ---------------------------------------------------------------
def test_auto_dtype_is_fp32_on_the_cpu_whatever_the_size() -> None:
    assert auto_dtype("cpu", 10**9, 384, 0) == "float32"


def test_auto_dtype_on_cuda_is_fp32_while_twice_the_vectors_fit() -> None:
    rows, dim = 1_000_000, 384
    fp32_twice = 2 * rows * dim * 4 + HEADROOM
    assert auto_dtype("cuda", rows, dim, fp32_twice) == "float32"
    assert auto_dtype("cuda:1", rows, dim, fp32_twice - 1) == "float16"
    assert auto_dtype("cuda", 0, dim, HEADROOM) == "float32"


def test_auto_on_the_cpu_keeps_vectors_in_fp32(tmp_path: Path) -> None:
    with TorchStore(tmp_path, DIM, device="cpu") as store:
        assert store.dtype == torch.float32
