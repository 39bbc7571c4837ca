"""Running the LLM for one answer: plain, streamed, chain-of-thought, self-consistency."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ragline.answer.types import AnswerMode, Generation
from ragline.llm import LLM, CancelToken, GenerationParams
from ragline.retrieval.prompting.answers import extract_final_answer, self_consistency
from ragline.retrieval.prompting.build import Prompt

Deltas = Callable[[str], None]
"""Receives answer text as it is written."""


class Cancelled(Exception):
    """The consumer of a streamed answer went away."""


def raise_if_cancelled(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise Cancelled


def generate(
    llm: LLM,
    prompt: Prompt,
    params: GenerationParams,
    *,
    mode: AnswerMode = "plain",
    samples: int = 3,
    deltas: Deltas | None = None,
    cancel: CancelToken | None = None,
) -> Generation:
    """The answer to ``prompt`` in ``mode``. With ``deltas``, plain answers stream token by
    token; the other modes deliver their final text once it is known."""
    messages = list(prompt.messages)
    if mode == "self-consistency":
        return _vote(llm, prompt, params, samples, deltas, cancel)
    if deltas is not None and mode == "plain":
        parts = []
        with llm.stream(messages, params, cancel=cancel) as token_stream:
            for piece in token_stream:
                parts.append(piece)
                deltas(piece)
        raise_if_cancelled(cancel)
        done = token_stream.completion
        used = done.completion_tokens if done else 0
        return Generation("".join(parts), prompt.tokens.prompt, used)
    completion = llm.generate(messages, params, cancel=cancel)
    raise_if_cancelled(cancel)
    text, reasoning = completion.text, None
    if mode == "cot":
        text, reasoning = extract_final_answer(completion.text) or completion.text.strip(), text
    if deltas:
        deltas(text)
    return Generation(text, prompt.tokens.prompt, completion.completion_tokens, reasoning)


def _vote(
    llm: LLM,
    prompt: Prompt,
    params: GenerationParams,
    samples: int,
    deltas: Deltas | None,
    cancel: CancelToken | None,
) -> Generation:
    sampled = params if params.temperature > 0 else params.merged({"temperature": 0.7})
    texts, used = [], 0
    for i in range(samples):
        seed = None if sampled.seed is None else sampled.seed + i
        completion = llm.generate(list(prompt.messages), replace(sampled, seed=seed), cancel=cancel)
        raise_if_cancelled(cancel)
        used += completion.completion_tokens
        texts.append(completion.text)
    vote = self_consistency(texts)
    winner = vote.answer or ""
    reasoning = next((t for t in texts if winner and winner in t), texts[0] if texts else "")
    votes = {
        "answer": vote.answer,
        "count": vote.count,
        "total": vote.total,
        "tally": [list(t) for t in vote.tally],
    }
    if deltas:
        deltas(winner)
    return Generation(winner, prompt.tokens.prompt, used, reasoning, votes)
