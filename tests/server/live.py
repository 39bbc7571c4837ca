"""A real uvicorn server on a free loopback port, in a background thread of the test process."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from ragline.answer.build import AnswerConfig
from ragline.llm.fake import FakeLLM
from ragline.retrieval.types import Message
from ragline.server import create_app
from ragline.server.settings import ServerSettings
from ragline.server.state import AppState
from ragline.settings import Settings
from tests.conftest import NO_EXPANSION

API_KEY = "live-operator-key-123456"


@dataclass
class Live:
    app: FastAPI
    url: str
    port: int

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.ragline
        return state

    @property
    def answers(self) -> AnswerConfig:
        return self.state.answers

    @property
    def fake(self) -> FakeLLM:
        llm = self.answers.llm
        assert isinstance(llm, FakeLLM), "the server was not started with llm.backend=fake"
        return llm


@contextmanager
def live_server(settings: Settings, start_timeout: float = 120.0) -> Iterator[Live]:
    """Start ``create_app(settings)`` under uvicorn on 127.0.0.1 (an already-bound socket, so
    no port race) and stop it on exit."""
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="uvicorn"
    )
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn stopped during start-up")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("uvicorn did not start in time")
        time.sleep(0.05)
    try:
        yield Live(app, f"http://127.0.0.1:{port}", port)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def live_settings(data_dir: Path, **updates: object) -> Settings:
    """Settings for a live test server: fake LLM (no query expansion: see
    ``tests.conftest.NO_EXPANSION``), in-process cache, an API key, no rate limit."""
    base = Settings(data_dir=data_dir, answer=NO_EXPANSION)
    server = ServerSettings(api_keys=[SecretStr(API_KEY)], rate_limit_per_minute=0)
    llm = base.llm.model_copy(update={"backend": "fake"})
    return base.model_copy(update={"server": server, "llm": llm, **updates})


@contextmanager
def clean_environment() -> Iterator[None]:
    """No RAGLINE_* variables from the user's shell (module-scoped twin of ``settings``)."""
    import os

    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("RAGLINE_"):
                mp.delenv(key)
        yield


_SOURCE = re.compile(r'<(\S+) n="(\d+)"[^>]*>\s*(.*?)\s*</\1>', re.S)
STANDALONE_MARK = "Standalone question:"


def sources_in(messages: Sequence[Message]) -> dict[int, str]:
    """The numbered sources of a grounded prompt, by number."""
    text = messages[-1].content if messages else ""
    return {int(m.group(2)): m.group(3) for m in _SOURCE.finditer(text)}


STANDALONE = "How do I enable a systemd service at boot?"


def echo_first_source(messages: Sequence[Message], params: object) -> str:
    """A fake grounded reply: the sentence of source 1 sharing most words with the question,
    quoted as it is (markup included) and cited; a condensing prompt gets ``STANDALONE``."""
    prompt = messages[-1].content if messages else ""
    if STANDALONE_MARK in prompt:
        return STANDALONE
    sources = sources_in(messages)
    if not sources:
        return "The documents do not contain it."
    number = min(sources)
    asked = re.findall(r"^Question: (.*)$", prompt, re.M)
    words = set(re.findall(r"\w+", asked[-1].lower())) if asked else set()
    sentences = [s for s in re.split(r"(?<=[.!?])\s+|\n+", sources[number]) if s.strip()]
    best = max(sentences, key=lambda s: len(words & set(re.findall(r"\w+", s.lower()))))
    return f"{best.strip()} [{number}]"
