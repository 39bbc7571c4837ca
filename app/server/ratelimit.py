"""The per-key request rate limit."""

from __future__ import annotations

import time


class RateLimiter:
    """``per_minute`` requests per key in any 60-second window (the ``limits`` library's
    moving window, in memory; idle keys expire, so the buckets never grow without bound)."""

    def __init__(self, per_minute: int) -> None:
        from limits import RateLimitItemPerMinute
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self.per_minute = per_minute
        self._item = RateLimitItemPerMinute(per_minute) if per_minute > 0 else None
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def allow(self, key: str) -> tuple[bool, float]:
        """(allowed, seconds until the next request would be)."""
        if self._item is None:
            return True, 0.0
        if self._limiter.hit(self._item, key):
            return True, 0.0
        reset = self._limiter.get_window_stats(self._item, key).reset_time
        return False, max(0.0, reset - time.time())
