"""kill -9 in the middle of `ragline ingest`, run it again: same end state as a clean run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ragline.retrieval.collection import Collection
from ragline.settings import Settings
from tests.ingest.corpus import write_corpus


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ragline", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def index_version(data: Path, name: str) -> int:
    db = data / "collections" / name / "catalog.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='index_version'").fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0]) if row else 0


def snapshot(settings: Settings, name: str) -> tuple[dict[str, tuple[str, ...]], list[str], int]:
    with Collection.open(name, settings) as coll:
        docs = {
            Path(r.source).name: r.chunk_ids for r in coll.catalog.documents() if r.state == "done"
        }
        ids = sorted(i for chunk_ids in docs.values() for i in chunk_ids)
        chunks = coll.store.get(ids)
        texts = sorted(c.text for c in chunks)
        return docs, texts, coll.store.count()


@pytest.mark.slow
@pytest.mark.parametrize("store", ["chroma", "faiss"])
def test_kill_minus_nine_then_rerun_matches_an_uninterrupted_run(
    settings: Settings, tmp_path: Path, store: str
) -> None:
    docs = tmp_path / "docs"
    write_corpus(docs, copies=40)
    env = dict(
        os.environ,
        RAGLINE_DATA_DIR=str(settings.data_dir),
        RAGLINE_INGEST__FLUSH_CHUNKS="16",
        RAGLINE_EMBEDDING__CACHE="false",  # the re-run must really re-embed what was lost
    )
    common = ["--embedder", "minilm", "--store", store, "--workers", "2", "--quiet"]

    victim = run_cli(["ingest", str(docs), "--collection", "killed", *common], env)
    deadline = time.monotonic() + 240
    while index_version(settings.data_dir, "killed") < 3:  # some rounds are committed
        assert victim.poll() is None, victim.stderr.read() if victim.stderr else ""
        assert time.monotonic() < deadline, "ingest made no progress"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL

    rerun = run_cli(["ingest", str(docs), "--collection", "killed", "--json", *common], env)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["files_skipped"] > 0, "work committed before the kill is not redone"

    clean = run_cli(["ingest", str(docs), "--collection", "clean", "--json", *common], env)
    out, err = clean.communicate(timeout=600)
    assert clean.returncode == 0, err.decode()

    killed_docs, killed_texts, killed_count = snapshot(settings, "killed")
    clean_docs, clean_texts, clean_count = snapshot(settings, "clean")
    assert killed_docs == clean_docs
    assert killed_texts == clean_texts
    assert killed_count == clean_count == len(clean_texts), "no duplicates, nothing missing"
