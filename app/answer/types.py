"""The answer pipeline's values: the request, the answer with its verified citations, and
what one LLM run produced."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

from ragline.retrieval.settings import SearchMode
from ragline.retrieval.types import Filter, Message

AnswerMode = Literal["auto", "plain", "cot", "self-consistency", "extractive"]
"""auto: plain, or extractive for the languages ``answer.extractive_languages`` names;
plain: the LLM answers directly; cot: reason, then a final answer; self-consistency: sample
several answers and vote; extractive: no LLM, quote the sources' best-matching sentences."""
ANSWER_MODES: tuple[AnswerMode, ...] = get_args(AnswerMode)


@dataclass(frozen=True)
class AskRequest:
    question: str
    collection: str
    history: tuple[Message, ...] = ()
    mode: AnswerMode = "auto"
    k: int | None = None
    search_mode: SearchMode | None = None
    where: Filter | None = None
    tenant: str = ""
    generation: dict[str, Any] = field(default_factory=dict)
    """Per-request generation overrides (temperature, max_new_tokens, stop, ...)."""
    samples: int = 3
    """Self-consistency: how many answers to sample and vote over."""


@dataclass(frozen=True)
class Delta:
    """A piece of answer text as the model writes it."""

    text: str


@dataclass(frozen=True)
class Citation:
    """A numbered source the answer cites, pointing at the exact text it came from."""

    number: int
    chunk_ids: tuple[str, ...]
    doc_id: str
    source: str
    file_name: str
    page: int | None
    start: int | None
    """Character offsets of the cited text in the document's text (see ingest.chunking)."""
    end: int | None
    snippet: str


@dataclass
class Answer:
    question: str
    standalone_question: str
    text: str
    hypothetical: str | None = None
    """The model's own one-sentence answer that was searched together with the question
    (``answer.hypothetical_languages``); never part of the answer."""
    citations: list[Citation] = field(default_factory=list)
    removed_citations: list[int] = field(default_factory=list)
    """Citation numbers the model wrote that point at no packed source (removed from text)."""
    unsupported: list[str] = field(default_factory=list)
    """Sentences whose cited sources do not support them."""
    context_found: bool = True
    not_found: bool = False
    """The answer is "not found in the documents" (no good context, or the model said so)."""
    unknown_names: list[str] = field(default_factory=list)
    """Names the question gives that the collection never mentions: why it was "not found"
    (:mod:`ragline.retrieval.keyword.names`)."""
    mode: str = "plain"
    reasoning: str | None = None
    votes: dict[str, Any] | None = None
    collection: str = ""
    index_version: int = 0
    template_id: str = ""
    template_version: str = ""
    example_ids: list[str] = field(default_factory=list)
    model_id: str = ""
    tokens: dict[str, int] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    cached: bool = False
    cache_kind: str | None = None
    extractive: bool = False
    """The text is the extractive fallback: the model's answer was refused (see ``guard``)."""
    guard: str | None = None
    """Why the model's answer was refused: empty, citations_only, example_copy, prompt_copy."""
    uncited: bool = False
    """The model's answer cites nothing although sources were found (see
    ``extractive_answer``)."""
    extractive_answer: str | None = None
    """For an uncited answer: the extractive answer, to show beside it."""
    answerable_probability: float | None = None
    """The model's probability that the sources hold the answer, asked before it answered
    (``answer.answerable_threshold``; None when not asked)."""
    attributed: list[int] = field(default_factory=list)
    """Citation numbers ragline added to sentences the model left uncited (the source that
    holds most of the sentence's content words)."""
    repointed: list[int] = field(default_factory=list)
    """Citation numbers ragline put in place of the model's: the sentence's own words (those
    the question does not give) are in that source, not in the one the model cited."""
    sources: list[dict[str, Any]] = field(default_factory=list)
    """Every source the model was given (number, document, file, page, snippet), cited or
    not, so a client can always show what the answer was based on."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        values = dict(data)
        values["citations"] = [
            Citation(**{**c, "chunk_ids": tuple(c["chunk_ids"])}) for c in data.get("citations", [])
        ]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})

    @property
    def cited_chunk_ids(self) -> list[str]:
        return [cid for c in self.citations for cid in c.chunk_ids]


Event = Delta | Answer
"""What a streamed answer yields: text deltas, then the checked Answer."""


@dataclass(frozen=True)
class Generation:
    """What one LLM run produced for an answer."""

    text: str
    """The answer text (for cot: the final answer; for self-consistency: the winner)."""
    prompt_tokens: int
    completion_tokens: int
    reasoning: str | None = None
    """cot: the whole reasoning; self-consistency: the sample the winner came from."""
    votes: dict[str, Any] | None = None
    """self-consistency: the winner, its count, the total and the tally."""

    @property
    def tokens(self) -> dict[str, int]:
        return {"prompt": self.prompt_tokens, "completion": self.completion_tokens}
