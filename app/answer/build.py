"""The composition root: one function builds the answer path from settings.

The CLI (`ragline ask`, `ragline prompt show`), the server, the evaluation runner and the
benchmarks all call :func:`build_answerer`, so they can never assemble different pipelines:

    stack = build_answerer(load_settings())
    answer = stack.answerer.ask(AskRequest("How do I resume an ingest?", "docs"))
    stack.ingestor("docs").run([Path("docs")])   # writes evict the answers they make stale
    stack.close()
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ragline.answer.pipeline import Answerer
from ragline.answer.request import MAX_QUESTION_CHARS
from ragline.answer.settings import AnswerConfig
from ragline.answer.turn import Observe
from ragline.cache import AnswerCache, open_cache, with_cache_fallback
from ragline.cache.entries import CacheUnavailable
from ragline.ingest.pipeline import Ingestor
from ragline.llm import LLM, load_llm
from ragline.retrieval.collection import Collection
from ragline.retrieval.pool import CollectionPool


@dataclass
class AnswerStack:
    """The parts of one answer path; ``close()`` releases them all."""

    settings: AnswerConfig
    """The effective settings (an unreachable Redis replaced by the in-process cache)."""
    collections: CollectionPool
    llm: LLM
    cache: AnswerCache | None
    answerer: Answerer

    def evict(self, chunk_ids: Sequence[str]) -> int:
        """Drop the cached answers citing any of ``chunk_ids`` (replaced or deleted)."""
        if self.cache is None:
            return 0
        return self.cache.evict_chunks(chunk_ids)

    def ingestor(self, collection: str, **options: Any) -> Ingestor:
        """An ingestion into ``collection`` wired to this stack: it shares the loaded
        embedding models and evicts the cached answers its writes make stale."""
        return Ingestor(
            self.settings,
            collection,
            on_chunks_removed=self.collections.on_chunks_removed,
            model=_shared_model(self.collections, options.get("embedder")),
            **options,
        )

    def close(self) -> None:
        self.collections.close()
        self.llm.close()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> AnswerStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_answerer(
    settings: AnswerConfig,
    *,
    llm: LLM | None = None,
    cache: bool = True,
    metrics_registry: Any = None,
    observe: Observe | None = None,
    serving: bool = False,
    on_open: Callable[[Collection], object] | None = None,
    max_question_chars: int = MAX_QUESTION_CHARS,
) -> AnswerStack:
    """Collections, embedders, answer cache and LLM from ``settings``, wired into one
    :class:`Answerer`.

    ``llm`` replaces the configured model (tests, benchmarks); ``cache=False`` answers
    without the cache; ``metrics_registry`` takes the cache's Prometheus counters (default:
    the process-wide registry); ``observe`` is told each stage's duration; ``serving``
    tunes the collections for many concurrent requests (one BLAS thread per embedding
    call, collections warmed when first opened, then ``on_open``); ``max_question_chars``
    is the longest question answered."""
    effective = settings.model_copy(update={"cache": with_cache_fallback(settings.cache)})
    answer_cache = (
        open_cache(effective.cache, registry=metrics_registry)
        if cache and effective.cache.enabled
        else None
    )
    pool = CollectionPool(
        effective,
        on_chunks_removed=_evictor(answer_cache),
        serving=serving,
        warm=serving,
        on_open=on_open,
    )
    model = llm if llm is not None else load_llm(effective)
    answerer = Answerer(effective, pool, model, answer_cache, observe, max_question_chars)
    return AnswerStack(effective, pool, model, answer_cache, answerer)


def _evictor(cache: AnswerCache | None) -> Callable[[Sequence[str]], int] | None:
    if cache is None:
        return None

    def evict(chunk_ids: Sequence[str]) -> int:
        try:
            return cache.evict_chunks(chunk_ids)
        except CacheUnavailable:
            return 0  # logged by the collection; the answers expire with their TTL

    return evict


def _shared_model(pool: CollectionPool, embedder: object) -> Any:
    if isinstance(embedder, str) and embedder != "auto":
        return pool.embedder(embedder)
    return None
