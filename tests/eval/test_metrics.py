"""Retrieval metrics: hand-computed values, and agreement with trec_eval (pytrec_eval) on
random runs with graded judgments."""

from __future__ import annotations

import math
import random

import pytest

from ragline.eval import metrics as m
from ragline.retrieval.errors import UsageError

LOG2_3 = math.log2(3)
LOG2_4 = 2.0


def test_ndcg_by_hand_with_grades() -> None:
    judged = {"a": 2, "b": 1, "c": 0}
    # ranking b, x, a: DCG = 1/1 + 0 + 2/2 = 2; ideal a, b: 2/1 + 1/log2(3)
    assert m.ndcg(["b", "x", "a"], judged, 3) == pytest.approx(2 / (2 + 1 / LOG2_3))
    assert m.ndcg(["a", "b"], judged, 2) == pytest.approx(1.0)
    # the cut: only "b" counts at k=1, ideal at k=1 is "a" (gain 2)
    assert m.ndcg(["b", "a"], judged, 1) == pytest.approx(0.5)
    assert m.ndcg(["x", "y"], judged, 10) == 0.0
    assert m.ndcg(["a"], {"a": 0}, 10) == 0.0  # nothing relevant: 0, not a division error


def test_recall_precision_hit_rate_by_hand() -> None:
    judged = {"a": 1, "b": 3, "c": 1, "z": 0}
    ranking = ["x", "a", "z", "b", "y"]
    assert m.recall(ranking, judged, 2) == pytest.approx(1 / 3)
    assert m.recall(ranking, judged, 5) == pytest.approx(2 / 3)
    assert m.precision(ranking, judged, 5) == pytest.approx(2 / 5)
    assert m.precision(["a"], judged, 10) == pytest.approx(1 / 10)  # short rankings not forgiven
    assert m.hit_rate(ranking, judged, 1) == 0.0
    assert m.hit_rate(ranking, judged, 2) == 1.0


def test_mrr_and_map_by_hand() -> None:
    judged = {"a": 1, "b": 1, "c": 2}
    ranking = ["x", "a", "y", "b", "c"]
    assert m.mrr(ranking, judged, 5) == pytest.approx(1 / 2)
    assert m.mrr(ranking, judged, 1) == 0.0
    # AP@5 = (1/2 + 2/4 + 3/5) / 3 relevant
    assert m.average_precision(ranking, judged, 5) == pytest.approx((0.5 + 0.5 + 0.6) / 3)
    # AP@4: c falls outside; still divided by all 3 relevant documents (trec_eval map_cut)
    assert m.average_precision(ranking, judged, 4) == pytest.approx((0.5 + 0.5) / 3)


def test_repeated_documents_count_once() -> None:
    judged = {"a": 1}
    assert m.precision(["a", "a", "a"], judged, 3) == pytest.approx(1 / 3)
    assert m.ndcg(["x", "x", "a"], judged, 2) == pytest.approx(1 / LOG2_3)


def test_parse_metric_names_and_aliases() -> None:
    assert m.parse_metric("nDCG@10") == m.Metric("ndcg", 10)
    assert m.parse_metric("P@5").name == "precision@5"
    assert m.parse_metric("success@3").name == "hit_rate@3"
    for bad in ("ndcg", "ndcg@0", "bleu@4", "recall@x"):
        with pytest.raises(UsageError):
            m.parse_metric(bad)


def test_evaluate_keeps_per_query_values() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    values = m.evaluate({"q1": ["a"], "q2": ["x", "b"]}, qrels, ["mrr@10", "hit_rate@1"])
    assert values == {"mrr@10": {"q1": 1.0, "q2": 0.5}, "hit_rate@1": {"q1": 1.0, "q2": 0.0}}
    assert m.evaluate({}, qrels, ["recall@5"]) == {"recall@5": {"q1": 0.0, "q2": 0.0}}
    assert m.recall_curve({"q1": ["x", "a"]}, {"q1": {"a": 1}}, [1, 2]) == {1: 0.0, 2: 1.0}


def _random_case(
    rng: random.Random,
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    docs = [f"d{i:03d}" for i in range(60)]
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for q in range(40):
        qid = f"q{q}"
        judged = rng.sample(docs, rng.randint(1, 12))
        qrels[qid] = {d: rng.choice([0, 1, 1, 2, 3]) for d in judged}
        if not any(qrels[qid].values()):
            qrels[qid][judged[0]] = 1
        retrieved = rng.sample(docs, rng.randint(1, 40))
        # distinct scores: trec_eval orders by score, so the ranking is unambiguous
        run[qid] = {d: 100.0 - i for i, d in enumerate(retrieved)}
    return qrels, run


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_trec_eval_on_random_runs(seed: int) -> None:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    qrels, run = _random_case(random.Random(seed))
    ks = (1, 3, 5, 10, 20)
    cut = ",".join(map(str, ks))
    measures = {f"ndcg_cut.{cut}", f"recall.{cut}", f"P.{cut}", f"map_cut.{cut}", "success.1,5,10"}
    expected = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    rankings = {q: sorted(r, key=lambda d: -r[d]) for q, r in run.items()}
    for qid, judged in qrels.items():
        ranking = rankings[qid]
        got = expected[qid]
        for k in ks:
            assert m.ndcg(ranking, judged, k) == pytest.approx(got[f"ndcg_cut_{k}"], abs=1e-9)
            assert m.recall(ranking, judged, k) == pytest.approx(got[f"recall_{k}"], abs=1e-9)
            assert m.precision(ranking, judged, k) == pytest.approx(got[f"P_{k}"], abs=1e-9)
            assert m.average_precision(ranking, judged, k) == pytest.approx(
                got[f"map_cut_{k}"], abs=1e-9
            )
        for k in (1, 5, 10):
            assert m.hit_rate(ranking, judged, k) == got[f"success_{k}"]
    # MRR@k is trec_eval's reciprocal rank of the run cut at k
    for k in (1, 3, 10):
        cut_run = {q: {d: r[d] for d in rankings[q][:k]} for q, r in run.items()}
        rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut_run)
        for qid, judged in qrels.items():
            assert m.mrr(rankings[qid], judged, k) == pytest.approx(rr[qid]["recip_rank"])
