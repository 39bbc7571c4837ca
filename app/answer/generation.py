"""Running the LLM for one answer (plain, streamed, chain-of-thought, self-consistency), and
streaming a computation's text from a worker thread with cancellation."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from app.llm import LLM, CancelToken, GenerationParams
from retrieval.prompting.answers import extract_final_answer, self_consistency
from retrieval.prompting.build import Prompt

if TYPE_CHECKING:
    from app.answer.pipeline import AskRequest
    from app.answer.types import Answer


class _Cancelled(Exception):
    """The stream's consumer went away."""


def _raise_if_cancelled(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise _Cancelled


def generate(
    llm: LLM,
    request: AskRequest,
    prompt: Prompt,
    params: GenerationParams,
    deltas: Callable[[str], None] | None,
    cancel: CancelToken | None = None,
) -> tuple[str, str | None, dict[str, Any] | None, dict[str, int]]:
    messages = list(prompt.messages)
    tokens = {"prompt": prompt.tokens.prompt, "completion": 0}
    if request.mode == "self-consistency":
        sampled = params if params.temperature > 0 else params.merged({"temperature": 0.7})
        texts = []
        for i in range(request.samples):
            seed = None if sampled.seed is None else sampled.seed + i
            completion = llm.generate(messages, replace(sampled, seed=seed), cancel=cancel)
            _raise_if_cancelled(cancel)
            tokens["completion"] += completion.completion_tokens
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
        return winner, reasoning, votes, tokens
    if deltas is not None and request.mode == "plain":
        parts = []
        with llm.stream(messages, params, cancel=cancel) as token_stream:
            for piece in token_stream:
                parts.append(piece)
                deltas(piece)
        _raise_if_cancelled(cancel)
        streamed = token_stream.completion
        text = "".join(parts)
        tokens["completion"] = streamed.completion_tokens if streamed else 0
        return text, None, None, tokens
    completion = llm.generate(messages, params, cancel=cancel)
    _raise_if_cancelled(cancel)
    tokens["completion"] = completion.completion_tokens
    if request.mode == "cot":
        final = extract_final_answer(completion.text) or completion.text.strip()
        if deltas:
            deltas(final)
        return final, completion.text, None, tokens
    if deltas:
        deltas(completion.text)
    return completion.text, None, None, tokens


def streamed(
    compute: Callable[[Callable[[str], None] | None, CancelToken | None], Answer],
    pending: list[str],
    box: list[Answer],
) -> Generator[str, None, None]:
    """Run ``compute`` in a thread so its deltas can be yielded as they arrive."""
    import queue

    channel: queue.Queue[tuple[str, Any]] = queue.Queue()
    cancel = CancelToken()  # the LLM checks it between tokens (and while queued for a turn)

    def deliver(piece: str) -> None:
        if cancel.cancelled:
            raise _Cancelled  # unwinds the generation: the LLM stream closes and stops
        channel.put(("delta", piece))

    def work() -> None:
        try:
            channel.put(("answer", compute(deliver, cancel)))
        except _Cancelled:
            channel.put(("cancelled", None))
        except BaseException as exc:  # handed to the consumer below
            channel.put(("error", exc))

    threading.Thread(target=work, daemon=True, name="answer-stream").start()
    try:
        while True:
            kind, value = channel.get()
            if kind == "delta":
                yield value
            elif kind == "answer":
                box.append(value)
                return
            elif kind == "error":
                raise value
            else:
                return
    finally:
        cancel.cancel()  # the consumer went away (client disconnected) or we are done
