"""In-process single-flight: concurrent calls with one key share one computation."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class _Flight(Generic[T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None


class SingleFlight:
    """``do(key, fn)``: the first caller for ``key`` runs ``fn``; callers arriving while it
    runs wait and get the same result (or the same exception)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight[Any]] = {}

    def in_flight(self, key: str) -> bool:
        with self._lock:
            return key in self._flights

    def do(self, key: str, fn: Callable[[], T]) -> tuple[T, bool]:
        """``(result, shared)``: shared is True for callers that waited for another's run."""
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value, True  # type: ignore[return-value]
        try:
            flight.value = fn()
            return flight.value, False
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()
