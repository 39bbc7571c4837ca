"""Prometheus metrics of one app instance (own registry: several apps can live in one process)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Histogram(
            "ragline_http_request_seconds",
            "HTTP request latency by route.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stage = Histogram(
            "ragline_stage_seconds",
            "Latency of answer stages (retrieval, packing, llm, cache).",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "ragline_time_to_first_token_seconds",
            "Time to the first streamed token.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter("ragline_tokens_generated_total", "Tokens generated.", registry=r)
        self.cache = Counter(
            "ragline_answer_cache_total",
            "Answer cache lookups by outcome (hit, miss, bypass) and kind (exact, semantic).",
            ["outcome", "kind"],
            registry=r,
        )
        self.files = Counter(
            "ragline_ingest_files_total",
            "Files handled by ingestion jobs, by state (ok, skipped, failed).",
            ["state"],
            registry=r,
        )
        self.chunks = Counter(
            "ragline_ingest_chunks_total", "Chunks added by ingestion jobs.", registry=r
        )
        self.queue_depth = Gauge(
            "ragline_llm_queue_depth", "Requests waiting for the embedded LLM.", registry=r
        )
        self.search_batch = Histogram(
            "ragline_search_batch_size",
            "Concurrent /v1/search requests answered by one batched search.",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=r,
        )
        self.jobs_running = Gauge(
            "ragline_ingest_jobs_running", "Ingestion jobs queued or running.", registry=r
        )
        self.rate_limited = Counter(
            "ragline_rate_limited_total", "Requests refused by the per-key rate limit.", registry=r
        )
