"""The LLM protocol and its small values: generation parameters, completions, token streams."""

from __future__ import annotations

import math
import threading
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from ragline.llm.errors import InvalidGenerationParams
from ragline.retrieval.types import Message

if TYPE_CHECKING:
    from ragline.llm.settings import LLMSettings

FinishReason = Literal["stop", "length", "cancelled"]

MAX_NEW_TOKENS = 65536
MAX_STOP = 16
_ALIASES = {"max_tokens": "max_new_tokens", "repeat_penalty": "repetition_penalty"}


@dataclass(frozen=True)
class GenerationParams:
    """How to sample; validated on construction. Neutral values: top_k 0 (no cut),
    repetition_penalty 1.0, seed None (a fresh seed per call)."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 512
    stop: tuple[str, ...] = ()
    repetition_penalty: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        _number("temperature", self.temperature, 0.0, 2.0)
        _number("top_p", self.top_p, 0.0, 1.0, low_open=True)
        _integer("top_k", self.top_k, 0, 1_000_000)
        _integer("max_new_tokens", self.max_new_tokens, 1, MAX_NEW_TOKENS)
        _number("repetition_penalty", self.repetition_penalty, 0.0, 10.0, low_open=True)
        if self.seed is not None:
            _integer("seed", self.seed, 0, 2**32 - 1)
        if not isinstance(self.stop, tuple) or not all(isinstance(s, str) and s for s in self.stop):
            raise InvalidGenerationParams("stop must be a list of non-empty strings")
        if len(self.stop) > MAX_STOP:
            raise InvalidGenerationParams(f"stop takes at most {MAX_STOP} strings")

    @classmethod
    def from_settings(cls, settings: LLMSettings) -> GenerationParams:
        return cls(
            temperature=settings.temperature,
            top_p=settings.top_p,
            top_k=settings.top_k,
            max_new_tokens=settings.max_new_tokens,
            repetition_penalty=settings.repetition_penalty,
            seed=settings.seed,
        )

    def merged(self, overrides: Mapping[str, Any]) -> GenerationParams:
        """These params with per-request ``overrides`` applied (``None`` values are ignored;
        ``max_tokens`` and ``repeat_penalty`` are accepted as aliases). Raises
        InvalidGenerationParams (a UsageError and a ValueError) naming the bad key."""
        names = {f.name for f in fields(self)}
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            name = _ALIASES.get(key, key)
            if name not in names:
                allowed = ", ".join(sorted(names | set(_ALIASES)))
                raise InvalidGenerationParams(
                    f"unknown generation parameter {key!r}; allowed: {allowed}"
                )
            if value is None and name != "seed":
                continue
            if name == "stop":
                value = _stop_tuple(value)
            changes[name] = value
        return replace(self, **changes) if changes else self

    @property
    def sampled(self) -> bool:
        """True when answers vary from call to call (temperature > 0)."""
        return self.temperature > 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data


def _stop_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(value)
    raise InvalidGenerationParams("stop must be a string or a list of strings")


def _number(name: str, value: Any, low: float, high: float, *, low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise InvalidGenerationParams(f"{name} must be a number, got {value!r}")
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        bracket = "(" if low_open else "["
        raise InvalidGenerationParams(
            f"{name} must be in {bracket}{low:g}, {high:g}], got {value!r}"
        )


def _integer(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidGenerationParams(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise InvalidGenerationParams(f"{name} must be in [{low}, {high}], got {value!r}")


@dataclass(frozen=True)
class Completion:
    """One finished generation and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: FinishReason
    model_id: str
    seconds: float
    time_to_first_token: float | None = None
    """Seconds from the call to the first generated text (None when nothing came)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CancelToken:
    """A flag a caller sets to stop a generation early (between two tokens)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class TokenStream(Iterator[str]):
    """Text pieces as they are generated; ``completion`` is set once the stream ends.

    Stopping early (``close()``, ``break`` out of a ``for`` loop and dropping the stream, or
    garbage collection) closes the backend's generator, which stops generating."""

    def __init__(self, pieces: Generator[str, None, Completion]) -> None:
        self._pieces = pieces
        self.completion: Completion | None = None

    def __next__(self) -> str:
        try:
            return next(self._pieces)
        except StopIteration as stop:
            self.completion = stop.value
            raise

    def close(self) -> None:
        self._pieces.close()

    def __enter__(self) -> TokenStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@runtime_checkable
class LLM(Protocol):
    """What the answer pipeline needs from a language model."""

    model_id: str
    """Identifies model and weights; part of answer cache keys."""
    context_window: int

    def count_tokens(self, text: str) -> int: ...

    def generate(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        *,
        cancel: CancelToken | None = None,
    ) -> Completion: ...

    def stream(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        *,
        cancel: CancelToken | None = None,
    ) -> TokenStream: ...

    def close(self) -> None: ...


@runtime_checkable
class YesNoJudge(Protocol):
    """A model that can tell how likely its reply to ``messages`` begins with "yes" rather
    than "no", read from its first-token distribution: one prompt evaluation, nothing
    generated. The embedded model and the fake implement it; a backend that cannot read its
    model's probabilities does not (the answer pipeline then skips the checks that use it)."""

    def yes_probability(
        self, messages: Sequence[Message], *, cancel: CancelToken | None = None
    ) -> float:
        """P(yes) / (P(yes) + P(no)) over the first token of the reply, in [0, 1]."""
        ...


class LLMTokenizer:
    """An LLM's own tokenizer as a token counter (``count``, ``model_id``,
    ``context_window``), for packing a prompt's context to an exact budget."""

    def __init__(self, llm: LLM) -> None:
        self.model_id = llm.model_id
        self.context_window = llm.context_window
        self._count = llm.count_tokens

    def count(self, text: str) -> int:
        return self._count(text)


def collect(stream: TokenStream) -> Completion:
    """Drain a stream into its Completion: how every backend implements ``generate``."""
    for _ in stream:
        pass
    if stream.completion is None:  # pragma: no cover - backends always return one
        raise RuntimeError("the token stream ended without a completion")
    return stream.completion


class StreamingBackend:
    """Backends implement ``stream``; ``generate`` is the stream drained (one code path)."""

    def stream(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        *,
        cancel: CancelToken | None = None,
    ) -> TokenStream:
        raise NotImplementedError

    def generate(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        *,
        cancel: CancelToken | None = None,
    ) -> Completion:
        return collect(self.stream(messages, params, cancel=cancel))
