"""Named collections in the data directory: identity, catalog, vector store and embedder.

``collections/<name>/collection.json`` fixes what a collection was built with (embedder,
model id, dimension, store backend, language, chunking); ``catalog.sqlite`` holds its
documents and index version; ``store/`` its vectors.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ragline.retrieval import embedders
from ragline.retrieval.catalog import Catalog
from ragline.retrieval.embedders.base import Embedder, TokenCounter, embed_queries
from ragline.retrieval.errors import CollectionMismatch, CollectionNotFound, UsageError
from ragline.retrieval.keyword import KeywordIndex, open_collection_index
from ragline.retrieval.locks import write_lock
from ragline.retrieval.settings import KernelConfig
from ragline.retrieval.stores import VectorStore, chroma_server
from ragline.retrieval.stores.select import open_auto, server_options
from ragline.retrieval.types import Chunk, Filter, Hit

SAME_FORMAT = frozenset({"faiss", "faiss-gpu", "torch", "auto"})
ChunksRemoved = Callable[[Sequence[str]], object]
"""Told the ids of chunks a write deleted or replaced (e.g. to evict cached answers)."""
log = logging.getLogger(__name__)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    embedder: str
    model_id: str
    dim: int
    store: str
    language: str
    chunk_size: int
    chunk_overlap: int
    created: float
    uid: str = ""
    """Random identity given at creation: a collection deleted and re-created under the same
    name is another collection (e.g. to the answer cache)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(
            f"invalid collection name {name!r}: use 1-63 letters, digits, '.', '_' or '-'"
        )
    return name


