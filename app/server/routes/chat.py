"""OpenAI-compatible chat completions (SSE streaming), /v1/models, /v1/ask and the
conversations they continue.

Every answer runs for the caller's tenant (from its key; a ``tenant`` in the body is
ignored), inside one of the caller's answers-in-flight slots, and stops when the client
hangs up: streams when their response closes, other answers through a cancel token."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from ragline.answer import Answer, AskRequest, Delta, Event
from ragline.retrieval.collection import check_name, list_collections
from ragline.retrieval.errors import CollectionNotFound, RaglineError, UsageError
from ragline.retrieval.types import Message
from ragline.server.calls import ClientGone, capped, owned_history, take_slot, until_disconnect
from ragline.server.errors import public_message
from ragline.server.openapi import KEYED, errors
from ragline.server.routes.search import to_filter
from ragline.server.schemas import AnswerOptions, AskBody, ChatRequest, UserMessage, check_limits
from ragline.server.security import Caller, ReadKey
from ragline.server.state import AppState, StateDep

router = APIRouter(prefix="/v1", tags=["answers"])
ANSWER_ERRORS = errors(400, *KEYED, 404, 413, 422, 502, 503)
CLIENT_GONE = 499
"""Logged for answers whose client left (nginx's code); the client never sees it."""


def _ask_request(
    body: AnswerOptions,
    caller: Caller,
    settings: Any,
    question: str,
    collection: str,
    history: tuple[Message, ...],
    generation: dict[str, Any],
) -> AskRequest:
    return AskRequest(
        question=question,
        collection=caller.check_collection(collection),
        history=capped(
            history, settings.server.max_history_messages, settings.server.max_history_chars
        ),
        mode=body.mode,
        k=body.k,
        search_mode=body.search_mode,
        where=to_filter(body.filters, body.where),
        tenant=caller.tenant,
        generation=generation,
        samples=body.samples_wanted(settings),
    )


@router.get("/models", responses=errors(*KEYED))
def models(state: StateDep, caller: ReadKey) -> dict[str, Any]:
    """The collections this key may use, as OpenAI "models"."""
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "ragline"}
            for name in list_collections(state.settings)
            if caller.may_see(name)
        ],
    }


@router.post("/conversations", status_code=201, responses=errors(*KEYED, 413))
async def new_conversation(state: StateDep, caller: ReadKey) -> dict[str, Any]:
    """A conversation id for ``conversation_id``: the server keeps the turns, and only the
    key that created the id can continue it."""
    conversation_id = await run_in_threadpool(state.conversations.create, caller.identity)
    return {"conversation_id": conversation_id, "expires_in": state.conversations.ttl_s}


async def _answer(state: AppState, request: Request, ask: AskRequest) -> Answer:
    answerer = state.answers.answerer
    return await until_disconnect(request, lambda cancel: answerer.ask(ask, cancel))


async def _remember(state: AppState, conversation_id: str | None, question: str, text: str) -> None:
    if conversation_id:
        turn = (Message("user", question), Message("assistant", text))
        await run_in_threadpool(state.conversations.append, conversation_id, *turn)


@router.post("/ask", response_model=None, responses=ANSWER_ERRORS)
async def ask(
    body: AskBody, request: Request, state: StateDep, caller: ReadKey
) -> dict[str, Any] | Response:
    """One answer with verified citations (a conversation continues with its id)."""
    check_limits(body, state.settings)
    history = await owned_history(state, caller, body.conversation_id)
    ask_request = _ask_request(
        body, caller, state.settings, body.question, body.collection, history, {}
    )
    take_slot(state, caller)
    try:
        answer = await _answer(state, request, ask_request)
    except ClientGone:
        return Response(status_code=CLIENT_GONE)
    finally:
        state.in_flight.release(caller.identity)
    await _remember(state, body.conversation_id, body.question, answer.text)
    return answer.to_dict()


def _collection(body: ChatRequest) -> str:
    if body.collection:
        return body.collection
    try:
        return check_name(body.model)
    except UsageError:  # a model name that cannot be a collection names none
        raise CollectionNotFound(f"collection {body.model!r} does not exist") from None


@router.post(
    "/chat/completions",
    response_model=None,
    responses={
        **ANSWER_ERRORS,
        200: {
            "description": "A chat completion; with ``stream`` an event stream of chunks",
            "content": {"application/json": {}, "text/event-stream": {}},
        },
    },
)
async def chat_completions(
    body: ChatRequest, request: Request, state: StateDep, caller: ReadKey
) -> dict[str, Any] | Response:
    check_limits(body, state.settings)
    last = max(i for i, m in enumerate(body.messages) if isinstance(m, UserMessage))
    question = body.messages[last].text()
    earlier = body.messages[:last]
    history = tuple(
        Message("user" if m.role == "user" else "assistant", m.text())
        for m in earlier
        if m.role in ("user", "assistant")
    )
    if body.conversation_id:
        stored = await owned_history(state, caller, body.conversation_id)
        history = history or stored
    generation = {
        "temperature": body.temperature,
        "top_p": body.top_p,
        "max_new_tokens": body.max_tokens,
        "stop": body.stop,
    }
    if body.seed is not None:
        generation["seed"] = body.seed
    ask_request = _ask_request(
        body, caller, state.settings, question, _collection(body), history, generation
    )
    completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]
    created = int(time.time())
    take_slot(state, caller)
    handed_over = False
    try:
        if not body.stream:
            try:
                answer = await _answer(state, request, ask_request)
            except ClientGone:
                return Response(status_code=CLIENT_GONE)
            await _remember(state, body.conversation_id, question, answer.text)
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
        events = state.answers.answerer.stream(ask_request)
        # Errors before the first event (unknown collection, bad parameters) become JSON errors.
        first = await run_in_threadpool(_next_event, events)
        response = ClosingStreamingResponse(
            _sse(state, body, question, completion_id, created, events, first),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
            on_close=_once(
                lambda: _close(events), lambda: state.in_flight.release(caller.identity)
            ),
        )
        handed_over = True  # the response releases the slot when it ends
        return response
    finally:
        if not handed_over:
            state.in_flight.release(caller.identity)


async def _sse(
    state: AppState,
    body: ChatRequest,
    question: str,
    completion_id: str,
    created: int,
    events: Iterator[Event],
    first: Event | None,
) -> AsyncIterator[str]:
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
                await _remember(state, body.conversation_id, question, event.text)
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
        error = {"message": public_message(exc, "-"), "type": type(exc).__name__}
        yield f"data: {json.dumps({'error': error})}\n\n"
    finally:
        _close(events)  # the client went away or we are done: generation stops now
    yield "data: [DONE]\n\n"


def _close(events: Iterator[Event]) -> None:
    close = getattr(events, "close", None)
    if callable(close):
        close()


def _once(*actions: Callable[[], None]) -> Callable[[], None]:
    done = False

    def run() -> None:
        nonlocal done
        if not done:
            done = True
            for action in actions:
                action()

    return run


class ClosingStreamingResponse(StreamingResponse):
    """A StreamingResponse that closes its body generator as soon as the response ends.

    When the client disconnects, Starlette cancels the sending task, which leaves the body
    generator suspended at a ``yield``; only the garbage collector would close it later, and
    until then the model goes on generating for nobody. Here it is closed at once, and
    ``on_close`` runs (even when the body never started)."""

    def __init__(self, *args: Any, on_close: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            with anyio.CancelScope(shield=True):
                if close is not None:
                    await close()
                await run_in_threadpool(self.on_close)


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
