"""The answer cache's settings section."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class CacheSettings(BaseModel):
    enabled: bool = True
    redis_url: str = Field(
        "", description="Redis for the answer cache; empty = an in-process LRU cache."
    )
    key_prefix: str = Field("ragline:cache:", description="Prefix of every Redis key.")
    ttl_s: int = Field(86400, ge=0, description="Answer lifetime in seconds; 0 = no expiry.")
    max_entries: int = Field(10000, ge=1, description="Answers kept per namespace (oldest go).")
    memory_max_entries: int = Field(10000, ge=1, description="In-process cache: total answers.")
    semantic: bool = Field(True, description="Reuse answers of paraphrased questions.")
    similarity_threshold: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="Semantic hits: least cosine similarity between the questions; unset = "
        "the value measured for the embedder of the question vectors (e5-small 0.95, MiniLM "
        "0.9, USE 0.85: docs/benchmarks.md, 'Answer cache').",
    )
    min_overlap: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Semantic hits: least overlap between retrieved and cited chunk ids.",
    )
    overlap: Literal["cited_share", "jaccard"] = Field(
        "cited_share",
        description="cited_share: share of the cached answer's cited chunks retrieved again; "
        "jaccard: |retrieved ∩ cited| / |retrieved ∪ cited|.",
    )
    socket_timeout_ms: int = Field(50, ge=1, description="Redis calls slower than this bypass.")
    retry_after_s: float = Field(
        5.0, ge=0, description="After a Redis failure, bypass it this long before trying again."
    )
    lock_ttl_ms: int = Field(30000, ge=1, description="Single-flight lock lifetime in Redis.")
    lock_wait_s: float = Field(
        30.0, ge=0, description="How long a request waits for another process's answer."
    )
    cache_sampled: bool = Field(False, description="Also cache answers made with temperature > 0.")
