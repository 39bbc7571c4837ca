"""Building the answer cache from settings: the store, the fallback when Redis is down, and
the eviction callback ingestion takes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from ragline.cache.cache import AnswerCache
from ragline.cache.entries import CacheUnavailable
from ragline.cache.metrics import CacheMetrics, default_metrics
from ragline.cache.settings import CacheSettings
from ragline.cache.store import CacheStore, MemoryStore

log = logging.getLogger(__name__)


def open_store(settings: CacheSettings) -> CacheStore:
    """Redis when ``cache.redis_url`` is set (nothing connects until first use), else an
    in-process LRU."""
    if settings.redis_url:
        from ragline.cache.redis_store import RedisStore

        return RedisStore(
            settings.redis_url,
            settings.key_prefix,
            ttl_s=settings.ttl_s,
            max_entries=settings.max_entries,
            socket_timeout_ms=settings.socket_timeout_ms,
        )
    return MemoryStore(settings.ttl_s, settings.max_entries, settings.memory_max_entries)


def open_cache(
    settings: CacheSettings,
    *,
    registry: Any = None,
    metrics: CacheMetrics | None = None,
) -> AnswerCache:
    """The answer cache the settings describe. Metrics go to ``metrics``, else to counters
    registered on ``registry``, else to one shared set on the default Prometheus registry."""
    if metrics is None:
        metrics = CacheMetrics(registry) if registry is not None else default_metrics()
    return AnswerCache(open_store(settings), settings, metrics)


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


def with_cache_fallback(settings: CacheSettings) -> CacheSettings:
    """Redis when it answers, else the in-process cache (the embedded default)."""
    url = settings.redis_url
    if not url or redis_reachable(url):
        return settings
    log.warning("Redis at %s is not reachable: using an in-process answer cache", url)
    return settings.model_copy(update={"redis_url": ""})


def evictor(settings: CacheSettings) -> Callable[[Sequence[str]], int] | None:
    """What an ingestion outside the serving process passes as ``on_chunks_removed``: drop
    the cached answers citing replaced or deleted chunks from the configured Redis. None
    when the cache is off or in-process (another process's memory cannot be reached, and
    its answers are keyed by the index version, so they are never served stale)."""
    if not settings.enabled or not settings.redis_url:
        return None

    def evict(chunk_ids: Sequence[str]) -> int:
        store = open_store(settings)
        try:
            return store.evict_chunks(list(dict.fromkeys(chunk_ids)))
        except CacheUnavailable as exc:
            log.warning("cached answers for %d changed chunks not evicted: %s", len(chunk_ids), exc)
            return 0
        finally:
            store.close()

    return evict
