"""Before retrieval, the text the search runs on: a follow-up condensed into a standalone
question (with the conversation), and, for the languages of ``answer.hypothetical_languages``,
the model's own one-sentence answer searched with it (query expansion). Both are short LLM
calls at temperature 0 through the answer's prompt builder."""

from __future__ import annotations

from ragline.answer.routing import answer_language
from ragline.answer.settings import AnswerSettings
from ragline.answer.turn import Turn
from ragline.ingest.language import detect_language
from ragline.llm import LLM
from ragline.retrieval.prompting.build import PromptBuilder


def condense(llm: LLM, builder: PromptBuilder, turn: Turn, configured_language: str) -> str:
    """The standalone question for ``turn``: the question itself without a conversation,
    else the first line the model writes (the question again when it writes nothing), asked
    in the answer's language (``prompts.language``: ``configured_language``)."""
    request = turn.request
    if not request.history:
        return request.question
    language = answer_language(request.question, configured_language, turn.collection.info.language)
    prompt = builder.condense(request.question, list(request.history), language=language)
    completion = llm.generate(
        list(prompt.messages), turn.params.merged({"max_new_tokens": 96, "temperature": 0.0})
    )
    text = completion.text.strip()
    condensed = text.splitlines()[0].strip() if text else ""
    return condensed or request.question


def hypothetical(
    llm: LLM, builder: PromptBuilder, turn: Turn, settings: AnswerSettings
) -> str | None:
    """The model's own one-sentence answer to the standalone question, asked without
    sources, for a question the model will answer in a language of
    ``settings.hypothetical_languages`` (None otherwise, or when the model writes nothing)."""
    if turn.request.mode == "extractive":
        return None
    asked = detect_language(turn.standalone)
    if asked not in settings.hypothetical_languages:
        return None
    prompt = builder.hypothetical(turn.standalone, language=asked)
    limits = {"max_new_tokens": settings.hypothetical_tokens, "temperature": 0.0}
    completion = llm.generate(list(prompt.messages), turn.params.merged(limits))
    lines = (line.strip() for line in completion.text.splitlines())
    return next((line for line in lines if line and not line.startswith("```")), None)
