"""The built prompt as a value, and the builder that keeps it inside the context window.

``Prompt`` is what the answer layer sends and what the cache key is made of: the messages,
the template id/version/digest, the few-shot example ids, the packed chunk ids and sources,
the token counts, and the verdict of the "no good context" check.

Budget: ``prompt tokens (system + examples + context + question + per-message overhead)
+ reserved answer tokens <= context window``, always. Examples are dropped (least similar
first) before the question is refused; the context gets whatever is left, packed exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ragline.retrieval.embedders.base import Embedder
from ragline.retrieval.errors import PromptError
from ragline.retrieval.prompting.fencing import NONCE_HEX, Fence, nonce_of
from ragline.retrieval.prompting.fewshot import (
    Example,
    ExampleSelector,
    find_examples,
    load_examples,
)
from ragline.retrieval.prompting.focus import Relevance, by_meaning, focus, shared_words
from ragline.retrieval.prompting.packing import DroppedChunk, Packed, PackedSource, Render, pack
from ragline.retrieval.prompting.templates import PromptTemplate, TemplateLibrary
from ragline.retrieval.prompting.tokenizers import LLMTokenizer
from ragline.retrieval.settings import PromptSettings
from ragline.retrieval.types import Hit, Message

NO_CONTEXT = "no_context"
CONDENSE = "condense_question"
HYPOTHETICAL = "hypothetical_answer"
_FOCUS_MEMO = 256
"""Focused sources remembered per builder (the same source is rendered once per packing step)."""


@dataclass(frozen=True)
class TokenCounts:
    system: int
    examples: int
    context: int
    question: int
    prompt: int
    """Everything sent, per-message overhead included."""
    answer_reserved: int
    context_window: int


@dataclass(frozen=True)
class Prompt:
    messages: tuple[Message, ...]
    template_id: str
    template_version: str
    template_digest: str
    language: str
    example_ids: tuple[str, ...]
    examples_version: str | None
    chunk_ids: tuple[str, ...]
    sources: tuple[PackedSource, ...]
    dropped: tuple[DroppedChunk, ...]
    tokens: TokenCounts
    tokenizer_id: str
    output_format: str = "text"
    answer_prefix: str | None = None
    context_found: bool = True
    policy: str | None = None
    constants: Mapping[str, str] = field(default_factory=dict)
    example_texts: tuple[str, ...] = ()
    """The few-shot examples' text (question, sources, answer), to recognise copies of it."""
    nonce: str = ""
    """The fence nonce of the sources' tags (a model may echo it as "[d7e0]")."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["constants"] = dict(self.constants)
        return data

    def render_text(self) -> str:
        """The messages as a human reads them (``ragline prompt show``)."""
        return "\n\n".join(f"### {m.role}\n{m.content}" for m in self.messages)

    def key_parts(self) -> dict[str, Any]:
        """What identifies this prompt for an answer cache (not the random fence nonce)."""
        return {
            "template": [self.template_id, self.template_version, self.template_digest],
            "examples": [self.examples_version, *self.example_ids],
            "chunks": list(self.chunk_ids),
            "tokenizer": self.tokenizer_id,
            "context_found": self.context_found,
        }


class PromptBuilder:
    def __init__(
        self,
        tokenizer: LLMTokenizer,
        library: TemplateLibrary | None = None,
        *,
        answer_tokens: int = 512,
        message_overhead: int = 4,
        selector: ExampleSelector | None = None,
        examples_k: int = 2,
        auto_examples: bool = False,
        embedder: Embedder | None = None,
        example_selection: Literal["similarity", "fixed"] = "similarity",
        max_sources: int = 50,
        source_tokens: int = 0,
        best_last: bool = False,
        focus_by_meaning: int = 0,
        origin_languages: Sequence[str] | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.library = library or TemplateLibrary()
        self.answer_tokens = answer_tokens
        self.message_overhead = message_overhead
        self.selector = selector
        self.examples_k = examples_k
        self.auto_examples = auto_examples
        self.embedder = embedder
        self.example_selection = example_selection
        self.max_sources = max_sources
        self.source_tokens = source_tokens
        self.best_last = best_last
        self.meaning: Relevance | None = by_meaning(embedder) if embedder is not None else None
        self.focus_by_meaning = focus_by_meaning
        """Sources ranked this high or better are focused on the question by meaning (with an
        embedder), the others by shared words (:mod:`ragline.retrieval.prompting.focus`)."""
        self._focus_memo: dict[tuple[str, str, bool], str] = {}
        self.origin_languages = frozenset(
            origin_languages if origin_languages is not None else ("en", "zh")
        )
        """Prompt languages whose source tags name the file (``origin="guide.pdf"``)."""
        self._auto: dict[Path, ExampleSelector] = {}

    @classmethod
    def from_settings(
        cls,
        settings: PromptSettings,
        embedder: Embedder | None = None,
        *,
        tokenizer: LLMTokenizer,
        library: TemplateLibrary | None = None,
        answer_tokens: int | None = None,
    ) -> PromptBuilder:
        """The builder the ``prompts`` settings describe: their templates, few-shot examples
        (``auto``: the template's own file; ``none``; or a named file) and token budget.
        ``tokenizer`` counts tokens as the target LLM does."""
        library = library or TemplateLibrary(settings.dir)
        selection = settings.example_selection if embedder is not None else "fixed"
        selector = None
        if settings.examples not in ("auto", "none"):
            path = find_examples(library.directory, settings.examples)
            selector = ExampleSelector(load_examples(path), embedder, selection)
        return cls(
            tokenizer,
            library,
            answer_tokens=settings.answer_tokens if answer_tokens is None else answer_tokens,
            selector=selector,
            examples_k=settings.examples_k if settings.examples != "none" else 0,
            auto_examples=settings.examples == "auto",
            embedder=embedder,
            example_selection=selection,
            max_sources=settings.max_sources,
            source_tokens=settings.source_tokens,
            best_last=settings.source_order == "best_last",
            focus_by_meaning=settings.focus_by_meaning,
            origin_languages=settings.origin_languages,
        )

    # -- public ---------------------------------------------------------------------------
    def build(
        self,
        question: str,
        hits: Sequence[Hit],
        *,
        template: str = "grounded_qa",
        language: str = "en",
        context_found: bool = True,
        policy: str | None = None,
        nonce: str | None = None,
    ) -> Prompt:
        """A prompt answering ``question`` from ``hits`` (ranked). Without good context
        (``context_found=False``) the ``no_context`` template is used and no chunk is sent."""
        if not context_found:
            template, hits = NO_CONTEXT, ()
        tmpl = self.library.get(template, language)
        origins = tmpl.language in self.origin_languages
        fence = Fence.new(nonce or _nonce(question, hits), origins=origins)
        render = self._renderer(fence, question)
        selector = self._selector_for(tmpl)
        examples = list(selector.select(question, self.examples_k)) if selector else []
        variables = {"question": question, "fence": fence.name, "language": tmpl.language}

        def total(context: Packed | None, chosen: list[Example]) -> tuple[int, list[Message]]:
            messages = self._messages(tmpl, variables, context, chosen)
            return self._count(messages), messages

        limit = self.tokenizer.context_window - self.answer_tokens
        while total(None, examples)[0] > limit and examples:
            examples.pop()  # the least similar goes first
        fixed, _ = total(None, examples)
        if fixed > limit:
            raise PromptError(
                f"the prompt without context needs {fixed} tokens, but the context window "
                f"({self.tokenizer.context_window}) minus the reserved answer "
                f"({self.answer_tokens}) leaves {limit}"
            )
        budget = limit - fixed
        while True:
            packed = self._pack(hits, budget, render, question)
            used, messages = total(packed, examples)
            if used <= limit or budget <= 0:
                break
            budget -= used - limit  # joining texts can tokenise a little differently
        no_examples, _ = total(None, [])
        return Prompt(
            messages=tuple(messages),
            template_id=tmpl.id,
            template_version=tmpl.version,
            template_digest=tmpl.digest,
            language=tmpl.language,
            example_ids=tuple(e.id for e in examples),
            examples_version=selector.examples.version if selector and examples else None,
            chunk_ids=packed.chunk_ids,
            sources=packed.sources,
            dropped=packed.dropped,
            tokens=TokenCounts(
                system=self.tokenizer.count(messages[0].content),
                examples=fixed - no_examples,
                context=packed.tokens,
                question=self.tokenizer.count(question),
                prompt=used,
                answer_reserved=self.answer_tokens,
                context_window=self.tokenizer.context_window,
            ),
            tokenizer_id=self.tokenizer.model_id,
            output_format=tmpl.output_format,
            answer_prefix=tmpl.answer_prefix,
            context_found=context_found,
            policy=policy,
            constants=tmpl.constants,
            nonce=fence.nonce,
            example_texts=tuple(
                "\n".join(p for p in (e.question, e.context, e.answer) if p) for e in examples
            ),
        )

    def condense(self, question: str, history: Sequence[Message], language: str = "en") -> Prompt:
        """A prompt that rewrites a follow-up question into a standalone one."""
        turns = [{"role": m.role, "content": m.content} for m in history if m.role != "system"]
        while True:  # the oldest turns go first when the history is too long
            try:
                return self._plain(CONDENSE, language, {"question": question, "history": turns})
            except PromptError:
                if not turns:
                    raise
                turns = turns[1:]

    def hypothetical(self, question: str, language: str = "en") -> Prompt:
        """A prompt that asks the model for its own one-sentence answer to ``question``, to
        be searched together with it (query expansion; never shown or cited)."""
        return self._plain(HYPOTHETICAL, language, {"question": question})

    # -- internals ------------------------------------------------------------------------
    def _pack(self, hits: Sequence[Hit], budget: int, render: Render, question: str) -> Packed:
        """Hits packed by rank into at most ``max_sources`` sources within ``budget``, each
        focused on the question (the text the model reads, and citations show)."""
        packed = pack(hits, budget, self.tokenizer.count, render)
        kept = tuple(self._focused(s, question) for s in packed.sources[: self.max_sources])
        extra = tuple(
            DroppedChunk(cid, "over max_sources")
            for s in packed.sources[self.max_sources :]
            for cid in s.chunk_ids
        )
        text = render(kept)
        count = self.tokenizer.count(text) if kept else 0
        return Packed(kept, packed.dropped + extra, text, count, budget)

    def _focused(self, source: PackedSource, question: str) -> PackedSource:
        if not self.source_tokens:
            return source
        meaning = self.meaning if source.number <= self.focus_by_meaning else None
        key = (source.text, question, meaning is not None)
        text = self._focus_memo.get(key)
        if text is None:  # packing renders a source again for each one added after it
            if len(self._focus_memo) >= _FOCUS_MEMO:
                self._focus_memo.clear()
            relevance = meaning or shared_words
            text = focus(source.text, question, self.source_tokens, self.tokenizer.count, relevance)
            self._focus_memo[key] = text
        return source if text == source.text else replace(source, text=text, trimmed=True)

    def _renderer(self, fence: Fence, question: str) -> Render:
        """Sources as the model reads them: focused on the question (``source_tokens``),
        each fenced, the best next to the question when ``best_last``."""

        def render(sources: Sequence[PackedSource]) -> str:
            shown = [self._focused(s, question) for s in sources]
            return fence.render(list(reversed(shown)) if self.best_last else shown)

        return render

    def _messages(
        self,
        tmpl: PromptTemplate,
        variables: Mapping[str, Any],
        packed: Packed | None,
        examples: Sequence[Example],
    ) -> list[Message]:
        sources = packed.sources if packed is not None else ()
        system, user = tmpl.render(
            **variables,
            context=packed.text if packed is not None else "",
            sources=[{"number": s.number, "source": s.source, "page": s.page} for s in sources],
            examples=[e.to_dict() for e in examples],
        )
        return [Message("system", system), Message("user", user)]

    def _count(self, messages: Sequence[Message]) -> int:
        return sum(self.tokenizer.count(m.content) + self.message_overhead for m in messages)

    def _selector_for(self, tmpl: PromptTemplate) -> ExampleSelector | None:
        if self.selector is not None or not self.auto_examples:
            return self.selector
        directory = tmpl.path.parent
        for suffix in (".examples.yaml", ".examples.jsonl"):
            path = directory / f"{tmpl.id}.{tmpl.language}{suffix}"
            if path.is_file():
                if path not in self._auto:
                    mode = self.example_selection if self.embedder is not None else "fixed"
                    self._auto[path] = ExampleSelector(load_examples(path), self.embedder, mode)
                return self._auto[path]
        return None

    def _plain(self, template: str, language: str, variables: dict[str, Any]) -> Prompt:
        tmpl = self.library.get(template, language)
        system, user = tmpl.render(**variables)
        messages = (Message("system", system), Message("user", user))
        used = self._count(messages)
        limit = self.tokenizer.context_window - self.answer_tokens
        if used > limit:
            raise PromptError(f"the {template} prompt needs {used} tokens; {limit} are available")
        return Prompt(
            messages=messages,
            template_id=tmpl.id,
            template_version=tmpl.version,
            template_digest=tmpl.digest,
            language=tmpl.language,
            example_ids=(),
            examples_version=None,
            chunk_ids=(),
            sources=(),
            dropped=(),
            tokens=TokenCounts(
                self.tokenizer.count(system),
                0,
                0,
                self.tokenizer.count(variables["question"]),
                used,
                self.answer_tokens,
                self.tokenizer.context_window,
            ),
            tokenizer_id=self.tokenizer.model_id,
            output_format=tmpl.output_format,
            answer_prefix=tmpl.answer_prefix,
            constants=tmpl.constants,
        )


def _nonce(question: str, hits: Sequence[Hit]) -> str:
    """The fence nonce of a prompt: derived from its question and chunks, so the same
    question over the same chunks gives byte-for-byte the same prompt (``prompt show``
    equals what ``ask`` sends). Fences stay unbreakable because sources are defused."""
    h = hashlib.blake2b(question.encode("utf-8"), digest_size=NONCE_HEX // 2)
    for hit in hits:
        h.update(hit.chunk_id.encode())
    return nonce_of(h.hexdigest())
