"""Helpers shared by the benchmark scripts: datasets, subprocess runs with peak memory, tables."""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVAL_DATA = ROOT.parent / "shared" / "eval-data"


def iter_corpus(dataset: Path, limit: int | None = None) -> Iterator[dict[str, Any]]:
    with (dataset / "corpus.jsonl").open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if limit is not None and i >= limit:
                return
            yield json.loads(line)


def materialise(dataset: Path, out: Path, limit: int | None = None) -> int:
    """Write each corpus document as a text file (title, blank line, text); returns the count."""
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for doc in iter_corpus(dataset, limit):
        title = doc.get("title") or ""
        (out / f"{doc['_id']}.txt").write_text(f"{title}\n\n{doc['text']}\n", encoding="utf-8")
        n += 1
    return n


def run_worker(script: Path, args: list[str]) -> dict[str, Any]:
    """Run ``script --worker ...`` in a fresh process; returns its JSON plus its peak RSS."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(script), "--worker", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"worker {args[:1]} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(time.perf_counter() - started, 2)
    return result


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def machine() -> str:
    import os

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)
