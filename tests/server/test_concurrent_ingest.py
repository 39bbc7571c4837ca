"""A live server keeps answering while `ragline ingest` in another process writes the same
collection: no request fails, and the new documents become searchable.

Embedded Chroma is not multi-process safe: before the store reconnected stale clients and the
collection pool caught up in place (instead of closing collections under requests in flight),
this run saw 2-8% of requests fail with 500s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ragline.ingest.pipeline import Ingestor
from tests.server.live import API_KEY, clean_environment, live_server, live_settings

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def post(url: str, body: dict[str, object]) -> dict[str, object]:
    headers = {"content-type": "application/json", "authorization": f"Bearer {API_KEY}"}
    request = urllib.request.Request(url, json.dumps(body).encode(), headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


@pytest.mark.parametrize("store", ["chroma", "faiss"])
def test_requests_survive_ingestion_by_another_process(tmp_path: Path, store: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(12):
        (docs / f"t{i}.md").write_text(
            f"# Service {i}\n\nService number {i} restarts nightly with systemctl.\n"
        )
    with clean_environment():
        settings = live_settings(tmp_path / "data")
        Ingestor(settings, "kb", embedder="minilm", store=store, workers=1).run([docs])
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
        env["RAGLINE_DATA_DIR"] = str(tmp_path / "data")
        failures: list[str] = []
        done = [0]
        stop = threading.Event()
        with live_server(settings) as live:

            def client(n: int) -> None:
                while not stop.is_set():
                    try:
                        if n % 2:
                            post(live.url + "/v1/search", {"query": "restart", "collection": "kb"})
                        else:
                            post(
                                live.url + "/v1/ask",
                                {"question": f"when does service {done[0]} restart?",
                                 "collection": "kb"},
                            )  # fmt: skip
                        done[0] += 1
                    except (urllib.error.URLError, OSError) as exc:
                        body = exc.read()[:200] if isinstance(exc, urllib.error.HTTPError) else ""
                        failures.append(f"{exc} {body!r}")

            threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
            for t in threads:
                t.start()
            try:
                for i in range(3):
                    (docs / f"new{i}.md").write_text(
                        f"# Walrus {i}\n\nThe walrus gateway {i} rotates its keys weekly.\n"
                    )
                    subprocess.run(
                        [sys.executable, "-m", "ragline", "ingest", str(docs), "-c", "kb", "-q"],
                        cwd=ROOT, env=env, check=True, timeout=300,
                    )  # fmt: skip
            finally:
                stop.set()
                for t in threads:
                    t.join(60)
            found = post(live.url + "/v1/search", {"query": "walrus gateway", "collection": "kb"})
        assert failures == [], failures[:5]
        assert done[0] > 20
        hits = found["hits"]
        assert isinstance(hits, list) and "Walrus" in hits[0]["text"]
