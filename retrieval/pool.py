"""Open collections shared by everything in one process (CLI command, server, eval run).

Embedding models load once per embedder name and are shared by every collection built with
them, behind :class:`RecentQueries` (one answer embeds its question once). A collection is
opened on first use and caught up in place when another writer (an ingestion job, the CLI in
another process) moved its index version, so readers never see a stale FAISS index and
requests in flight keep the object they hold.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from ragline.retrieval import embedders
from ragline.retrieval.collection import ChunksRemoved, Collection
from ragline.retrieval.embedders.base import Embedder
from ragline.retrieval.embedders.cache import RecentQueries
from ragline.retrieval.settings import KernelConfig


class CollectionPool:
    """``get(name)`` → the open collection.

    ``on_chunks_removed`` is handed to every collection (the answer cache's eviction);
    ``serving`` loads the shared models for a server, where many short questions arrive at
    once (``embedders.load_embedder(..., serving=True)``);
    ``warm`` opens the store and keyword index and loads the model when a collection is
    first opened (a server's first requests then race nothing), then calls ``on_open``.
    """

    def __init__(
        self,
        settings: KernelConfig,
        *,
        on_chunks_removed: ChunksRemoved | None = None,
        serving: bool = False,
        warm: bool = False,
        on_open: Callable[[Collection], object] | None = None,
    ) -> None:
        self.settings = settings
        self.on_chunks_removed = on_chunks_removed
        self.serving = serving
        self.warm = warm
        self.on_open = on_open
        self._open: dict[str, tuple[Collection, int, tuple[int, int]]] = {}
        self._embedders: dict[str, Embedder] = {}
        self._lock = threading.RLock()

    def embedder(self, name: str) -> Embedder:
        """The shared embedder called ``name`` (loaded on first use)."""
        with self._lock:
            if name not in self._embedders:
                embedder = embedders.load_embedder(
                    name, self.settings.embedding, serving=self.serving
                )
                self._embedders[name] = RecentQueries(embedder)
            return self._embedders[name]

    def get(self, name: str) -> Collection:
        with self._lock:
            entry = self._open.get(name)
            if entry is not None:
                collection, version, stamp = entry
                if _stamp(collection.path) == stamp:
                    current = collection.index_version
                    if current != version:
                        # Changed by another writer: catch up in place. Requests in flight
                        # keep this same object (closing it under them failed their reads,
                        # and a second Chroma client would share the stale state anyway).
                        collection.refresh()
                        self._open[name] = (collection, current, stamp)
                    return collection
                # deleted (opening it again says so), or deleted and created anew under
                # the same name (another identity: its own uid, store and cache namespace)
                collection.close()
                del self._open[name]
            info = Collection.read_info(name, self.settings)
            shared = self.embedder(info.embedder)
            collection = Collection.open(
                name, self.settings, embedder=shared, on_chunks_removed=self.on_chunks_removed
            )
            if self.warm:
                # The store and the keyword index open lazily; concurrent first requests
                # racing to open one store made Chroma fail. Load the model now as well.
                _ = collection.store
                collection.keyword.load()
                collection.embedder.embed_query("warm-up")
            self._open[name] = (collection, collection.index_version, _stamp(collection.path))
            if self.on_open is not None:
                self.on_open(collection)
            return collection

    def forget(self, name: str) -> None:
        """Close ``name`` (deleted or replaced); the next ``get`` opens it afresh."""
        with self._lock:
            entry = self._open.pop(name, None)
            if entry is not None:
                entry[0].close()

    def close(self) -> None:
        with self._lock:
            for collection, _version, _stamp_of in self._open.values():
                collection.close()
            self._open.clear()


def _stamp(path: Path) -> tuple[int, int]:
    """Which ``collection.json`` a collection was opened from (inode, modification time);
    (0, 0) when there is none any more."""
    try:
        meta = (path / "collection.json").stat()
    except OSError:
        return (0, 0)
    return (meta.st_ino, meta.st_mtime_ns)
