"""question (+ conversation) → cache → retrieve → prompt → LLM → verified citations → cache.

One implementation serves the CLI (`ragline ask`), the HTTP API and the evaluation runner;
streaming is the same path with the LLM's tokens passed through as they come.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from app.answer.citations import check_citations
from app.answer.generation import generate, streamed
from app.answer.types import Answer
from app.cache import AnswerCache, CacheableAnswer, CacheNamespace
from app.llm import LLM, CancelToken, GenerationParams
from retrieval.collection import Collection
from retrieval.errors import UsageError
from retrieval.prompting.build import PromptBuilder
from retrieval.prompting.templates import TemplateLibrary
from retrieval.retrievers import SearchOptions, SearchResult, search
from retrieval.settings import Settings
from retrieval.types import Condition, Filter, Hit, Message

Mode = Literal["plain", "cot", "self-consistency"]
TEMPLATES: dict[str, str] = {
    "plain": "grounded_qa",
    "cot": "cot_qa",
    "self-consistency": "self_consistency",
}
NOT_FOUND = {"en": "Not found in the documents.", "zh": "文档中没有找到相关内容。"}


class Collections(Protocol):
    def get(self, name: str) -> Collection: ...


@dataclass(frozen=True)
class AskRequest:
    question: str
    collection: str
    history: tuple[Message, ...] = ()
    mode: Mode = "plain"
    k: int | None = None
    search_mode: Literal["dense", "bm25", "hybrid"] | None = None
    where: Filter | None = None
    tenant: str = ""
    generation: dict[str, Any] = field(default_factory=dict)
    samples: int = 3
    """Self-consistency: how many answers to sample and vote over."""


@dataclass(frozen=True)
class Delta:
    text: str


Event = Delta | Answer


class _LLMTokenizer:
    """The target LLM's own tokenizer, for packing context to an exact budget."""

    def __init__(self, llm: LLM) -> None:
        self.model_id = llm.model_id
        self.context_window = llm.context_window
        self._count = llm.count_tokens

    def count(self, text: str) -> int:
        return self._count(text)


