"""The write lock per collection: one writer at a time, across threads and processes; a
holder that dies releases it; a writer that cannot wait longer is told who holds it; two
writers racing on one collection never leave chunks the catalog does not know."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ragline.retrieval.collection import Collection
from ragline.retrieval.errors import UsageError
from ragline.retrieval.locks import CollectionLocked, StorageUnavailable, lock_path, write_lock
from ragline.retrieval.settings import StoreSettings
from ragline.settings import Settings
from tests.deploy.services import ROOT, ChromaServer, ragline_env

HOLD = """
import sys, time
from pathlib import Path
from ragline.retrieval.locks import write_lock
with write_lock(Path(sys.argv[1]), "kb", "ingest"):
    print("held", flush=True)
    time.sleep(600)
"""


def holder(collections: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(collections)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_one_writer_at_a_time_across_threads(tmp_path: Path) -> None:
    events: list[str] = []
    started = threading.Event()

    def first() -> None:
        with write_lock(tmp_path, "kb", "ingest"):
            started.set()
            events.append("first in")
            time.sleep(0.3)
            events.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    started.wait(10)
    with write_lock(tmp_path, "kb", "delete document", timeout_s=30):
        events.append("second in")
    thread.join()
    assert events == ["first in", "first out", "second in"]
    with write_lock(tmp_path, "other", "ingest", timeout_s=0):  # other collections are free
        pass


def test_the_holding_thread_may_nest(tmp_path: Path) -> None:
    with write_lock(tmp_path, "kb", "ingest"), write_lock(tmp_path, "kb", "prune", timeout_s=0):
        pass
    with write_lock(tmp_path, "kb", "ingest", timeout_s=0):  # released after both
        pass


def test_a_waiting_writer_is_told_who_holds_the_lock(tmp_path: Path) -> None:
    proc = holder(tmp_path)
    try:
        with (
            pytest.raises(CollectionLocked, match=rf"ingest \(pid {proc.pid} on ") as caught,
            write_lock(tmp_path, "kb", "upload", timeout_s=0.3),
        ):
            pass
        assert caught.value.retry_after > 0 and "gave up after 0.3 s" in str(caught.value)
    finally:
        proc.kill()
        proc.wait()


def test_a_holder_that_is_killed_releases_the_lock(tmp_path: Path) -> None:
    proc = holder(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with write_lock(tmp_path, "kb", "ingest", timeout_s=5):
        assert lock_path(tmp_path, "kb").exists()


def test_a_name_never_leads_out_of_the_collections_directory(tmp_path: Path) -> None:
    for name in ("../escape", ".hidden", "a/b", ""):
        with pytest.raises(UsageError), write_lock(tmp_path / "collections", name, "ingest"):
            pass
    assert not list(tmp_path.rglob("*.lock"))


def test_an_unwritable_data_dir_fails_at_once(tmp_path: Path) -> None:
    blocker = tmp_path / "collections"
    blocker.write_text("a file where the collections directory should be")
    with (
        pytest.raises(StorageUnavailable, match="cannot write collection 'kb'"),
        write_lock(blocker, "kb", "ingest"),
    ):
        pass


def snapshot(settings: Settings) -> tuple[set[str], set[str], set[str]]:
    """(catalog's stored ids, store's ids, document states) of collection race."""
    with Collection.open("race", settings) as race:
        records = list(race.catalog.documents())
        known = {i for r in records for i in r.stored_ids}
        store = race.store
        held = set(store._col.get(include=[])["ids"])  # type: ignore[attr-defined]
        return known, held, {r.state for r in records}


@pytest.mark.slow
def test_two_writers_racing_leave_no_unknown_chunks(tmp_path: Path, chroma: ChromaServer) -> None:
    """Two processes ingest the same files into one new collection on the Chroma server,
    each writing its own chunks (``tests/deploy/writer.py``; with ``--no-lock``, two of three
    runs ended with 12 of the store's 24 chunks unknown to the catalog). The lock lets one
    in after the other."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(12):
        (docs / f"note{i}.md").write_text(
            f"# Note {i}\n\nThe backup job {i} runs nightly.\n\nIts log rotates weekly.\n"
        )
    data = tmp_path / "data"
    url = chroma.url
    go = tmp_path / "go"
    extra = [url]

    def writer(tag: str) -> subprocess.Popen[str]:
        args = [str(data), "race", str(docs), tag, str(go), *extra]
        return subprocess.Popen(
            [sys.executable, "-m", "tests.deploy.writer", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=ragline_env(data),
        )

    writers = [writer("writer A"), writer("writer B")]
    for proc in writers:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == "ready", proc.stderr.read() if proc.stderr else line
    go.touch()
    reports = []
    for proc in writers:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    # One wrote every document; the other, let in after it, found them all done.
    assert sorted((r["files_ok"], r["files_skipped"]) for r in reports) == [(0, 12), (12, 0)]

    settings = Settings(data_dir=data, store=StoreSettings(chroma_url=url))
    known, held, states = snapshot(settings)
    assert held == known, f"{len(held - known)} chunks in the store the catalog does not know"
    assert states == {"done"}
    with Collection.open("race", settings) as race:
        texts = {c.text.rsplit("(written by ", 1)[-1] for c in race.store.get(sorted(held))}
    assert len(texts) == 1, "every document holds one writer's chunks, the last one's"
