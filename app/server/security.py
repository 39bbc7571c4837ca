"""Who is calling: API keys (Bearer), their tenant, scopes and collections, and the per-key
rate limit, as FastAPI dependencies (the upload guard uses :func:`authenticate` directly).

Two kinds of key: operator keys from ``server.api_keys`` (read and write, every collection,
no tenant: they see every document) and tenant keys made with ``ragline keys create``. The
tenant always comes from the key; nothing a client sends can change it. Reads need a key
once any key exists (and with ``server.read_requires_key``); writes always do. Wrong keys
count against a per-address budget of their own, so keys cannot be guessed at full speed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPBearer

from ragline.server.keys import KeyStore, hash_key
from ragline.server.state import AppState, StateDep

Need = Literal["read", "write"]
BEARER = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer KEY`.")
"""Documents the scheme in the OpenAPI schema; the header is parsed here, not by it."""


@dataclass(frozen=True)
class Caller:
    """Who sent a request, as far as the server trusts it."""

    identity: str
    """Rate limits, answers in flight, conversations and jobs are kept per identity: the
    key's id, or the client's address when no key was needed."""
    tenant: str = ""
    """The key's tenant; "" = not bound to one (operator keys, open reads)."""
    scopes: frozenset[str] = frozenset({"read"})
    collections: frozenset[str] | None = None
    """Collections the key may use; None = every collection."""
    authenticated: bool = False

    def check_collection(self, name: str) -> str:
        if self.collections is not None and name not in self.collections:
            raise HTTPException(403, f"this API key may not use collection {name!r}")
        return name

    def may_see(self, name: str) -> bool:
        return self.collections is None or name in self.collections

    @property
    def operator(self) -> bool:
        """An operator key: no tenant, every collection."""
        return self.authenticated and not self.tenant and self.collections is None


def presented_key(authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def keys_exist(state: AppState) -> bool:
    return bool(state.settings.server.api_keys) or state.keys.any()


def _operator(presented: str, state: AppState) -> Caller | None:
    digest = hash_key(presented)
    for key in state.settings.server.api_keys:
        if hmac.compare_digest(digest, hash_key(key.get_secret_value())):
            return Caller(
                "op:" + hashlib.sha256(digest.encode()).hexdigest()[:12],
                scopes=frozenset({"read", "write"}),
                authenticated=True,
            )
    return None


def _resolve(presented: str, keys: KeyStore, state: AppState) -> Caller | None:
    record = keys.lookup(presented)
    if record is not None:
        return Caller(
            "key:" + record.id,
            tenant=record.tenant,
            scopes=frozenset(record.scopes),
            collections=frozenset(record.collections) if record.collections else None,
            authenticated=True,
        )
    return _operator(presented, state)


def _limited(state: AppState, identity: str, auth_failure: bool = False) -> None:
    limiter = state.auth_failures if auth_failure else state.rate_limiter
    allowed, wait = limiter.allow(identity)
    if not allowed:
        state.metrics.rate_limited.inc()
        message = "too many requests with a wrong API key" if auth_failure else None
        raise HTTPException(
            429, message or "rate limit exceeded", {"Retry-After": str(max(1, round(wait)))}
        )


def authenticate(state: AppState, authorization: str, client: str, need: Need) -> Caller:
    """The caller of a request with this Authorization header from this client address;
    HTTPException 401/403/429 when it may not go on. No blocking I/O: the key file is
    re-read at most once a second."""
    presented = presented_key(authorization)
    caller = _resolve(presented, state.keys, state) if presented is not None else None
    if caller is None:
        exist = keys_exist(state)
        if need == "write" and not exist:
            raise HTTPException(403, "write endpoints are disabled: no API keys are configured")
        if exist or state.settings.server.read_requires_key:
            if presented is not None and exist:  # a wrong key: count it against the address
                _limited(state, "ip:" + client, auth_failure=True)
            raise HTTPException(401, "missing or invalid API key", {"WWW-Authenticate": "Bearer"})
        caller = Caller("ip:" + client)  # open reads: any key or none is anonymous
    if need not in caller.scopes:
        raise HTTPException(403, f"this API key lacks the {need} scope")
    _limited(state, caller.identity)
    return caller


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def read_access(request: Request, state: StateDep, _: object = Depends(BEARER)) -> Caller:
    """Reads: a key whenever any key exists; else open to everyone (on loopback)."""
    return authenticate(state, request.headers.get("authorization", ""), _client(request), "read")


async def write_access(request: Request, state: StateDep, _: object = Depends(BEARER)) -> Caller:
    """Writes always need a key with the write scope (the upload guard checked it already
    for uploads, before their body was read)."""
    checked = request.scope.get("state", {}).get("caller")
    if isinstance(checked, Caller):
        return checked
    return authenticate(state, request.headers.get("authorization", ""), _client(request), "write")


ReadKey = Annotated[Caller, Depends(read_access)]
"""The caller of a read endpoint (a key, or its address when reads are open)."""
WriteKey = Annotated[Caller, Depends(write_access)]
"""The caller of a write endpoint (always a key with the write scope)."""
