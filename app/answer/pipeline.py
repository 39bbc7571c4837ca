"""question (+ conversation) → cache → retrieve → prompt → LLM → verified citations → cache.

One implementation serves the CLI (`ragline ask`, `ragline prompt show`), the HTTP API and
the evaluation runner; streaming is the same path with the LLM's tokens passed through as
they come. Build it with :func:`ragline.answer.build.build_answerer`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from ragline.answer.citations import Checked, check_citations
from ragline.answer.generation import Deltas, generate
from ragline.answer.guard import StreamGuard, extractive_answer, problem, says_not_found
from ragline.answer.routing import answer_language, resolve_mode, supported
from ragline.answer.settings import AnswerConfig
from ragline.answer.streaming import ThreadedStream
from ragline.answer.turn import Observe, Turn, timer
from ragline.answer.types import ANSWER_MODES, Answer, AnswerMode, AskRequest, Delta, Event
from ragline.cache import AnswerCache, CacheableAnswer, CacheNamespace
from ragline.llm import LLM, CancelToken, GenerationParams
from ragline.retrieval.collection import Collection
from ragline.retrieval.errors import UsageError
from ragline.retrieval.prompting.build import Prompt, PromptBuilder
from ragline.retrieval.prompting.packing import PackedSource
from ragline.retrieval.prompting.templates import TemplateLibrary
from ragline.retrieval.retrievers import search
from ragline.retrieval.settings import RetrievalSettings
from ragline.retrieval.types import Condition, Filter

NOT_FOUND = {"en": "Not found in the documents.", "zh": "文档中没有找到相关内容。"}
MODE_TEMPLATES: dict[AnswerMode, str] = {"cot": "cot_qa", "self-consistency": "self_consistency"}
"""Templates of the reasoning modes; plain answers use ``prompts.template``."""
MAX_SAMPLES = 16
MAX_QUESTION_CHARS = 2000
"""The default longest question (the server's ``server.max_question_chars``)."""


class Collections(Protocol):
    def get(self, name: str) -> Collection: ...


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
        settings: AnswerConfig,
        collections: Collections,
        llm: LLM,
        cache: AnswerCache | None = None,
        observe: Observe | None = None,
        max_question_chars: int = MAX_QUESTION_CHARS,
    ) -> None:
        self.settings = settings
        self.max_question_chars = max_question_chars
        self.collections = collections
        self.llm = llm
        self.cache = cache
        self.observe = observe or (lambda _stage, _seconds: None)
        self.library = TemplateLibrary(settings.prompts.dir)
        self.prompts_digest = _digest_dir(self.library.directory)
        self.params = GenerationParams.from_settings(settings.llm)
        self._builders: dict[str, PromptBuilder] = {}

    # -- public ---------------------------------------------------------------------------
    def ask(self, request: AskRequest, cancel: CancelToken | None = None) -> Answer:
        """The checked answer. Setting ``cancel`` (e.g. when the client hangs up) stops the
        generation; ``ask`` then raises ``Cancelled``."""
        turn = self._start(request)
        hit = self._check_cache(turn)
        if hit is not None:
            return hit
        if self.cache is None:
            return self._answer(turn, cancel=cancel)
        outcome = self.cache.get_or_compute(
            request.question,
            turn.namespace,
            lambda: _cacheable(self._answer(turn, cancel=cancel)),
            vector=turn.vector,
            retrieved_chunk_ids=[h.chunk_id for h in turn.hits.hits],
        )
        answer = Answer.from_dict(outcome.payload)
        if outcome.source in ("exact", "semantic", "shared"):
            answer.cached, answer.cache_kind = True, outcome.source
        return answer

    def stream(self, request: AskRequest) -> Iterator[Event]:
        """Text deltas as the model writes them, then the checked ``Answer``. Closing the
        iterator early stops the generation."""
        turn = self._start(request)
        hit = self._check_cache(turn)
        if hit is not None:
            yield Delta(hit.text)
            yield hit
            return
        pieces = ThreadedStream(lambda deltas, cancel: self._answer(turn, deltas, cancel))
        try:
            for piece in pieces:
                yield Delta(piece)
        finally:
            pieces.close()  # our consumer went away: stop the generation now
        answer = pieces.result
        if answer is None:  # cancelled
            return
        if self.cache is not None:
            self.cache.store(
                request.question, turn.namespace, turn.vector, answer.to_dict(), _cited(answer)
            )
        yield answer

    def prompt_for(self, request: AskRequest) -> Prompt | None:
        """The prompt ``ask`` would send the LLM for ``request`` (None when retrieval finds
        no good context, or no source shares enough words with the question, and the policy
        answers "not found" without asking the LLM). The conversation, if any, is condensed
        by the LLM first, as ``ask`` does."""
        turn = self._start(request)
        self._retrieve(turn)
        if self._not_found(turn):
            return None
        prompt = self._prompt(turn)
        return prompt if self._supported(turn, prompt) else None

    # -- the pipeline ---------------------------------------------------------------------
    def _start(self, request: AskRequest) -> Turn:
        self._validate(request)
        params = self.params.merged(request.generation)
        collection = self.collections.get(request.collection)
        mode = resolve_mode(
            request.mode,
            request.question,
            collection.info.language,
            self.settings.answer.extractive_languages,
        )
        request = replace(request, mode=mode)
        return Turn(request, collection, params, self._namespace(request, collection, params))

    def _check_cache(self, turn: Turn) -> Answer | None:
        """Exact layer, then retrieval, then the semantic layer; a cached answer or None
        (with the turn's retrieval done either way)."""
        request = turn.request
        if self.cache is not None:
            with timer(turn, "cache", self.observe):
                hit = self.cache.check(request.question, turn.namespace)
            if hit is not None:
                return self._cached(hit.payload, hit.kind, turn)
        self._retrieve(turn)
        if self.cache is not None and self.settings.cache.semantic:
            with timer(turn, "cache", self.observe):
                turn.vector = turn.collection.embedder.embed_query(turn.standalone)
                ids = [h.chunk_id for h in turn.hits.hits]
                hit = self.cache.check(request.question, turn.namespace, turn.vector, ids)
            if hit is not None:
                return self._cached(hit.payload, hit.kind, turn)
        return None

    def _retrieve(self, turn: Turn) -> None:
        with timer(turn, "condense", self.observe):
            turn.standalone = self._condense(turn)
        with timer(turn, "retrieval", self.observe):
            turn.result = search(
                turn.collection,
                turn.standalone,
                self._options(turn.request),
                self._where(turn.request),
            )

    def _not_found(self, turn: Turn) -> bool:
        return not turn.hits.context_found and turn.hits.policy == "not_found"

    def _prompt(self, turn: Turn) -> Prompt:
        with timer(turn, "prompt", self.observe):
            return self._builder(turn.collection).build(
                turn.standalone,
                turn.hits.hits,
                template=self._template(turn.request.mode),
                language=self._language(turn),
                context_found=turn.hits.context_found,
                policy=turn.hits.policy,
            )

    def _answer(
        self, turn: Turn, deltas: Deltas | None = None, cancel: CancelToken | None = None
    ) -> Answer:
        request, collection = turn.request, turn.collection
        base = Answer(
            question=request.question,
            standalone_question=turn.standalone,
            text="",
            context_found=turn.hits.context_found,
            mode=request.mode,
            collection=request.collection,
            index_version=collection.index_version,
            model_id=self.llm.model_id,
        )
        if self._not_found(turn):
            return self._unanswered(turn, base, deltas)
        prompt = self._prompt(turn)
        if not self._supported(turn, prompt):
            return self._unanswered(turn, base, deltas, prompt)
        if request.mode == "extractive":
            return self._quoted(turn, base, prompt, deltas)
        instructions = [m.content for m in prompt.messages if m.role == "system"]
        guard = StreamGuard(prompt.example_texts, instructions)

        def guarded(piece: str) -> None:
            if deltas is not None and (shown := guard.feed(piece)):
                deltas(shown)

        with timer(turn, "llm", self.observe):
            made = generate(
                self.llm,
                prompt,
                turn.params,
                mode=request.mode,
                samples=request.samples,
                deltas=guarded if deltas is not None else None,
                cancel=cancel,
            )
        language = self._language(turn)
        text, refused = (
            made.text,
            problem(made.text, examples=prompt.example_texts, instructions=instructions),
        )
        extract = extractive_answer(turn.standalone, prompt.sources, language)
        if refused is None and says_not_found(made.text):
            # the model's own "the documents do not say": the canonical reply, no citations
            not_found = NOT_FOUND.get(language, NOT_FOUND["en"])
            if deltas is not None and not guard.released:
                deltas(not_found)
            return replace(
                base,
                text=not_found,
                not_found=True,
                reasoning=made.reasoning,
                template_id=prompt.template_id,
                template_version=prompt.template_version,
                example_ids=list(prompt.example_ids),
                tokens=made.tokens,
                timings_ms=turn.finish(),
                sources=[_source(s) for s in prompt.sources],
            )
        if refused is not None:
            # never return (or stream) an empty, citations-only or copied answer
            text = extract.text if extract else NOT_FOUND.get(language, NOT_FOUND["en"])
        if deltas is not None:
            rest = guard.finish() if refused is None else ""
            if guard.blocked is not None or (refused is not None and not guard.released):
                rest = text
            if rest:
                deltas(rest)
        checked = self._checked(
            turn, text, prompt, attribute=self.settings.prompts.attribute and refused is None
        )
        uncited = refused is None and bool(prompt.sources) and not checked.citations
        return replace(
            base,
            text=checked.text,
            citations=checked.citations,
            removed_citations=checked.removed,
            unsupported=checked.unsupported,
            reasoning=made.reasoning,
            votes=made.votes,
            template_id=prompt.template_id,
            template_version=prompt.template_version,
            example_ids=list(prompt.example_ids),
            tokens=made.tokens,
            timings_ms=turn.finish(),
            extractive=refused is not None and extract is not None,
            guard=refused,
            uncited=uncited,
            extractive_answer=extract.text if uncited and extract else None,
            attributed=checked.attributed,
            sources=[_source(s) for s in prompt.sources],
        )

    def _unanswered(
        self, turn: Turn, base: Answer, deltas: Deltas | None, prompt: Prompt | None = None
    ) -> Answer:
        """ "Not found in the documents" (with the sources that were found, if any)."""
        text = NOT_FOUND.get(self._language(turn), NOT_FOUND["en"])
        if deltas:
            deltas(text)
        return replace(
            base,
            text=text,
            not_found=True,
            context_found=False,
            timings_ms=turn.finish(),
            sources=[_source(s) for s in prompt.sources] if prompt else [],
        )

    def _supported(self, turn: Turn, prompt: Prompt) -> bool:
        """Whether the sources speak of the question (always, under the "answer without
        context" policy)."""
        if turn.hits.policy != "not_found":
            return True
        limits = self.settings.answer.min_shared_terms
        return supported(turn.standalone, prompt.sources, turn.collection.info.language, limits)

    def _quoted(self, turn: Turn, base: Answer, prompt: Prompt, deltas: Deltas | None) -> Answer:
        """Extractive mode: no LLM; the answer quotes the sources' sentences that share
        the most content words with the question, cited (the strongest simple baseline in
        docs/benchmarks.md, "Answer quality", and a fast, always-faithful answer)."""
        language = self._language(turn)
        extract = extractive_answer(turn.standalone, prompt.sources, language)
        text = NOT_FOUND.get(language, NOT_FOUND["en"]) if extract is None else extract.text
        if deltas is not None:
            deltas(text)
        checked = self._checked(turn, text, prompt, attribute=False)
        return replace(
            base,
            text=checked.text,
            citations=checked.citations,
            not_found=extract is None,
            model_id="extractive",
            template_id=prompt.template_id,
            template_version=prompt.template_version,
            timings_ms=turn.finish(),
            extractive=extract is not None,
            sources=[_source(s) for s in prompt.sources],
        )

    def _checked(self, turn: Turn, text: str, prompt: Prompt, *, attribute: bool) -> Checked:
        """``text`` with its citations checked against the prompt's sources (timed)."""
        with timer(turn, "citations", self.observe):
            return check_citations(
                text,
                prompt.sources,
                {h.chunk_id: h for h in turn.hits.hits},
                turn.collection.embedder.embed_documents,
                attribute=attribute,
            )

    # -- helpers --------------------------------------------------------------------------
    def _cached(self, payload: dict[str, Any], kind: str, turn: Turn) -> Answer:
        answer = Answer.from_dict(payload)
        answer.question = turn.request.question
        answer.cached, answer.cache_kind = True, kind
        answer.timings_ms = turn.finish()
        return answer

    def _validate(self, request: AskRequest) -> None:
        limit = self.max_question_chars
        if not request.question.strip():
            raise UsageError("the question is empty")
        if len(request.question) > limit:
            raise UsageError(
                f"the question is {len(request.question)} characters; the limit is {limit}"
            )
        if request.mode not in ANSWER_MODES:
            raise UsageError(
                f"unknown mode {request.mode!r}; choose one of {', '.join(ANSWER_MODES)}"
            )
        if not 1 <= request.samples <= MAX_SAMPLES:
            raise UsageError(f"samples must be between 1 and {MAX_SAMPLES}")

    def _options(self, request: AskRequest) -> RetrievalSettings:
        return self.settings.retrieval.override(k=request.k, mode=request.search_mode)

    def _where(self, request: AskRequest) -> Filter | None:
        where = request.where
        if request.tenant:
            where = (where or Filter()).and_(Condition("tenant", "eq", request.tenant))
        return where

    def _template(self, mode: AnswerMode) -> str:
        return MODE_TEMPLATES.get(mode, self.settings.prompts.template)

    def _namespace(
        self, request: AskRequest, collection: Collection, params: GenerationParams
    ) -> CacheNamespace:
        prompts = self.settings.prompts
        where = self._where(request)
        return CacheNamespace.build(
            tenant=request.tenant,
            collection=request.collection,
            index_version=collection.index_version,
            retrieval={
                **self._options(request).model_dump(mode="json"),
                "where": where.to_dict() if where else [],
                "mode_answer": request.mode,
                "samples": request.samples,
            },
            prompt_version=f"{self._template(request.mode)}:{self.prompts_digest}",
            examples_version=f"{prompts.examples}:{prompts.examples_k}:{prompts.example_selection}",
            model_id=self.llm.model_id,
            generation=params.to_dict(),
            history=request.history,
            embedder_id=collection.info.model_id,
            collection_uid=collection.info.uid,
        )

    def _condense(self, turn: Turn) -> str:
        request = turn.request
        if not request.history:
            return request.question
        prompt = self._builder(None).condense(
            request.question, list(request.history), language=self._language(turn)
        )
        completion = self.llm.generate(
            list(prompt.messages), turn.params.merged({"max_new_tokens": 96, "temperature": 0.0})
        )
        text = completion.text.strip()
        condensed = text.splitlines()[0].strip() if text else ""
        return condensed or request.question

    def _builder(self, collection: Collection | None) -> PromptBuilder:
        key = collection.info.model_id if collection else ""
        if key not in self._builders:
            embedder = collection.embedder if collection else None
            self._builders[key] = PromptBuilder.from_settings(
                self.settings.prompts,
                embedder,
                tokenizer=_LLMTokenizer(self.llm),
                library=self.library,
                answer_tokens=min(self.settings.prompts.answer_tokens, self.params.max_new_tokens),
            )
        return self._builders[key]

    def _language(self, turn: Turn) -> str:
        configured = self.settings.prompts.language
        return answer_language(turn.request.question, configured, turn.collection.info.language)


def _source(source: PackedSource) -> dict[str, Any]:
    return {
        "number": source.number,
        "doc_id": source.doc_id,
        "source": source.source,
        "file_name": Path(source.source).name,
        "page": source.page,
        "snippet": source.text,
    }


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
