"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from ragline.retrieval.collection import list_collections
from ragline.retrieval.stores.chroma_server import heartbeat
from ragline.server.errors import scrub
from ragline.server.security import authenticate
from ragline.server.state import StateDep

router = APIRouter(tags=["health"])
READY = {
    "description": "Ready (200) or not (503). Without an operator key only the verdict and "
    "which checks passed; with one, their details.",
    "content": {"application/json": {}},
}


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={200: READY, 503: READY})
def readyz(request: Request, state: StateDep) -> JSONResponse:
    """Stores, LLM and Redis state; 503 when something the service needs is not usable."""
    checks: dict[str, Any] = {}
    ready = True
    data_dir = state.settings.data_dir
    writable = data_dir.is_dir() and os.access(data_dir, os.W_OK)
    checks["data_dir"] = {"ok": writable}
    ready &= writable
    try:
        checks["collections"] = {"ok": True, "names": list_collections(state.settings)}
    except OSError as exc:
        checks["collections"] = {"ok": False, "error": scrub(str(exc))}
        ready = False
    chroma_url = state.settings.store.chroma_url
    if chroma_url:  # server mode: the vectors are there
        problem = heartbeat(chroma_url, 2.0)
        checks["vector_store"] = {"ok": problem is None, "server": "chroma"}
        if problem is not None:
            checks["vector_store"]["error"] = problem
        ready &= problem is None
    answering = state.health()
    checks["answering"] = answering
    ready &= bool(answering.get("ok", False))
    if not _operator(request, state):
        checks = {name: {"ok": bool(check.get("ok"))} for name, check in checks.items()}
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


def _operator(request: Request, state: Any) -> bool:
    """Whether the request carries an operator key (details are for operators only)."""
    authorization = request.headers.get("authorization", "")
    if not authorization:
        return False
    client = request.client.host if request.client else "unknown"
    try:
        return authenticate(state, authorization, client, "read").operator
    except HTTPException:
        return False


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"description": "Prometheus text format", "content": {CONTENT_TYPE_LATEST: {}}}
    },
)
def metrics(state: StateDep) -> Response:
    body = generate_latest(state.metrics.registry) + generate_latest(REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
