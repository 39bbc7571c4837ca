"""Concurrent searches run as batches and give exactly what one search at a time gives."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ragline.ingest.pipeline import Ingestor
from ragline.retrieval.errors import CollectionNotFound
from ragline.retrieval.pool import CollectionPool
from ragline.retrieval.retrievers import SearchResult, search
from ragline.retrieval.settings import RetrievalSettings
from ragline.server import batching
from ragline.server.batching import SearchBatcher
from ragline.settings import Settings
from tests.ingest.corpus import write_corpus

QUERIES = [
    "How do I enable a service at boot?",
    "Where do SSH keys live?",
    "install a package with apt",
    "commit and push with git",
    "create a python virtual environment",
    "what does redis answer to PING",
    "Debian 软件包",
]


@pytest.fixture
def pool(settings: Settings, tmp_path: Path) -> CollectionPool:
    write_corpus(tmp_path / "docs", copies=2)
    Ingestor(settings, "docs", embedder="minilm", workers=1).run([tmp_path / "docs"])
    return CollectionPool(settings)


def run_concurrently(batcher: SearchBatcher, jobs: Sequence[tuple[str, str]]) -> list[Any]:
    options = RetrievalSettings(mode="hybrid", k=3)

    async def main() -> list[Any]:
        calls = [batcher.search(name, query, options) for name, query in jobs]
        return await asyncio.gather(*calls, return_exceptions=True)

    return asyncio.run(main())


def same(a: SearchResult, b: SearchResult) -> bool:
    return [h.chunk_id for h in a.hits] == [h.chunk_id for h in b.hits] and all(
        h.score == pytest.approx(g.score, abs=1e-6) for h, g in zip(a.hits, b.hits, strict=True)
    )


def test_concurrent_searches_batch_up_and_match_single_searches(pool: CollectionPool) -> None:
    sizes: list[int] = []
    batcher = SearchBatcher(pool.get, max_batch=4, observe_batch=sizes.append)
    outcomes = run_concurrently(batcher, [("docs", q) for q in QUERIES])
    # the first request runs alone at once; the rest queued meanwhile and go in batches of 4
    assert sizes == [1, 4, 2]
    expected = [search(pool.get("docs"), q, RetrievalSettings(mode="hybrid", k=3)) for q in QUERIES]
    for (version, got), want in zip(outcomes, expected, strict=True):
        assert version == pool.get("docs").index_version and got.hits
        assert same(got, want), got.query


def test_a_failing_request_does_not_fail_the_rest_of_its_batch(
    pool: CollectionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = batching.search_many

    def search_many(collection: Any, queries: Sequence[str], options: Any, where: Any) -> Any:
        if any("boom" in q for q in queries):
            raise ValueError("cannot search for boom")
        return real(collection, queries, options, where)

    monkeypatch.setattr(batching, "search_many", search_many)
    batcher = SearchBatcher(pool.get)
    jobs = [("docs", QUERIES[0]), ("docs", QUERIES[1]), ("docs", "boom"), ("nope", QUERIES[2])]
    jobs += [("docs", QUERIES[3])]
    first, second, boom, missing, last = run_concurrently(batcher, jobs)
    assert isinstance(boom, ValueError) and isinstance(missing, CollectionNotFound)
    for outcome, query in ((first, QUERIES[0]), (second, QUERIES[1]), (last, QUERIES[3])):
        assert not isinstance(outcome, BaseException) and outcome[1].query == query
        assert outcome[1].hits
