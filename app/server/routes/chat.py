"""OpenAI-compatible chat completions (SSE streaming), /v1/models and /v1/ask."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

import anyio
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import Receive, Scope, Send

from ragline.answer import Answer, AnswerMode, AskRequest, Delta, Event
from ragline.retrieval.collection import list_collections
from ragline.retrieval.errors import RaglineError, UsageError
from ragline.retrieval.settings import SearchMode
from ragline.retrieval.types import Message
from ragline.server.routes.search import ConditionModel, FieldName, Value, to_filter
from ragline.server.security import ReadKey
from ragline.server.state import StateDep

router = APIRouter(prefix="/v1", tags=["answers"])


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class AnswerOptions(BaseModel):
    mode: AnswerMode = "plain"
    k: int | None = Field(None, ge=1, le=50)
    search_mode: SearchMode | None = None
    filters: dict[FieldName, Value] = Field(default_factory=dict)
    where: list[ConditionModel] = Field(default_factory=list)
    tenant: str = Field("", max_length=200)
    conversation_id: str | None = Field(None, max_length=200, pattern=r"^[A-Za-z0-9._:-]+$")
    samples: int = Field(3, ge=1, le=16)


class ChatRequest(AnswerOptions):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=200, description="the collection to answer from")
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    collection: str | None = Field(None, description="overrides model")
    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int = Field(1, ge=1, le=1)


class AskBody(AnswerOptions):
    question: str = Field(min_length=1)
    collection: str = Field(min_length=1, max_length=63)


def _ask_request(
    body: AnswerOptions,
    question: str,
    collection: str,
    history: tuple[Message, ...],
    generation: dict[str, Any],
) -> AskRequest:
    return AskRequest(
        question=question,
        collection=collection,
        history=history,
        mode=body.mode,
        k=body.k,
        search_mode=body.search_mode,
        where=to_filter(body.filters, body.where),
        tenant=body.tenant,
        generation=generation,
        samples=body.samples,
    )


@router.get("/models")
def models(state: StateDep, _: ReadKey) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "ragline"}
            for name in list_collections(state.settings)
        ],
    }


@router.post("/ask")
async def ask(
    body: AskBody,
    state: StateDep,
    _: ReadKey,
) -> dict[str, Any]:
    conversations = state.conversations
    history = tuple(conversations.get(body.conversation_id)) if body.conversation_id else ()
    request = _ask_request(body, body.question, body.collection, history, {})
    answer = await run_in_threadpool(state.answers.answerer.ask, request)
    if body.conversation_id:
        conversations.append(
            body.conversation_id, Message("user", body.question), Message("assistant", answer.text)
        )
    return answer.to_dict()


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatRequest,
    state: StateDep,
    _: ReadKey,
) -> dict[str, Any] | StreamingResponse:
    answerer, conversations = state.answers.answerer, state.conversations
    turns = [m for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise UsageError("the last message must be the user's question")
    question = turns[-1].text()
    history = tuple(Message(m.role, m.text()) for m in turns[:-1])  # type: ignore[arg-type]
    if body.conversation_id and not history:
        history = tuple(conversations.get(body.conversation_id))
    generation = {
        "temperature": body.temperature,
        "top_p": body.top_p,
        "max_new_tokens": body.max_tokens,
        "stop": body.stop,
    }
    if body.seed is not None:
        generation["seed"] = body.seed
    collection = body.collection or body.model
    request = _ask_request(body, question, collection, history, generation)
    completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]
    created = int(time.time())

    def remember(answer: Answer) -> None:
        if body.conversation_id:
            conversations.append(
                body.conversation_id, Message("user", question), Message("assistant", answer.text)
            )

    if not body.stream:
        answer = await run_in_threadpool(answerer.ask, request)
        remember(answer)
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text},
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(answer),
            "citations": [_citation(c) for c in answer.to_dict()["citations"]],
            "ragline": _extra(answer),
        }

    events = answerer.stream(request)
    # Errors before the first event (unknown collection, bad parameters) become JSON errors.
    first = await run_in_threadpool(_next_event, events)

    async def sse() -> AsyncIterator[str]:
        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            payload = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": body.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

        # Each event is pulled in a worker thread; when the client hangs up, the response
        # closes this generator (ClosingStreamingResponse), and ``finally`` closes the
        # pipeline at once, which stops the generation.
        event = first
        try:
            yield chunk({"role": "assistant", "content": ""})
            started = time.perf_counter()
            while event is not None:
                if isinstance(event, Delta):
                    if event.text:
                        if state.metrics.ttft is not None and started:
                            state.metrics.ttft.observe(time.perf_counter() - started)
                            started = 0.0
                        yield chunk({"content": event.text})
                else:
                    remember(event)
                    state.metrics.tokens.inc(event.tokens.get("completion", 0))
                    yield chunk(
                        {},
                        "stop",
                        citations=[_citation(c) for c in event.to_dict()["citations"]],
                        ragline=_extra(event),
                        usage=_usage(event),
                    )
                event = await run_in_threadpool(_next_event, events)
        except RaglineError as exc:
            yield f"data: {json.dumps({'error': {'message': str(exc), 'type': type(exc).__name__}})}\n\n"
        finally:
            close = getattr(events, "close", None)
            if callable(close):
                close()  # the client went away or we are done: generation stops now
        yield "data: [DONE]\n\n"

    return ClosingStreamingResponse(
        sse(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


class ClosingStreamingResponse(StreamingResponse):
    """A StreamingResponse that closes its body generator as soon as the response ends.

    When the client disconnects, Starlette cancels the sending task, which leaves the body
    generator suspended at a ``yield``; only the garbage collector would close it later, and
    until then the model goes on generating for nobody. Here it is closed at once."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                with anyio.CancelScope(shield=True):
                    await close()


def _next_event(events: Iterator[Event]) -> Event | None:
    return next(events, None)


def _citation(c: dict[str, Any]) -> dict[str, Any]:
    return {
        k: c[k]
        for k in (
            "number",
            "doc_id",
            "source",
            "file_name",
            "page",
            "start",
            "end",
            "snippet",
            "chunk_ids",
        )
    }


def _usage(answer: Answer) -> dict[str, int]:
    prompt, completion = answer.tokens.get("prompt", 0), answer.tokens.get("completion", 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _extra(answer: Answer) -> dict[str, Any]:
    data = answer.to_dict()
    data.pop("citations", None)
    data["answer"] = answer.text
    data["total_ms"] = answer.timings_ms.get("total")
    return data
