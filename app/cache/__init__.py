"""The answer cache: exact and semantic layers keyed by a namespace of everything an answer
depends on, evicted when cited chunks change, shared over Redis or kept in-process.
Importing this package connects nowhere."""

from ragline.cache.cache import AnswerCache
from ragline.cache.entries import (
    CacheableAnswer,
    CacheEntry,
    CacheHit,
    CacheOutcome,
    CacheUnavailable,
)
from ragline.cache.factory import (
    evictor,
    open_cache,
    open_store,
    redis_reachable,
    with_cache_fallback,
)
from ragline.cache.keys import (
    CacheNamespace,
    exact_key,
    guard_tokens,
    normalise_question,
    question_guard,
)
from ragline.cache.metrics import CacheMetrics

__all__ = [
    "AnswerCache",
    "CacheEntry",
    "CacheHit",
    "CacheMetrics",
    "CacheNamespace",
    "CacheOutcome",
    "CacheUnavailable",
    "CacheableAnswer",
    "evictor",
    "exact_key",
    "guard_tokens",
    "normalise_question",
    "open_cache",
    "open_store",
    "question_guard",
    "redis_reachable",
    "with_cache_fallback",
]
