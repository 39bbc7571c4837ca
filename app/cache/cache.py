"""The RAG-aware answer cache: exact, then semantic, never stale, never in the way.

``check`` looks for an answer to the same normalised question in the same namespace, then
for a paraphrase (similarity ≥ threshold, identical numbers/negation, and enough overlap
between the chunks the new question retrieves and those the cached answer cites).
``get_or_compute`` adds single-flight: identical concurrent questions are answered once,
across threads (in-process) and processes (a short Redis lock). Any storage failure bypasses
the cache and is counted; the caller always gets an answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable
from typing import Any, TypeVar

from ragline.cache.entries import (
    CacheableAnswer,
    CacheEntry,
    CacheHit,
    CacheOutcome,
    CacheUnavailable,
)
from ragline.cache.keys import CacheNamespace, exact_key, normalise_question, question_guard
from ragline.cache.metrics import CacheMetrics
from ragline.cache.semantic import OverlapKind, accept, threshold_for, unit
from ragline.cache.settings import CacheSettings
from ragline.cache.singleflight import SingleFlight
from ragline.cache.store import CacheStore

log = logging.getLogger(__name__)
T = TypeVar("T")


class AnswerCache:
    def __init__(
        self,
        store: CacheStore,
        settings: CacheSettings,
        metrics: CacheMetrics,
    ) -> None:
        self.backend = store
        self.settings = settings
        self.metrics = metrics
        self.threshold = settings.similarity_threshold
        """The configured similarity threshold; None: each namespace's embedder's own."""
        self.min_overlap = settings.min_overlap
        self.overlap_kind: OverlapKind = settings.overlap
        self._flight = SingleFlight()
        self._down_until = 0.0
        self._down_lock = threading.Lock()

    # -- fail-open ------------------------------------------------------------------------
    def _guarded(self, op: str, fn: Callable[[], T]) -> T:
        """``fn()``, or _Bypassed (counted) when the store is down or was down a moment ago."""
        if time.monotonic() < self._down_until:
            self.metrics.bypass("unavailable", op)
            raise _Bypassed
        try:
            return fn()
        except CacheUnavailable as exc:
            with self._down_lock:
                if time.monotonic() >= self._down_until:
                    log.warning(
                        "answer cache bypassed for %gs: %s", self.settings.retry_after_s, exc
                    )
                self._down_until = time.monotonic() + self.settings.retry_after_s
            self.metrics.bypass("unavailable", op)
            raise _Bypassed from exc

    def _safe(self, op: str, fn: Callable[[], T], default: T) -> T:
        try:
            return self._guarded(op, fn)
        except _Bypassed:
            return default

    def _usable(self, namespace: CacheNamespace, op: str) -> bool:
        if not self.settings.enabled:
            self.metrics.bypass("disabled", op)
            return False
        if namespace.sampled and not self.settings.cache_sampled:
            self.metrics.bypass("sampled", op)
            return False
        return True

    # -- the API --------------------------------------------------------------------------
    def check(
        self,
        question: str,
        namespace: CacheNamespace,
        vector: Any = None,
        retrieved_chunk_ids: Collection[str] | None = None,
    ) -> CacheHit | None:
        """A reusable answer, or None. Without ``vector`` and ``retrieved_chunk_ids`` only
        the exact layer is consulted."""
        if not self._usable(namespace, "check"):
            return None
        semantic = self.settings.semantic and vector is not None and retrieved_chunk_ids is not None
        try:
            hit = self._guarded(
                "check",
                lambda: self._check(question, namespace, vector, retrieved_chunk_ids, semantic),
            )
        except _Bypassed:
            return None
        if hit is None:
            self.metrics.miss()
        else:
            self.metrics.hit(hit.kind)
        return hit

    def _check(
        self,
        question: str,
        namespace: CacheNamespace,
        vector: Any,
        retrieved: Collection[str] | None,
        semantic: bool,
    ) -> CacheHit | None:
        key = exact_key(question, namespace)
        query = unit(vector) if semantic else None
        threshold = threshold_for(namespace.embedder_id, self.threshold)
        entry, candidates = self.backend.lookup(key, namespace.digest, query, threshold)
        if entry is not None:
            return _hit(entry, "exact", 1.0, 1.0)
        if not candidates or retrieved is None:
            return None
        guard = question_guard(question)
        passing = accept(candidates, guard, retrieved, self.min_overlap, self.overlap_kind)
        if not passing:
            self._count_rejections(candidates, guard)
            return None
        for candidate, share in passing[:3]:
            found = self.backend.get(candidate.key)
            if found is not None and found.namespace == namespace.digest:
                return _hit(found, "semantic", candidate.similarity, share)
        return None

    def _count_rejections(self, candidates: Iterable[Any], guard: tuple[str, ...]) -> None:
        best = next(iter(candidates))
        self.metrics.reject("guard" if best.guard != guard else "overlap")

    def store(
        self,
        question: str,
        namespace: CacheNamespace,
        vector: Any,
        answer_payload: dict[str, Any],
        cited_chunk_ids: Iterable[str],
    ) -> bool:
        """Remember an answer; False when it was not stored (disabled, sampled, Redis down)."""
        if not self._usable(namespace, "store"):
            return False
        normalised = normalise_question(question)
        entry = CacheEntry(
            key=exact_key(question, namespace),
            namespace=namespace.digest,
            question=normalised,
            payload=answer_payload,
            cited=tuple(dict.fromkeys(cited_chunk_ids)),
            created=time.time(),
            guard=question_guard(question),
            vector=None if vector is None else unit(vector),
        )
        entry.payload_json()  # a payload that cannot be stored is the caller's bug: raise
        evicted = self._safe("store", lambda: self.backend.put(entry), None)
        if evicted is None:
            return False
        self.metrics.store()
        self.metrics.evicted("capacity", evicted)
        return True

    def get_or_compute(
        self,
        question: str,
        namespace: CacheNamespace,
        compute: Callable[[], CacheableAnswer],
        *,
        vector: Any = None,
        retrieved_chunk_ids: Collection[str] | None = None,
    ) -> CacheOutcome:
        """A cached answer, or ``compute()``'s, computed once for all identical concurrent
        requests (threads here, and other processes through a Redis lock)."""
        if not self._usable(namespace, "compute"):
            return CacheOutcome(compute().payload, "computed")
        hit = self.check(question, namespace, vector, retrieved_chunk_ids)
        if hit is not None:
            return CacheOutcome(hit.payload, hit.kind, hit.similarity, hit)
        key = exact_key(question, namespace)
        outcome, shared = self._flight.do(
            key, lambda: self._lead(key, question, namespace, compute, vector)
        )
        if shared:
            self.metrics.coalesce()
            return CacheOutcome(outcome.payload, "shared", outcome.similarity, outcome.hit)
        return outcome

    def _lead(
        self,
        key: str,
        question: str,
        namespace: CacheNamespace,
        compute: Callable[[], CacheableAnswer],
        vector: Any,
    ) -> CacheOutcome:
        wait_s = self.settings.lock_wait_s
        # A request that missed just before an identical one finished storing:
        entry = self._safe("check", lambda: self.backend.get(key), None)
        if entry is not None:
            self.metrics.coalesce()
            return CacheOutcome(entry.payload, "shared", 1.0, _hit(entry, "exact", 1.0, 1.0))
        token = self._try_lock(key)
        deadline = time.monotonic() + wait_s
        poll = 0.01
        while token is None and time.monotonic() < deadline:
            time.sleep(poll)  # another process computes this answer: wait for it
            poll = min(poll * 2, 0.2)
            entry = self._safe("wait", lambda: self.backend.get(key), None)
            if entry is not None:
                self.metrics.coalesce()
                return CacheOutcome(entry.payload, "shared", 1.0, _hit(entry, "exact", 1.0, 1.0))
            if not self._safe("wait", lambda: self.backend.is_locked(key), False):
                token = self._try_lock(key)
        try:
            answer = compute()
            if answer.cacheable:
                self.store(question, namespace, vector, answer.payload, answer.cited_chunk_ids)
            return CacheOutcome(answer.payload, "computed")
        finally:
            if token:
                held = token
                self._safe("unlock", lambda: self.backend.unlock(key, held), None)

    def _try_lock(self, key: str) -> str | None:
        """A lock token; None when another process holds the lock; "" when Redis is down
        (compute without a lock)."""
        ttl_ms = self.settings.lock_ttl_ms
        unavailable: str | None = ""
        return self._safe("lock", lambda: self.backend.try_lock(key, ttl_ms), unavailable)

    def evict_chunks(self, chunk_ids: Iterable[str]) -> int:
        """Remove every cached answer citing any of ``chunk_ids`` (call it when chunks are
        replaced or deleted); returns how many. Raises CacheUnavailable if Redis is down:
        unlike lookups, a lost eviction must not go unnoticed. Safe as a collection's
        ``on_chunks_removed``: the collection logs a failure and keeps its write."""
        removed = self.backend.evict_chunks(list(chunk_ids))
        self.metrics.evicted("chunks", removed)
        return removed

    def clear(self) -> int:
        """Remove every cached answer under this cache's prefix; returns how many."""
        return self.backend.clear()

    def stats(self) -> dict[str, Any]:
        counts = self._safe("stats", self.backend.count, {"entries": -1, "namespaces": -1})
        return {
            "backend": self.backend.kind,
            **counts,
            **self.metrics.counts(),
            "similarity_threshold": "by embedder" if self.threshold is None else self.threshold,
            "min_overlap": self.min_overlap,
        }

    def close(self) -> None:
        self.backend.close()


class _Bypassed(Exception):
    """The store is unavailable; the operation was skipped (and counted)."""


def _hit(entry: CacheEntry, kind: Any, similarity: float, share: float) -> CacheHit:
    return CacheHit(
        payload=entry.payload,
        kind=kind,
        similarity=similarity,
        key=entry.key,
        question=entry.question,
        cited_chunk_ids=entry.cited,
        age_s=max(0.0, time.time() - entry.created),
        overlap=share,
    )
