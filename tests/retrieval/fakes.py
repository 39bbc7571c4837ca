"""Test doubles for the retrieval tests: an in-memory VectorStore, a bag-of-words embedder,
and a Collection built on them (no model, no Chroma/FAISS)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from ragline.retrieval.collection import Collection, CollectionInfo
from ragline.retrieval.embedders.base import l2_normalise
from ragline.retrieval.stores import REGISTRY
from ragline.retrieval.stores.filters import clean_metadata
from ragline.retrieval.stores.sidecar import as_matrix, chunk_vectors
from ragline.retrieval.types import Chunk, Filter, Hit, MetaValue
from ragline.settings import Settings

DIM = 64


class MemoryStore:
    """Exact cosine search over a dict; filters applied before the top-k cut."""

    def __init__(self, path: Path | None = None, dim: int = DIM, **_: object) -> None:
        self.dim = dim
        self.chunks: dict[str, Chunk] = {}
        self.vectors: dict[str, np.ndarray] = {}

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        matrix = chunk_vectors(chunks, vectors, self.dim)
        for chunk, vector in zip(chunks, matrix, strict=True):
            kept = Chunk(
                chunk.id, chunk.doc_id, chunk.text, chunk.position, clean_metadata(chunk.metadata)
            )
            self.chunks[chunk.id] = kept
            self.vectors[chunk.id] = vector

    def delete(self, chunk_ids: Iterable[str]) -> int:
        removed = 0
        for cid in chunk_ids:
            if self.chunks.pop(cid, None) is not None:
                del self.vectors[cid]
                removed += 1
        return removed

    def search(self, vectors: np.ndarray, k: int, where: Filter | None = None) -> list[list[Hit]]:
        out = []
        for q in as_matrix(vectors, self.dim, "queries"):
            scored = [
                (float(self.vectors[cid] @ q), cid)
                for cid, c in self.chunks.items()
                if where is None or where.matches(c.metadata)
            ]
            scored.sort(key=lambda t: (-t[0], t[1]))
            out.append(
                [
                    Hit(
                        cid,
                        self.chunks[cid].doc_id,
                        self.chunks[cid].text,
                        s,
                        self.chunks[cid].metadata,
                    )
                    for s, cid in scored[:k]
                ]
            )
        return out

    def search_ids(
        self, vectors: np.ndarray, k: int, where: Filter | None = None
    ) -> list[list[tuple[str, float]]]:
        return [[(h.chunk_id, h.score) for h in row] for row in self.search(vectors, k, where)]

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        return [self.chunks[i] for i in chunk_ids if i in self.chunks]

    def count(self) -> int:
        return len(self.chunks)

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


_STORES: dict[str, MemoryStore] = {}


def memory_store(path: Path, dim: int, **options: object) -> MemoryStore:
    """Factory of the "memory" backend: one store per path, kept across reopen."""
    return _STORES.setdefault(str(path), MemoryStore(path, dim))


def register_memory_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make "memory" a store backend for one test (the root conftest does it for every
    test); the production registry is untouched outside tests."""
    monkeypatch.setitem(REGISTRY, "memory", "tests.retrieval.fakes:memory_store")


class BagOfWordsEmbedder:
    """Hashed bag of lower-cased words: similar wording gives similar vectors."""

    model_id = "test/bag-of-words"
    dim = DIM

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                bucket = int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM
                out[row, bucket] += 1.0
        return l2_normalise(out)

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self.embed_documents([text])[0], dtype=np.float32)


class Synonyms:
    """An embedder that knows "erase" means "delete": each text's vector is its concept."""

    model_id, dim = "test/synonyms", 3
    concepts: ClassVar[dict[str, int]] = {"delete": 0, "erase": 0, "copy": 1}

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.full((len(texts), self.dim), 0.01, dtype=np.float32)
        for row, text in enumerate(texts):
            for word, concept in self.concepts.items():
                if word in text.lower():
                    out[row, concept] = 1.0
            out[row, 2] += 0.1 * (row + 1)  # an unrelated sentence is nearest nothing
        normed: np.ndarray = out / np.linalg.norm(out, axis=1, keepdims=True)
        return normed

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self.embed_documents([text])[0])


def make_collection(
    settings: Settings, name: str = "test", language: str = "en", dim: int = DIM
) -> Collection:
    """A collection on the in-memory store; ``dim`` other than the bag-of-words embedder's
    for vectors made elsewhere (its own embedder is then not used)."""
    path = settings.collections_dir / name
    path.mkdir(parents=True, exist_ok=True)
    info = CollectionInfo(
        name, "minilm", BagOfWordsEmbedder.model_id, dim, "memory", language, 200, 32, 0.0
    )
    return Collection(path, info, settings, embedder=BagOfWordsEmbedder())


def chunk(doc: str, text: str, position: int = 0, **meta: MetaValue) -> Chunk:
    base: dict[str, MetaValue] = {"source": f"/docs/{doc}.txt", "file_type": "txt"}
    base.update(meta)
    return Chunk.create(doc, text, position, base)


def add(collection: Collection, chunks: Sequence[Chunk]) -> None:
    vectors = BagOfWordsEmbedder().embed_documents([c.text for c in chunks])
    collection.upsert(chunks, vectors)


def ids(hits: Iterable[Hit]) -> list[str]:
    return [h.chunk_id for h in hits]


def texts(hits: Iterable[Hit]) -> list[str]:
    return [h.text for h in hits]


def meta(hit: Hit) -> Mapping[str, MetaValue]:
    return hit.metadata
