"""question (+ conversation) → cache → retrieve → prompt → LLM → verified citations → cache.

One implementation serves the CLI (`ragline ask`, `ragline prompt show`), the HTTP API and
the evaluation runner; streaming is the same path with the LLM's tokens passed through as
they come. Build it with :func:`ragline.answer.build.build_answerer`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

from ragline.answer.check import answerable_probability
from ragline.answer.citations import Checked, check_citations, source_entry, support_similarity
from ragline.answer.generation import Deltas, generate
from ragline.answer.guard import StreamGuard, extractive_answer, problem, says_not_found
from ragline.answer.request import (
    MAX_QUESTION_CHARS,
    cache_namespace,
    digest_dir,
    search_filter,
    search_options,
    template_for,
    validate,
)
from ragline.answer.rewrite import condense, hypothetical
from ragline.answer.routing import answer_language, not_found_reply, resolve_mode, unsupported
from ragline.answer.settings import AnswerConfig
from ragline.answer.streaming import ThreadedStream
from ragline.answer.turn import Observe, Turn, timer
from ragline.answer.types import Answer, AskRequest, Delta, Event
from ragline.cache import AnswerCache, CacheableAnswer
from ragline.llm import LLM, CancelToken, GenerationParams, LLMTokenizer
from ragline.llm.models import quoted_languages
from ragline.retrieval.collection import Collection
from ragline.retrieval.prompting.build import Prompt, PromptBuilder
from ragline.retrieval.prompting.templates import TemplateLibrary
from ragline.retrieval.retrievers import search


class Collections(Protocol):
    def get(self, name: str) -> Collection: ...


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
        self.prompts_digest = digest_dir(self.library.directory)
        self.params = GenerationParams.from_settings(settings.llm)
        quoted = settings.answer.extractive_languages
        self.quoted = tuple(quoted) if quoted is not None else quoted_languages(settings.llm)
        """The languages mode ``auto`` answers by quoting the sources."""
        self.answerable_threshold = settings.answer.answerable_threshold
        """Below this probability that the sources hold the answer (the model's own yes/no,
        asked before it answers), a plain answer is "not found"; 0: not asked."""
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
                request.question,
                turn.namespace,
                turn.vector,
                answer.to_dict(),
                answer.cited_chunk_ids,
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
        return prompt if self._unsupported(turn, prompt) is None else None

    # -- the pipeline ---------------------------------------------------------------------
    def _start(self, request: AskRequest) -> Turn:
        validate(request, self.max_question_chars)
        params = self.params.merged(request.generation)
        collection = self.collections.get(request.collection)
        mode = resolve_mode(
            request.mode,
            request.question,
            collection.info.language,
            self.quoted,
        )
        request = replace(request, mode=mode)
        namespace = cache_namespace(
            self.settings, request, collection, params, self.llm.model_id, self.prompts_digest
        )
        return Turn(request, collection, params, namespace)

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
        builder = self._builder(None)
        with timer(turn, "condense", self.observe):
            turn.standalone = condense(self.llm, builder, turn, self.settings.prompts.language)
        with timer(turn, "expand", self.observe):
            turn.hypothetical = hypothetical(self.llm, builder, turn, self.settings.answer)
        searched = turn.standalone
        if turn.hypothetical:
            searched = f"{searched}\n{turn.hypothetical}"
        with timer(turn, "retrieval", self.observe):
            turn.result = search(
                turn.collection,
                searched,
                search_options(self.settings, turn.request),
                search_filter(turn.request),
            )

    def _not_found(self, turn: Turn) -> bool:
        return not turn.hits.context_found and turn.hits.policy == "not_found"

    def _prompt(self, turn: Turn) -> Prompt:
        with timer(turn, "prompt", self.observe):
            return self._builder(turn.collection).build(
                turn.standalone,
                turn.hits.hits,
                template=template_for(self.settings, turn.request.mode),
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
            hypothetical=turn.hypothetical,
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
        unknown = self._unsupported(turn, prompt)
        if unknown is not None:
            return self._unanswered(turn, base, deltas, prompt, unknown=unknown)
        if request.mode == "extractive":
            return self._quoted(turn, base, prompt, deltas)
        answerable = self._answerable(turn, prompt, cancel)
        base = replace(base, answerable_probability=answerable)
        if answerable is not None and answerable < self.answerable_threshold:
            # the model says the sources found do not hold the answer
            return self._unanswered(turn, base, deltas, prompt, context_found=True)
        instructions = [m.content for m in prompt.messages if m.role == "system"]
        guard = StreamGuard(prompt.example_texts, instructions, prompt.nonce)

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
            problem(
                made.text,
                examples=prompt.example_texts,
                instructions=instructions,
                nonce=prompt.nonce,
            ),
        )
        extract = extractive_answer(turn.standalone, prompt.sources, language)
        if refused is None and says_not_found(made.text):
            # the model's own "the documents do not say": the canonical reply, no citations
            not_found = not_found_reply(language)
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
                sources=[source_entry(s) for s in prompt.sources],
            )
        if refused is not None:
            # never return (or stream) an empty, citations-only or copied answer
            text = extract.text if extract else not_found_reply(language)
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
            repointed=checked.repointed,
            sources=[source_entry(s) for s in prompt.sources],
        )

    def _unanswered(
        self,
        turn: Turn,
        base: Answer,
        deltas: Deltas | None,
        prompt: Prompt | None = None,
        *,
        context_found: bool = False,
        unknown: Sequence[str] = (),
    ) -> Answer:
        """ "Not found in the documents" (with the sources that were found, if any, and the
        names the question gives that the collection never mentions)."""
        text = not_found_reply(self._language(turn), unknown)
        if deltas:
            deltas(text)
        return replace(
            base,
            text=text,
            not_found=True,
            context_found=context_found,
            unknown_names=list(unknown),
            timings_ms=turn.finish(),
            sources=[source_entry(s) for s in prompt.sources] if prompt else [],
        )

    def _answerable(self, turn: Turn, prompt: Prompt, cancel: CancelToken | None) -> float | None:
        """Before a plain answer, when a threshold is set: the model's probability that the
        sources hold the answer (:mod:`ragline.answer.check`)."""
        if turn.request.mode != "plain" or self.answerable_threshold <= 0:
            return None
        with timer(turn, "answerable_check", self.observe):
            return answerable_probability(self.llm, prompt, cancel)

    def _unsupported(self, turn: Turn, prompt: Prompt) -> list[str] | None:
        """None when the sources speak of the question (always, under the "answer without
        context" policy); else the names it gives that the collection never mentions, if
        any (:func:`ragline.answer.routing.unsupported`)."""
        if turn.hits.policy != "not_found":
            return None
        with timer(turn, "support", self.observe):
            return unsupported(turn.standalone, prompt.sources, turn.collection, self.settings)

    def _quoted(self, turn: Turn, base: Answer, prompt: Prompt, deltas: Deltas | None) -> Answer:
        """Extractive mode: no LLM; the answer quotes the sources' sentences that share
        the most content words with the question, cited (the strongest simple baseline in
        docs/benchmarks.md, "Answer quality", and a fast, always-faithful answer)."""
        language = self._language(turn)
        extract = extractive_answer(turn.standalone, prompt.sources, language)
        text = not_found_reply(language) if extract is None else extract.text
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
            sources=[source_entry(s) for s in prompt.sources],
        )

    def _checked(self, turn: Turn, text: str, prompt: Prompt, *, attribute: bool) -> Checked:
        """``text`` with its citations checked against the prompt's sources (timed)."""
        embedder = turn.collection.embedder
        with timer(turn, "citations", self.observe):
            return check_citations(
                text,
                prompt.sources,
                {h.chunk_id: h for h in turn.hits.hits},
                embedder.embed_documents,
                min_similarity=support_similarity(embedder.model_id),
                attribute=attribute,
                question=turn.standalone,
                nonce=prompt.nonce,
            )

    # -- helpers --------------------------------------------------------------------------
    def _cached(self, payload: dict[str, Any], kind: str, turn: Turn) -> Answer:
        answer = Answer.from_dict(payload)
        answer.question = turn.request.question
        answer.cached, answer.cache_kind = True, kind
        answer.timings_ms = turn.finish()
        return answer

    def _builder(self, collection: Collection | None) -> PromptBuilder:
        key = collection.info.model_id if collection else ""
        if key not in self._builders:
            embedder = collection.embedder if collection else None
            self._builders[key] = PromptBuilder.from_settings(
                self.settings.prompts,
                embedder,
                tokenizer=LLMTokenizer(self.llm),
                library=self.library,
                answer_tokens=min(self.settings.prompts.answer_tokens, self.params.max_new_tokens),
            )
        return self._builders[key]

    def _language(self, turn: Turn) -> str:
        configured = self.settings.prompts.language
        return answer_language(turn.request.question, configured, turn.collection.info.language)


def _cacheable(answer: Answer) -> CacheableAnswer:
    return CacheableAnswer(answer.to_dict(), answer.cited_chunk_ids, cacheable=bool(answer.text))
