"""Building the answer cache from settings, and the eviction hook ingestion calls."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from app.cache.cache import LIVE, AnswerCache
from app.cache.entries import CacheUnavailable
from app.cache.metrics import CacheMetrics, default_metrics
from app.cache.store import CacheStore, MemoryStore
from retrieval.settings import CacheSettings, Settings

log = logging.getLogger(__name__)


def open_store(settings: CacheSettings) -> CacheStore:
    """Redis when ``cache.redis_url`` is set (nothing connects until first use), else an
    in-process LRU."""
    if settings.redis_url:
        from app.cache.redis_store import RedisStore

        return RedisStore(
            settings.redis_url,
            settings.key_prefix,
            ttl_s=settings.ttl_s,
            max_entries=settings.max_entries,
            socket_timeout_ms=settings.socket_timeout_ms,
        )
    return MemoryStore(settings.ttl_s, settings.max_entries, settings.memory_max_entries)


def open_cache(
    settings: Settings | CacheSettings,
    *,
    registry: Any = None,
    metrics: CacheMetrics | None = None,
) -> AnswerCache:
    """The answer cache the settings describe. Metrics go to ``metrics``, else to counters
    registered on ``registry``, else to one shared set on the default Prometheus registry."""
    cache_settings = settings.cache if isinstance(settings, Settings) else settings
    if metrics is None:
        metrics = CacheMetrics(registry) if registry is not None else default_metrics()
    return AnswerCache(open_store(cache_settings), cache_settings, metrics)


def evict_cached_answers(settings: Settings | CacheSettings, chunk_ids: Iterable[str]) -> int:
    """Drop every cached answer citing any of ``chunk_ids``: in the configured Redis and in
    every answer cache of this process. Call it with the chunk ids an ingestion run replaces
    or deletes. Redis being down is logged, not raised: those answers are unreachable
    anyway once the collection's index version moves on, and expire with their TTL."""
    cache_settings = settings.cache if isinstance(settings, Settings) else settings
    ids = list(dict.fromkeys(chunk_ids))
    if not ids:
        return 0
    removed = 0
    seen_redis = False
    for cache in list(LIVE):
        same_redis = (
            cache.backend.kind == "redis"
            and cache.settings.redis_url == cache_settings.redis_url
            and cache.settings.key_prefix == cache_settings.key_prefix
        )
        seen_redis = seen_redis or same_redis
        try:
            removed += cache.evict_chunks(ids)
        except CacheUnavailable as exc:
            log.warning("cached answers for %d changed chunks not evicted: %s", len(ids), exc)
    if cache_settings.redis_url and not seen_redis:
        store = open_store(cache_settings)
        try:
            removed += store.evict_chunks(ids)
        except CacheUnavailable as exc:
            log.warning("cached answers for %d changed chunks not evicted: %s", len(ids), exc)
        finally:
            store.close()
    return removed
