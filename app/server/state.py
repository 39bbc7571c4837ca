"""What one running app holds, and the FastAPI dependencies that hand it to routes."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from ragline.answer.build import AnswerStack
from ragline.retrieval.pool import CollectionPool
from ragline.server.batching import SearchBatcher
from ragline.server.conversations import ConversationStore
from ragline.server.jobs import JobManager
from ragline.server.keys import KeyStore
from ragline.server.metrics import Metrics
from ragline.server.ratelimit import ConcurrencyLimiter, RateLimiter
from ragline.server.settings import ServerConfig


@dataclass
class AppState:
    settings: ServerConfig
    metrics: Metrics
    answers: AnswerStack
    """The answer path (collections, LLM, cache, Answerer), built by the composition root."""
    conversations: ConversationStore
    rate_limiter: RateLimiter
    searches: SearchBatcher
    jobs: JobManager
    keys: KeyStore
    """Tenant keys (``ragline keys``), re-read when the file changes."""
    auth_failures: RateLimiter
    """Requests with a wrong key, per client address."""
    in_flight: ConcurrencyLimiter
    """Answers running per caller."""

    @property
    def collections(self) -> CollectionPool:
        return self.answers.collections

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = {"ok": True, "model_id": self.answers.llm.model_id}
        if self.answers.cache is not None:
            result["cache"] = self.answers.cache.stats()
        return result

    def close(self) -> None:
        self.jobs.close()
        self.conversations.close()
        self.answers.close()


async def get_state(request: Request) -> AppState:
    # async: FastAPI runs plain ``def`` dependencies in the thread pool, a thread hop each.
    state: AppState = request.app.state.ragline
    return state


StateDep = Annotated[AppState, Depends(get_state)]
"""The running app's state, for routes."""


def freeze_long_lived(_opened: object = None) -> None:
    """Move every object alive now (models, open collections, their keyword matrices) out
    of the cyclic garbage collector's reach. Otherwise each full collection walks them all:
    measured under /v1/search load on a 10k-chunk collection, an 85-95 ms pause every
    2-3 s, which was the whole p99. Objects frozen and dropped later are still freed by
    reference counting; only cycles among them are kept until the process ends."""
    gc.collect()
    gc.freeze()
