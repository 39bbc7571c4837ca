"""A scripted OpenAI-compatible server on a real socket (uvicorn in a thread) for tests."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Reply:
    status: int = 200
    text: str = "Hello there"
    headers: dict[str, str] = field(default_factory=dict)
    error: str = "boom"
    delay_s: float = 0.0
    usage: bool = True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sse(reply: Reply, model: str) -> Iterator[bytes]:
    words = reply.text.split(" ")
    for i, word in enumerate(words):
        piece = word if i == 0 else " " + word
        chunk = {"model": model, "choices": [{"index": 0, "delta": {"content": piece}}]}
        yield f"data: {json.dumps(chunk)}\n\n".encode()
        if reply.delay_s:
            time.sleep(reply.delay_s)
    done = {"model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    yield f"data: {json.dumps(done)}\n\n".encode()
    if reply.usage:
        usage = {"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": len(words)}}
        yield f"data: {json.dumps(usage)}\n\n".encode()
    yield b"data: [DONE]\n\n"


class FakeOpenAIServer:
    """Answers POST /v1/chat/completions with the scripted replies in order (then 200s);
    records each request's JSON body and arrival time."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self.times: list[float] = []
        self.port = free_port()
        app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.times.append(time.monotonic())
        reply = self.replies.popleft() if self.replies else Reply()
        if reply.status != 200:
            return JSONResponse(
                {"error": {"message": reply.error}}, status_code=reply.status, headers=reply.headers
            )
        return StreamingResponse(sse(reply, body["model"]), media_type="text/event-stream")

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)
