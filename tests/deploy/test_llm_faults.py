"""The LLM backend hangs or dies under `ragline serve` (a subprocess whose OpenAI-compatible
backend is the scripted fake server in this process): answers fail with 503 after the
configured timeout instead of hanging, no answer slot stays taken, and answers resume when
the backend does."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.deploy.services import RaglineServer, call, upload, wait_until
from tests.llm.http_fake import FakeOpenAIServer, Reply

pytestmark = pytest.mark.slow
SLOTS = 3
"""Answers one key may have in flight (server.max_concurrent_per_key)."""


@pytest.fixture(scope="module")
def backend() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def serve(backend: FakeOpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("llm-faults") / "data"
    server = RaglineServer(
        data,
        {
            "RAGLINE_LLM__BACKEND": "openai",
            "RAGLINE_LLM__BASE_URL": backend.base_url,
            "RAGLINE_LLM__MODEL": "scripted",
            "RAGLINE_LLM__TIMEOUT_S": "2",
            "RAGLINE_LLM__CONNECT_TIMEOUT_S": "1",
            "RAGLINE_LLM__MAX_RETRIES": "0",
            "RAGLINE_CACHE__ENABLED": "false",  # every question reaches the backend
            "RAGLINE_EMBEDDING__MODEL": "minilm",
            "RAGLINE_SERVER__MAX_CONCURRENT_PER_KEY": str(SLOTS),
        },
    )
    server.start()
    try:
        text = b"# Backups\n\nThe backup job runs nightly at two and keeps seven copies.\n"
        status, job = upload(server.url, "kb", {"backups.md": text})
        assert status == 202, job
        wait_until(
            lambda: call(server.url, "GET", f"/v1/jobs/{job['job_id']}")[1]["state"] == "done",
            300,
            "the upload's ingestion",
        )
        yield server.url
    finally:
        server.stop()


def ask(url: str, n: int) -> tuple[int, Any]:
    body = {"question": f"When does backup job {n} run?", "collection": "kb"}
    return call(url, "POST", "/v1/ask", body, timeout=120)


def ask_all(url: str, count: int) -> list[tuple[int, Any]]:
    """``count`` answers at once (all of one key's slots)."""
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda n: ask(url, n), range(count)))


def test_a_hung_backend_gives_503s_and_frees_every_slot(
    serve: str, backend: FakeOpenAIServer
) -> None:
    assert ask(serve, 0)[0] == 200
    # The backend starts answering, then stalls for far longer than llm.timeout_s (2 s).
    backend.script(*[Reply(text="The backup", delay_s=8.0) for _ in range(SLOTS)])
    for status, body in ask_all(serve, SLOTS):
        assert status == 503, body
        assert body["error"]["message"].startswith("the language model is unavailable")
        assert "127.0.0.1" not in body["error"]["message"]
    # Nothing is stuck: every slot of the key is free again, and the queue drained.
    results = ask_all(serve, SLOTS)
    assert [status for status, _ in results] == [200] * SLOTS, results


def test_a_dead_backend_gives_503s_until_it_is_back(serve: str, backend: FakeOpenAIServer) -> None:
    port = backend.port
    backend.__exit__(None, None, None)  # the backend process is gone
    try:
        results = ask_all(serve, SLOTS)
        assert [status for status, _ in results] == [503] * SLOTS, results
    finally:
        revived = FakeOpenAIServer()
        revived.port = revived.server.config.port = port  # back on its address
        revived.__enter__()
        backend.server, backend.thread = revived.server, revived.thread  # for the teardown
    replies = ask_all(serve, SLOTS)
    assert [status for status, _ in replies] == [200] * SLOTS, replies
