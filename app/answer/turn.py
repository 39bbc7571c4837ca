"""One question on its way through the answer pipeline: what it carries between stages, and
how long each stage took."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ragline.answer.types import AskRequest
from ragline.cache import CacheNamespace
from ragline.llm import GenerationParams
from ragline.retrieval.collection import Collection
from ragline.retrieval.retrievers import SearchResult

Observe = Callable[[str, float], None]
"""Told each stage's name and its duration in seconds (e.g. a latency histogram)."""


@dataclass
class Turn:
    """One question on its way through the pipeline."""

    request: AskRequest
    collection: Collection
    params: GenerationParams
    namespace: CacheNamespace
    started: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)
    standalone: str = ""
    hypothetical: str | None = None
    """The model's own one-sentence answer, searched with the question (or None)."""
    result: SearchResult | None = None
    vector: Any = None

    @property
    def hits(self) -> SearchResult:
        assert self.result is not None
        return self.result

    def finish(self) -> dict[str, float]:
        """Each stage's milliseconds, and the total since the turn started."""
        done = {k: round(v, 2) for k, v in self.timings.items()}
        done["total"] = round((time.perf_counter() - self.started) * 1000, 2)
        return done


class timer:
    """Adds the time spent in the ``with`` block to the turn's ``stage`` and tells ``observe``."""

    def __init__(self, turn: Turn, stage: str, observe: Observe) -> None:
        self.timings, self.stage, self.observe = turn.timings, stage, observe

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        elapsed = time.perf_counter() - self.started
        self.timings[self.stage] = self.timings.get(self.stage, 0.0) + elapsed * 1000
        self.observe(self.stage, elapsed)
