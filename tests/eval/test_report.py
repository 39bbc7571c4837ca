"""Scoring plain retriever callables and the report built from them (no models involved)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragline.eval.compare import compare_reports, format_comparison
from ragline.eval.datasets import load_dataset
from ragline.eval.report import Gate, build_report, load_report, report_paths, write_reports
from ragline.eval.runner import EvalRun, Ranked, evaluate_retriever
from ragline.retrieval.errors import UsageError
from ragline.settings import Settings
from tests.eval.fixtures import QUERIES, write_fixture

METRICS = ("ndcg@10", "recall@5", "mrr@10")


def oracle(query: str) -> Ranked:
    """Puts each query's relevant documents first (best grade first)."""
    qid = next(q for q, (text, _) in QUERIES.items() if text == query)
    judged = QUERIES[qid][1]
    return [(d, 10.0 - i) for i, d in enumerate(sorted(judged, key=lambda d: -judged[d]))]


def wrong(query: str) -> Ranked:
    return [("tomato", 0.9), ("marathon", 0.4)]


def test_evaluate_retriever_keeps_everything_per_query(tmp_path: Path) -> None:
    ds = load_dataset(write_fixture(tmp_path / "fx"))
    result = evaluate_retriever("oracle", oracle, ds, METRICS, depth=10)
    assert all(v == 1.0 for v in result.per_query["ndcg@10"].values())
    assert len(result.latencies) == len(QUERIES) and result.first_relevant["q2"] == 1
    assert result.runs["q2"] == [("redis-evict", 10.0), ("redis-persist", 9.0)]
    assert result.recall_curve == {1: pytest.approx(15 / 16), 2: 1.0, 3: 1.0, 5: 1.0, 10: 1.0}
    bad = evaluate_retriever("wrong", wrong, ds, METRICS, role="baseline")
    assert set(bad.first_relevant.values()) == {None}


def make_report(tmp_path: Path, gates: tuple[Gate, ...] = ()) -> dict[str, object]:
    ds = load_dataset(write_fixture(tmp_path / "fx"))
    results = (
        evaluate_retriever("oracle", oracle, ds, METRICS, role="primary"),
        evaluate_retriever("wrong", wrong, ds, METRICS, role="baseline"),
    )
    run = EvalRun(ds, (), results, METRICS, seconds=0.5)
    return build_report(run, Settings(data_dir=tmp_path / "d"), gates, command=["x"])


def test_report_compares_with_baselines_and_lists_failures(tmp_path: Path) -> None:
    report = make_report(tmp_path, (Gate.parse("ndcg@10=0.9"), Gate.parse("mrr@10=1.0")))
    comparisons = report["comparisons"]
    assert isinstance(comparisons, list) and len(comparisons) == len(METRICS)
    ndcg = next(c for c in comparisons if c["metric"] == "ndcg@10")
    # 8 queries all +1.0: exact sign-flip test, only all-+ and all-− reach |mean| 1 → 2/256
    assert ndcg["diff"] == 1.0 and ndcg["p_value"] == pytest.approx(2 / 256)
    assert all(g["passed"] for g in report["gates"])  # type: ignore[attr-defined]
    assert report["failures"] == {"config": "oracle", "k": 10, "count": 0, "queries": []}
    assert report["best"] == {m: "oracle" for m in METRICS}


def test_failures_show_expected_and_returned_documents(tmp_path: Path) -> None:
    ds = load_dataset(write_fixture(tmp_path / "fx"))
    result = evaluate_retriever("wrong", wrong, ds, METRICS, role="primary")
    report = build_report(EvalRun(ds, (), (result,), METRICS, 0.1), Settings(data_dir=tmp_path))
    failures = report["failures"]
    assert failures["count"] == len(QUERIES)
    q2 = next(f for f in failures["queries"] if f["id"] == "q2")
    assert q2["query"] == QUERIES["q2"][0] and q2["first_relevant_rank"] is None
    assert q2["expected"][0] == {"id": "redis-evict", "grade": 2, "title": "Redis eviction"}
    assert q2["got"][0] == {"id": "tomato", "score": 0.9, "grade": 0, "title": "Gardening"}


def test_written_reports_and_compare(tmp_path: Path) -> None:
    report = make_report(tmp_path)
    paths = write_reports(report, tmp_path / "out" / "r.json")
    assert paths == report_paths(tmp_path / "out" / "r.html")
    assert all(p.is_file() for p in paths.values())
    loaded = load_report(paths["json"])
    assert loaded["primary"] == "oracle"
    other = json.loads(json.dumps(loaded))
    other["configs"][0]["per_query"]["ndcg@10"] = {q: 0.0 for q in QUERIES}
    diff = compare_reports(loaded, other)
    row = next(r for r in diff["rows"] if r["config"] == "oracle" and r["metric"] == "ndcg@10")
    assert row["diff"] == -1.0 and row["p_value"] == pytest.approx(2 / 256)
    text = format_comparison(diff)
    assert "oracle" in text and "-1.0000" in text and " *" in text
    (tmp_path / "junk.json").write_text("{}")
    with pytest.raises(UsageError, match="not a ragline eval report"):
        load_report(tmp_path / "junk.json")


def test_gate_syntax() -> None:
    assert Gate.parse("nDCG@10=0.6") == Gate("ndcg@10", 0.6)
    for bad in ("ndcg@10", "ndcg@10=high", "ndcg@10=1.5", "=0.5"):
        with pytest.raises(UsageError):
            Gate.parse(bad)
