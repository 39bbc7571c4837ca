"""The answer cache: exact and semantic layers keyed by a namespace of everything an answer
depends on, evicted when cited chunks change, shared over Redis or kept in-process.
Importing this package connects nowhere."""

from app.cache.cache import AnswerCache
from app.cache.entries import (
    CacheableAnswer,
    CacheEntry,
    CacheHit,
    CacheOutcome,
    CacheUnavailable,
)
from app.cache.factory import evict_cached_answers, open_cache, open_store
from app.cache.keys import CacheNamespace, exact_key, guard_tokens, normalise_question
from app.cache.metrics import CacheMetrics

__all__ = [
    "AnswerCache",
    "CacheEntry",
    "CacheHit",
    "CacheMetrics",
    "CacheNamespace",
    "CacheOutcome",
    "CacheUnavailable",
    "CacheableAnswer",
    "evict_cached_answers",
    "exact_key",
    "guard_tokens",
    "normalise_question",
    "open_cache",
    "open_store",
]
