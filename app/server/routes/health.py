"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY, generate_latest

from ragline.retrieval.collection import list_collections
from ragline.server.state import StateDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(state: StateDep) -> JSONResponse:
    """Stores, LLM and Redis state; 503 when something the service needs is not usable."""
    checks: dict[str, Any] = {}
    ready = True
    data_dir = state.settings.data_dir
    writable = data_dir.is_dir() and os.access(data_dir, os.W_OK)
    checks["data_dir"] = {"ok": writable, "path": str(data_dir)}
    ready &= writable
    try:
        checks["collections"] = {"ok": True, "names": list_collections(state.settings)}
    except OSError as exc:
        checks["collections"] = {"ok": False, "error": str(exc)}
        ready = False
    answering = state.health()
    checks["answering"] = answering
    ready &= bool(answering.get("ok", False))
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics")
def metrics(state: StateDep) -> Response:
    body = generate_latest(state.metrics.registry) + generate_latest(REGISTRY)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
