"""Asking the model, before it answers, whether the sources hold the answer.

The answer template's ``constants.answerable_check`` is added to the user message of the
answer's own prompt and the model's probability of beginning its reply with "yes" rather than
"no" is read from its first token (:class:`ragline.llm.YesNoJudge`). The answer prompt shares
everything before that line, so llama.cpp evaluates the prompt once. Off by default
(``answer.answerable_threshold``): on the gold sets it did not separate unanswerable questions
from right answers (docs/benchmarks.md, "Answer quality")."""

from __future__ import annotations

from dataclasses import replace

from ragline.llm import LLM, CancelToken, YesNoJudge
from ragline.retrieval.prompting.build import Prompt
from ragline.retrieval.types import Message

ANSWERABLE_CHECK = "answerable_check"
"""The answer template's constant holding the yes/no question asked before answering."""


def check_messages(prompt: Prompt) -> list[Message] | None:
    """The prompt's messages with its template's answerable check added to the last (user)
    message; None when the template has no check."""
    check = prompt.constants.get(ANSWERABLE_CHECK)
    if not check or not prompt.messages or prompt.messages[-1].role != "user":
        return None
    *opening, question = prompt.messages
    return [*opening, replace(question, content=f"{question.content}\n\n{check}")]


def answerable_probability(
    llm: LLM, prompt: Prompt, cancel: CancelToken | None = None
) -> float | None:
    """The model's probability that ``prompt``'s sources hold the answer; None when the
    template has no check or the model cannot say."""
    messages = check_messages(prompt)
    if messages is None or not isinstance(llm, YesNoJudge):
        return None
    return llm.yes_probability(messages, cancel=cancel)
