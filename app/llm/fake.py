"""A recording fake LLM for unit tests: scripted replies, every call remembered."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass

from ragline.llm.types import CancelToken, Completion, FinishReason, GenerationParams, TokenStream
from ragline.retrieval.types import Message

Reply = str | Callable[[Sequence[Message], GenerationParams], str]
Judgment = float | Callable[[Sequence[Message]], float]


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    method: str  # "generate" or "stream"
    messages: tuple[Message, ...]
    params: GenerationParams


class FakeLLM:
    """Answers with scripted ``replies`` in order (then ``default``); a reply may be a
    function of the messages and params. Streams word by word (whitespace kept), counts
    one token per whitespace-separated word, honours ``max_new_tokens``, ``stop`` and
    cancellation. ``yes`` is what ``yes_probability`` says (a number or a function of the
    messages). ``calls`` records every generation request, ``checks`` the messages of every
    ``yes_probability`` call."""

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        default: Reply = "This is a fake answer.",
        model_id: str = "fake",
        context_window: int = 4096,
        delay_s: float = 0.0,
        yes: Judgment = 1.0,
    ) -> None:
        self.model_id = model_id
        self.context_window = context_window
        self.delay_s = delay_s
        self.default = default
        self.yes = yes
        self._replies: deque[Reply] = deque(replies)
        self._lock = threading.Lock()
        self.calls: list[Call] = []
        self.checks: list[tuple[Message, ...]] = []

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    @property
    def last(self) -> Call:
        return self.calls[-1]

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        *,
        cancel: CancelToken | None = None,
    ) -> Completion:
        stream = self._start("generate", messages, params, cancel)
        for _ in stream:
            pass
        assert stream.completion is not None
        return stream.completion

    def stream(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        *,
        cancel: CancelToken | None = None,
    ) -> TokenStream:
        return self._start("stream", messages, params, cancel)

    def yes_probability(
        self, messages: Sequence[Message], *, cancel: CancelToken | None = None
    ) -> float:
        with self._lock:
            self.checks.append(tuple(messages))
        return float(self.yes(messages) if callable(self.yes) else self.yes)

    def close(self) -> None:
        pass

    def _start(
        self,
        method: str,
        messages: Sequence[Message],
        params: GenerationParams,
        cancel: CancelToken | None,
    ) -> TokenStream:
        with self._lock:
            self.calls.append(Call(method, tuple(messages), params))
            reply = self._replies.popleft() if self._replies else self.default
        text = reply(messages, params) if callable(reply) else reply
        return TokenStream(self._pieces(messages, params, text, cancel))

    def _pieces(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        text: str,
        cancel: CancelToken | None,
    ) -> Generator[str, None, Completion]:
        started = time.perf_counter()
        finish: FinishReason = "stop"
        for stop in params.stop:
            if stop in text:
                text = text[: text.index(stop)]
        words = _words(text)
        if len(words) > params.max_new_tokens:
            words, finish = words[: params.max_new_tokens], "length"
        sent: list[str] = []
        first: float | None = None
        for word in words:
            if cancel is not None and cancel.cancelled:
                finish = "cancelled"
                break
            if self.delay_s:
                time.sleep(self.delay_s)
            first = first if first is not None else time.perf_counter()
            sent.append(word)
            yield word
        out = "".join(sent)
        return Completion(
            text=out,
            prompt_tokens=sum(self.count_tokens(m.content) for m in messages),
            completion_tokens=self.count_tokens(out),
            finish_reason=finish,
            model_id=self.model_id,
            seconds=time.perf_counter() - started,
            time_to_first_token=None if first is None else first - started,
        )


def _words(text: str) -> list[str]:
    """``"a b  c"`` → ``["a", " b", "  c"]``: pieces that join back to the text."""
    return re.findall(r"\s*\S+|\s+\Z", text)
