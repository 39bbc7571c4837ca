"""The fixed tune/report split of query ids, and the cross-lingual sets built on it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ragline.eval.datasets import load_dataset
from ragline.eval.splits import half_of, select

ROOT = Path(__file__).resolve().parents[2]
CROSS = ROOT / "bench" / "data" / "cross"


def test_half_is_a_hash_of_the_id_alone() -> None:
    ids = [f"q{i}" for i in range(400)]
    halves = [half_of(q) for q in ids]
    assert set(halves) == {"tune", "report"}
    assert 150 < halves.count("tune") < 250  # about half
    assert halves == [half_of(q) for q in ids]  # stable
    even = hashlib.sha256(b"q0").digest()[0] % 2 == 0
    assert half_of("q0") == ("tune" if even else "report")


def test_select_keeps_one_half_or_all() -> None:
    items = {f"q{i}": i for i in range(50)}
    tune, report = select(items, "tune"), select(items, "report")
    assert not set(tune) & set(report)
    assert {**tune, **report} == items == select(items, "all")


@pytest.mark.evaldata
@pytest.mark.parametrize("name", ["debian-zh-to-en", "debian-en-to-zh"])
def test_cross_sets_load_and_test_is_the_report_half(name: str) -> None:
    if not (CROSS / name / "corpus.jsonl").exists():
        pytest.skip("../shared/eval-data is not here")
    report = load_dataset(CROSS / name)  # split "test": what `ragline eval run` measures
    tune = load_dataset(CROSS / name, split="tune")
    assert report.name == name and len(report.queries) > 150 and len(tune.queries) > 150
    assert all(half_of(q) == "report" for q in report.queries)
    assert all(half_of(q) == "tune" for q in tune.queries)
    assert report.corpus == tune.corpus and not report.skipped
    query_is_zh = name.startswith("debian-zh")
    sample = next(iter(report.queries.values()))
    assert any("\u4e00" <= ch <= "\u9fff" for ch in sample) is query_is_zh
