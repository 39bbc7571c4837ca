"""How a question is answered, decided from its language and its sources: the reply's
language, the mode ``auto`` stands for, and whether the sources speak of the question at all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ragline.answer.guard import support
from ragline.answer.settings import QuotedLanguage
from ragline.answer.types import AnswerMode
from ragline.ingest.language import detect_language
from ragline.retrieval.prompting.packing import PackedSource


def answer_language(question: str, configured: str, collection_language: str) -> str:
    """The prompt's (and the "not found" reply's) language: the setting, else the
    question's own (a Chinese question to an English collection is answered in Chinese),
    else the collection's."""
    if configured != "auto":
        return configured
    asked = detect_language(question)
    if asked in ("en", "zh"):
        return asked
    return "zh" if collection_language == "zh" else "en"


def resolve_mode(
    mode: AnswerMode, question: str, collection_language: str, quoted: Sequence[str]
) -> AnswerMode:
    """The mode ``auto`` stands for: extractive for a question in a language of ``quoted``
    (``answer.extractive_languages``) asked of a collection in that language, else plain."""
    if mode != "auto":
        return mode
    asked = detect_language(question)
    return "extractive" if asked in quoted and collection_language == asked else "plain"


def supported(
    question: str,
    sources: Sequence[PackedSource],
    collection_language: str,
    min_shared: Mapping[QuotedLanguage, int],
) -> bool:
    """Whether one of the sources shares enough content words with the question
    (``answer.min_shared_terms``, by the question's language). For a question in another
    language than the collection's (its words cannot match), yes."""
    asked = detect_language(question)
    need = next((n for language, n in min_shared.items() if language == asked), 0)
    if not need or collection_language != asked:
        return True
    best, wanted = support(question, sources)
    return best >= min(need, wanted)
