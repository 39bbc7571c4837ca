"""The keyword (BM25) side of a collection: tokeniser, persistent index, and opening it.

Importing this package is cheap: bm25s, jieba and PyStemmer load on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from ragline.retrieval.catalog import Catalog
from ragline.retrieval.keyword.bm25_index import KeywordIndex
from ragline.retrieval.keyword.tokenize import KeywordConfig, Tokenizer
from ragline.retrieval.settings import RetrievalSettings
from ragline.retrieval.stores.base import VectorStore

log = logging.getLogger(__name__)

_BACKFILL_BATCH = 512


def config_for(language: str, settings: RetrievalSettings) -> KeywordConfig:
    """The keyword configuration a new index of a ``language`` collection gets."""
    return KeywordConfig(
        language=language,
        cjk=settings.bm25_cjk,
        stemmer=settings.bm25_stemmer,
        stopwords=settings.bm25_stopwords,
        k1=settings.bm25_k1,
        b=settings.bm25_b,
    )


def open_collection_index(
    path: Path,
    language: str,
    settings: RetrievalSettings,
    catalog: Catalog,
    store: Callable[[], VectorStore],
) -> KeywordIndex:
    """Open a collection's keyword index; a collection built before it existed is back-filled
    once from its vector store (the catalog lists every stored chunk id)."""
    fresh = not (path / "keyword.sqlite").is_file()
    index = KeywordIndex(path, config_for(language, settings))
    if fresh and catalog.index_version == 0:
        index.mark_complete()  # a new, empty collection: nothing to back-fill
    elif not index.complete:
        backfill(index, catalog, store())
    return index


def backfill(index: KeywordIndex, catalog: Catalog, store: VectorStore) -> int:
    """Index every chunk the store holds for the catalog's documents; returns how many."""
    ids = sorted({i for record in catalog.documents() for i in record.stored_ids} - index.ids())
    log.info("building the keyword index from %d stored chunks", len(ids))
    added = 0
    for start in range(0, len(ids), _BACKFILL_BATCH):
        chunks = store.get(ids[start : start + _BACKFILL_BATCH])
        index.upsert(chunks)
        added += len(chunks)
    index.mark_complete()
    return added


__all__ = [
    "KeywordConfig",
    "KeywordIndex",
    "Tokenizer",
    "backfill",
    "config_for",
    "open_collection_index",
]
