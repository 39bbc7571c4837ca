"""``create_app(settings)``: the FastAPI app with its lifespan, middleware and routers."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragline.answer.build import build_answerer
from ragline.retrieval.embedders.offline import force_offline
from ragline.retrieval.errors import ConfigError
from ragline.server import errors, openapi
from ragline.server.batching import SearchBatcher
from ragline.server.conversations import ConversationStore
from ragline.server.guard import RequestGuard
from ragline.server.jobs import JobManager
from ragline.server.keys import KeyStore
from ragline.server.metrics import Metrics
from ragline.server.ratelimit import ConcurrencyLimiter, RateLimiter
from ragline.server.routes import chat, documents, health, page, search
from ragline.server.security import is_loopback
from ragline.server.settings import ServerConfig
from ragline.server.state import AppState, freeze_long_lived

log = logging.getLogger("ragline.http")


def create_app(settings: ServerConfig, extra_routers: tuple[object, ...] = ()) -> FastAPI:
    """Build the app; stores, models and Redis open in the lifespan, not at import."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        force_offline()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        keys = KeyStore.for_data_dir(settings.data_dir)
        check_exposure(settings, keys)
        metrics = Metrics()
        answers = build_answerer(
            settings,
            metrics_registry=metrics.registry,
            observe=lambda stage, seconds: metrics.stage.labels(stage).observe(seconds),
            serving=True,
            on_open=freeze_long_lived,
            max_question_chars=settings.server.max_question_chars,
        )
        pool = answers.collections
        effective = settings.model_copy(update={"cache": answers.settings.cache})
        state = AppState(
            settings=effective,
            metrics=metrics,
            answers=answers,
            conversations=ConversationStore(effective.cache.redis_url, effective.cache.ttl_s),
            rate_limiter=RateLimiter(settings.server.rate_limit_per_minute),
            searches=SearchBatcher(
                pool.get,
                max_batch=settings.server.search_batch,
                threads=settings.server.search_threads,
                observe_batch=metrics.search_batch.observe,
            ),
            jobs=JobManager(effective, pool, metrics),
            keys=keys,
            auth_failures=RateLimiter(settings.server.auth_failures_per_minute),
            in_flight=ConcurrencyLimiter(settings.server.max_concurrent_per_key),
        )
        app.state.ragline = state
        freeze_long_lived()
        try:
            yield
        finally:
            state.close()

    app = FastAPI(
        title="ragline",
        version="0.1.0",
        description="Retrieval-augmented answers with verified citations.",
        lifespan=lifespan,
    )
    errors.install(app)
    openapi.install(app, settings)
    app.add_middleware(RequestGuard)  # inner: key and size checks before a body is read
    app.add_middleware(RequestContext)  # outer: request id and log line for every answer
    app.include_router(health.router)
    app.include_router(search.router)
    app.include_router(documents.router)
    app.include_router(chat.router)
    app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=page.STATIC), name="static")
    for router in extra_routers:
        app.include_router(router)  # type: ignore[arg-type]
    return app


def check_exposure(settings: ServerConfig, keys: KeyStore) -> None:
    """Refuse to serve beyond loopback without an API key: every read would be open."""
    if is_loopback(settings.server.host):
        return
    if not settings.server.api_keys and not keys.any():
        raise ConfigError(
            f"refusing to serve on {settings.server.host} without an API key: create one with "
            "`ragline keys create --tenant NAME` or set server.api_keys "
            "(RAGLINE_SERVER__API_KEYS), or bind to 127.0.0.1"
        )


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
