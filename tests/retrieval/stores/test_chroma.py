"""ChromaStore against the contract, plus what is particular to Chroma."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ragline.retrieval.errors import CollectionMismatch, StoreBusy
from ragline.retrieval.stores import open_store
from ragline.retrieval.stores.chroma import ChromaStore
from ragline.retrieval.types import Condition, Filter
from tests.retrieval.stores.contract import (
    DIM,
    StoreFactory,
    VectorStoreContract,
    make_chunks,
    reference,
    unit_vectors,
)


class TestChroma(VectorStoreContract):
    score_atol = 1e-3

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Iterator[StoreFactory]:
        opened: list[ChromaStore] = []

        def open_() -> ChromaStore:
            store = ChromaStore(tmp_path / "store", DIM)
            opened.append(store)
            return store

        yield open_
        for store in opened:
            store.close()


def test_no_telemetry_and_no_embedding_function(tmp_path: Path) -> None:
    with ChromaStore(tmp_path, DIM) as store:
        assert os.environ.get("ANONYMIZED_TELEMETRY") == "False"
        assert store._col._embedding_function is None
        assert store._col.configuration["hnsw"]["space"] == "cosine"


def test_dimension_mismatch_on_reopen(tmp_path: Path) -> None:
    open_store("chroma", tmp_path, DIM).close()
    with pytest.raises(CollectionMismatch):
        ChromaStore(tmp_path, DIM + 1)


def test_batches_over_chromas_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(8)
    chunks = make_chunks(45)
    vectors = unit_vectors(rng, 45)
    where = Filter((Condition("source", "prefix", "docs/guide/"),))
    with ChromaStore(tmp_path, DIM) as store:
        store._max_batch = 7  # upserts, deletes, pages of get and query batches all split
        store.upsert(chunks, vectors)
        assert store.count() == 45
        assert store.delete([c.id for c in chunks[:10]] + ["missing"]) == 10
        queries = unit_vectors(rng, 9)
        got = store.search(queries, 50, where)
        expected = reference(vectors[10:], chunks[10:], queries, 50, where)
        assert [{h.chunk_id for h in r} for r in got] == [{c for c, _ in r} for r in expected]
        assert len(store.get([c.id for c in chunks])) == 35


def test_short_results_are_completed_exactly(tmp_path: Path) -> None:
    """If Chroma's HNSW comes back short of k, the query is redone exactly."""
    rng = np.random.default_rng(9)
    chunks = make_chunks(30)
    vectors = unit_vectors(rng, 30)
    where = Filter((Condition("rank", "gte", 5),))
    with ChromaStore(tmp_path, DIM) as store:
        store.upsert(chunks, vectors)
        real_query = store._col.query

        def short_query(**kwargs: object) -> dict[str, list[list[object]]]:
            res = real_query(**kwargs)
            return {key: [row[:2] for row in res[key]] for key in ("ids", "distances")}

        store._col.query = short_query
        queries = unit_vectors(rng, 2)
        got = store.search(queries, 10, where)
        expected = reference(vectors, chunks, queries, 10, where)
        assert [[h.chunk_id for h in r] for r in got] == [[c for c, _ in r] for r in expected]
        assert [h.score for h in got[0]] == pytest.approx([s for _, s in expected[0]], abs=1e-4)


def test_a_read_that_fails_inside_chroma_reconnects_and_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What another process writing to the store does to a reader: Chroma raises
    InternalError ("Error finding id") until the reader's client is replaced."""
    from chromadb.errors import InternalError

    monkeypatch.setattr("ragline.retrieval.stores.chroma.time.sleep", lambda _s: None)
    rng = np.random.default_rng(3)
    chunks = make_chunks(20)
    vectors = unit_vectors(rng, 20)
    with ChromaStore(tmp_path, DIM) as store:
        store.upsert(chunks, vectors)
        stale = store._col

        def broken(**kwargs: object) -> object:
            raise InternalError("Error executing plan: Internal error: Error finding id")

        stale.query = broken
        hits = store.search(vectors[:1], 3)[0]
        assert store._col is not stale, "the stale client was replaced"
        assert hits[0].chunk_id == chunks[0].id and len(hits) == 3

        def always_broken() -> object:
            raise InternalError("Error finding id")

        with pytest.raises(StoreBusy, match="another process was writing") as caught:
            store._retrying(always_broken)
        assert caught.value.retry_after == 1
        assert len(store.get([c.id for c in chunks])) == 20, "nothing stored was lost"
