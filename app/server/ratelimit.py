"""The per-key request rate limit and the per-key limit on answers in flight."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class RateLimiter:
    """``per_window`` requests per key in any ``window_s`` (the ``limits`` library's sliding
    window counter, in memory).

    Not its moving window: that strategy's memory storage empties an idle key's event list
    but never drops the key, so one bucket per client address or guessed key stayed for
    good. The counters used here carry an expiry and are dropped once it passes (on the
    storage's clean-up after the next hit), so the buckets stay bounded by the keys seen in
    the last two windows (``buckets`` counts them)."""

    def __init__(self, per_window: int, window_s: int = 60) -> None:
        from limits import RateLimitItemPerSecond
        from limits.storage import MemoryStorage
        from limits.strategies import SlidingWindowCounterRateLimiter

        self.per_window = per_window
        self._item = RateLimitItemPerSecond(per_window, window_s) if per_window > 0 else None
        self._storage = MemoryStorage()
        self._limiter = SlidingWindowCounterRateLimiter(self._storage)

    def allow(self, key: str) -> tuple[bool, float]:
        """(allowed, seconds until the next request would be)."""
        if self._item is None:
            return True, 0.0
        if self._limiter.hit(self._item, key):
            return True, 0.0
        reset = self._limiter.get_window_stats(self._item, key).reset_time
        return False, max(0.0, reset - time.time())

    @property
    def buckets(self) -> int:
        """Counters held now (a test's view of the pruning)."""
        return len(self._storage.storage)


class TooManyInFlight(Exception):
    """The caller already has its allowance of answers running."""


class ConcurrencyLimiter:
    """At most ``per_key`` slots in flight per key (0 = no limit); a key's entry goes when
    its last slot is released."""

    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> None:
        """Take a slot or raise TooManyInFlight; pair with :meth:`release`."""
        if self.per_key <= 0:
            return
        with self._lock:
            held = self._held.get(key, 0)
            if held >= self.per_key:
                raise TooManyInFlight(key)
            self._held[key] = held + 1

    def release(self, key: str) -> None:
        if self.per_key <= 0:
            return
        with self._lock:
            held = self._held.get(key, 0) - 1
            if held > 0:
                self._held[key] = held
            else:
                self._held.pop(key, None)

    @contextmanager
    def slot(self, key: str) -> Iterator[None]:
        self.acquire(key)
        try:
            yield
        finally:
            self.release(key)

    def in_flight(self, key: str) -> int:
        with self._lock:
            return self._held.get(key, 0)
