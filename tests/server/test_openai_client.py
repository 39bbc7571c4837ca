"""The official ``openai`` client against a real uvicorn server: models, chat completions
(streaming and not), citations in extra fields, conversations, modes, the cache, LLM busy
(503 + Retry-After) and a client that hangs up mid-stream."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from ragline.ingest.pipeline import Ingestor
from ragline.llm import CancelToken, Completion, GenerationParams, TokenStream
from ragline.llm.fake import FakeLLM
from ragline.llm.gate import GenerationGate
from ragline.retrieval.types import Message
from tests.ingest.corpus import write_corpus
from tests.server.live import (
    API_KEY,
    STANDALONE,
    Live,
    clean_environment,
    echo_first_source,
    live_server,
    live_settings,
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("openai")
    with clean_environment():
        settings = live_settings(root / "data")
        write_corpus(root / "docs")
        Ingestor(settings, "docs", embedder="minilm", workers=1).run([root / "docs"])
        with live_server(settings) as server:
            server.fake.default = echo_first_source
            yield server


@pytest.fixture
def client(live: Live) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live.url}/v1", api_key=API_KEY, max_retries=0, timeout=60)


@contextmanager
def swapped(live: Live, llm: FakeLLM) -> Iterator[FakeLLM]:
    """Serve with another (fake) model for the duration of a test."""
    answers = live.answers
    old = answers.llm
    answers.llm = answers.answerer.llm = llm
    try:
        yield llm
    finally:
        answers.llm = answers.answerer.llm = old


def extra(obj: Any) -> dict[str, Any]:
    data: dict[str, Any] = obj.model_extra or {}
    return data


def test_models_list_shows_the_collections(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == ["docs"]
    assert models.data[0].owned_by == "ragline"


def test_non_streaming_answer_has_content_and_citations(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model="docs", messages=[{"role": "user", "content": "How do I enable a unit at boot?"}]
    )
    content = response.choices[0].message.content or ""
    assert "systemctl enable" in content and content.endswith("[1]")
    assert response.choices[0].finish_reason == "stop"
    citations = extra(response)["citations"]
    assert citations[0]["number"] == 1 and citations[0]["file_name"].startswith("systemd")
    assert "systemctl enable" in citations[0]["snippet"]
    ragline = extra(response)["ragline"]
    assert ragline["cached"] is False and ragline["model_id"] == "fake"
    assert response.usage is not None and response.usage.completion_tokens > 0


def test_streaming_chunks_concatenate_and_the_last_carries_citations(
    client: openai.OpenAI,
) -> None:
    stream = client.chat.completions.create(
        model="docs",
        messages=[{"role": "user", "content": "Where do SSH keys live?"}],
        stream=True,
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert len([c for c in chunks if c.choices[0].delta.content]) > 3  # word by word
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    # the final record is the checked answer: the streamed text, plus any citation marker
    # ragline attributed to a sentence the model left uncited
    answer = extra(final)["ragline"]["answer"]
    assert re.sub(r" ?\[\d+\]", "", answer) == re.sub(r" ?\[\d+\]", "", text)
    assert "~/.ssh" in text
    assert extra(final)["citations"][0]["file_name"].startswith("ssh")
    assert all("citations" not in extra(c) for c in chunks[:-1])


def test_raw_stream_is_openai_sse_ending_with_done(live: Live) -> None:
    body = {
        "model": "docs",
        "stream": True,
        "messages": [{"role": "user", "content": "What does Redis answer to PING?"}],
    }
    headers = {"Authorization": f"Bearer {API_KEY}"}
    url = f"{live.url}/v1/chat/completions"
    with httpx.stream("POST", url, json=body, headers=headers, timeout=60) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]" and events.count("data: [DONE]") == 1


def test_collection_from_an_extra_field_and_unknown_collections(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "How do I install a package with APT?"}],
        extra_body={"collection": "docs"},
    )
    assert extra(response)["citations"][0]["file_name"].startswith("apt")
    assert response.model == "gpt-4o-mini"
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(
            model="nope", messages=[{"role": "user", "content": "anything?"}]
        )


def test_conversation_id_condenses_a_follow_up(live: Live, client: openai.OpenAI) -> None:
    created = client.post("/conversations", cast_to=httpx.Response, body={})
    conversation = {"conversation_id": created.json()["conversation_id"]}
    client.chat.completions.create(
        model="docs",
        messages=[{"role": "user", "content": "What starts services when the machine boots?"}],
        extra_body=conversation,
    )
    calls_before = len(live.fake.calls)
    follow_up = client.chat.completions.create(
        model="docs",
        messages=[{"role": "user", "content": "and how do I turn that on for one?"}],
        extra_body=conversation,
    )
    ragline = extra(follow_up)["ragline"]
    assert ragline["standalone_question"] == STANDALONE
    condense = live.fake.calls[calls_before]
    assert "What starts services when the machine boots?" in condense.messages[-1].content
    assert extra(follow_up)["citations"][0]["file_name"].startswith("systemd")


def test_mode_from_an_extra_field(live: Live, client: openai.OpenAI) -> None:
    live.fake.script("systemd starts units [1].\nFinal answer: systemctl enable NAME [1]")
    response = client.chat.completions.create(
        model="docs",
        messages=[{"role": "user", "content": "Which command enables a unit?"}],
        extra_body={"mode": "cot"},
    )
    assert response.choices[0].message.content == "systemctl enable NAME [1]"
    ragline = extra(response)["ragline"]
    assert ragline["mode"] == "cot" and "systemd starts units" in ragline["reasoning"]
    assert ragline["template_id"] == "cot_qa"


def test_a_repeated_question_comes_from_the_cache(live: Live, client: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "How do I create a virtual environment?"}]
    first = client.chat.completions.create(model="docs", messages=messages)
    calls = len(live.fake.calls)
    again = client.chat.completions.create(model="docs", messages=messages)
    streamed = list(client.chat.completions.create(model="docs", messages=messages, stream=True))
    assert len(live.fake.calls) == calls  # neither repeat reached the model
    assert extra(first)["ragline"]["cached"] is False
    assert extra(again)["ragline"]["cached"] is True
    assert extra(again)["ragline"]["cache_kind"] == "exact"
    assert again.choices[0].message.content == first.choices[0].message.content
    assert extra(streamed[-1])["ragline"]["cached"] is True
    assert extra(streamed[-1])["citations"] == extra(first)["citations"]


class GatedFake(FakeLLM):
    """A fake behind the embedded model's real gate: one generation, no waiting room."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = GenerationGate(max_queue=0, timeout_s=10)

    def generate(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        *,
        cancel: CancelToken | None = None,
    ) -> Completion:
        with self.gate.enter(cancel):
            return super().generate(messages, params, cancel=cancel)

    def stream(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        *,
        cancel: CancelToken | None = None,
    ) -> TokenStream:
        self.gate.check()
        return super().stream(messages, params, cancel=cancel)


