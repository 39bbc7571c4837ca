"""The answer layer's settings section (``answer``), and :class:`AnswerConfig`, the view the
answer layer reads (ingestion's sections, the LLM, the answer cache and its own)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from ragline.cache.settings import CacheSettings
from ragline.ingest.settings import IngestConfig
from ragline.llm.settings import LLMSettings

QuotedLanguage = Literal["en", "zh"]


def _support_by_default() -> dict[QuotedLanguage, int]:
    return {"en": 2, "zh": 3}


class AnswerSettings(BaseModel):
    extractive_languages: list[QuotedLanguage] | None = Field(
        None,
        description="Answers in mode auto (the default) to a question in one of these "
        "languages, asked of a collection in the same language, quote the sources "
        "(extractive) instead of generating. Unset: the bundled model's own measured choice "
        "(Chinese for qwen2.5-coder-0.5b, whose answers are right less often than the quote; "
        'none for the default 1.5B; docs/benchmarks.md, "Answer quality"). [] = always generate.',
    )

    min_shared_terms: dict[QuotedLanguage, int] = Field(
        default_factory=_support_by_default,
        description="A question in one of these languages, asked of a collection in the same "
        "language, is answered 'not found' unless one of the sources shares at least this "
        "many content words (Chinese: character pairs) with it, or all of them for a shorter "
        "question; 0 = off. Tuned on the tune half of the gold sets (docs/benchmarks.md): "
        "'not found' on 62% of unanswerable questions, no answerable one lost.",
    )

    unknown_names: bool = Field(
        True,
        description="Answer 'not found', naming them, when the question gives names the "
        "collection never mentions (Flask asked of the Python FAQ; "
        "ragline.retrieval.keyword.names). Tuned on the tune half of the gold sets: 33 of 34 "
        "unanswerable questions there 'not found', no answerable one lost; report half 17 of "
        "21 for 1 of 101 (docs/benchmarks.md).",
    )

    answerable_threshold: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Before the model answers, ask it whether the sources contain the answer "
        "(the answer template's `answerable_check`, read from its first-token probability of "
        "yes against no; the answer's own prompt plus that question, so ~25 more prompt "
        "tokens); below this probability the answer is 'not found'. 0 = off (the default): "
        "on the gold sets' tune half 0.6 gave +8 of 20 unanswerable questions 'not found' for "
        "-1 of 70 right answers, on the report half +2 of 17 for -2 of 69 "
        '(docs/benchmarks.md, "Answer quality"). Needs a model whose probabilities ragline '
        "can read (the embedded one).",
    )

    hypothetical_languages: list[QuotedLanguage] = Field(
        default_factory=list,
        description="A question in one of these languages that the model answers (not a "
        "quoted one) is searched together with the model's own one-sentence answer to it, "
        "written before retrieval without sources (query expansion, as in HyDE; the sentence "
        "is never shown or cited). One more short LLM call per question: on the tune half of "
        'the gold sets (docs/benchmarks.md, "Answer quality") +3 of 70 English questions '
        "answered right for +3.2 s to the first token on 2 cores, but a short question about "
        "a project's own terms can be led astray by the model's guess, so it is off by "
        'default ([]); ["en"] turns it on for English (no gain measured in Chinese).',
    )
    hypothetical_tokens: int = Field(
        40, ge=1, le=256, description="The most tokens of that one-sentence answer."
    )

    @field_validator("min_shared_terms")
    @classmethod
    def _not_negative(cls, value: dict[QuotedLanguage, int]) -> dict[QuotedLanguage, int]:
        if any(n < 0 for n in value.values()):
            raise ValueError("answer.min_shared_terms must be 0 or more")
        return value


class AnswerConfig(IngestConfig):
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
