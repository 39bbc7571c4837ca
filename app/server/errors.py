"""Every error leaves the server as JSON with a one-line message; never a stack trace, and
never an internal detail: file-system paths and URLs are masked, and the LLM backend's own
errors (its URL, the upstream server's body) are logged, not returned."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ragline.llm.errors import LLMBusy, LLMError, LLMUnavailable
from ragline.retrieval.errors import (
    BackendUnavailable,
    CollectionNotFound,
    LoaderError,
    RaglineError,
    StoreBusy,
    UsageError,
)
from ragline.retrieval.locks import CollectionLocked

log = logging.getLogger(__name__)

STATUS: list[tuple[type[RaglineError], int]] = [
    (LLMError, 502),
    (CollectionNotFound, 404),
    (UsageError, 400),
    (LoaderError, 415),
    (BackendUnavailable, 503),
    (StoreBusy, 503),
    (CollectionLocked, 409),  # another writer holds the collection; see Retry-After
]
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")
_PATH = re.compile(r"(?<![\w.~-])(?:~|\.\.?)?/[^\s'\"<>,;()]*[^\s'\"<>,;():.!?]")


def scrub(message: str) -> str:
    """``message`` on one line, with URLs and absolute paths masked."""
    text = _URL.sub("<url>", message)
    text = _PATH.sub("<path>", text)
    return " ".join(text.split())[:500]


def error_body(status: int, message: str, kind: str) -> dict[str, object]:
    """OpenAI-style error object, so OpenAI clients show the message."""
    return {"error": {"message": message, "type": kind, "code": status}}


def status_for(exc: RaglineError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return int(getattr(exc, "http_status", 500))


def public_message(exc: RaglineError, request_id: str) -> str:
    """What the client may read of ``exc``."""
    if isinstance(exc, LLMBusy):
        return "the language model is busy; retry shortly"
    if isinstance(exc, LLMUnavailable):
        return f"the language model is unavailable; retry later (request id {request_id})"
    if isinstance(exc, LLMError):
        return f"the language model could not answer this request (request id {request_id})"
    return scrub(str(exc))


def install(app: FastAPI) -> None:
    @app.exception_handler(RaglineError)
    async def ragline_error(request: Request, exc: RaglineError) -> JSONResponse:
        status = status_for(exc)
        request_id = getattr(request.state, "request_id", "-")
        if status >= 500 or isinstance(exc, LLMError):
            log.warning("%s: %s", type(exc).__name__, exc, extra={"request_id": request_id})
        headers = {}
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers["Retry-After"] = str(max(1, round(retry_after)))
        body = error_body(status, public_message(exc, request_id), type(exc).__name__)
        return JSONResponse(body, status, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
        message = scrub(f"invalid {where}: {first.get('msg', 'invalid value')}")
        return JSONResponse(error_body(422, message, "invalid_request"), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        return JSONResponse(
            error_body(exc.status_code, scrub(str(exc.detail)), "http_error"),
            exc.status_code,
            headers,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", "-")
        log.exception("unhandled error", extra={"request_id": request_id})
        message = f"internal server error (request id {request_id})"
        return JSONResponse(error_body(500, message, "internal_error"), 500)
