"""What one request asks for, apart from answering it: its checks, the search options and
filter it implies, the template of its mode, and the cache namespace of everything its
answer depends on."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ragline.answer.settings import AnswerConfig
from ragline.answer.types import ANSWER_MODES, AnswerMode, AskRequest
from ragline.cache import CacheNamespace
from ragline.llm import GenerationParams
from ragline.retrieval.collection import Collection
from ragline.retrieval.errors import UsageError
from ragline.retrieval.settings import RetrievalSettings
from ragline.retrieval.types import Condition, Filter

MODE_TEMPLATES: dict[AnswerMode, str] = {"cot": "cot_qa", "self-consistency": "self_consistency"}
"""Templates of the reasoning modes; plain answers use ``prompts.template``."""
MAX_SAMPLES = 16
MAX_QUESTION_CHARS = 2000
"""The default longest question (the server's ``server.max_question_chars``)."""


def validate(request: AskRequest, max_question_chars: int = MAX_QUESTION_CHARS) -> None:
    """Raise UsageError naming what is wrong with ``request``."""
    if not request.question.strip():
        raise UsageError("the question is empty")
    if len(request.question) > max_question_chars:
        raise UsageError(
            f"the question is {len(request.question)} characters; the limit is {max_question_chars}"
        )
    if request.mode not in ANSWER_MODES:
        raise UsageError(f"unknown mode {request.mode!r}; choose one of {', '.join(ANSWER_MODES)}")
    if not 1 <= request.samples <= MAX_SAMPLES:
        raise UsageError(f"samples must be between 1 and {MAX_SAMPLES}")


def search_options(settings: AnswerConfig, request: AskRequest) -> RetrievalSettings:
    return settings.retrieval.override(k=request.k, mode=request.search_mode)


def search_filter(request: AskRequest) -> Filter | None:
    """The request's filter, restricted to its tenant's documents when it names one."""
    where = request.where
    if request.tenant:
        where = (where or Filter()).and_(Condition("tenant", "eq", request.tenant))
    return where


def template_for(settings: AnswerConfig, mode: AnswerMode) -> str:
    return MODE_TEMPLATES.get(mode, settings.prompts.template)


def cache_namespace(
    settings: AnswerConfig,
    request: AskRequest,
    collection: Collection,
    params: GenerationParams,
    model_id: str,
    prompts_digest: str,
) -> CacheNamespace:
    """Everything the answer to ``request`` depends on besides the question's words."""
    prompts = settings.prompts
    where = search_filter(request)
    return CacheNamespace.build(
        tenant=request.tenant,
        collection=request.collection,
        index_version=collection.index_version,
        retrieval={
            **search_options(settings, request).model_dump(mode="json"),
            "where": where.to_dict() if where else [],
            "mode_answer": request.mode,
            "samples": request.samples,
            "hypothetical": [
                *settings.answer.hypothetical_languages,
                settings.answer.hypothetical_tokens,
            ],
            "min_shared_terms": settings.answer.min_shared_terms,
            "answerable_threshold": settings.answer.answerable_threshold,
        },
        prompt_version=f"{template_for(settings, request.mode)}:{prompts_digest}",
        examples_version=f"{prompts.examples}:{prompts.examples_k}:{prompts.example_selection}",
        model_id=model_id,
        generation=params.to_dict(),
        history=request.history,
        embedder_id=collection.info.model_id,
        collection_uid=collection.info.uid,
    )


def digest_dir(directory: Path) -> str:
    """A short digest of the files in ``directory`` (the prompt templates' version)."""
    h = hashlib.blake2b(digest_size=8)
    for path in sorted(directory.glob("*")):
        if path.is_file():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()
