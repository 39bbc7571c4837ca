"""API keys (Bearer) and a per-key token-bucket rate limit."""

from __future__ import annotations

import hmac
import threading
import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from app.server.state import AppState, get_state


class RateLimiter:
    """Token bucket per key: ``per_minute`` requests, bursts up to the same number."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> tuple[bool, float]:
        """(allowed, seconds until the next token)."""
        if self.rate <= 0:
            return True, 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return True, 0.0
            self._buckets[key] = (tokens, now)
            return False, (1.0 - tokens) / self.rate


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _check(request: Request, state: AppState, required: bool) -> str:
    # Called from async dependencies: no I/O here (a dict lookup and a lock held briefly).
    keys = [k.get_secret_value() for k in state.settings.server.api_keys]
    presented = _presented_key(request)
    if presented is not None and any(hmac.compare_digest(presented, k) for k in keys):
        identity = "key:" + presented[-6:]
    elif required and keys:
        raise HTTPException(401, "missing or invalid API key", {"WWW-Authenticate": "Bearer"})
    elif required and not keys:
        raise HTTPException(403, "write endpoints are disabled: no API keys are configured")
    else:
        identity = "ip:" + (request.client.host if request.client else "unknown")
    allowed, wait = state.rate_limiter.allow(identity)
    if not allowed:
        state.metrics.rate_limited.inc()
        raise HTTPException(429, "rate limit exceeded", {"Retry-After": str(max(1, round(wait)))})
    return identity


async def write_access(request: Request, state: Annotated[AppState, Depends(get_state)]) -> str:
    """Write endpoints always need a configured API key."""
    return _check(request, state, required=True)


async def read_access(request: Request, state: Annotated[AppState, Depends(get_state)]) -> str:
    """Read endpoints need a key only when ``server.read_requires_key`` is set."""
    return _check(request, state, required=state.settings.server.read_requires_key)
