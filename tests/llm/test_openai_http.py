"""The OpenAI-compatible HTTP backend against real sockets: a scripted server for retries and
errors, and llama-cpp-python's own server running SmolLM2 (slow)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragline.llm import CancelToken, GenerationParams, LLMBusy, LLMError, LLMUnavailable
from ragline.llm.models import SMOLLM2, resolve_model
from ragline.llm.openai_http import OpenAICompatibleLLM, _retry_after
from ragline.llm.settings import LLMSettings
from ragline.retrieval.types import Message
from tests.llm.http_fake import FakeOpenAIServer, Reply, free_port

ASK = [Message("user", "What is the capital of France?")]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def _llm(server: FakeOpenAIServer, **kwargs: object) -> OpenAICompatibleLLM:
    options: dict[str, object] = {"max_retries": 3}
    options.update(kwargs)
    return OpenAICompatibleLLM(server.base_url, "tiny", api_key="sk-test", **options)  # type: ignore[arg-type]


def test_generate_and_stream_over_sse(server: FakeOpenAIServer) -> None:
    llm = _llm(server)
    params = GenerationParams(max_new_tokens=20, stop=("###",), seed=3, top_k=40)
    done = llm.generate(ASK, params)
    assert done.text == "Hello there" and done.finish_reason == "stop"
    assert (done.prompt_tokens, done.completion_tokens) == (11, 2)
    assert done.model_id == "openai:tiny" and done.time_to_first_token is not None
    body = server.requests[-1]
    assert body["messages"] == [m.to_dict() for m in ASK] and body["stream"] is True
    assert body["max_tokens"] == 20 and body["stop"] == ["###"] and body["seed"] == 3
    assert body["top_k"] == 40 and "repetition_penalty" not in body
    server.script(Reply(text="Paris is the capital", usage=False))
    stream = llm.stream(ASK, GenerationParams())
    assert list(stream) == ["Paris", " is", " the", " capital"]
    assert stream.completion is not None
    assert stream.completion.completion_tokens == llm.count_tokens("Paris is the capital")
    llm.close()


def test_429_is_retried_after_the_servers_retry_after(server: FakeOpenAIServer) -> None:
    server.script(Reply(status=429, headers={"Retry-After": "1"}, error="slow down"))
    llm = _llm(server)
    done = llm.generate(ASK, GenerationParams())
    assert done.text == "Hello there"
    assert llm.attempts == 2
    assert server.times[1] - server.times[0] >= 0.95  # waited Retry-After, not the backoff


def test_5xx_backs_off_exponentially_then_gives_up(server: FakeOpenAIServer) -> None:
    server.script(*[Reply(status=500, error="model crashed")] * 4)
    llm = _llm(server)
    with pytest.raises(LLMUnavailable) as info:
        llm.generate(ASK, GenerationParams())
    message = str(info.value)
    assert "failed 4 times, giving up: 500 model crashed" in message and "\n" not in message
    gaps = [b - a for a, b in zip(server.times, server.times[1:], strict=False)]
    assert len(gaps) == 3
    # the SDK's backoff: 0.5, 1, 2 s, each minus up to a quarter of jitter
    assert gaps[0] >= 0.35 and gaps[1] >= 0.7 and gaps[2] >= 1.4


def test_429_exhausted_is_busy_with_retry_after(server: FakeOpenAIServer) -> None:
    server.script(*[Reply(status=429, headers={"Retry-After": "0"})] * 2)
    with pytest.raises(LLMBusy) as info:
        _llm(server, max_retries=1).generate(ASK, GenerationParams())
    assert "failed 2 times" in str(info.value)


def test_client_errors_are_not_retried(server: FakeOpenAIServer) -> None:
    server.script(Reply(status=400, error="context too long"), Reply(status=401, error="bad key"))
    llm = _llm(server)
    with pytest.raises(LLMError, match="rejected the request: 400 context too long"):
        llm.generate(ASK, GenerationParams())
    with pytest.raises(LLMUnavailable, match=r"refused the credentials \(llm.api_key\)"):
        llm.generate(ASK, GenerationParams())
    assert llm.attempts == 2


def test_connection_refused_is_retried_then_unavailable() -> None:
    llm = OpenAICompatibleLLM(f"http://127.0.0.1:{free_port()}/v1", "m", max_retries=2)
    with pytest.raises(LLMUnavailable, match="failed 3 times, giving up: cannot connect"):
        llm.generate(ASK, GenerationParams())


def test_closing_a_stream_closes_the_connection(server: FakeOpenAIServer) -> None:
    server.script(Reply(text="one two three four five six", delay_s=0.2))
    llm = _llm(server)
    stream = llm.stream(ASK, GenerationParams())
    assert next(stream) == "one"
    started = time.monotonic()
    stream.close()
    assert time.monotonic() - started < 0.5
    cancel = CancelToken()
    server.script(Reply(text="a b c d e f", delay_s=0.05))
    stream = llm.stream(ASK, GenerationParams(), cancel=cancel)
    assert next(stream) == "a"
    cancel.cancel()
    assert list(stream) == []
    assert stream.completion is not None and stream.completion.finish_reason == "cancelled"


def test_retry_after_parsing() -> None:
    assert _retry_after("3") == 3.0
    assert _retry_after(None) is None and _retry_after("soon") is None
    when = _retry_after(time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30)))
    assert when is not None and 25 < when <= 31


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` serving SmolLM2-135M on a free port."""
    pytest.importorskip("sse_starlette", reason="needs llama-cpp-python[server]")
    model = resolve_model(LLMSettings(model=SMOLLM2.name), tmp_path_factory.mktemp("m"))
    port = free_port()
    log = tmp_path_factory.mktemp("log") / "server.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model.path),
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "512",
             "--model_alias", "smol", "--n_threads", "1"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"llama_cpp.server did not start: {Path(log).read_text()[-500:]}"
                )
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow
def test_real_llama_cpp_server_generates_and_streams(llama_server: str) -> None:
    llm = OpenAICompatibleLLM(llama_server, "smol", timeout_s=60)
    params = GenerationParams(max_new_tokens=6, seed=1)
    done = llm.generate(ASK, params)
    assert done.text and done.finish_reason in ("stop", "length")
    assert 1 <= done.completion_tokens <= 8
    stream = llm.stream(ASK, params)
    pieces = list(stream)
    assert len(pieces) >= 1 and stream.completion is not None
    assert "".join(pieces) == stream.completion.text == done.text  # greedy: same answer
    stream = llm.stream(ASK, GenerationParams(max_new_tokens=200))
    next(stream)
    stream.close()  # the server sees the disconnect; the next request is served normally
    assert llm.generate(ASK, params).text == done.text
    llm.close()
