"""Checks made before a request body is read: plain ASGI in front of the routes.

FastAPI reads (and for multipart, spools to disk) the whole body before any dependency
runs, so a key or size check in the route comes too late: an anonymous client could fill
the disk. Here an upload's API key is checked first, then its declared Content-Length, and
the bytes are counted as they arrive; every other body is held to ``server.max_body_kb``
the same way. A refused request gets its error at once; the route then sees a disconnect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragline.server.errors import error_body
from ragline.server.security import authenticate

UPLOAD = re.compile(r"^/v1/collections/[^/]+/documents/?$")
PART_OVERHEAD = 64 * 1024
"""Multipart headers and boundaries allowed per file on top of its size."""


class TooLarge(Exception):
    pass


def upload_cap(max_upload_mb: float, max_files: int) -> int:
    """Most bytes one upload request may carry."""
    return int(max_files * (max_upload_mb * 1024 * 1024 + PART_OVERHEAD))


class RequestGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = getattr(scope["app"].state, "ragline", None) if "app" in scope else None
        if scope["type"] != "http" or state is None or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        server = state.settings.server
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["method"] == "POST" and UPLOAD.match(scope["path"]):
            client = scope.get("client")
            try:
                caller = authenticate(
                    state,
                    headers.get("authorization", ""),
                    client[0] if client else "unknown",
                    "write",
                )
            except HTTPException as exc:
                await _reply(send, exc.status_code, str(exc.detail), exc.headers)
                return
            scope.setdefault("state", {})["caller"] = caller
            cap = upload_cap(server.max_upload_mb, server.max_upload_files)
            what = (
                f"an upload carries at most {server.max_upload_files} files of "
                f"{server.max_upload_mb:g} MB"
            )
        else:
            cap = server.max_body_kb * 1024
            what = f"the request body is larger than {server.max_body_kb} KB"
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            await _reply(send, 413, what)
            return
        await self._counted(scope, receive, send, cap, what)

    async def _counted(
        self, scope: Scope, receive: Receive, send: Send, cap: int, what: str
    ) -> None:
        seen = 0
        refused = False
        started = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    refused = True
                    if not started:
                        await _reply(send, 413, what)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out already
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise  # the route's own failure
            # else: the route saw the disconnect we made up; the 413 is the answer


async def _reply(
    send: Send, status: int, message: str, headers: Mapping[str, str] | None = None
) -> None:
    kind = "http_error"
    body = json.dumps(error_body(status, message, kind)).encode()
    raw: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    start: dict[str, Any] = {"type": "http.response.start", "status": status, "headers": raw}
    await send(start)
    await send({"type": "http.response.body", "body": body})
