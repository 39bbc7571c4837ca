"""Start-up of the answer services: LLM, answer cache, conversations, the Answerer."""

from __future__ import annotations

import logging
from typing import Any

from app.answer import Answerer
from app.cache import open_cache
from app.llm import load_llm
from app.runtime import with_cache_fallback
from app.server.conversations import ConversationStore
from app.server.state import AppState

log = logging.getLogger(__name__)


class AnswerServices:
    """Holds what /v1/ask and /v1/chat/completions need; reports its health to /readyz."""

    def __init__(self, state: AppState) -> None:
        settings = with_cache_fallback(state.settings)
        self.llm = load_llm(settings)
        self.cache = (
            open_cache(settings, registry=state.metrics.registry)
            if settings.cache.enabled
            else None
        )
        self.conversations = ConversationStore(settings.cache.redis_url, settings.cache.ttl_s)
        metrics = state.metrics
        self.answerer = Answerer(
            settings,
            state.collections,
            self.llm,
            self.cache,
            observe=lambda stage, seconds: metrics.stage.labels(stage).observe(seconds),
        )

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = {"ok": True, "model_id": self.llm.model_id}
        if self.cache is not None:
            result["cache"] = self.cache.stats()
        return result

    def close(self) -> None:
        closer = getattr(self.llm, "close", None)
        if callable(closer):
            closer()
        if self.cache is not None:
            self.cache.close()
        self.conversations.close()


async def open_answering(state: AppState) -> None:
    state.services["answering"] = AnswerServices(state)
