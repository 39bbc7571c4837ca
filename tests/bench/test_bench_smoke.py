"""The GPU benchmark scripts run end to end (tiny sizes, CPU) and write their JSON reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def run(script: str, out: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--smoke", "--json", str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| method |" in proc.stdout or "| variant |" in proc.stdout
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def test_gpu_search_smoke(tmp_path: Path) -> None:
    report = run("gpu_search.py", tmp_path / "search.json")
    methods = {r["method"] for r in report["rows"]}
    assert {"torch-fp32", "faiss-cpu-flat", "faiss-cpu-hnsw"} <= methods
    for row in report["rows"]:
        assert row["qps"] > 0 and row["p99_ms"] >= row["p50_ms"] > 0
        assert row["host_peak_gib"] > 0
        if row["method"] in ("torch-fp32", "faiss-cpu-flat"):
            assert row["recall_at_k"] == 1.0  # exact
        else:
            assert row["recall_at_k"] >= 0.9
    skipped = {s["method"] for s in report["skipped"]}
    assert methods | skipped >= {"torch-fp16", "faiss-gpu-flat", "faiss-gpu-ivf", "chroma"}
    assert report["versions"]["numpy"]


def test_gpu_embed_smoke(tmp_path: Path) -> None:
    report = run("gpu_embed.py", tmp_path / "embed.json")
    rows = {r["variant"]: r for r in report["rows"]}
    assert set(rows) == {"ragline-fp32", "ragline-bf16", "ragline-fp16", "st-defaults"}
    fp32 = rows["ragline-fp32"]
    assert "error" not in fp32 and fp32["chunks_per_s"] > 0
    assert fp32["cos_vs_fp32_mean"] == pytest.approx(1.0)
    assert rows["st-defaults"]["cos_vs_fp32_min"] > 0.999  # same model, same vectors
    for row in rows.values():
        assert "error" in row or row["host_peak_gib"] > 0
