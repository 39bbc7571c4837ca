"""Faults of the services around `ragline serve` (a subprocess on a Chroma server and a Redis
of its own): Redis killed and restarted under load, the Chroma server killed and restarted,
the app killed in the middle of an upload's ingestion. The server keeps answering or fails
with a clear status, recovers when the service is back, and loses nothing stored."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ragline.retrieval.collection import Collection
from ragline.retrieval.settings import StoreSettings
from ragline.settings import Settings
from tests.deploy.services import (
    ChromaServer,
    RaglineServer,
    RedisServer,
    call,
    metric,
    upload,
    wait_until,
)

pytestmark = pytest.mark.slow
TOPICS = ["backups", "certificates", "firewalls", "kernels", "mirrors", "proxies", "quotas"]


def note(i: int) -> bytes:
    topic = TOPICS[i % len(TOPICS)]
    return (
        f"# {topic.title()} note {i}\n\nThe {topic} runbook {i} says: check step {i * 3} "
        f"before you restart anything.\n\nEscalate {topic} incident {i} to the on-call team.\n"
    ).encode()


@dataclass
class Stack:
    chroma: ChromaServer
    redis: RedisServer
    serve: RaglineServer
    data: Path

    def settings(self) -> Settings:
        return Settings(data_dir=self.data, store=StoreSettings(chroma_url=self.chroma.url))


def finish(url: str, collection: str, files: dict[str, bytes]) -> dict[str, Any]:
    status, job = upload(url, collection, files)
    assert status == 202, job

    def done() -> dict[str, Any] | None:
        _, state = call(url, "GET", f"/v1/jobs/{job['job_id']}")
        return state if state["state"] in ("done", "failed") else None

    state = wait_until(done, 300, f"upload job into {collection}")
    assert state["state"] == "done" and not state["errors"], state
    return state


@pytest.fixture(scope="module")
def stack(chroma: ChromaServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("faults")
    redis = RedisServer(root / "redis.log")
    redis.start()
    data = root / "data"
    serve = RaglineServer(
        data,
        {
            "RAGLINE_STORE__CHROMA_URL": chroma.url,
            "RAGLINE_CACHE__REDIS_URL": redis.url,
            "RAGLINE_CACHE__RETRY_AFTER_S": "1",
            "RAGLINE_EMBEDDING__MODEL": "minilm",
            "RAGLINE_INGEST__FLUSH_CHUNKS": "4",
            "RAGLINE_SERVER__MAX_CONCURRENT_PER_KEY": "0",
        },
    )
    serve.start()
    try:
        finish(serve.url, "kb", {f"note{i}.md": note(i) for i in range(14)})
        yield Stack(chroma, redis, serve, data)
    finally:
        serve.stop()
        redis.stop()


def job_state(url: str, job_id: str, state: str) -> dict[str, Any] | None:
    _, job = call(url, "GET", f"/v1/jobs/{job_id}")
    found: dict[str, Any] | None = job if job["state"] == state else None
    return found


def ask(url: str, question: str, timeout: float = 60.0) -> tuple[int, Any]:
    return call(url, "POST", "/v1/ask", {"question": question, "collection": "kb"}, timeout=timeout)


class Load:
    """Threads asking (a few questions again and again, and new ones) until stopped."""

    def __init__(self, url: str, threads: int = 3) -> None:
        self.url = url
        self.statuses: Counter[int | str] = Counter()
        self.stop = threading.Event()
        self.count = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(n,)) for n in range(threads)]

    def run(self, n: int) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            topic = TOPICS[i % len(TOPICS)]
            question = (
                f"What does the {topic} runbook say?"
                if i % 2
                else f"Who gets {topic} case {n}-{i}?"
            )
            try:
                status, _ = ask(self.url, question)
            except OSError as exc:
                status = type(exc).__name__
            with self.lock:
                self.statuses[status] += 1
                self.count += 1

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(120)

    def wait_for(self, more: int) -> None:
        target = self.count + more
        wait_until(lambda: self.count >= target, 120, f"{more} more answers")


def test_redis_killed_and_restarted_under_load(stack: Stack) -> None:
    url = stack.serve.url
    assert ask(url, "What does the backups runbook say?")[0] == 200
    bypassed = metric(url, "ragline_answer_cache_bypasses", {"reason": "unavailable"})
    with Load(url) as load:
        load.wait_for(6)
        stack.redis.kill()
        load.wait_for(12)  # answers go on while Redis is gone
        during = metric(url, "ragline_answer_cache_bypasses", {"reason": "unavailable"})
        stack.redis.start()  # empty: it kept nothing
        load.wait_for(6)
    assert load.statuses == Counter({200: load.count}), load.statuses
    assert during > bypassed, "the cache was bypassed, and the bypasses were counted"

    def cached_again() -> bool:
        question = f"Which team handles quotas escalation {time.monotonic_ns()}?"
        ask(url, question)
        status, again = ask(url, question)
        return status == 200 and again["cached"] is True

    wait_until(cached_again, 30, "the answer cache to work again after Redis came back")


def test_chroma_killed_then_back(stack: Stack) -> None:
    url = stack.serve.url
    _, before = call(url, "GET", "/v1/collections")
    assert ask(url, "What does the kernels runbook say?")[0] == 200
    stack.chroma.kill()
    try:
        status, ready = call(url, "GET", "/readyz")
        assert status == 503 and ready["checks"]["vector_store"]["ok"] is False
        assert "no answer" in ready["checks"]["vector_store"]["error"]
        status, body = ask(url, "Who gets the mirrors incident?")
        assert status == 503, body
        message = body["error"]["message"]
        assert "Chroma server" in message and "does not answer" in message, message
        assert "127.0.0.1" not in message, "no internal address in the message"
        status, body = call(url, "POST", "/v1/search", {"query": "mirrors", "collection": "kb"})
        assert status == 503, body
        status, job = upload(url, "late", {"late.md": note(99)})  # its job opens the store
        assert status == 202, job
        failed = wait_until(lambda: job_state(url, job["job_id"], "failed"), 120, "the job")
        assert "Chroma server" in failed["message"] and "does not answer" in failed["message"]
    finally:
        stack.chroma.start()  # returns once its heartbeat answers
    back = time.monotonic()

    def answering() -> bool:
        return ask(url, f"Who gets the proxies incident {time.monotonic_ns()}?")[0] == 200

    wait_until(answering, 30, "answers after Chroma came back")
    assert time.monotonic() - back < 5.0, "recovered within 5 s of Chroma coming back"
    finish(url, "late", {"late.md": note(99)})  # the upload again: in this time
    assert call(url, "GET", "/readyz")[0] == 200
    after = call(url, "GET", "/v1/collections")[1]["data"]
    assert [row for row in after if row["name"] == "kb"] == before["data"], "nothing lost"


def index_version(data: Path, name: str) -> int:
    try:
        with sqlite3.connect(data / "collections" / name / "catalog.sqlite", timeout=1) as db:
            row = db.execute("SELECT value FROM meta WHERE key='index_version'").fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0]) if row else 0


def by_file(settings: Settings, name: str) -> dict[str, list[str]]:
    """File name -> its chunks' texts; checks the store holds exactly the catalog's chunks."""
    with Collection.open(name, settings) as coll:
        records = list(coll.catalog.documents())
        assert {r.state for r in records} == {"done"}
        ids = [i for r in records for i in r.chunk_ids]
        assert coll.store.count() == len(ids) == len(coll.store.get(ids))
        text = {c.id: c.text for c in coll.store.get(ids)}
        return {Path(r.source).name: sorted(text[i] for i in r.chunk_ids) for r in records}


def test_app_killed_during_an_upload_then_the_upload_again(stack: Stack) -> None:
    url = stack.serve.url
    files = {f"incident{i}.md": note(i) * 4 for i in range(20)}  # 20: the most per upload
    status, job = upload(url, "uploads", files)
    assert status == 202, job
    wait_until(lambda: index_version(stack.data, "uploads") >= 2, 300, "rounds committed")
    stack.serve.kill()  # the app dies in the middle of the job
    stack.serve.start()
    finish(url, "uploads", files)  # the client uploads again
    finish(url, "clean", files)  # the same files, never interrupted
    settings = stack.settings()
    assert by_file(settings, "uploads") == by_file(settings, "clean")