class Collection:
    """One collection's parts. ``embedder`` shares an already loaded model (else the
    collection loads its own on first use); ``on_chunks_removed`` is told the ids of every
    chunk a write removes or replaces."""

    def __init__(
        self,
        path: Path,
        info: CollectionInfo,
        settings: KernelConfig,
        *,
        embedder: Embedder | None = None,
        on_chunks_removed: ChunksRemoved | None = None,
    ) -> None:
        self.path = path
        self.info = info
        self.settings = settings
        self.catalog = Catalog(path / "catalog.sqlite")
        self._store: VectorStore | None = None
        self._embedder = (
            embedder if embedder is not None and embedder.model_id == info.model_id else None
        )
        self._on_chunks_removed = on_chunks_removed
        self.backend = info.store

    # -- lifecycle ------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        name: str,
        settings: KernelConfig,
        *,
        embedder: Embedder | None = None,
        on_chunks_removed: ChunksRemoved | None = None,
    ) -> Collection:
        """Open an existing collection; ``embedder`` shares an already loaded model (used
        only when it is the model the collection was built with)."""
        info = cls.read_info(name, settings)
        path = settings.collections_dir / name
        return cls(path, info, settings, embedder=embedder, on_chunks_removed=on_chunks_removed)

    @staticmethod
    def read_info(name: str, settings: KernelConfig) -> CollectionInfo:
        """What collection ``name`` was built with (CollectionNotFound if there is none)."""
        meta = settings.collections_dir / check_name(name) / "collection.json"
        if not meta.is_file():
            raise CollectionNotFound(
                f"collection {name!r} does not exist "
                f"(create it with: ragline ingest PATH --collection {name})"
            )
        data = json.loads(meta.read_text())
        data.setdefault("uid", f"created-{data.get('created', 0)!r}")  # made before uids
        return CollectionInfo(**data)

    @classmethod
    def create(
        cls,
        name: str,
        settings: KernelConfig,
        embedder: str,
        language: str,
        store: str,
        *,
        model: Embedder | None = None,
        on_chunks_removed: ChunksRemoved | None = None,
    ) -> Collection:
        """Create collection ``name`` embedded with the embedder named ``embedder``
        (``model``: that embedder, already loaded)."""
        path = settings.collections_dir / check_name(name)
        path.mkdir(parents=True, exist_ok=True)
        spec = model if model is not None else embedders.load_embedder(embedder, settings.embedding)
        info = CollectionInfo(
            name=name,
            embedder=embedder,
            model_id=spec.model_id,
            dim=spec.dim,
            store=store,
            language=language,
            chunk_size=settings.chunking.size,
            chunk_overlap=settings.chunking.overlap,
            created=time.time(),
            uid=uuid.uuid4().hex,
        )
        tmp = path / "collection.json.tmp"
        tmp.write_text(json.dumps(info.to_dict(), indent=2))
        os.replace(tmp, path / "collection.json")
        return cls(path, info, settings, embedder=spec, on_chunks_removed=on_chunks_removed)

    @staticmethod
    def exists(name: str, settings: KernelConfig) -> bool:
        return (settings.collections_dir / check_name(name) / "collection.json").is_file()

    def close(self) -> None:
        keyword = self.__dict__.pop("keyword", None)
        if keyword is not None:
            keyword.close()
        if self._store is not None:
            self._store.close()
            self._store = None
        self.catalog.close()

    def refresh(self) -> None:
        """Catch up with what other processes wrote (the keyword index does by itself)."""
        if self._store is not None:
            self._store.refresh()

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- parts ----------------------------------------------------------------------------
    @property
    def store(self) -> VectorStore:
        if self._store is None:
            backend = self.info.store
            requested = self.settings.store.backend
            if backend in SAME_FORMAT and requested in SAME_FORMAT:
                backend = requested  # FAISS CPU/GPU and torch share one on-disk format
            s = self.settings.store
            options: dict[str, Any] = {
                "index": s.faiss_index,
                "hnsw_m": s.hnsw_m,
                "hnsw_ef_search": s.hnsw_ef_search,
                **server_options(s, self.info.name, self.info.uid),
            }
            self.backend, self._store = open_auto(
                self.path / "store", self.info.dim, backend, **options
            )
        return self._store

    @cached_property
    def keyword(self) -> KeywordIndex:
        """The BM25 index (``keyword/``), built from the store on first open if missing."""
        return open_collection_index(
            self.path / "keyword",
            self.info.language,
            self.settings.retrieval,
            self.catalog,
            lambda: self.store,
        )

    @property
    def embedder(self) -> Embedder:
        """The collection's embedding model (the shared one given, else loaded now)."""
        if self._embedder is None:
            embedder = embedders.load_embedder(self.info.embedder, self.settings.embedding)
            if embedder.model_id != self.info.model_id:
                raise CollectionMismatch(
                    f"collection {self.info.name!r} was embedded with {self.info.model_id}, "
                    f"but {self.info.embedder!r} is now {embedder.model_id}; re-ingest it"
                )
            self._embedder = embedder
        return self._embedder

    @cached_property
    def token_counter(self) -> TokenCounter:
        return embedders.token_counter(self.info.embedder)

    @property
    def index_version(self) -> int:
        return self.catalog.index_version

    # -- writes (every index of the collection moves together) ----------------------------
    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Store chunks in the vector store and every secondary index; idempotent by id."""
        self.store.upsert(chunks, vectors)
        self.keyword.upsert(chunks)

    def delete(self, chunk_ids: Sequence[str]) -> int:
        """Remove chunks from the vector store and every secondary index."""
        removed = self.store.delete(chunk_ids)
        self.keyword.delete(chunk_ids)
        if self._on_chunks_removed is not None and chunk_ids:
            try:
                self._on_chunks_removed(list(chunk_ids))
            except Exception:  # a listener never fails the write that already happened
                log.exception("chunk-removal listener failed")
        return removed

    def remove_documents(self, doc_ids: Iterable[str]) -> tuple[int, int]:
        """Delete documents with every chunk they have (or had in flight); (documents, chunks)."""
        records = [r for r in map(self.catalog.document, doc_ids) if r is not None]
        if not records:
            return 0, 0
        ids = sorted({i for r in records for i in r.stored_ids})
        if ids:
            self.delete(ids)
        self.catalog.remove(r.doc_id for r in records)
        return len(records), sum(len(r.chunk_ids) for r in records)

    # -- queries --------------------------------------------------------------------------
    def search(self, query: str, k: int = 5, where: Filter | None = None) -> list[Hit]:
        """Dense search; ``ragline.retrieval.retrievers.search`` adds bm25, hybrid, MMR, rerank."""
        return self.search_many([query], k, where)[0]

    def search_many(
        self, queries: Sequence[str], k: int = 5, where: Filter | None = None
    ) -> list[list[Hit]]:
        """Dense search for several queries at once: one embedding batch, one store call."""
        if not queries:
            return []
        return self.store.search(embed_queries(self.embedder, queries), k, where)

    def stats(self) -> dict[str, Any]:
        counts = self.catalog.counts()
        return {
            "name": self.info.name,
            "documents": counts.get("done", 0) + counts.get("writing", 0),
            "failed": counts.get("failed", 0),
            "chunks": counts["chunks"],
            "index_version": self.index_version,
            "embedder": self.info.embedder,
            "model_id": self.info.model_id,
            "store": self.info.store,
            "language": self.info.language,
        }


def list_collections(settings: KernelConfig) -> list[str]:
    root = settings.collections_dir
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "collection.json").is_file())


def delete_collection(name: str, settings: KernelConfig) -> None:
    path = settings.collections_dir / check_name(name)
    store = settings.store
    with write_lock(
        settings.collections_dir, name, "delete collection", store.write_lock_timeout_s
    ):
        if not (path / "collection.json").is_file():
            raise CollectionNotFound(f"collection {name!r} does not exist")
        # Vectors on a Chroma server go first: if it is down nothing is removed yet.
        chroma_server.drop(path / "store", store.chroma_url, store.chroma_timeout_s)
        # Remove the identity file next: a half-deleted directory is never taken for one.
        (path / "collection.json").unlink()
        shutil.rmtree(path)
