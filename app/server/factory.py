"""``create_app(settings)``: the FastAPI app with its lifespan, middleware and routers."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.runtime import install_cache_eviction
from app.server import errors
from app.server.answering import open_answering
from app.server.batching import SearchBatcher
from app.server.jobs import JobManager
from app.server.metrics import Metrics
from app.server.routes import chat, documents, health, page, search
from app.server.security import RateLimiter
from app.server.state import AppState, CollectionPool, freeze_long_lived
from retrieval.embedders.offline import force_offline
from retrieval.settings import Settings

log = logging.getLogger("ragline.http")

Service = Callable[[AppState], Awaitable[None]]


def create_app(settings: Settings, extra_routers: tuple[object, ...] = ()) -> FastAPI:
    """Build the app; stores, models and Redis open in the lifespan, not at import."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        force_offline()
        install_cache_eviction()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        metrics = Metrics()
        pool = CollectionPool(settings)
        state = AppState(
            settings=settings,
            metrics=metrics,
            collections=pool,
            rate_limiter=RateLimiter(settings.server.rate_limit_per_minute),
            searches=SearchBatcher(
                pool.get,
                max_batch=settings.server.search_batch,
                threads=settings.server.search_threads,
                observe_batch=metrics.search_batch.observe,
            ),
        )
        state.jobs = JobManager(settings, pool, metrics)
        for opener in _SERVICE_OPENERS:
            await opener(state)
        app.state.ragline = state
        freeze_long_lived()
        try:
            yield
        finally:
            for service in state.services.values():
                close = getattr(service, "close", None)
                if callable(close):
                    close()
            state.jobs.close()
            pool.close()

    app = FastAPI(
        title="ragline",
        version="0.1.0",
        description="Retrieval-augmented answers with verified citations.",
        lifespan=lifespan,
    )
    errors.install(app)
    app.add_middleware(RequestContext)
    app.include_router(health.router)
    app.include_router(search.router)
    app.include_router(documents.router)
    app.include_router(chat.router)
    app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=page.STATIC), name="static")
    for router in extra_routers:
        app.include_router(router)  # type: ignore[arg-type]
    return app


_SERVICE_OPENERS: list[Service] = [open_answering]
"""Coroutines run at start-up that add services (LLM, cache, answerer) to ``state.services``."""


class RequestContext:
    """Request id (``X-Request-ID``), latency metric and one log line per request.

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware runs
    every response through an extra task and memory stream, a large share of a cached
    answer's cost."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:64]
        request_id = request_id or uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            path = getattr(scope.get("route"), "path", "unmatched")
            state = getattr(scope["app"].state, "ragline", None) if "app" in scope else None
            if state is not None:
                state.metrics.requests.labels(path, scope["method"], str(status)).observe(elapsed)
            # Never the query string, headers or body: they may carry keys and documents.
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": path,
                    "status": status,
                    "ms": round(elapsed * 1000, 1),
                },
            )