class Answerer:
    def __init__(
        self,
        settings: Settings,
        collections: Collections,
        llm: LLM,
        cache: AnswerCache | None = None,
        observe: Callable[[str, float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.collections = collections
        self.llm = llm
        self.cache = cache
        self.observe = observe or (lambda _stage, _seconds: None)
        self.library = TemplateLibrary(settings.prompts.dir)
        self.prompts_digest = _digest_dir(self.library.directory)
        self.params = GenerationParams.from_settings(settings.llm)
        self._builders: dict[str, PromptBuilder] = {}

    # -- public ---------------------------------------------------------------------------
    def ask(self, request: AskRequest) -> Answer:
        answer: Answer | None = None
        for event in self._run(request, stream=False):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def stream(self, request: AskRequest) -> Iterator[Event]:
        """Text deltas as the model writes them, then the checked ``Answer``."""
        return self._run(request, stream=True)

    # -- the pipeline ---------------------------------------------------------------------
    def _run(self, request: AskRequest, stream: bool) -> Iterator[Event]:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        self._validate(request)
        params = self.params.merged(request.generation)
        collection = self.collections.get(request.collection)
        options = self._options(request)
        namespace = self._namespace(request, collection, options, params)

        with _timer(timings, "cache", self.observe):
            hit = self.cache.check(request.question, namespace) if self.cache else None
        if hit is not None:
            yield from self._cached(hit.payload, hit.kind, request, timings, started)
            return
        with _timer(timings, "condense", self.observe):
            standalone = self._condense(request, params, collection.info.language)
        with _timer(timings, "retrieval", self.observe):
            result = search(collection, standalone, options)
        hits = {h.chunk_id: h for h in result.hits}
        vector = None
        if self.cache is not None and self.settings.cache.semantic:
            with _timer(timings, "cache", self.observe):
                vector = collection.embedder.embed_query(standalone)
                hit = self.cache.check(request.question, namespace, vector, list(hits))
            if hit is not None:
                yield from self._cached(hit.payload, hit.kind, request, timings, started)
                return

        def compute(
            deltas: Callable[[str], None] | None = None, cancel: CancelToken | None = None
        ) -> Answer:
            return self._answer(
                request,
                standalone,
                collection,
                result,
                hits,
                params,
                timings,
                started,
                deltas,
                cancel,
            )

        if stream:
            pending: list[str] = []
            answer_box: list[Answer] = []
            pieces = streamed(compute, pending, answer_box)
            try:
                for piece in pieces:
                    yield Delta(piece)
            finally:
                pieces.close()  # our consumer went away: stop the generation now
            if not answer_box:  # cancelled
                return
            answer = answer_box[0]
            if self.cache is not None:
                self.cache.store(
                    request.question, namespace, vector, answer.to_dict(), _cited(answer)
                )
            yield answer
            return
        if self.cache is None:
            yield compute()
            return
        outcome = self.cache.get_or_compute(
            request.question,
            namespace,
            lambda: _cacheable(compute()),
            vector=vector,
            retrieved_chunk_ids=list(hits),
        )
        answer = Answer.from_dict(outcome.payload)
        if outcome.source in ("exact", "semantic", "shared"):
            answer.cached, answer.cache_kind = True, outcome.source
        yield answer

    def _answer(
        self,
        request: AskRequest,
        standalone: str,
        collection: Collection,
        result: SearchResult,
        hits: dict[str, Hit],
        params: GenerationParams,
        timings: dict[str, float],
        started: float,
        deltas: Callable[[str], None] | None,
        cancel: CancelToken | None = None,
    ) -> Answer:
        language = self._language(collection, standalone)
        base = Answer(
            question=request.question,
            standalone_question=standalone,
            text="",
            context_found=result.context_found,
            mode=request.mode,
            collection=request.collection,
            index_version=collection.index_version,
            model_id=self.llm.model_id,
        )
        if not result.context_found and result.policy == "not_found":
            base.text = NOT_FOUND.get(language, NOT_FOUND["en"])
            base.timings_ms = _finish(timings, started)
            if deltas:
                deltas(base.text)
            return base
        with _timer(timings, "prompt", self.observe):
            prompt = self._builder(collection).build(
                standalone,
                result.hits,
                template=TEMPLATES[request.mode],
                language=language,
                context_found=result.context_found,
                policy=result.policy,
            )
        with _timer(timings, "llm", self.observe):
            text, reasoning, votes, tokens = generate(
                self.llm, request, prompt, params, deltas, cancel
            )
        with _timer(timings, "citations", self.observe):
            checked = check_citations(
                text, prompt.sources, hits, collection.embedder.embed_documents
            )
        return replace(
            base,
            text=checked.text,
            citations=checked.citations,
            removed_citations=checked.removed,
            unsupported=checked.unsupported,
            reasoning=reasoning,
            votes=votes,
            template_id=prompt.template_id,
            template_version=prompt.template_version,
            example_ids=list(prompt.example_ids),
            tokens=tokens,
            timings_ms=_finish(timings, started),
        )

    # -- helpers --------------------------------------------------------------------------
    def _cached(
        self,
        payload: dict[str, Any],
        kind: str,
        request: AskRequest,
        timings: dict[str, float],
        started: float,
    ) -> Iterator[Event]:
        answer = Answer.from_dict(payload)
        answer.question = request.question
        answer.cached, answer.cache_kind = True, kind
        answer.timings_ms = _finish(timings, started)
        yield Delta(answer.text)
        yield answer

    def _validate(self, request: AskRequest) -> None:
        limit = self.settings.server.max_question_chars
        if not request.question.strip():
            raise UsageError("the question is empty")
        if len(request.question) > limit:
            raise UsageError(
                f"the question is {len(request.question)} characters; the limit is {limit}"
            )
        if request.mode not in TEMPLATES:
            raise UsageError(f"unknown mode {request.mode!r}; choose one of {', '.join(TEMPLATES)}")
        if not 1 <= request.samples <= 16:
            raise UsageError("samples must be between 1 and 16")

    def _options(self, request: AskRequest) -> SearchOptions:
        where = request.where
        if request.tenant:
            where = (where or Filter()).and_(Condition("tenant", "eq", request.tenant))
        overrides: dict[str, Any] = {"where": where}
        if request.k is not None:
            overrides["k"] = request.k
        if request.search_mode is not None:
            overrides["mode"] = request.search_mode
        return SearchOptions.from_settings(self.settings.retrieval, **overrides)

    def _namespace(
        self,
        request: AskRequest,
        collection: Collection,
        options: SearchOptions,
        params: GenerationParams,
    ) -> CacheNamespace:
        prompts = self.settings.prompts
        return CacheNamespace.build(
            tenant=request.tenant,
            collection=request.collection,
            index_version=collection.index_version,
            retrieval={
                **options.to_dict(),
                "mode_answer": request.mode,
                "samples": request.samples,
            },
            prompt_version=f"{TEMPLATES[request.mode]}:{self.prompts_digest}",
            examples_version=f"{prompts.examples}:{prompts.examples_k}:{prompts.example_selection}",
            model_id=self.llm.model_id,
            generation=params.to_dict(),
            history=request.history,
            embedder_id=collection.info.model_id,
        )

    def _condense(self, request: AskRequest, params: GenerationParams, language: str) -> str:
        if not request.history:
            return request.question
        builder = self._builder(None)
        prompt = builder.condense(request.question, list(request.history), language=language)
        completion = self.llm.generate(
            list(prompt.messages), params.merged({"max_new_tokens": 96, "temperature": 0.0})
        )
        condensed = (
            completion.text.strip().splitlines()[0].strip() if completion.text.strip() else ""
        )
        return condensed or request.question

    def _builder(self, collection: Collection | None) -> PromptBuilder:
        key = collection.info.model_id if collection else ""
        if key not in self._builders:
            prompts = self.settings.prompts
            embedder = collection.embedder if collection else None
            self._builders[key] = PromptBuilder(
                _LLMTokenizer(self.llm),
                self.library,
                answer_tokens=min(prompts.answer_tokens, self.params.max_new_tokens),
                examples_k=prompts.examples_k if prompts.examples != "none" else 0,
                auto_examples=prompts.examples == "auto",
                embedder=embedder,
                example_selection=prompts.example_selection,
            )
        return self._builders[key]

    def _language(self, collection: Collection, question: str) -> str:
        configured = self.settings.prompts.language
        if configured != "auto":
            return configured
        return "zh" if collection.info.language == "zh" else "en"


class _timer:
    def __init__(
        self, timings: dict[str, float], stage: str, observe: Callable[[str, float], None]
    ) -> None:
        self.timings, self.stage, self.observe = timings, stage, observe

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        elapsed = time.perf_counter() - self.started
        self.timings[self.stage] = self.timings.get(self.stage, 0.0) + elapsed * 1000
        self.observe(self.stage, elapsed)


def _finish(timings: dict[str, float], started: float) -> dict[str, float]:
    done = {k: round(v, 2) for k, v in timings.items()}
    done["total"] = round((time.perf_counter() - started) * 1000, 2)
    return done


def _cited(answer: Answer) -> list[str]:
    return answer.cited_chunk_ids


def _cacheable(answer: Answer) -> CacheableAnswer:
    return CacheableAnswer(answer.to_dict(), _cited(answer), cacheable=bool(answer.text))


def _digest_dir(directory: Path) -> str:
    h = hashlib.blake2b(digest_size=8)
    for path in sorted(directory.glob("*")):
        if path.is_file():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()
