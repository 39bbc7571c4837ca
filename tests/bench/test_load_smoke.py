"""bench/load.py end to end at smoke size: a real server, three scenarios, no errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_load_smoke(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load.py"), "--smoke", "--json", str(out),
         "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| scenario |" in proc.stdout
    report = json.loads(out.read_text())
    assert report["collection"]["chunks"] >= 300
    rows = {r["scenario"]: r for r in report["rows"]}
    assert set(rows) == {"search", "ask-cached", "ask-uncached"}
    for row in rows.values():
        assert row["errors"] == 0 and row["requests"] > 0
        assert row["p99 ms"] >= row["p50 ms"] > 0
    assert rows["ask-cached"]["cached answers"] == rows["ask-cached"]["requests"]
    assert rows["ask-uncached"]["cached answers"] == 0
