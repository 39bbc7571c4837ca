"""How a question is answered, decided from its language and its sources: the reply's
language, the mode ``auto`` stands for, and whether the sources speak of the question at all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ragline.answer.guard import support
from ragline.answer.settings import AnswerConfig, QuotedLanguage
from ragline.answer.types import AnswerMode
from ragline.ingest.language import detect_language
from ragline.retrieval.collection import Collection
from ragline.retrieval.keyword.names import unknown_names
from ragline.retrieval.prompting.packing import PackedSource

NOT_FOUND = {"en": "Not found in the documents.", "zh": "文档中没有找到相关内容。"}
_NOT_MENTIONED = {
    "en": "Not found in the documents: they do not mention {}.",
    "zh": "文档中没有找到相关内容：文档中没有提到 {}。",
}
_NAME_JOIN = {"en": ", ", "zh": "、"}


def not_found_reply(language: str, unknown: Sequence[str] = ()) -> str:
    """The "not found" reply in ``language`` (English for one without its own), naming what
    the documents do not mention, if known."""
    key = language if language in NOT_FOUND else "en"
    if not unknown:
        return NOT_FOUND[key]
    return _NOT_MENTIONED[key].format(_NAME_JOIN[key].join(unknown))


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


def unsupported(
    question: str, sources: Sequence[PackedSource], collection: Collection, settings: AnswerConfig
) -> list[str] | None:
    """None when ``sources`` speak of ``question``; else the names it gives that the
    collection never mentions (``answer.unknown_names``,
    :mod:`ragline.retrieval.keyword.names`: "not found" whatever the sources), or [] when no
    source shares enough words with it (``answer.min_shared_terms``)."""
    language = collection.info.language
    if settings.answer.unknown_names:
        unknown = unknown_names(question, collection.keyword.mentions, language)
        if unknown:
            return unknown
    if supported(question, sources, language, settings.answer.min_shared_terms):
        return None
    return []


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
