"""Wiring shared by the CLI and the server: one-process collection pool, cache fallback."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from retrieval import embedders
from retrieval.collection import Collection
from retrieval.embedders.base import Embedder
from retrieval.embedders.cache import RecentQueries
from retrieval.settings import CacheSettings, Settings

log = logging.getLogger(__name__)


def redis_reachable(url: str, timeout_s: float = 0.3) -> bool:
    try:
        import redis

        client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def with_cache_fallback(settings: Settings) -> Settings:
    """Redis when it answers, else the in-process cache (the embedded default)."""
    url = settings.cache.redis_url
    if not url or redis_reachable(url):
        return settings
    log.warning("Redis at %s is not reachable: using an in-process answer cache", url)
    cache = CacheSettings(**{**settings.cache.model_dump(), "redis_url": ""})
    return settings.model_copy(update={"cache": cache})


class SimplePool:
    """Collections opened once per process (the CLI's counterpart of the server's pool)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._open: dict[str, Collection] = {}
        self._embedders: dict[str, Embedder] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Collection:
        with self._lock:
            if name not in self._open:
                collection = Collection.open(name, self.settings)
                key = collection.info.embedder
                if key not in self._embedders:
                    self._embedders[key] = RecentQueries(
                        embedders.load_embedder(key, self.settings.embedding)
                    )
                collection.__dict__["embedder"] = self._embedders[key]
                self._open[name] = collection
            return self._open[name]

    def close(self) -> None:
        with self._lock:
            for collection in self._open.values():
                collection.close()
            self._open.clear()


def install_cache_eviction() -> None:
    """Answers citing chunks that ingestion replaces or deletes are evicted from the cache."""
    from retrieval import events

    events.on_chunks_removed(_evict)


def _evict(settings: Settings, chunk_ids: Sequence[str]) -> None:
    if settings.cache.enabled:
        from app.cache import evict_cached_answers

        evict_cached_answers(settings, chunk_ids)
