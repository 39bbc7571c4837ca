"""The storage seam under the answer cache, and its in-process implementation.

``AnswerCache`` holds the rules (normalising, guards, overlap, single-flight, fail-open,
metrics); a ``CacheStore`` only keeps entries: ``RedisStore`` (shared by processes) or
``MemoryStore`` (an in-process LRU with the same semantics, used without Redis).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Protocol

import numpy as np

from ragline.cache.entries import CacheEntry, Candidate
from ragline.cache.semantic import Row, VectorIndex


class CacheStore(Protocol):
    kind: str

    def lookup(
        self, key: str, namespace: str, vector: np.ndarray | None, threshold: float
    ) -> tuple[CacheEntry | None, list[Candidate]]:
        """The entry stored under ``key``; if there is none and a vector is given, the
        namespace's live entries whose question vectors are ≥ threshold similar."""
        ...

    def get(self, key: str) -> CacheEntry | None: ...

    def put(self, entry: CacheEntry) -> int:
        """Store (replacing the same key); returns how many old entries were evicted to stay
        within max entries per namespace."""
        ...

    def evict_chunks(self, chunk_ids: Iterable[str]) -> int:
        """Remove every entry that cites any of ``chunk_ids``; returns how many."""
        ...

    def try_lock(self, key: str, ttl_ms: int) -> str | None:
        """A token if this caller now holds the computation lock for ``key``, else None."""
        ...

    def is_locked(self, key: str) -> bool: ...

    def unlock(self, key: str, token: str) -> None: ...

    def clear(self) -> int: ...

    def count(self) -> dict[str, int]: ...

    def close(self) -> None: ...


class MemoryStore:
    """Entries in one process: LRU over all namespaces (``max_total``), oldest-first
    eviction per namespace (``max_entries``), expiry after ``ttl_s`` (0 = never)."""

    kind = "memory"

    def __init__(self, ttl_s: int, max_entries: int, max_total: int) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.max_total = max_total
        self._lock = threading.RLock()
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._by_ns: dict[str, dict[str, float]] = {}
        self._indexes: dict[str, VectorIndex] = {}
        self._chunks: dict[str, set[str]] = {}

    def _expired(self, entry: CacheEntry, now: float) -> bool:
        return self.ttl_s > 0 and entry.created + self.ttl_s <= now

    def lookup(
        self, key: str, namespace: str, vector: np.ndarray | None, threshold: float
    ) -> tuple[CacheEntry | None, list[Candidate]]:
        with self._lock:
            entry = self.get(key)
            if entry is not None or vector is None:
                return entry, []
            index = self._indexes.get(namespace)
            if index is None:
                return None, []
            min_created = time.time() - self.ttl_s if self.ttl_s else 0.0
            return None, index.search(vector, threshold, min_created)

    def get(self, key: str) -> CacheEntry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._expired(entry, time.time()):
                self._remove([key])
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, entry: CacheEntry) -> int:
        with self._lock:
            self._remove([entry.key])
            self._entries[entry.key] = entry
            self._by_ns.setdefault(entry.namespace, {})[entry.key] = entry.created
            for chunk in entry.cited:
                self._chunks.setdefault(chunk, set()).add(entry.key)
            if entry.vector is not None:
                row = Row(
                    entry.key, entry.created, entry.vector, frozenset(entry.cited), entry.guard
                )
                self._indexes.setdefault(entry.namespace, VectorIndex()).add([row])
            members = self._by_ns[entry.namespace]
            evicted = 0
            if len(members) > self.max_entries:  # insertion order is age order
                oldest = list(members)[: len(members) - self.max_entries]
                evicted += self._remove(oldest)
            while len(self._entries) > self.max_total:
                evicted += self._remove([next(iter(self._entries))])
            return evicted

    def _remove(self, keys: Iterable[str]) -> int:
        removed = 0
        for key in keys:
            entry = self._entries.pop(key, None)
            if entry is None:
                continue
            removed += 1
            members = self._by_ns.get(entry.namespace, {})
            members.pop(key, None)
            index = self._indexes.get(entry.namespace)
            if index is not None:
                index.remove([key])
            if not members:
                self._by_ns.pop(entry.namespace, None)
                self._indexes.pop(entry.namespace, None)
            for chunk in entry.cited:
                holders = self._chunks.get(chunk)
                if holders is not None:
                    holders.discard(key)
                    if not holders:
                        del self._chunks[chunk]
        return removed

    def evict_chunks(self, chunk_ids: Iterable[str]) -> int:
        with self._lock:
            keys: set[str] = set()
            for chunk in chunk_ids:
                keys |= self._chunks.get(chunk, set())
            return self._remove(keys)

    def try_lock(self, key: str, ttl_ms: int) -> str | None:
        return "local"  # one process: the in-process single-flight already coalesces

    def is_locked(self, key: str) -> bool:
        return False

    def unlock(self, key: str, token: str) -> None:
        pass

    def clear(self) -> int:
        with self._lock:
            n = len(self._entries)
            self._entries.clear()
            self._by_ns.clear()
            self._indexes.clear()
            self._chunks.clear()
            return n

    def count(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._entries), "namespaces": len(self._by_ns)}

    def close(self) -> None:
        pass
