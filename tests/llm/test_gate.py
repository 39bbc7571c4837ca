"""The bounded FIFO queue in front of the embedded model."""

from __future__ import annotations

import threading
import time

import pytest

from ragline.llm import CancelToken, LLMBusy
from ragline.llm.gate import GenerationGate


def _hold(gate: GenerationGate, release: threading.Event, order: list[str], name: str) -> None:
    with gate.enter() as admitted:
        assert admitted
        order.append(name)
        release.wait(5)


def test_full_queue_raises_busy_and_waiters_run_in_order() -> None:
    gate = GenerationGate(max_queue=2, timeout_s=5)
    release = threading.Event()
    order: list[str] = []
    threads = [threading.Thread(target=_hold, args=(gate, release, order, "a"))]
    threads[0].start()
    while not gate.busy:
        time.sleep(0.01)
    for name in ("b", "c"):
        t = threading.Thread(target=_hold, args=(gate, release, order, name))
        t.start()
        threads.append(t)
        while gate.waiting < len(threads) - 1:
            time.sleep(0.01)
    with pytest.raises(LLMBusy, match=r"2 requests already waiting \(llm.max_queue = 2\)") as info:
        gate.check()
    assert info.value.retry_after > 0
    with pytest.raises(LLMBusy), gate.enter():
        pass
    release.set()
    for t in threads:
        t.join(5)
    assert order == ["a", "b", "c"]
    assert not gate.busy and gate.waiting == 0


def test_waiting_too_long_raises_busy() -> None:
    gate = GenerationGate(max_queue=4, timeout_s=0.2)
    release = threading.Event()
    holder = threading.Thread(target=_hold, args=(gate, release, [], "a"))
    holder.start()
    while not gate.busy:
        time.sleep(0.01)
    started = time.monotonic()
    with pytest.raises(LLMBusy, match="stayed busy"), gate.enter():
        pass
    assert 0.15 < time.monotonic() - started < 2
    assert gate.waiting == 0
    release.set()
    holder.join(5)


def test_cancel_while_waiting_leaves_the_queue() -> None:
    gate = GenerationGate(max_queue=4, timeout_s=5)
    release = threading.Event()
    holder = threading.Thread(target=_hold, args=(gate, release, [], "a"))
    holder.start()
    while not gate.busy:
        time.sleep(0.01)
    cancel = CancelToken()
    threading.Timer(0.1, cancel.cancel).start()
    with gate.enter(cancel) as admitted:
        assert not admitted
    assert gate.waiting == 0
    release.set()
    holder.join(5)
    with gate.enter() as admitted:
        assert admitted
