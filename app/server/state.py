"""What one running app holds: settings, open collections, jobs, limits, metrics."""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from app.server.batching import SearchBatcher
from app.server.metrics import Metrics
from retrieval import embedders
from retrieval.collection import Collection
from retrieval.embedders.base import Embedder
from retrieval.embedders.cache import RecentQueries
from retrieval.settings import Settings


class CollectionPool:
    """Open collections shared by requests; reopened when another writer changed them.

    Reads check the catalog's index version (one SQLite read) and reopen the collection when
    an ingestion elsewhere (a job, or the CLI in another process) has changed it, so a FAISS
    index in memory is never stale. Models are loaded once per embedder and shared.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._open: dict[str, tuple[Collection, int]] = {}
        self._embedders: dict[str, Embedder] = {}
        self._lock = threading.RLock()

    def embedder(self, name: str) -> Embedder:
        with self._lock:
            if name not in self._embedders:
                embedder = embedders.load_embedder(name, self.settings.embedding)
                if isinstance(getattr(embedder, "threads", None), int):
                    # Requests embed one short query each, many at once: one BLAS thread
                    # per call. With two, concurrent calls fight over the cores (measured
                    # with use-m3 on 2 cores, 8 concurrent queries: 6/s vs 250/s).
                    embedder.threads = 1  # type: ignore[attr-defined]
                self._embedders[name] = RecentQueries(embedder)
            return self._embedders[name]

    def get(self, name: str) -> Collection:
        with self._lock:
            entry = self._open.get(name)
            if entry is not None:
                collection, version = entry
                if Collection.exists(name, self.settings):
                    current = collection.index_version
                    if current != version:
                        # Changed by another writer: catch up in place. Requests in flight
                        # keep this same object (closing it under them failed their reads,
                        # and a second Chroma client would share the stale state anyway).
                        collection.refresh()
                        self._open[name] = (collection, current)
                    return collection
                collection.close()  # deleted: opening it again says so
                del self._open[name]
            collection = Collection.open(name, self.settings)
            shared = self.embedder(collection.info.embedder)
            if shared.model_id == collection.info.model_id:
                collection.__dict__["embedder"] = shared
            # Open the store and the keyword index here, under the lock: they open lazily,
            # and concurrent first requests racing to open one store made Chroma fail.
            _ = collection.store
            collection.keyword.load()
            # Load the model now (it loads lazily on the first embedding), so that the
            # freeze below covers torch's and the model's objects as well.
            collection.embedder.embed_query("warm-up")
            self._open[name] = (collection, collection.index_version)
            freeze_long_lived()
            return collection

    def forget(self, name: str) -> None:
        with self._lock:
            entry = self._open.pop(name, None)
            if entry is not None:
                entry[0].close()

    def close(self) -> None:
        with self._lock:
            for collection, _ in self._open.values():
                collection.close()
            self._open.clear()


@dataclass
class AppState:
    settings: Settings
    metrics: Metrics
    collections: CollectionPool
    rate_limiter: Any
    searches: SearchBatcher
    jobs: Any = None
    services: dict[str, Any] = field(default_factory=dict)
    """Optional parts opened by the lifespan (LLM, cache, answer pipeline)."""


async def get_state(request: Request) -> AppState:
    # async: FastAPI runs plain ``def`` dependencies in the thread pool, a thread hop each.
    state: AppState = request.app.state.ragline
    return state


def freeze_long_lived() -> None:
    """Move every object alive now (models, open collections, their keyword matrices) out
    of the cyclic garbage collector's reach. Otherwise each full collection walks them all:
    measured under /v1/search load on a 10k-chunk collection, an 85-95 ms pause every
    2-3 s, which was the whole p99. Objects frozen and dropped later are still freed by
    reference counting; only cycles among them are kept until the process ends."""
    gc.collect()
    gc.freeze()
