"""The VectorStore contract: one suite every backend passes (Haystack DocumentStoreBaseTests style).

A backend's test module subclasses ``VectorStoreContract`` and provides a ``store_factory``
fixture: a callable that opens (or reopens) the store under test at one fixed path. Stores
opened through it are closed after the test. ``exact`` backends must rank like a brute-force
numpy reference; approximate ones must reach ``min_recall`` against it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from ragline.retrieval.errors import UsageError
from ragline.retrieval.stores.base import VectorStore
from ragline.retrieval.types import Chunk, Condition, Filter, Hit
from tests.retrieval.stores.data import (
    DIM,
    FILTERS,
    StoreFactory,
    assert_ranking,
    make_chunks,
    recall,
    reference,
    unit_vectors,
)

__all__ = [
    "DIM",
    "StoreFactory",
    "VectorStoreContract",
    "make_chunks",
    "recall",
    "reference",
    "unit_vectors",
]


class VectorStoreContract:
    """Mixed into each backend's test class; ``store_factory`` is the backend's fixture."""

    exact = True
    min_recall = 0.9
    score_atol = 1e-4

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        raise NotImplementedError("each backend test class provides store_factory")

    @pytest.fixture
    def store(self, store_factory: StoreFactory) -> Iterator[VectorStore]:
        store = store_factory()
        yield store
        store.close()

    @pytest.fixture
    def rng(self) -> np.random.Generator:
        return np.random.default_rng(1234)

    def check(
        self,
        hits: list[list[Hit]],
        expected: list[list[tuple[str, float]]],
    ) -> None:
        assert len(hits) == len(expected)
        for row in hits:
            scores = [h.score for h in row]
            assert scores == sorted(scores, reverse=True)
        if self.exact:
            for row, ref in zip(hits, expected, strict=True):
                assert_ranking(row, ref, atol=self.score_atol)
        else:
            assert [len(r) for r in hits] == [len(r) for r in expected]
            assert recall(hits, expected) >= self.min_recall

    # -- empty store, counts, get ---------------------------------------------------------
    def test_empty_store(self, store: VectorStore, rng: np.random.Generator) -> None:
        assert store.count() == 0
        assert store.search(unit_vectors(rng, 3), 5) == [[], [], []]
        assert store.search(unit_vectors(rng, 1), 5, Filter.where(group="g1")) == [[]]
        assert store.get(["nope"]) == []
        assert store.delete(["nope"]) == 0

    def test_get_returns_chunks_with_metadata(
        self, store: VectorStore, rng: np.random.Generator
    ) -> None:
        chunks = make_chunks(10)
        store.upsert(chunks, unit_vectors(rng, 10))
        assert store.count() == 10
        wanted = [chunks[3].id, "missing", chunks[0].id, chunks[7].id]
        got = store.get(wanted)
        assert [c.id for c in got] == [chunks[3].id, chunks[0].id, chunks[7].id]
        for c in got:
            original = next(x for x in chunks if x.id == c.id)
            assert (c.doc_id, c.text, c.position) == (
                original.doc_id,
                original.text,
                original.position,
            )
            assert dict(c.metadata) == dict(original.metadata)

    def test_hits_carry_chunk_fields(self, store: VectorStore, rng: np.random.Generator) -> None:
        chunks = make_chunks(5)
        vectors = unit_vectors(rng, 5)
        store.upsert(chunks, vectors)
        [top, *_] = store.search(vectors[2:3], 1)[0]
        assert top.chunk_id == chunks[2].id
        assert (top.doc_id, top.text) == (chunks[2].doc_id, chunks[2].text)
        assert dict(top.metadata) == dict(chunks[2].metadata)
        assert top.source == chunks[2].metadata["source"]
        assert top.score == pytest.approx(1.0, abs=1e-3)

    # -- idempotent upserts, deletes ------------------------------------------------------
    def test_upsert_is_idempotent_by_id(self, store: VectorStore, rng: np.random.Generator) -> None:
        chunks = make_chunks(20)
        vectors = unit_vectors(rng, 20)
        store.upsert(chunks, vectors)
        store.upsert(chunks, vectors)
        store.upsert(chunks[:5], vectors[:5])
        assert store.count() == 20
        hits = store.search(vectors[:1], 20)[0]
        assert len({h.chunk_id for h in hits}) == len(hits) == 20

    def test_upsert_replaces_content(self, store: VectorStore, rng: np.random.Generator) -> None:
        chunks = make_chunks(20)
        vectors = unit_vectors(rng, 20)
        store.upsert(chunks, vectors)
        old = chunks[4]
        new = Chunk(old.id, old.doc_id, "rewritten", old.position, {**old.metadata, "group": "gx"})
        new_vector = unit_vectors(rng, 1)
        store.upsert([new], new_vector)
        assert store.count() == 20
        [got] = store.get([old.id])
        assert got.text == "rewritten" and got.metadata["group"] == "gx"
        hits = store.search(new_vector, 20)[0]
        assert [h.chunk_id for h in hits].count(old.id) == 1
        assert hits[0].chunk_id == old.id and hits[0].text == "rewritten"
        assert hits[0].score == pytest.approx(1.0, abs=1e-3)
        by_old_vector = store.search(vectors[4:5], 1, Filter.where(group="gx"))[0]
        assert [h.chunk_id for h in by_old_vector] == [old.id]
        assert by_old_vector[0].score == pytest.approx(float(vectors[4] @ new_vector[0]), abs=1e-3)

    def test_repeated_id_in_one_batch_keeps_the_last(
        self, store: VectorStore, rng: np.random.Generator
    ) -> None:
        [a] = make_chunks(1)
        b = Chunk(a.id, a.doc_id, "second", a.position, a.metadata)
        vectors = unit_vectors(rng, 2)
        store.upsert([a, b], vectors)
        assert store.count() == 1
        assert store.get([a.id])[0].text == "second"
        assert store.search(vectors[1:], 1)[0][0].score == pytest.approx(1.0, abs=1e-3)

    def test_delete(self, store: VectorStore, rng: np.random.Generator) -> None:
        chunks = make_chunks(30)
        vectors = unit_vectors(rng, 30)
        store.upsert(chunks, vectors)
        gone = [chunks[i].id for i in (0, 5, 9)]
        assert store.delete([*gone, "missing-1", "missing-2", gone[0]]) == 3
        assert store.delete(gone) == 0
        assert store.delete([]) == 0
        assert store.count() == 27
        assert store.get(gone) == []
        hits = store.search(vectors[[0, 5, 9]], 30)
        for row in hits:
            assert len(row) == 27
            assert not {h.chunk_id for h in row} & set(gone)
        keep = [i for i in range(30) if i not in (0, 5, 9)]
        expected = reference(vectors[keep], [chunks[i] for i in keep], vectors[:4], 5)
        self.check(store.search(vectors[:4], 5), expected)

    def test_delete_then_upsert_again(self, store: VectorStore, rng: np.random.Generator) -> None:
        chunks = make_chunks(12)
        vectors = unit_vectors(rng, 12)
        store.upsert(chunks, vectors)
        store.delete([c.id for c in chunks[:6]])
        store.upsert(chunks[:3], vectors[:3])
        assert store.count() == 9
        expected = reference(vectors[list(range(3)) + list(range(6, 12))],
                             chunks[:3] + chunks[6:], vectors, 4)  # fmt: skip
        self.check(store.search(vectors, 4), expected)

    # -- search ---------------------------------------------------------------------------
    def test_search_matches_brute_force(self, store: VectorStore, rng: np.random.Generator) -> None:
        chunks = make_chunks(200)
        vectors = unit_vectors(rng, 200)
        store.upsert(chunks[:120], vectors[:120])
        store.upsert(chunks[120:], vectors[120:])
        queries = unit_vectors(rng, 8)
        self.check(store.search(queries, 10), reference(vectors, chunks, queries, 10))

    def test_scores_are_cosine_similarities(
        self, store: VectorStore, rng: np.random.Generator
    ) -> None:
        chunks = make_chunks(40)
        vectors = unit_vectors(rng, 40)
        store.upsert(chunks, vectors * 3.0)  # stored as directions: cosine, not dot product
        queries = unit_vectors(rng, 3)
        by_id = {c.id: v for c, v in zip(chunks, vectors, strict=True)}
        for q, row in zip(queries, store.search(queries, 40), strict=True):
            assert len(row) == 40
            for hit in row:
                assert hit.score == pytest.approx(float(q @ by_id[hit.chunk_id]), abs=1e-3)
            assert [h.score for h in row] == sorted((h.score for h in row), reverse=True)

    def test_multi_query_batch_equals_single_queries(
        self, store: VectorStore, rng: np.random.Generator
    ) -> None:
        chunks = make_chunks(60)
        store.upsert(chunks, unit_vectors(rng, 60))
        queries = unit_vectors(rng, 5)
        batch = store.search(queries, 7)
        assert len(batch) == 5
        for i in range(5):
            single = store.search(queries[i : i + 1], 7)
            assert [h.chunk_id for h in single[0]] == [h.chunk_id for h in batch[i]]

    @pytest.mark.parametrize("where", [None, Filter.where(tag="b")])
    def test_search_ids_rank_like_search(
        self, store: VectorStore, rng: np.random.Generator, where: Filter | None
    ) -> None:
        chunks = [
            Chunk(c.id, c.doc_id, c.text, c.position, {**c.metadata, "tag": "ab"[i % 2]})
            for i, c in enumerate(make_chunks(80))
        ]
        store.upsert(chunks, unit_vectors(rng, 80))
        queries = unit_vectors(rng, 4)
        ranked = store.search_ids(queries, 9, where)
        for row, hits in zip(ranked, store.search(queries, 9, where), strict=True):
            assert len(row) == 9
            assert [cid for cid, _ in row] == [h.chunk_id for h in hits]
            assert [s for _, s in row] == pytest.approx([h.score for h in hits], abs=1e-6)
        assert store.search_ids(queries, 0) == [[]] * 4

    def test_k_larger_than_collection(self, store: VectorStore, rng: np.random.Generator) -> None:
        chunks = make_chunks(5)
        vectors = unit_vectors(rng, 5)
        store.upsert(chunks, vectors)
        queries = unit_vectors(rng, 2)
        hits = store.search(queries, 50)
        assert [len(r) for r in hits] == [5, 5]
        self.check(hits, reference(vectors, chunks, queries, 50))
        assert store.search(queries, 0) == [[], []]

    def test_wrong_shapes_are_usage_errors(
        self, store: VectorStore, rng: np.random.Generator
    ) -> None:
        chunks = make_chunks(3)
        with pytest.raises(UsageError):
            store.upsert(chunks, unit_vectors(rng, 3, DIM + 1))
        with pytest.raises(UsageError):
            store.upsert(chunks, unit_vectors(rng, 2))
        with pytest.raises(UsageError):
            store.search(unit_vectors(rng, 1, DIM - 1), 3)
        assert store.count() == 0

    # -- filters --------------------------------------------------------------------------
    @pytest.mark.parametrize("name", sorted(FILTERS))
    def test_filters(self, store: VectorStore, rng: np.random.Generator, name: str) -> None:
        where = FILTERS[name]
        chunks = make_chunks(50)
        vectors = unit_vectors(rng, 50)
        store.upsert(chunks, vectors)
        matching = {c.id for c in chunks if where.matches(c.metadata)}
        queries = unit_vectors(rng, 3)
        everything = store.search(queries, 100, where)
        for row in everything:
            assert {h.chunk_id for h in row} == matching
            assert all(where.matches(h.metadata) for h in row)
        top3 = store.search(queries, 3, where)
        assert [len(r) for r in top3] == [min(3, len(matching))] * 3
        self.check(top3, reference(vectors, chunks, queries, 3, where))

    def test_filter_acts_inside_the_search(
        self, store: VectorStore, rng: np.random.Generator
    ) -> None:
        chunks = make_chunks(50)
        vectors = unit_vectors(rng, 50)
        query = unit_vectors(rng, 1)
        # The three chunks least like the query get a tag: never in an unfiltered top-k.
        worst = np.argsort(query[0] @ vectors.T)[:3]
        tagged = [
            Chunk(c.id, c.doc_id, c.text, c.position, {**c.metadata, "tag": "rare"})
            if i in worst
            else c
            for i, c in enumerate(chunks)
        ]
        store.upsert(tagged, vectors)
        assert not {chunks[i].id for i in worst} & {h.chunk_id for h in store.search(query, 10)[0]}
        hits = store.search(query, 3, Filter.where(tag="rare"))[0]
        assert {h.chunk_id for h in hits} == {chunks[i].id for i in worst}
        self.check([hits], reference(vectors, tagged, query, 3, Filter.where(tag="rare")))

    def test_metadata_none_values_are_dropped(
        self, store: VectorStore, rng: np.random.Generator
    ) -> None:
        chunk = Chunk.create("d", "t", 0, {"source": "s", "empty": None})  # type: ignore[dict-item]
        store.upsert([chunk], unit_vectors(rng, 1))
        [got] = store.get([chunk.id])
        assert "empty" not in got.metadata and got.metadata["source"] == "s"

    # -- persistence ----------------------------------------------------------------------
    def test_reopen_keeps_everything(
        self, store_factory: StoreFactory, rng: np.random.Generator
    ) -> None:
        chunks = make_chunks(80)
        vectors = unit_vectors(rng, 80)
        queries = unit_vectors(rng, 4)
        where = Filter((Condition("source", "prefix", "docs/api/"),))
        first = store_factory()
        first.upsert(chunks, vectors)
        first.delete([chunks[0].id, chunks[1].id])
        before = first.search(queries, 5)
        before_filtered = first.search(queries, 5, where)
        first.close()

        again = store_factory()
        try:
            assert again.count() == 78
            [got] = again.get([chunks[10].id])
            assert got.text == chunks[10].text
            assert dict(got.metadata) == dict(chunks[10].metadata)
            after = again.search(queries, 5)
            assert [[h.chunk_id for h in r] for r in after] == [
                [h.chunk_id for h in r] for r in before
            ]
            after_filtered = again.search(queries, 5, where)
            assert [[h.chunk_id for h in r] for r in after_filtered] == [
                [h.chunk_id for h in r] for r in before_filtered
            ]
            again.upsert(chunks[:1], vectors[:1])
            assert again.count() == 79
        finally:
            again.close()
