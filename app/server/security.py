"""API keys (Bearer) and the per-key rate limit, as FastAPI dependencies."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from ragline.server.state import AppState, StateDep


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


async def write_access(request: Request, state: StateDep) -> str:
    """Write endpoints always need a configured API key."""
    return _check(request, state, required=True)


async def read_access(request: Request, state: StateDep) -> str:
    """Read endpoints need a key only when ``server.read_requires_key`` is set."""
    return _check(request, state, required=state.settings.server.read_requires_key)


ReadKey = Annotated[str, Depends(read_access)]
"""The caller's identity on a read endpoint (a key, or its address when reads are open)."""
WriteKey = Annotated[str, Depends(write_access)]
"""The caller's key on a write endpoint."""
