"""Reciprocal rank fusion against hand-computed values."""

from __future__ import annotations

import pytest

from ragline.retrieval.fusion import (
    fuse,
    fuse_ids,
    lexical_cues,
    query_weights,
    rrf_max,
    rrf_scores,
    with_documents,
)
from ragline.retrieval.types import Hit


def hits(name: str, *ids: str) -> list[Hit]:
    return [Hit(i, "d", i, 10.0 - n, {}, {name: 10.0 - n}) for n, i in enumerate(ids)]


def test_rrf_scores_match_hand_computation() -> None:
    scores = rrf_scores({"a": ["x", "y", "z"], "b": ["y", "w"]}, {"a": 1.0, "b": 1.0}, k=60)
    assert scores["x"] == pytest.approx(1 / 61)
    assert scores["y"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["z"] == pytest.approx(1 / 63)
    assert scores["w"] == pytest.approx(1 / 62)


def test_weights_and_k() -> None:
    scores = rrf_scores({"a": ["x", "y"], "b": ["y", "x"]}, {"a": 2.0, "b": 0.5}, k=1)
    assert scores["x"] == pytest.approx(2 / 2 + 0.5 / 3)
    assert scores["y"] == pytest.approx(2 / 3 + 0.5 / 2)
    assert rrf_max(["a", "b"], {"a": 2.0, "b": 0.5}, k=1) == pytest.approx(2.5 / 2)


def test_fuse_orders_normalises_and_keeps_retriever_scores() -> None:
    fused = fuse(
        {"dense": hits("dense", "x", "y", "z"), "bm25": hits("bm25", "y", "w")},
        {"dense": 1.0, "bm25": 1.0},
        k=60,
    )
    assert [h.chunk_id for h in fused] == ["y", "x", "w", "z"]
    top = 2 / 61
    assert fused[0].score == pytest.approx((1 / 62 + 1 / 61) / top)
    assert fused[0].scores == {"dense": 9.0, "bm25": 10.0, "rrf": pytest.approx(1 / 62 + 1 / 61)}
    assert set(fused[2].scores) == {"bm25", "rrf"}
    assert all(0.0 <= h.score <= 1.0 for h in fused)


def test_ties_break_by_best_rank_then_id() -> None:
    # x: rank 1 in a only; y: rank 1 in b only -> equal fused scores; same best rank -> by id.
    fused = fuse({"a": hits("a", "y"), "b": hits("b", "x")}, {"a": 1.0, "b": 1.0}, k=60)
    assert [h.chunk_id for h in fused] == ["x", "y"]


def test_one_item_first_everywhere_scores_one() -> None:
    fused = fuse({"a": hits("a", "x"), "b": hits("b", "x")}, {"a": 0.3, "b": 1.7}, k=5)
    assert fused[0].score == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("query", "cues"),
    [
        ("What is Python?", 0),
        ("The login shell", 0),
        ("GUI 下的 shell 提示符", 0),
        ("How do I use os.path.join?", 1),
        ("Why does sys.exit() raise SystemExit?", 2),
        ('What does "lambda" mean?', 1),
        ("apt-get --purge remove", 1),
        ("配置 /etc/apt/sources.list", 1),
        ("How do I set PYTHON_PATH?", 1),
        ("getattr vs __getattr__", 1),
    ],
)
def test_lexical_cues(query: str, cues: int) -> None:
    assert lexical_cues(query) == cues


def test_query_weights_lean_on_bm25_only_for_cue_queries() -> None:
    assert query_weights("What is Python?", 1.0, 0.5, 2.0) == {"dense": 1.0, "bm25": 0.5}
    assert query_weights("use os.path.join", 1.0, 0.5, 2.0) == {"dense": 1.0, "bm25": 1.5}
    assert query_weights("use os.path.join", 1.0, 0.5, 0.0) == {"dense": 1.0, "bm25": 0.5}


def test_document_evidence_lifts_every_chunk_of_a_strong_document() -> None:
    # Chunk-level: a1 (doc A) 1st, b1 and b2 (doc B) next. Document-level: only B.
    fused = fuse_ids({"dense": [("a1", 0.9), ("b1", 0.8), ("b2", 0.7)]}, {"dense": 1.0}, k=10)
    documents = {"a1": "A", "b1": "B", "b2": "B"}
    out = with_documents(fused, documents, {"docs": ["B"]}, {"docs": 1.0}, 10, 1 / 11)
    assert [i for i, _, _ in out] == ["b1", "b2", "a1"]
    b1, b2, a1 = (scores for _, _, scores in out)
    assert b1["document"] == b2["document"] == pytest.approx(1 / 11) and a1["document"] == 0.0
    assert b1["rrf"] == pytest.approx(1 / 12 + 1 / 11)
    assert b2["rrf"] == pytest.approx(1 / 13 + 1 / 11) and a1["rrf"] == pytest.approx(1 / 11)
    top = 1 / 11 + 1 / 11  # first in the chunk ranking and in the document ranking
    assert out[0][1] == pytest.approx((1 / 12 + 1 / 11) / top)
    assert all(0.0 <= score <= 1.0 for _, score, _ in out)


def test_document_evidence_leaves_unknown_chunks_alone_and_adds_no_documents() -> None:
    fused = fuse_ids({"dense": [("x", 1.0), ("y", 0.5)]}, {"dense": 1.0}, k=10)
    out = with_documents(fused, {"y": "B"}, {"docs": ["C", "B"]}, {"docs": 2.0}, 10, 1 / 11)
    assert [i for i, _, _ in out] == ["y", "x"]  # y gains 2/12 > x's lead of 1/11 - 1/12
    assert out[1][2]["document"] == 0.0 and len(out) == 2
