"""Mode-aware search: dense, bm25, hybrid; filters inside both; no-context; MMR."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ragline.retrieval.collection import Collection
from ragline.retrieval.filters import parse_filters
from ragline.retrieval.retrievers import assess, document_weights, search
from ragline.retrieval.settings import RetrievalSettings
from ragline.retrieval.types import Filter, Hit
from ragline.settings import Settings
from tests.retrieval.fakes import add, chunk, make_collection


@pytest.fixture
def coll(settings: Settings) -> Collection:
    c = make_collection(settings)
    add(
        c,
        [
            chunk(
                "py", "Python is an interpreted programming language", tenant="x", modified=100.0
            ),
            chunk("apt", "Debian installs packages with apt", tenant="y", modified=200.0),
            chunk("zh", "如何在Debian中配置shell提示符", tenant="x", page=3, modified=300.0),
            chunk("venv", "Create a virtual environment with python -m venv", tenant="y"),
        ],
    )
    return c


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_mode_finds_the_obvious_document(coll: Collection, mode: str) -> None:
    result = search(coll, "install packages with apt", RetrievalSettings(mode=mode, k=2))  # type: ignore[arg-type]
    assert result.hits[0].doc_id == "apt"
    assert result.mode == mode and len(result.hits) <= 2


def test_hybrid_hits_carry_per_retriever_scores(coll: Collection) -> None:
    hit = search(coll, "install packages with apt", RetrievalSettings(k=1)).hits[0]
    assert set(hit.scores) == {"dense", "bm25", "rrf"}
    assert 0 < hit.score <= 1
    assert hit.to_dict()["scores"]["bm25"] > 0


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_filters_apply_inside_every_retriever(coll: Collection, mode: str) -> None:
    where = parse_filters(["tenant=x"])
    hits = search(coll, "Debian packages apt", RetrievalSettings(mode=mode, k=2), where).hits  # type: ignore[arg-type]
    assert hits and all(h.metadata["tenant"] == "x" for h in hits)  # "apt" (tenant y) is out
    if mode != "dense":
        assert hits[0].doc_id == "zh"


@pytest.mark.parametrize("mode", ["dense", "bm25"])
def test_filter_before_truncation_fills_k(settings: Settings, mode: str) -> None:
    c = make_collection(settings, "many")
    noise = [chunk(f"n{i}", "apt apt packages apt", i, tenant="big") for i in range(30)]
    wanted = [chunk(f"w{i}", f"apt note {i}", tenant="small") for i in range(3)]
    add(c, [*noise, *wanted])
    opts = RetrievalSettings(mode=mode, k=3, candidates=3)  # type: ignore[arg-type]
    small = Filter.where(tenant="small")
    hits = search(c, "apt packages", opts, small).hits
    assert sorted(h.doc_id for h in hits) == ["w0", "w1", "w2"]


def test_range_and_prefix_filters(coll: Collection) -> None:
    where = parse_filters(["modified>=150", "modified<=300", "source^=/docs/"])
    hits = search(coll, "Debian", RetrievalSettings(mode="bm25", k=5), where).hits
    assert sorted(h.doc_id for h in hits) == ["apt", "zh"]


def test_no_good_context_is_reported(coll: Collection) -> None:
    options = RetrievalSettings(mode="dense", k=3, no_context_threshold=0.99)
    result = search(coll, "quantum chromodynamics lattice", options)
    assert not result.context_found and result.score_name == "dense"
    assert result.policy == "not_found"
    good = search(
        coll, "Debian installs packages with apt", RetrievalSettings(no_context_threshold=0.5)
    )
    assert good.context_found and good.best_score is not None and good.best_score > 0.9


def test_assess_picks_the_score() -> None:
    hits = [Hit("a", "d", "t", 0.9, {}, {"bm25": 7.0, "rrf": 0.03})]
    opts = RetrievalSettings(no_context_threshold=1.0)
    assert assess(hits, opts) == (False, 0.9, "fused")
    assert assess(hits, RetrievalSettings(no_context_score="bm25", no_context_threshold=5)) == (
        True,
        7.0,
        "bm25",
    )
    assert assess([], opts) == (False, None, "fused")
    reranked = [Hit("a", "d", "t", 0.2, {}, {"dense": 0.8, "rerank": 0.2})]
    assert assess(reranked, RetrievalSettings(no_context_threshold=0.3), reranked=True)[0] is False
    assert assess(reranked, RetrievalSettings(no_context_threshold=0.3))[1:] == (0.8, "dense")


def test_policy_comes_from_settings(coll: Collection) -> None:
    options = RetrievalSettings(no_context_policy="answer_without_context", k=2, mode="bm25")
    assert options.k == 2 and options.mode == "bm25"
    result = search(coll, "zebra", options)
    assert result.policy == "answer_without_context"
    assert result.threshold == 0.3  # unset: the default for the collection's embedder (minilm)


def test_mmr_drops_near_duplicates(settings: Settings) -> None:
    c = make_collection(settings, "dups")
    same = "apt installs Debian packages"
    add(
        c,
        [
            chunk("d1", same),
            chunk("d2", same + " quickly"),
            chunk("other", "apt keeps a package cache on Debian systems"),
        ],
    )
    plain = search(c, "apt installs Debian packages", RetrievalSettings(mode="dense", k=2))
    diverse = search(
        c,
        "apt installs Debian packages",
        RetrievalSettings(mode="dense", k=2, mmr=True, mmr_lambda=0.3),
    )
    assert [h.doc_id for h in plain.hits] == ["d1", "d2"]
    assert [h.doc_id for h in diverse.hits] == ["d1", "other"]


class _Reverse:
    model_id = "test/reverse"

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        return [
            Hit(
                h.chunk_id, h.doc_id, h.text, float(i), h.metadata, {**h.scores, "rerank": float(i)}
            )
            for i, h in enumerate(hits)
        ][::-1]


def test_reranker_reorders_and_decides_context(coll: Collection) -> None:
    result = search(coll, "Debian", RetrievalSettings(mode="bm25", k=2), reranker=_Reverse())
    assert result.reranked and result.score_name == "rerank"
    assert [h.scores["rerank"] for h in result.hits] == [1.0, 0.0]


def test_document_weights_follow_the_embedder_and_the_settings() -> None:
    defaults = RetrievalSettings()
    assert document_weights(defaults, "e5-small") == {"document_bm25": 0.75, "opening": 1.5}
    assert document_weights(defaults, "minilm") == {}  # not measured there: off
    assert document_weights(defaults, "e5-small", "zh") == {}  # fewer right answers: off
    chosen = RetrievalSettings(document_bm25_weight=0.0, document_opening_weight=2.0)
    assert document_weights(chosen, "e5-small") == {"opening": 2.0}
    assert document_weights(chosen, "minilm") == {"opening": 2.0}
    assert document_weights(chosen, "e5-small", "zh") == {"opening": 2.0}


def test_hybrid_search_adds_document_evidence_when_weighted(settings: Settings) -> None:
    c = make_collection(settings)
    guide = [
        chunk("guide", "Install the package with apt", 0),
        chunk("guide", "Then enable the service with systemctl", 1),
    ]
    notes = chunk("notes", "A note on the apt package cache", 0)
    add(c, [*guide, notes])
    query = "apt package service systemctl"
    off = search(c, query, RetrievalSettings(k=3))
    assert all("document" not in h.scores for h in off.hits)
    on = search(
        c, query, RetrievalSettings(k=3, document_bm25_weight=1.0, document_opening_weight=1.0)
    )
    # The guide holds every query word (no single chunk does): both of its chunks gain the
    # same, more than the notes.
    gains = {h.chunk_id: h.scores["document"] for h in on.hits}
    assert gains[guide[0].id] == gains[guide[1].id] > gains[notes.id] > 0
    assert all(0.0 <= h.score <= 1.0 for h in on.hits)
