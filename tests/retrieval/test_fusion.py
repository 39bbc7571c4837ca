"""Reciprocal rank fusion against hand-computed values."""

from __future__ import annotations

import pytest

from ragline.retrieval.fusion import fuse, lexical_cues, query_weights, rrf_max, rrf_scores
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
