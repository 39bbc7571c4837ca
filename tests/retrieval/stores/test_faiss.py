"""FaissStore (flat, HNSW, IVF) against the contract, plus its crash-consistency machinery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragline.retrieval.errors import CollectionMismatch, ConfigError
from ragline.retrieval.stores import faiss_index
from ragline.retrieval.stores.faiss_store import FaissStore
from ragline.retrieval.stores.torch_store import TorchStore
from ragline.retrieval.types import Condition, Filter
from tests.retrieval.stores.contract import (
    DIM,
    StoreFactory,
    VectorStoreContract,
    make_chunks,
    reference,
    unit_vectors,
)

ROOT = Path(__file__).resolve().parents[3]


def factory(
    tmp_path: Path, make: Callable[[Path], FaissStore], exact_max: int = 0
) -> Iterator[StoreFactory]:
    opened: list[FaissStore] = []

    def open_() -> FaissStore:
        store = make(tmp_path / "store")
        store.exact_max = exact_max  # 0: filters go through the index's ID selector
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


class TestFlat(VectorStoreContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Iterator[StoreFactory]:
        yield from factory(tmp_path, lambda p: FaissStore(p, DIM))


class TestHnsw(VectorStoreContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Iterator[StoreFactory]:
        yield from factory(tmp_path, lambda p: FaissStore(p, DIM, "hnsw", hnsw_m=8))


class TestIvf(VectorStoreContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Iterator[StoreFactory]:
        yield from factory(tmp_path, lambda p: FaissStore(p, DIM, "ivf", nlist=4, nprobe=4))


def test_bad_options(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        FaissStore(tmp_path / "a", DIM, index="lsh")
    with pytest.raises(ConfigError):
        FaissStore(tmp_path / "b", DIM, hnsw_m=0)


def test_dimension_mismatch_on_reopen(tmp_path: Path) -> None:
    FaissStore(tmp_path, DIM).close()
    with pytest.raises(CollectionMismatch):
        FaissStore(tmp_path, DIM + 1)


# -- the index file as a cache of the sidecar --------------------------------------------
def filled(path: Path, kind: str = "flat", n: int = 60) -> tuple[np.ndarray, list[Any]]:
    rng = np.random.default_rng(7)
    chunks = make_chunks(n)
    vectors = unit_vectors(rng, n)
    with FaissStore(path, DIM, kind) as store:
        store.upsert(chunks, vectors)
        store.search(vectors[:1], 1)  # builds and saves the index
    return vectors, chunks


def stamp(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((path / faiss_index.STAMP_FILE).read_text())
    return data


def ids_of(store: Any, queries: np.ndarray, k: int) -> list[list[str]]:
    return [[h.chunk_id for h in row] for row in store.search(queries, k)]


def test_index_file_is_written_and_stamped(tmp_path: Path) -> None:
    filled(tmp_path)
    assert (tmp_path / faiss_index.INDEX_FILE).is_file()
    data = stamp(tmp_path)
    assert data["ntotal"] == 60 and data["spec"]["kind"] == "flat"
    with FaissStore(tmp_path, DIM) as store:
        assert data["generation"] == store.db.generation()
        # Not loaded: a write goes to the sidecar only; the stale file is rebuilt when needed.
        store.delete([make_chunks(2)[1].id])
        assert stamp(tmp_path)["generation"] == data["generation"]
        store.search(unit_vectors(np.random.default_rng(0), 1), 1)
        assert stamp(tmp_path)["generation"] == store.db.generation()
        # Loaded: each write leaves index file and stamp current when it returns.
        store.delete([make_chunks(1)[0].id])
        assert stamp(tmp_path)["generation"] == store.db.generation()
        assert stamp(tmp_path)["ntotal"] == 58
        store.upsert(make_chunks(1), unit_vectors(np.random.default_rng(1), 1))
        assert stamp(tmp_path)["generation"] == store.db.generation()
        assert stamp(tmp_path)["ntotal"] == 59


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_crash_between_sidecar_and_index_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    vectors, chunks = filled(tmp_path, kind)
    extra = make_chunks(5, start=100)
    extra_vectors = unit_vectors(np.random.default_rng(9), 5)

    def crash(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt("killed before the index file was written")

    store = FaissStore(tmp_path, DIM, kind)
    store.search(vectors[:1], 1)
    monkeypatch.setattr(faiss_index, "save_index", crash)
    with pytest.raises(KeyboardInterrupt):
        store.upsert(extra, extra_vectors)
    monkeypatch.undo()
    store.close()
    assert stamp(tmp_path)["generation"] < 2  # the file still reflects the old generation

    with FaissStore(tmp_path, DIM, kind) as again:
        assert again.count() == 65
        all_vectors = np.concatenate([vectors, extra_vectors])
        top = again.search(extra_vectors, 1)
        assert [r[0].chunk_id for r in top] == [c.id for c in extra]
        expected = reference(all_vectors, chunks + extra, extra_vectors, 5)
        assert ids_of(again, extra_vectors, 5) == [[c for c, _ in r] for r in expected]
        assert stamp(tmp_path)["generation"] == again.db.generation()  # rebuilt and saved


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: (p / faiss_index.INDEX_FILE).unlink(),
        lambda p: (p / faiss_index.STAMP_FILE).unlink(),
        lambda p: (p / faiss_index.INDEX_FILE).write_bytes(b"not an index"),
        lambda p: (p / faiss_index.STAMP_FILE).write_text("{"),
    ],
    ids=["no-index", "no-stamp", "garbage-index", "garbage-stamp"],
)
def test_damaged_index_files_are_rebuilt(tmp_path: Path, damage: Callable[[Path], Any]) -> None:
    vectors, chunks = filled(tmp_path)
    damage(tmp_path)
    with FaissStore(tmp_path, DIM) as store:
        expected = reference(vectors, chunks, vectors[:3], 4)
        assert ids_of(store, vectors[:3], 4) == [[c for c, _ in r] for r in expected]
    assert stamp(tmp_path)["ntotal"] == 60


def test_index_kind_change_rebuilds(tmp_path: Path) -> None:
    vectors, chunks = filled(tmp_path, "flat")
    with FaissStore(tmp_path, DIM, "hnsw", hnsw_m=8) as store:
        expected = reference(vectors, chunks, vectors[:3], 4)
        assert ids_of(store, vectors[:3], 4) == [[c for c, _ in r] for r in expected]
    assert stamp(tmp_path)["spec"]["kind"] == "hnsw"


def test_other_process_writes_are_seen(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    chunks = make_chunks(20)
    vectors = unit_vectors(rng, 20)
    with FaissStore(tmp_path, DIM) as reader, FaissStore(tmp_path, DIM) as writer:
        writer.upsert(chunks[:10], vectors[:10])
        assert len(reader.search(vectors[:1], 20)[0]) == 10
        writer.upsert(chunks[10:], vectors[10:])
        writer.delete([chunks[0].id])
        assert len(reader.search(vectors[:1], 20)[0]) == 19
        reader.upsert(chunks[:1], vectors[:1])
        assert writer.search(vectors[:1], 1)[0][0].chunk_id == chunks[0].id


def test_hnsw_delete_rebuilds_lazily(tmp_path: Path) -> None:
    vectors, chunks = filled(tmp_path, "hnsw")
    with FaissStore(tmp_path, DIM, "hnsw") as store:
        store.search(vectors[:1], 1)
        assert store.delete([chunks[0].id, chunks[1].id]) == 2
        assert store._index is None  # dropped: HNSW cannot remove ids
        hits = store.search(vectors[:2], 3)
        assert chunks[0].id not in {h.chunk_id for r in hits for h in r}
        assert stamp(tmp_path)["ntotal"] == 58


def test_ivf_short_results_are_completed_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    chunks = make_chunks(400)
    vectors = unit_vectors(rng, 400)
    where = Filter((Condition("rank", "gte", 200),))
    with FaissStore(tmp_path, DIM, "ivf", nlist=8, nprobe=1) as store:
        store.exact_max = 0
        store.upsert(chunks, vectors)
        queries = unit_vectors(rng, 10)
        for k, filt in [(300, None), (150, where)]:
            hits = store.search(queries, k, filt)
            assert [len(r) for r in hits] == [k] * 10
            expected = reference(vectors, chunks, queries, k, filt)
            for row, ref in zip(hits, expected, strict=True):
                assert {h.chunk_id for h in row} == {c for c, _ in ref}


def test_ivf_retrains_as_it_grows(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    chunks = make_chunks(400)
    vectors = unit_vectors(rng, 400)
    with FaissStore(tmp_path, DIM, "ivf", nlist=8, nprobe=8) as store:
        store.upsert(chunks[:50], vectors[:50])
        store.search(vectors[:1], 1)
        assert stamp(tmp_path)["spec"] == {**stamp(tmp_path)["spec"], "kind": "ivf", "nlist": 1}
        store.upsert(chunks[50:], vectors[50:])
        store.search(vectors[:1], 1)
        assert stamp(tmp_path)["spec"]["nlist"] == 8
        assert stamp(tmp_path)["spec"]["trained_on"] == 400


# -- one on-disk format: FAISS and torch open each other's stores -------------------------
@pytest.mark.parametrize("first", ["faiss", "torch"])
def test_faiss_and_torch_share_the_format(tmp_path: Path, first: str) -> None:
    rng = np.random.default_rng(11)
    chunks = make_chunks(50)
    vectors = unit_vectors(rng, 50)
    queries = unit_vectors(rng, 4)
    where = Filter((Condition("source", "prefix", "docs/guide/"),))
    writer: Any = FaissStore(tmp_path, DIM) if first == "faiss" else TorchStore(tmp_path, DIM)
    with writer:
        writer.upsert(chunks, vectors)
        writer.delete([chunks[3].id])
        before = ids_of(writer, queries, 5), writer.search(queries, 5, where)
    reader: Any = TorchStore(tmp_path, DIM) if first == "faiss" else FaissStore(tmp_path, DIM)
    with reader:
        assert reader.count() == 49
        assert ids_of(reader, queries, 5) == before[0]
        filtered = reader.search(queries, 5, where)
        assert [[h.chunk_id for h in r] for r in filtered] == [
            [h.chunk_id for h in r] for r in before[1]
        ]
        reader.upsert(chunks[3:4], vectors[3:4])
    with FaissStore(tmp_path, DIM) as again:
        assert again.count() == 50
        assert again.search(vectors[3:4], 1)[0][0].chunk_id == chunks[3].id


# -- kill -9 while writing ----------------------------------------------------------------
WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from pathlib import Path
    from ragline.retrieval.stores.faiss_store import FaissStore
    from tests.retrieval.stores.contract import make_chunks, unit_vectors

    store = FaissStore(Path(sys.argv[1]), 16, sys.argv[2])
    rng = np.random.default_rng(0)
    store.search(unit_vectors(rng, 1), 1)
    for i in range(100000):
        chunks = make_chunks(20, start=i * 20)
        store.upsert(chunks, unit_vectors(rng, 20))
        if i % 3 == 2:
            store.delete([chunks[0].id])
        print(i, flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_kill_9_while_writing(tmp_path: Path, kind: str) -> None:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    for round_ in range(2):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), kind],
            stdout=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        assert proc.stdout is not None
        for _ in range(5 + 7 * round_):
            proc.stdout.readline()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with FaissStore(tmp_path, DIM, kind) as store:
            n = store.count()
            assert n > 0
            ids = [
                cid for (cid,) in store.db._conn.execute("SELECT chunk_id FROM chunks ORDER BY fid")
            ]
            assert len(store.get(ids)) == n
            # Every stored chunk is found by its own vector, and nothing else comes back.
            vectors = np.concatenate([v for _, v in store.db.iter_vectors()])
            top = [r[0].chunk_id for r in store.search(vectors, 1)]
            assert np.mean([a == b for a, b in zip(top, ids, strict=True)]) >= 0.99
            assert len(store.search(vectors[:1], n + 10)[0]) == n
            assert store._index.ntotal == n
