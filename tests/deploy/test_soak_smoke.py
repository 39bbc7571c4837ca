"""bench/soak.py at smoke size (~30 s of load, Redis and the Chroma server each killed once):
the report is complete and the targets hold (no lost document, no 5xx outside the fault
windows, recovery within 5 s)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.services import ROOT, ragline_env

pytestmark = pytest.mark.slow


def test_soak_smoke(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), "--smoke", "--json", str(out),
         "--data-dir", str(tmp_path / "soak")],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
        env=ragline_env(tmp_path / "unused"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "| fault |" in proc.stdout and "| collection |" in proc.stdout
    report = json.loads(out.read_text())
    kinds = {row["kind"]: row for row in report["kinds"]}
    assert set(kinds) == {"search", "ask-cached", "ask-uncached", "upload"}
    assert all(row["requests"] > 0 for row in kinds.values())
    assert [row["fault"].split()[0] for row in report["faults"]] == ["redis", "chroma"]
    chroma = report["faults"][1]
    assert chroma["errors during"] > 0, "the Chroma outage was felt (503s), inside its window"
    collections = {row["collection"]: row for row in report["collections"]}
    assert set(collections) == {"soak", "uploads"}
    for row in collections.values():
        assert row["lost"] == row["unexpected"] == row["not done"] == 0, row
        assert row["documents"] == row["expected"] > 0 and row["chunks"] == row["in store"]
    assert report["targets"]["met"] is True, report["targets"]
