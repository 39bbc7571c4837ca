"""Redis-only behaviour: failing open when Redis dies or stalls, coalescing across processes,
keeping every process's in-memory vectors in step, and the `ragline cache` command."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry

from ragline.cache import AnswerCache, CacheableAnswer, CacheUnavailable, open_cache
from ragline.cache.redis_store import RedisStore
from ragline.cache.settings import CacheSettings
from tests.cache.conftest import REDIS_URL, MakeCache, namespace, random_vector

pytestmark = pytest.mark.redis
ANSWER = {"text": "42", "citations": ["a"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A throwaway redis-server of our own, which tests may kill or stall."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path), "--enable-debug-command", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            if redis.Redis.from_url(url, socket_connect_timeout=0.2).ping():
                break
        except redis.RedisError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    yield url, proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(5)


def _cache(url: str, **overrides: Any) -> AnswerCache:
    options: dict[str, Any] = {"redis_url": url, "key_prefix": "t:", "retry_after_s": 0.2}
    options.update(overrides)
    return open_cache(CacheSettings(**options), registry=CollectorRegistry())


def test_redis_dying_bypasses_the_cache_and_answers_still_come(
    own_redis: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, proc = own_redis
    cache = _cache(url)
    ns = namespace()
    computed: list[int] = []

    def compute() -> CacheableAnswer:
        computed.append(1)
        return CacheableAnswer(ANSWER, ["a"])

    assert cache.get_or_compute("q", ns, compute).source == "computed"
    assert cache.get_or_compute("q", ns, compute).source == "exact"
    misses = cache.stats()["misses"]
    proc.kill()
    proc.wait(5)
    started = time.monotonic()
    for _ in range(5):
        outcome = cache.get_or_compute(
            "q", ns, compute, vector=random_vector(1), retrieved_chunk_ids=["a"]
        )
        assert outcome.source == "computed" and outcome.payload == ANSWER
    assert time.monotonic() - started < 2  # no long timeouts: the cache steps aside
    assert len(computed) == 6
    stats = cache.stats()
    assert stats["bypasses_unavailable"] >= 5
    assert stats["misses"] == misses  # a bypass is not a miss
    assert stats["entries"] == -1  # unknown while Redis is down
    assert cache.metrics.bypasses.labels(reason="unavailable", op="check")._value.get() >= 1
    with pytest.raises(CacheUnavailable, match="evict failed"):
        cache.evict_chunks(["a"])  # a lost eviction is reported, not swallowed


def test_a_stalled_redis_times_out_fast_and_is_bypassed(
    own_redis: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, _ = own_redis
    cache = _cache(url, socket_timeout_ms=50)
    ns = namespace()
    cache.store("q", ns, None, ANSWER, ["a"])
    staller = threading.Thread(
        target=lambda: redis.Redis.from_url(url).execute_command("DEBUG", "SLEEP", "1")  # type: ignore[no-untyped-call]
    )
    staller.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert cache.check("q", ns) is None  # would be a hit, but Redis is not answering
    assert time.monotonic() - started < 0.5
    assert cache.stats()["bypasses_unavailable"] >= 1
    staller.join(5)
    time.sleep(0.25)  # retry_after_s
    assert cache.check("q", ns) is not None  # back in use once Redis answers again


def test_two_processes_coalesce_through_the_redis_lock(make_cache: MakeCache) -> None:
    # Two AnswerCache objects have separate in-process single-flights, like two processes.
    first, second = make_cache("redis"), make_cache("redis")
    ns = namespace()
    calls: list[str] = []
    outcomes: dict[str, str] = {}

    def compute(who: str) -> CacheableAnswer:
        calls.append(who)
        time.sleep(0.5)
        return CacheableAnswer(ANSWER, ["a"])

    def ask(cache: AnswerCache, who: str) -> None:
        outcomes[who] = cache.get_or_compute("q?", ns, lambda: compute(who)).source

    a = threading.Thread(target=ask, args=(first, "a"))
    a.start()
    time.sleep(0.1)  # a holds the lock now
    b = threading.Thread(target=ask, args=(second, "b"))
    b.start()
    a.join(10)
    b.join(10)
    assert calls == ["a"]
    assert outcomes == {"a": "computed", "b": "shared"}


def test_a_lock_whose_holder_died_is_taken_over(make_cache: MakeCache) -> None:
    cache = make_cache("redis", lock_ttl_ms=300, lock_wait_s=5)
    ns = namespace()
    from ragline.cache.keys import exact_key

    assert cache.backend.try_lock(exact_key("q", ns), 300)  # a process that then died
    started = time.monotonic()
    outcome = cache.get_or_compute("q", ns, lambda: CacheableAnswer(ANSWER, ["a"]))
    assert outcome.source == "computed"
    assert 0.2 < time.monotonic() - started < 2


def test_every_process_sees_new_and_evicted_answers(
    make_cache: MakeCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, reader = make_cache("redis"), make_cache("redis")
    ns = namespace()
    for i in range(5):
        writer.store(f"question {'abcde'[i]}", ns, random_vector(i), {"n": i}, [f"c{i}"])
    assert reader.check("other words", ns, random_vector(2), ["c2"]) is not None  # full load
    loaded: list[int] = []
    store = reader.backend
    assert isinstance(store, RedisStore)
    rows = store._rows

    def counting_rows(keys: Sequence[str]) -> Any:
        loaded.append(len(keys))
        return rows(keys)

    monkeypatch.setattr(store, "_rows", counting_rows)
    writer.store("question z", ns, random_vector(9), {"n": 9}, ["c9"])
    hit = reader.check("more words", ns, random_vector(9), ["c9"])
    assert hit is not None and hit.payload == {"n": 9}
    assert loaded == [1]  # only the new entry was read
    writer.evict_chunks(["c2"])
    assert reader.check("other words", ns, random_vector(2), ["c2"]) is None
    assert loaded == [1, 5]  # a removal: reloaded
    assert reader.check("again", ns, random_vector(3), ["c3"]) is not None
    assert loaded == [1, 5]  # nothing changed: nothing read


def test_no_module_commands_and_keys_stay_under_the_prefix(make_cache: MakeCache) -> None:
    cache = make_cache("redis")
    cache.store("q", namespace(), random_vector(1), ANSWER, ["a", "b"])
    store = cache.backend
    assert isinstance(store, RedisStore)
    client = redis.Redis.from_url(REDIS_URL)
    keys = {k.decode() for k in client.scan_iter(match=f"{store.prefix}*")}
    kinds = sorted(k[len(store.prefix) :].split(":")[0] for k in keys)
    assert kinds == ["c", "c", "e", "n", "n"]
    assert all(client.ttl(k) > 0 for k in keys)


def test_cache_command_stats_and_clear(make_cache: MakeCache, tmp_path: Path) -> None:
    cache = make_cache("redis")
    cache.store("q", namespace(), None, ANSWER, ["a"])
    prefix = cache.settings.key_prefix
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
    env.update(
        RAGLINE_DATA_DIR=str(tmp_path),
        RAGLINE_CACHE__REDIS_URL=REDIS_URL,
        RAGLINE_CACHE__KEY_PREFIX=prefix,
    )

    def ragline(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ragline", "cache", *args],
            env={**env, **extra}, capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )  # fmt: skip

    stats = ragline("stats", "--json")
    assert stats.returncode == 0, stats.stderr
    data = json.loads(stats.stdout)
    assert (data["backend"], data["entries"], data["namespaces"]) == ("redis", 1, 1)
    cleared = ragline("clear")
    assert cleared.returncode == 0 and cleared.stdout.strip() == "removed 1 cached answers"
    down = ragline("stats", RAGLINE_CACHE__REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0")
    assert down.returncode == 1
    assert down.stderr.startswith("error: answer cache Redis") and down.stderr.count("\n") == 1
