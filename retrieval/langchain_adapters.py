"""LangChain adapters, so ragline drops into existing LangChain code.

- :class:`RaglineEmbeddings` — a LangChain ``Embeddings`` over a ragline ``Embedder``.
- :class:`RaglineVectorStore` — a LangChain ``VectorStore`` over a ragline ``VectorStore``
  (or a whole ``Collection``, whose keyword index then moves with it).
- :class:`RaglineRetriever` — a LangChain ``BaseRetriever`` over ``ragline.retrieval.retrievers``
  (dense, bm25 or hybrid, with filters, MMR and rerank as configured).

They pass the ``langchain-tests`` standard suites (tests/retrieval/test_langchain_adapters.py).
Only this module imports langchain-core; ``import ragline.retrieval`` does not.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore as LCVectorStore
from pydantic import ConfigDict, Field

from ragline.retrieval import embedders
from ragline.retrieval.embedders.base import Embedder, l2_normalise
from ragline.retrieval.errors import UsageError
from ragline.retrieval.mmr import mmr_select
from ragline.retrieval.stores import VectorStore, open_store
from ragline.retrieval.types import DOC_ID, POSITION, Chunk, Filter, Hit, MetaValue

if TYPE_CHECKING:
    from ragline.retrieval.collection import Collection

ADDED_KEYS = "_ragline_added"
"""Metadata key listing the keys the adapter added (doc_id, position); removed on read."""


class RaglineEmbeddings(Embeddings):
    """``Embeddings`` over a ragline embedder, given or loaded by name (``minilm``, ``use-m3``)."""

    def __init__(self, embedder: Embedder | None = None, model: str = "minilm") -> None:
        self.model = model
        self._embedder = embedder

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = embedders.load_embedder(self.model)
        return self._embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = np.asarray(self.embedder.embed_documents(texts), dtype=np.float32)
        return [[float(x) for x in row] for row in vectors]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in np.asarray(self.embedder.embed_query(text), dtype=np.float32)]


def to_document(hit: Hit | Chunk, with_scores: bool = False) -> Document:
    metadata: dict[str, Any] = dict(hit.metadata)
    added = str(metadata.pop(ADDED_KEYS, ""))
    for key in filter(None, added.split(",")):
        metadata.pop(key, None)
    if with_scores and isinstance(hit, Hit):
        metadata["score"] = hit.score
        metadata["scores"] = dict(hit.scores)
    chunk_id = hit.chunk_id if isinstance(hit, Hit) else hit.id
    return Document(page_content=hit.text, metadata=metadata, id=chunk_id)


def to_filter(where: Filter | dict[str, MetaValue] | None) -> Filter | None:
    if where is None or isinstance(where, Filter):
        return where
    if isinstance(where, dict):
        return Filter.where(**where)
    raise UsageError("filter must be a retrieval Filter or a dict of metadata equalities")


def _chunk(text: str, metadata: dict[str, Any], chunk_id: str) -> Chunk:
    meta: dict[str, MetaValue] = {}
    for key, value in metadata.items():
        if not isinstance(value, str | int | float | bool):
            raise UsageError(f"metadata {key!r} must be a string, number or boolean")
        meta[key] = value
    added = [k for k in (DOC_ID, POSITION) if k not in meta]
    doc_id = str(meta.get(DOC_ID, chunk_id))
    position = meta.get(POSITION, 0)
    meta.setdefault(DOC_ID, doc_id)
    meta.setdefault(POSITION, position)
    if added:
        meta[ADDED_KEYS] = ",".join(added)
    pos = int(position) if isinstance(position, int | float) else 0
    return Chunk(chunk_id, doc_id, text, pos, meta)


class RaglineVectorStore(LCVectorStore):
    """A LangChain vector store backed by a ragline store (Chroma, FAISS, torch).

    Writes go through ``target`` — a ``Collection`` (so its keyword index stays in step) or
    the store itself; ids are the chunk ids. ``filter`` in searches is a ``Filter`` or a dict
    of metadata equalities, applied inside the store's search.
    """

    def __init__(
        self,
        store: VectorStore,
        embedding: Embeddings,
        target: Collection | VectorStore | None = None,
    ) -> None:
        self.store = store
        self.embedding = embedding
        self.target = target if target is not None else store

    @classmethod
    def from_collection(cls, collection: Collection) -> RaglineVectorStore:
        return cls(collection.store, RaglineEmbeddings(collection.embedder), collection)

    @property
    def embeddings(self) -> Embeddings:
        return self.embedding

    # -- writes ---------------------------------------------------------------------------
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        items = list(texts)
        if not items:
            return []
        metas = metadatas or [{} for _ in items]
        keys = list(ids) if ids is not None else [uuid.uuid4().hex for _ in items]
        if len(metas) != len(items) or len(keys) != len(items):
            raise UsageError("texts, metadatas and ids must have the same length")
        chunks = [_chunk(t, dict(m), i) for t, m, i in zip(items, metas, keys, strict=True)]
        vectors = l2_normalise(np.asarray(self.embedding.embed_documents(items), dtype=np.float32))
        self.target.upsert(chunks, vectors)
        return keys

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        ids = kwargs.pop("ids", None)
        if ids is None and any(d.id for d in documents):
            ids = [d.id or uuid.uuid4().hex for d in documents]
        return self.add_texts(
            [d.page_content for d in documents],
            [dict(d.metadata) for d in documents],
            ids=ids,
            **kwargs,
        )

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        if ids is None:
            raise UsageError("delete needs the ids to remove")
        self.target.delete(list(ids))
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [to_document(c) for c in self.store.get(list(ids))]

    # -- searches -------------------------------------------------------------------------
    def _hits(self, vector: Sequence[float], k: int, where: Any) -> list[Hit]:
        query = l2_normalise(np.asarray(vector, dtype=np.float32))
        if k <= 0 or self.store.count() == 0:
            return []
        return self.store.search(query, k, to_filter(where))[0]

    def similarity_search(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[Document]:
        return self.similarity_search_by_vector(self.embedding.embed_query(query), k, filter)

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[Document]:
        return [to_document(h) for h in self._hits(embedding, k, filter)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        hits = self._hits(self.embedding.embed_query(query), k, filter)
        return [(to_document(h), h.score) for h in hits]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return lambda cosine: (cosine + 1.0) / 2.0

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> list[Document]:
        hits = self._hits(self.embedding.embed_query(query), max(k, fetch_k), filter)
        if not hits:
            return []
        vectors = l2_normalise(
            np.asarray(self.embedding.embed_documents([h.text for h in hits]), dtype=np.float32)
        )
        picked = mmr_select([h.score for h in hits], vectors, k, lambda_mult)
        return [to_document(hits[i]) for i in picked]

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        backend: str = "faiss",
        path: str | Path | None = None,
        **kwargs: Any,
    ) -> RaglineVectorStore:
        """A new store (``backend`` under ``path``, a temporary directory by default)."""
        dim = len(embedding.embed_query("dimension probe"))
        folder = Path(path) if path is not None else Path(tempfile.mkdtemp(prefix="ragline-lc-"))
        store = cls(open_store(backend, folder, dim), embedding)
        store.add_texts(texts, metadatas, ids=ids)
        return store


class RaglineRetriever(BaseRetriever):
    """A LangChain retriever over a ragline collection: ``mode`` dense, bm25 or hybrid."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    collection: Any = Field(description="a retrieval.collection.Collection")
    k: int = 4
    mode: str = "hybrid"
    filter: Any = None
    options: dict[str, Any] = Field(default_factory=dict)
    """Other retrieval options (``RetrievalSettings`` fields: rrf_k, weights, mmr, ...)."""

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        from ragline.retrieval.retrievers import search
        from ragline.retrieval.settings import SEARCH_MODES

        mode = kwargs.get("mode", self.mode)
        if mode not in SEARCH_MODES:
            raise UsageError(f"unknown mode {mode!r}; choose one of {', '.join(SEARCH_MODES)}")
        options = self.collection.settings.retrieval.override(
            **{**self.options, "mode": mode, "k": int(kwargs.get("k", self.k))}
        )
        where = to_filter(kwargs.get("filter", self.filter))
        result = search(self.collection, query, options, where)
        return [to_document(h, with_scores=True) for h in result.hits]
