"""`ragline eval compare` on small hand-written reports, answer metrics included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ragline.cli import app
from ragline.eval.answers import AnswerRun
from ragline.eval.compare import compare_reports, format_comparison
from ragline.eval.report import SCHEMA

ANSWERABLE = [f"q{i}" for i in range(1, 7)]


def record(qid: str, answer: str, *, answerable: bool = True, not_found: bool = False) -> Any:
    """An answer record as :func:`ragline.eval.answers.make_record` writes one (no cache pass)."""
    return {
        "id": qid,
        "question": f"question {qid}",
        "text": answer,
        "answer": answer,
        "cited": ["d1"] if answerable else [],
        "citations": [],
        "expected_answers": ["pathlib.Path.glob"] if answerable else [],
        "expected_sources": ["d1"] if answerable else [],
        "answerable": answerable,
        "not_found": not_found,
        "context_found": True,
        "unsupported_sentences": 0,
        "unsupported": [],
        "first_pass_cache": None,
        "error": "",
    }


def answers(right: bool, seconds: float, model: str = "smollm2") -> dict[str, Any]:
    """The report's "answers" section, built by the answer run itself."""
    text = "pathlib.Path.glob" if right else "os.listdir"
    records = [record(q, text) for q in ANSWERABLE]
    records.append(record("u1", "", answerable=False, not_found=right))
    return AnswerRun(
        config="ragline hybrid",
        collection="eval-fixture",
        llm={"backend": "fake", "model_id": model},
        cache={"enabled": False, "repeated_pass": False},
        records=tuple(records),
        latencies=(seconds,) * len(records),
    ).to_dict()


def report(ndcg: float, answer_section: dict[str, Any] | None, commit: str) -> dict[str, Any]:
    """The parts of a report (see :func:`ragline.eval.report.build_report`) that compare reads."""
    return {
        "schema": SCHEMA,
        "dataset": {"name": "fixture", "hash": "abc123"},
        "meta": {"git": {"commit": commit}, "date": "2025-01-01T00:00:00+00:00"},
        "settings": {"retrieval": {"k": 5}},
        "configs": [
            {
                "name": "ragline hybrid",
                "per_query": {"ndcg@10": {q: ndcg for q in ANSWERABLE}},
                "latency": {"p50_ms": 10.0, "p95_ms": 20.0},
            }
        ],
        "answers": answer_section,
    }


def rows_by_metric(diff: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["metric"]: r for r in diff["answers"]["rows"]}


def test_answer_metrics_are_compared_when_both_reports_have_them() -> None:
    a = report(0.5, answers(right=False, seconds=1.0), "aaa")
    b = report(0.5, answers(right=True, seconds=0.5, model="qwen"), "bbb")
    diff = compare_reports(a, b)
    assert diff["answers"]["in_a"] and diff["answers"]["in_b"]
    assert diff["answers"]["questions"] == [7, 7]
    rows = rows_by_metric(diff)
    em = rows["exact_match"]
    assert (em["a"], em["b"], em["diff"]) == (0.0, 1.0, 1.0)
    # six answerable questions all +1: exact sign-flip test, 2 of 64 patterns reach |mean| 1
    assert em["p_value"] == pytest.approx(2 / 64)
    assert rows["token_f1"]["diff"] > 0 and rows["token_f1"]["p_value"] == pytest.approx(2 / 64)
    # one unanswerable question, "not found" only in B: a single pair can never be significant
    assert (rows["not_found"]["diff"], rows["not_found"]["p_value"]) == (1.0, 1.0)
    # no cache pass in either run: nothing to compare, no difference invented
    assert rows["cache_hit"]["a"] is None and rows["cache_hit"]["diff"] is None
    assert rows["p50_ms"]["diff"] == pytest.approx(-500.0)
    # the retrieval rows are still there
    assert [r["metric"] for r in diff["rows"]] == ["ndcg@10", "p50_ms", "p95_ms"]

    text = format_comparison(diff)
    assert "answer metrics (ragline hybrid; questions 7 vs 7)" in text
    assert "answer model: 'smollm2' -> 'qwen'" in text
    em_line = next(line for line in text.splitlines() if line.startswith("exact_match "))
    assert em_line.split() == ["exact_match", "0.0000", "1.0000", "+1.0000", "0.031", "*"]
    cache_line = next(line for line in text.splitlines() if line.startswith("cache_hit "))
    assert cache_line.split() == ["cache_hit", "-", "-", "-"]
    assert any(
        line.split()[:4] == ["p50_ms", "1000.0", "500.0", "-500.0"] for line in text.splitlines()
    )


def test_one_line_when_only_one_report_has_answer_metrics() -> None:
    with_answers = report(0.5, answers(right=True, seconds=0.5), "aaa")
    without = report(0.7, None, "bbb")
    diff = compare_reports(with_answers, without)
    assert diff["answers"] == {"in_a": True, "in_b": False, "rows": []}
    text = format_comparison(diff)
    assert [line for line in text.splitlines() if "answer" in line] == [
        "answer metrics: only report A has them (B has none to compare)"
    ]
    assert "ndcg@10" in text and "+0.2000" in text
    reverse = format_comparison(compare_reports(without, with_answers))
    assert "answer metrics: only report B has them (A has none to compare)" in reverse


def test_reports_without_answer_metrics_compare_as_before() -> None:
    old = report(0.5, None, "aaa")
    del old["answers"]  # reports written before the answer section existed
    diff = compare_reports(old, report(0.5, None, "bbb"))
    assert diff["answers"] == {"in_a": False, "in_b": False, "rows": []}
    assert "answer" not in format_comparison(diff)


def test_cli_json_carries_the_answer_rows(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(report(0.5, answers(right=False, seconds=1.0), "aaa")))
    b.write_text(json.dumps(report(0.5, answers(right=True, seconds=0.5), "bbb")))
    result = CliRunner().invoke(app, ["eval", "compare", str(a), str(b), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    em = next(r for r in data["answers"]["rows"] if r["metric"] == "exact_match")
    assert em["diff"] == 1.0 and em["p_value"] == pytest.approx(2 / 64)
    text = CliRunner().invoke(app, ["eval", "compare", str(a), str(b)])
    assert text.exit_code == 0, text.output
    assert "answer metrics (ragline hybrid; questions 7 vs 7)" in text.stdout
