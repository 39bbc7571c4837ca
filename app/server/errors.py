"""Every error leaves the server as JSON with a one-line message; never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ragline.retrieval.errors import (
    BackendUnavailable,
    CollectionNotFound,
    LoaderError,
    RaglineError,
    StoreBusy,
    UsageError,
)

log = logging.getLogger(__name__)

STATUS: list[tuple[type[RaglineError], int]] = [
    (CollectionNotFound, 404),
    (UsageError, 400),
    (LoaderError, 415),
    (BackendUnavailable, 503),
    (StoreBusy, 503),
]


def error_body(status: int, message: str, kind: str) -> dict[str, object]:
    """OpenAI-style error object, so OpenAI clients show the message."""
    return {"error": {"message": message, "type": kind, "code": status}}


def status_for(exc: RaglineError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return int(getattr(exc, "http_status", 500))


def install(app: FastAPI) -> None:
    @app.exception_handler(RaglineError)
    async def ragline_error(request: Request, exc: RaglineError) -> JSONResponse:
        status = status_for(exc)
        headers = {}
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers["Retry-After"] = str(int(retry_after))
        return JSONResponse(error_body(status, str(exc), type(exc).__name__), status, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
        message = f"invalid {where}: {first.get('msg', 'invalid value')}"
        return JSONResponse(error_body(422, message, "invalid_request"), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        return JSONResponse(
            error_body(exc.status_code, str(exc.detail), "http_error"), exc.status_code, headers
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", "-")
        log.exception("unhandled error", extra={"request_id": request_id})
        message = f"internal server error (request id {request_id})"
        return JSONResponse(error_body(500, message, "internal_error"), 500)
