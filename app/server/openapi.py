"""What the OpenAPI schema says beyond the route signatures: every error status a route can
answer (with the error body), and the limits that come from settings (largest k, samples,
max_tokens, question length), so the schema describes what this server accepts."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from ragline.server.settings import ServerConfig


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: int


class ErrorBody(BaseModel):
    """Every error: an OpenAI-style error object with a one-line message."""

    error: ErrorDetail


_WHY = {
    400: "The request cannot be served as asked, or its body is malformed (the message says why).",
    401: "Missing or invalid API key.",
    403: "The API key lacks the scope or collection, or writes are disabled.",
    404: "No such collection, document, job or conversation.",
    413: "The request body or an uploaded file is too large.",
    415: "An uploaded file's type is not supported.",
    422: "The request does not match the schema (the message names the field).",
    429: "Rate limit, wrong-key limit or answers-in-flight limit reached (see Retry-After).",
    502: "The language model server could not answer the request.",
    503: "A backend (the model, a store) is busy or unavailable (see Retry-After).",
}
UPLOAD_BODY = "Body_upload_v1_collections__name__documents_post"
"""FastAPI's name for the upload form's schema."""
KEYED = (401, 403, 429)
"""Statuses every endpoint behind an API key can answer."""


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route for these error statuses."""
    return {code: {"model": ErrorBody, "description": _WHY[code]} for code in sorted(set(codes))}


def answer_budget(settings: ServerConfig) -> int:
    """The most tokens one answer may take: what the prompt leaves room for."""
    return min(settings.prompts.answer_tokens, settings.llm.max_new_tokens)


def limits(settings: ServerConfig) -> dict[tuple[str, str], dict[str, Any]]:
    """(component, property) → the JSON Schema keywords this server's settings impose."""
    s = settings.server
    k = {"maximum": s.max_k}
    question = {"maxLength": s.max_question_chars}
    return {
        ("SearchRequest", "k"): k,
        ("AskBody", "k"): k,
        ("ChatRequest", "k"): k,
        ("AskBody", "samples"): {"maximum": s.max_samples},
        ("ChatRequest", "samples"): {"maximum": s.max_samples},
        ("AskBody", "question"): question,
        ("UserMessage", "content"): question,
        ("TextPart", "text"): question,
        ("ChatRequest", "max_tokens"): {"maximum": answer_budget(settings)},
        (UPLOAD_BODY, "files"): {"maxItems": s.max_upload_files},
    }


def _apply(target: dict[str, Any], keywords: dict[str, Any]) -> None:
    """Set ``keywords`` on a property schema, inside its nullable/union branches too."""
    branches = target.get("anyOf") or target.get("oneOf")
    if branches:
        for branch in branches:
            if branch.get("type") in ("integer", "number", "string"):
                _apply(branch, keywords)
        return
    if target.get("type") in ("integer", "number", "string") or not target.get("$ref"):
        for name, value in keywords.items():
            current = target.get(name)
            target[name] = value if current is None else min(current, value)


def install(app: FastAPI, settings: ServerConfig) -> None:
    """Make ``app.openapi()`` return the schema with this server's limits."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.get("components", {}).get("schemas", {})
        for (component, prop), keywords in limits(settings).items():
            target = components.get(component, {}).get("properties", {}).get(prop)
            if target is None:
                raise RuntimeError(f"schema has no {component}.{prop} to limit")
            _apply(target, keywords)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
