"""No single caller can take the model: server-side caps on k, samples, max_tokens, history,
filters and body size; a per-key limit on answers in flight; and a non-streamed answer whose
client hangs up stops generating."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ragline.ingest.pipeline import Ingestor
from ragline.llm import CancelToken, Completion, GenerationParams
from ragline.llm.fake import FakeLLM
from ragline.retrieval.types import Message
from ragline.server import create_app
from ragline.server.keys import KeyStore
from ragline.settings import Settings
from tests.ingest.corpus import write_corpus
from tests.server.live import (
    API_KEY,
    clean_environment,
    echo_first_source,
    live_server,
    live_settings,
)

AUTH = {"Authorization": f"Bearer {API_KEY}"}
QUESTION = "How do I enable a unit at boot?"


def limited(settings: Settings, **server: Any) -> Settings:
    caps = {
        "max_k": 5,
        "max_samples": 4,
        "max_history_messages": 4,
        "max_history_chars": 2000,
        "max_body_kb": 64,
        "max_concurrent_per_key": 1,
        **server,
    }
    base = settings.server.model_copy(update=caps)
    prompts = settings.prompts.model_copy(update={"answer_tokens": 128})
    return settings.model_copy(update={"server": base, "prompts": prompts})


@pytest.fixture(scope="module")
def app_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    root = tmp_path_factory.mktemp("limits")
    with clean_environment():
        settings = limited(live_settings(root / "data"))
        write_corpus(root / "docs", paragraphs=1)
        Ingestor(settings, "docs", embedder="minilm", workers=1).run([root / "docs"])
        yield settings


@pytest.fixture(scope="module")
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings), raise_server_exceptions=False) as c:
        c.app.state.ragline.answers.llm.default = echo_first_source  # type: ignore[attr-defined]
        yield c


def error(response: Any) -> str:
    message: str = response.json()["error"]["message"]
    return message


def chat_body(**extra: Any) -> dict[str, Any]:
    return {"model": "docs", "messages": [{"role": "user", "content": QUESTION}], **extra}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/search", {"query": QUESTION, "collection": "docs", "k": 6}, "k"),
        ("/v1/ask", {"question": QUESTION, "collection": "docs", "k": 6}, "k"),
        ("/v1/chat/completions", chat_body(k=6), "k"),
        ("/v1/ask", {"question": QUESTION, "collection": "docs", "samples": 5}, "samples"),
        ("/v1/chat/completions", chat_body(max_tokens=129), "max_tokens"),
        ("/v1/ask", {"question": "x" * 2001, "collection": "docs"}, "question"),
        ("/v1/search", {"query": "x", "collection": "docs",
                        "filters": {f"f{i}": i for i in range(33)}}, "filters"),
        ("/v1/search", {"query": "x", "collection": "docs",
                        "where": [{"field": "a", "op": "in", "value": list(range(257))}]}, "where"),
        ("/v1/search", {"query": "x", "collection": "docs",
                        "where": [{"field": "a", "value": 1}] * 33}, "where"),
    ],
)  # fmt: skip
def test_caps_are_enforced_with_a_clear_422(
    client: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    response = client.post(path, json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    assert error(response).startswith(f"invalid {field}")


def test_within_the_caps_is_fine(client: TestClient) -> None:
    answer = client.post("/v1/chat/completions", json=chat_body(k=5, max_tokens=128), headers=AUTH)
    assert answer.status_code == 200, answer.text
    ask = {"question": QUESTION, "collection": "docs", "mode": "self-consistency", "samples": 4}
    assert client.post("/v1/ask", json=ask, headers=AUTH).status_code == 200


def test_the_schema_states_the_caps(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["SearchRequest"]["properties"]["k"]["maximum"] == 5
    assert schemas["AskBody"]["properties"]["samples"]["maximum"] == 4
    assert schemas["AskBody"]["properties"]["question"]["maxLength"] == 2000
    tokens = schemas["ChatRequest"]["properties"]["max_tokens"]["anyOf"][0]
    assert tokens["maximum"] == 128


def test_a_large_body_is_refused(client: TestClient) -> None:
    body = {"query": "x", "collection": "docs", "pad": "y" * 70_000}
    response = client.post("/v1/search", json=body, headers=AUTH)
    assert response.status_code == 413 and "64 KB" in error(response)


def test_long_histories_are_cut_to_the_most_recent_messages(client: TestClient) -> None:
    fake: FakeLLM = client.app.state.ragline.answers.llm  # type: ignore[attr-defined]
    turns: list[dict[str, str]] = []
    for i in range(30):
        turns.append({"role": "user", "content": f"old question number {i}?"})
        turns.append({"role": "assistant", "content": f"old answer number {i}."})
    turns.append({"role": "user", "content": "and how do I turn that on?"})
    calls = len(fake.calls)
    response = client.post("/v1/chat/completions", json={"model": "docs", "messages": turns}, headers=AUTH)  # fmt: skip
    assert response.status_code == 200, response.text
    condense = fake.calls[calls].messages[-1].content
    assert "number 29" in condense and "number 28" in condense
    assert "number 27" not in condense  # 4 messages: questions and answers 28 and 29


class Recording(FakeLLM):
    """Notes how each generation ended."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.finished: list[Completion] = []
        self.started = threading.Event()

    def generate(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        *,
        cancel: CancelToken | None = None,
    ) -> Completion:
        self.started.set()
        done = super().generate(messages, params, cancel=cancel)
        self.finished.append(done)
        return done


