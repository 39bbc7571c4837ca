"""What every answer request goes through besides the pipeline: its caller's slot among the
answers in flight, conversation ownership, history caps, and cancellation when the client
hangs up (a non-streamed answer stops generating as soon as its client is gone)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from ragline.answer.generation import Cancelled
from ragline.llm import CancelToken
from ragline.retrieval.types import Message
from ragline.server.ratelimit import TooManyInFlight
from ragline.server.security import Caller
from ragline.server.state import AppState

T = TypeVar("T")


class ClientGone(Exception):
    """The client disconnected before its answer was ready; the generation was stopped."""


def take_slot(state: AppState, caller: Caller) -> None:
    """One of the caller's ``server.max_concurrent_per_key`` answers in flight, or 429.
    Pair with ``state.in_flight.release(caller.identity)``."""
    try:
        state.in_flight.acquire(caller.identity)
    except TooManyInFlight:
        state.metrics.rate_limited.inc()
        limit = state.settings.server.max_concurrent_per_key
        raise HTTPException(
            429, f"this key already has {limit} answers in flight", {"Retry-After": "1"}
        ) from None


async def owned_history(
    state: AppState, caller: Caller, conversation_id: str | None
) -> tuple[Message, ...]:
    """The history of a conversation the caller created; 404 for any other id (unknown,
    expired, or someone else's: they look the same)."""
    if not conversation_id:
        return ()
    conversations = state.conversations
    owner = await run_in_threadpool(conversations.owner, conversation_id)
    if owner is None or owner != caller.identity:
        raise HTTPException(404, f"no conversation {conversation_id}")
    return tuple(await run_in_threadpool(conversations.get, conversation_id))


def capped(history: Sequence[Message], max_messages: int, max_chars: int) -> tuple[Message, ...]:
    """The most recent messages of ``history`` within the caps (older ones are dropped)."""
    kept: list[Message] = []
    total = 0
    for message in reversed(list(history)[-max_messages:] if max_messages else []):
        total += len(message.content)
        if total > max_chars:
            break
        kept.append(message)
    return tuple(reversed(kept))


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def until_disconnect(request: Request, work: Callable[[CancelToken], T]) -> T:
    """``work(cancel)`` on a worker thread; if the client disconnects first, ``cancel`` is
    set (the LLM stops between two tokens) and ClientGone raised once the thread is done."""
    for _attempt in range(2):
        cancel = CancelToken()
        job = asyncio.ensure_future(run_in_threadpool(work, cancel))
        watch = asyncio.ensure_future(_disconnected(request))
        try:
            await asyncio.wait({job, watch}, return_when=asyncio.FIRST_COMPLETED)
            if not job.done():
                cancel.cancel()
                await asyncio.wait({job})
                job.exception()  # retrieved: the stopped work raised Cancelled
                raise ClientGone
            try:
                return job.result()
            except Cancelled:
                if cancel.cancelled:
                    raise ClientGone from None
                # Another request computing the same answer was cancelled while this one
                # waited for it: compute it here instead.
        finally:
            watch.cancel()
    raise ClientGone
