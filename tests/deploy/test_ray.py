"""`ragline ingest --engine ray` on a local Ray instance (2 CPUs, started once here): the
collection it writes is the one the local engine writes (documents, chunks, vectors), also
when file bytes are shipped to the workers as on a cluster without a shared file system;
and a run killed mid-way (a second driver, through the CLI, into a Chroma server) is resumed
by running it again."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragline.ingest.pipeline import Ingestor
from ragline.ingest.settings import IngestSettings
from ragline.retrieval.collection import Collection
from ragline.retrieval.settings import EmbeddingSettings, StoreSettings
from ragline.settings import Settings
from tests.deploy.services import ROOT, ChromaServer, ragline_env
from tests.ingest.corpus import write_corpus

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A local Ray instance for this module (the address a second driver connects to)."""
    assert not ray.is_initialized()
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield str(context.address_info["gcs_address"])
    finally:
        ray.shutdown()


def contents(settings: Settings, name: str) -> tuple[dict[str, tuple[str, ...]], dict[str, Any]]:
    """(file name -> chunk ids, chunk id -> (text, vector)) of a collection."""
    with Collection.open(name, settings) as coll:
        docs = {Path(r.source).name: r.chunk_ids for r in coll.catalog.documents()}
        assert {r.state for r in coll.catalog.documents()} == {"done"}
        ids = sorted(i for chunk_ids in docs.values() for i in chunk_ids)
        assert coll.store.count() == len(ids), "no chunk the catalog does not know"
        got = coll.store._col.get(ids=ids, include=["documents", "embeddings"])  # type: ignore[attr-defined]
        rows = dict(
            zip(got["ids"], zip(got["documents"], got["embeddings"], strict=True), strict=True)
        )
        return docs, rows


def assert_same(
    a: tuple[dict[str, Any], dict[str, Any]], b: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    assert a[0] == b[0]  # the same documents with the same chunk ids
    assert a[1].keys() == b[1].keys()
    for cid, (text, vector) in a[1].items():
        other_text, other_vector = b[1][cid]
        assert text == other_text
        assert np.allclose(vector, other_vector, atol=1e-5), "embedded alike on the workers"


def test_the_ray_engine_writes_what_the_local_engine_writes(
    ray_address: str, tmp_path: Path
) -> None:
    from ragline.ingest.engines.ray_engine import RayEngine

    docs = tmp_path / "docs"
    write_corpus(docs, copies=2)
    settings = Settings(
        data_dir=tmp_path / "data",
        ingest=IngestSettings(flush_chunks=8),
        embedding=EmbeddingSettings(cache=False),
    )
    local = Ingestor(settings, "local", embedder="minilm", workers=1).run([docs])
    engine = RayEngine(settings)
    shipped = RayEngine(settings, ship_files=True)  # as on nodes that do not see the files
    try:
        assert engine.cpus == 2 and not engine.ship_files
        on_ray = Ingestor(settings, "ray", embedder="minilm", engine=engine).run([docs])
        sent = Ingestor(settings, "shipped", embedder="minilm", engine=shipped).run([docs])
    finally:
        engine.close()
        shipped.close()
    assert ray.is_initialized(), "an engine leaves a Ray instance it did not start running"
    for ran in (engine, shipped):  # the work went to Ray: a task per file, embedding batches
        assert ran.tasks["parse"] == local.files_ok and ran.tasks["embed"] >= 1
    for report in (on_ray, sent):
        assert (report.files_ok, report.chunks_added) == (local.files_ok, local.chunks_added)
        assert report.files_failed == local.files_failed == []
    reference = contents(settings, "local")
    assert_same(contents(settings, "ray"), reference)
    assert_same(contents(settings, "shipped"), reference)


def index_version(data: Path, name: str) -> int:
    db = data / "collections" / name / "catalog.sqlite"
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='index_version'").fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0]) if row else 0


def test_a_killed_ray_ingestion_into_a_chroma_server_resumes(
    ray_address: str, tmp_path: Path, chroma: ChromaServer
) -> None:
    docs = tmp_path / "docs"
    write_corpus(docs, copies=6)
    data = tmp_path / "data"
    env = ragline_env(
        data,
        {
            "RAY_ADDRESS": ray_address,  # a second driver on the same Ray instance
            "RAGLINE_STORE__CHROMA_URL": chroma.url,
            "RAGLINE_INGEST__FLUSH_CHUNKS": "6",
            "RAGLINE_EMBEDDING__CACHE": "false",  # the rerun must embed what was lost again
            # bf16 on CPUs with AMX gives vectors that depend on the batch a text is embedded
            # in (differences ~1e-3 here); the killed run's batches differ from the clean
            # run's, and fp32 keeps the comparison exact
            "RAGLINE_EMBEDDING__PRECISION": "fp32",
        },
    )

    def ingest(name: str, *extra: str) -> subprocess.Popen[str]:
        args = ["ingest", str(docs), "-c", name, "--embedder", "minilm", "--json", *extra]
        return subprocess.Popen(
            [sys.executable, "-m", "ragline", *args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    victim = ingest("killed", "--engine", "ray")
    deadline = time.monotonic() + 300
    while index_version(data, "killed") < 2:  # some rounds are committed
        assert victim.poll() is None, victim.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "the Ray ingestion made no progress"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()

    rerun = ingest("killed", "--engine", "ray")
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err[-2000:]
    report = json.loads(out)
    assert report["files_skipped"] > 0, "work committed before the kill is not redone"

    clean = ingest("clean", "--engine", "local", "--workers", "1")
    out, err = clean.communicate(timeout=600)
    assert clean.returncode == 0, err[-2000:]
    settings = Settings(data_dir=data, store=StoreSettings(chroma_url=chroma.url))
    assert_same(contents(settings, "killed"), contents(settings, "clean"))
