"""Streaming a computation's text from a worker thread, with cancellation.

The answer pipeline computes an answer in one blocking call that reports its text through a
callback; :class:`ThreadedStream` runs it on a thread and hands the pieces to the consumer
as they come. Closing the stream (the client went away) cancels the computation: the LLM
checks the token between tokens and stops.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ragline.answer.generation import Cancelled, Deltas
from ragline.llm import CancelToken

T = TypeVar("T")
Compute = Callable[[Deltas, CancelToken], T]

_DELTA, _DONE, _CANCELLED, _ERROR = range(4)


class ThreadedStream(Iterator[str], Generic[T]):
    """Iterate for the text pieces; ``result`` is set once the computation finished (None
    when it was cancelled). An error in the computation is raised to the consumer."""

    def __init__(self, compute: Compute[T]) -> None:
        self.result: T | None = None
        self._channel: queue.Queue[tuple[int, object]] = queue.Queue()
        self._cancel = CancelToken()
        self._done = False
        threading.Thread(
            target=self._work, args=(compute,), daemon=True, name="answer-stream"
        ).start()

    def _work(self, compute: Compute[T]) -> None:
        def deliver(piece: str) -> None:
            if self._cancel.cancelled:
                raise Cancelled  # unwinds the generation: the LLM stream closes and stops
            self._channel.put((_DELTA, piece))

        try:
            self._channel.put((_DONE, compute(deliver, self._cancel)))
        except Cancelled:
            self._channel.put((_CANCELLED, None))
        except BaseException as exc:  # handed to the consumer
            self._channel.put((_ERROR, exc))

    def __next__(self) -> str:
        if self._done:
            raise StopIteration
        kind, value = self._channel.get()
        if kind == _DELTA:
            assert isinstance(value, str)
            return value
        self._done = True
        self._cancel.cancel()
        if kind == _DONE:
            self.result = value  # type: ignore[assignment]
        elif kind == _ERROR:
            assert isinstance(value, BaseException)
            raise value
        raise StopIteration

    def close(self) -> None:
        """Stop the computation (idempotent)."""
        self._done = True
        self._cancel.cancel()
