"""Answer-level metrics over answer records, against hand-computed values."""

from __future__ import annotations

import pytest

from ragline.eval import answer_metrics as a


def test_exact_match_normalises_case_punctuation_and_articles() -> None:
    assert a.exact_match("The Eiffel Tower!", ["eiffel tower"]) == 1.0
    assert a.exact_match("Eiffel", ["eiffel tower", "the tower"]) == 0.0
    assert a.exact_match("anything", []) is None


def test_token_f1_by_hand() -> None:
    # prediction: "use the venv module" → use, venv, module; answer: venv module → 2 common
    # precision 2/3, recall 2/2 → F1 = 0.8
    assert a.token_f1("use the venv module", ["venv module"]) == pytest.approx(0.8)
    assert a.token_f1("no overlap", ["venv"]) == 0.0
    assert a.token_f1("venv", ["python", "venv"]) == 1.0  # best over the expected answers


def test_cjk_text_is_scored_per_character() -> None:
    assert a.tokens("使用 apt-get 安装") == ["使", "用", "apt", "get", "安", "装"]
    # 安装软件 vs 安装: common 安, 装 → P 2/4, R 2/2 → F1 2/3
    assert a.token_f1("安装软件", ["安装"]) == pytest.approx(2 / 3)
    assert a.exact_match("安装。", ["安装"]) == 1.0


def test_citation_precision_and_recall() -> None:
    assert a.citation_precision(["d1", "d2"], ["d1"]) == 0.5
    assert a.citation_recall(["d1", "d2"], ["d1", "d3", "d4"]) == pytest.approx(1 / 3)
    assert a.citation_precision([], ["d1"]) is None
    assert a.citation_recall(["d1"], []) is None


def record(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "q",
        "answer": "venv module",
        "cited": ["d1"],
        "expected_answers": ["venv module"],
        "expected_sources": ["d1"],
        "answerable": True,
        "not_found": False,
        "unsupported_sentences": 0,
        "cache_hit": False,
    }
    base.update(fields)
    return base


def test_summary_over_records_by_hand() -> None:
    records = [
        record(),
        record(answer="pip", cited=["d1", "d9"], unsupported_sentences=2, cache_hit=True),
        record(answerable=False, expected_answers=[], expected_sources=[], not_found=True),
        record(answerable=False, expected_answers=[], expected_sources=[], answer="guess"),
    ]
    s = a.summarise(records)
    assert s["exact_match"] == {"mean": 0.5, "n": 2}
    assert s["token_f1"] == {"mean": 0.5, "n": 2}
    assert s["citation_precision"] == {"mean": 0.75, "n": 2}
    assert s["citation_recall"] == {"mean": 1.0, "n": 2}
    assert s["unsupported"] == {"mean": 0.25, "n": 4}
    assert s["not_found"] == {"mean": 0.5, "n": 2}
    assert s["cache_hit"] == {"mean": 0.25, "n": 4}


def test_missing_fields_make_a_metric_not_apply() -> None:
    scores = a.record_scores({"answer": "x"})
    assert scores["unsupported"] is None and scores["cache_hit"] is None
    assert scores["exact_match"] is None  # no expected answer
    assert a.summarise([])["token_f1"] == {"mean": None, "n": 0}