def test_one_key_has_at_most_its_answers_in_flight(app_settings: Settings, tmp_path: Path) -> None:
    slow = Recording(model_id="slow", default=" ".join(["word"] * 60) + " [1]", delay_s=0.02)
    with TestClient(create_app(app_settings), raise_server_exceptions=False) as c:
        state = c.app.state.ragline  # type: ignore[attr-defined]
        state.answers.llm = state.answers.answerer.llm = slow
        tenant_key, _ = KeyStore.for_data_dir(app_settings.data_dir).create("acme")
        state.keys.refresh(force=True)
        first = threading.Thread(
            target=c.post, args=("/v1/ask",), kwargs={"json": {"question": QUESTION, "collection": "docs"}, "headers": AUTH}
        )  # fmt: skip
        first.start()
        assert slow.started.wait(30)
        second = c.post("/v1/ask", json={"question": "Where do SSH keys live?", "collection": "docs"}, headers=AUTH)  # fmt: skip
        assert second.status_code == 429 and "in flight" in error(second)
        assert second.headers["retry-after"] == "1"
        other = c.post("/v1/search", json={"query": "ssh", "collection": "docs"},
                       headers={"Authorization": f"Bearer {tenant_key}"})  # fmt: skip
        assert other.status_code == 200  # another key (and searches) are not held up
        first.join(30)
        assert not state.in_flight._held  # every slot was given back


def test_a_client_hanging_up_stops_a_non_streamed_answer(tmp_path: Path) -> None:
    words = 300
    slow = Recording(model_id="slow", default=" ".join(f"w{i}" for i in range(words)), delay_s=0.02)
    with clean_environment():
        settings = live_settings(tmp_path / "data")
        write_corpus(tmp_path / "docs", paragraphs=1)
        Ingestor(settings, "docs", embedder="minilm", workers=1).run([tmp_path / "docs"])
        with live_server(settings) as live:
            state = live.state
            state.answers.llm = state.answers.answerer.llm = slow
            body = {"question": QUESTION, "collection": "docs"}
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(f"{live.url}/v1/ask", json=body, headers=AUTH, timeout=httpx.Timeout(60, read=1.0))  # fmt: skip
            hung_up = time.monotonic()
            while not slow.finished:
                assert time.monotonic() - hung_up < 5, "generation went on after the client left"
                time.sleep(0.02)
            done = slow.finished[0]
            assert done.finish_reason == "cancelled"
            assert done.completion_tokens < words / 2
            assert not state.in_flight._held  # the caller's slot is free again
            # the same question asked again is computed afresh (nothing half-made was cached)
            again = httpx.post(f"{live.url}/v1/ask", json=body, headers=AUTH, timeout=60)
            assert again.status_code == 200 and again.json()["cached"] is False