def test_a_busy_model_answers_503_with_retry_after(live: Live, client: openai.OpenAI) -> None:
    slow = GatedFake(
        model_id="gated-fake", default=" ".join(["systemd"] * 40) + " [1].", delay_s=0.05
    )
    with swapped(live, slow):
        first = threading.Thread(
            target=client.chat.completions.create,
            kwargs={
                "model": "docs",
                "messages": [
                    {"role": "user", "content": "Which command enables a systemd unit at boot?"}
                ],
            },
        )
        first.start()
        deadline = time.monotonic() + 30
        while not slow.gate.busy:
            assert time.monotonic() < deadline, "the first request never reached the model"
            time.sleep(0.01)
        for stream in (False, True):
            with pytest.raises(openai.APIStatusError) as refused:
                client.chat.completions.create(
                    model="docs",
                    messages=[
                        {
                            "role": "user",
                            "content": f"How do I install a package with APT? {stream}",
                        }
                    ],
                    stream=stream,
                )
            assert refused.value.status_code == 503
            assert refused.value.response.headers["retry-after"] == "1"
            assert "busy" in refused.value.message
        first.join(30)


class CountingFake(FakeLLM):
    """Counts the pieces it generated and notes when its generation ended."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.generated = 0
        self.ended = threading.Event()

    def stream(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        *,
        cancel: CancelToken | None = None,
    ) -> TokenStream:
        inner = super().stream(messages, params, cancel=cancel)

        def counted() -> Generator[str, None, Completion]:
            try:
                for piece in inner:
                    self.generated += 1
                    yield piece
                assert inner.completion is not None
                return inner.completion
            finally:
                inner.close()
                self.ended.set()

        return TokenStream(counted())


def test_a_client_hanging_up_mid_stream_stops_generation(live: Live, client: openai.OpenAI) -> None:
    words = 200
    counting = CountingFake(
        model_id="counting-fake", default=" ".join(f"w{i}" for i in range(words)), delay_s=0.02
    )
    with swapped(live, counting):
        stream = client.chat.completions.create(
            model="docs",
            messages=[{"role": "user", "content": "Tell me everything about Git remotes."}],
            stream=True,
        )
        received = 0
        for chunk in stream:
            received += bool(chunk.choices[0].delta.content)
            if received == 5:
                break
        stream.close()
        hung_up = time.monotonic()
        assert counting.ended.wait(10), "generation went on after the client left"
        assert time.monotonic() - hung_up < 2
        assert 5 <= counting.generated < words / 2


@pytest.mark.slow
def test_the_real_embedded_model_through_the_openai_client(tmp_path: Path) -> None:
    from ragline.llm.models import QWEN, resolve_model
    from ragline.llm.settings import LLMSettings
    from tests.models import MODELS_DIR

    model = resolve_model(LLMSettings(model=QWEN.name), MODELS_DIR)
    with clean_environment():
        settings = live_settings(tmp_path / "data")
        llm = settings.llm.model_copy(
            update={
                "backend": "llama-cpp",
                "model_path": model.path,
                "max_new_tokens": 24,
                "context_window": 2048,
            }
        )
        settings = settings.model_copy(update={"llm": llm})
        write_corpus(tmp_path / "docs", paragraphs=1)
        Ingestor(settings, "docs", embedder="minilm", workers=1).run([tmp_path / "docs"])
        with live_server(settings) as server:
            client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, timeout=300)
            messages: Any = [{"role": "user", "content": "Which command enables a systemd unit?"}]
            response = client.chat.completions.create(model="docs", messages=messages)
            assert response.choices[0].message.content
            assert "qwen2.5-coder-0.5b" in extra(response)["ragline"]["model_id"]
            assert isinstance(extra(response)["citations"], list)
            chunks = list(
                client.chat.completions.create(
                    model="docs",
                    messages=[{"role": "user", "content": "Where do SSH keys live?"}],
                    stream=True,
                    max_tokens=12,
                )
            )
            pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
            assert len(pieces) >= 2
            usage = chunks[-1].usage
            assert usage is not None and 1 <= usage.completion_tokens <= 12
            assert "citations" in extra(chunks[-1])
