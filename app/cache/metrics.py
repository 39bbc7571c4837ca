"""Prometheus counters of the answer cache, plus the same counts kept for ``stats()``.

Nothing is registered at import time: ``CacheMetrics(registry)`` registers on the registry
it is given; ``default_metrics()`` creates one shared set on prometheus_client's default
registry the first time it is called.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

_default: CacheMetrics | None = None
_default_lock = threading.Lock()


class CacheMetrics:
    def __init__(self, registry: Any = None) -> None:
        import prometheus_client as prom

        registry = registry if registry is not None else prom.REGISTRY
        self.hits = prom.Counter(
            "ragline_answer_cache_hits",
            "Answers served from the cache, by kind (exact, semantic).",
            ["kind"],
            registry=registry,
        )
        self.misses = prom.Counter(
            "ragline_answer_cache_misses",
            "Lookups that found no reusable answer.",
            registry=registry,
        )
        self.bypasses = prom.Counter(
            "ragline_answer_cache_bypasses",
            "Cache operations skipped, by reason (unavailable: Redis down or slow; sampled: "
            "temperature > 0; disabled) and operation.",
            ["reason", "op"],
            registry=registry,
        )
        self.stores = prom.Counter(
            "ragline_answer_cache_stores", "Answers written to the cache.", registry=registry
        )
        self.evictions = prom.Counter(
            "ragline_answer_cache_evictions",
            "Answers removed, by cause (chunks: a cited chunk changed; capacity).",
            ["cause"],
            registry=registry,
        )
        self.coalesced = prom.Counter(
            "ragline_answer_cache_coalesced",
            "Requests that waited for an identical request's answer instead of computing.",
            registry=registry,
        )
        self.rejected = prom.Counter(
            "ragline_answer_cache_semantic_rejected",
            "Similar cached questions not reused, by rule (guard: numbers/negation differ; "
            "overlap: retrieved chunks differ).",
            ["rule"],
            registry=registry,
        )
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def hit(self, kind: str) -> None:
        self.hits.labels(kind=kind).inc()
        self._count(f"hits_{kind}")

    def miss(self) -> None:
        self.misses.inc()
        self._count("misses")

    def bypass(self, reason: str, op: str) -> None:
        self.bypasses.labels(reason=reason, op=op).inc()
        self._count(f"bypasses_{reason}")

    def store(self) -> None:
        self.stores.inc()
        self._count("stores")

    def evicted(self, cause: str, n: int) -> None:
        if n:
            self.evictions.labels(cause=cause).inc(n)
            self._count(f"evictions_{cause}", n)

    def coalesce(self) -> None:
        self.coalesced.inc()
        self._count("coalesced")

    def reject(self, rule: str) -> None:
        self.rejected.labels(rule=rule).inc()
        self._count(f"rejected_{rule}")

    def counts(self) -> dict[str, int]:
        """This process's counts since start (what ``stats()`` reports)."""
        with self._lock:
            return dict(self._counts)


def default_metrics() -> CacheMetrics:
    global _default
    with _default_lock:
        if _default is None:
            _default = CacheMetrics()
        return _default
