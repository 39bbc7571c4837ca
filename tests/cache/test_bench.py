"""bench/answer_cache.py runs end to end at smoke size and reports sane numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_answer_cache_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "answer_cache.py"), "--smoke", "--json", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| backend | entries | exact_p50_ms" in proc.stdout
    report = json.loads(out.read_text())
    memory = next(r for r in report["rows"] if r["backend"] == "memory")
    assert memory["entries"] == 100 and memory["semantic_timed"] > 0
    assert 0 < memory["exact_p50_ms"] <= memory["exact_p95_ms"]
    assert memory["near_miss_false_hits"].startswith("0/")
    assert report["embedder"] == "e5-small" and report["threshold"] == 0.95
    at_threshold = next(r for r in report["sweep"] if r["threshold"] == report["threshold"])
    assert at_threshold["different gold questions that would hit (+ guard tokens)"].startswith("0/")
