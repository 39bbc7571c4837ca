"""One generation at a time, the rest in a bounded first-come-first-served queue."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from ragline.llm.errors import LLMBusy
from ragline.llm.types import CancelToken

_POLL_S = 0.05


class GenerationGate:
    """Admits one holder at a time; up to ``max_queue`` more wait in arrival order.

    ``enter()`` raises LLMBusy at once when the queue is full, or after ``timeout_s`` of
    waiting; it yields False (without admitting) when the caller's cancel token fires while
    it waits."""

    def __init__(self, max_queue: int, timeout_s: float, label: str = "the model") -> None:
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self.label = label
        self._cond = threading.Condition()
        self._waiting: deque[object] = deque()
        self._busy = False

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._busy

    def check(self) -> None:
        """Raise LLMBusy now if a new request would not even get a place in the queue."""
        with self._cond:
            self._check_full()

    def _check_full(self) -> None:
        if self._busy and len(self._waiting) >= self.max_queue:
            raise LLMBusy(
                f"{self.label} is busy: {len(self._waiting)} requests already waiting "
                f"(llm.max_queue = {self.max_queue}); retry shortly",
                retry_after=1.0,
            )

    @contextmanager
    def enter(self, cancel: CancelToken | None = None) -> Iterator[bool]:
        admitted = self._acquire(cancel)
        try:
            yield admitted
        finally:
            if admitted:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _acquire(self, cancel: CancelToken | None) -> bool:
        me = object()
        deadline = time.monotonic() + self.timeout_s
        with self._cond:
            self._check_full()
            self._waiting.append(me)
            try:
                while self._busy or self._waiting[0] is not me:
                    if cancel is not None and cancel.cancelled:
                        return False
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise LLMBusy(
                            f"{self.label} stayed busy for {self.timeout_s:g} s "
                            "(llm.queue_timeout_s); retry shortly",
                            retry_after=2.0,
                        )
                    self._cond.wait(min(left, _POLL_S) if cancel is not None else left)
                self._busy = True
                return True
            finally:
                self._waiting.remove(me)
                self._cond.notify_all()
