"""The Embedder protocol and helpers every backend shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class TokenCounter(Protocol):
    """Counts tokens the way an embedder's model does, without loading the model."""

    max_tokens: int
    """Longest text, in tokens, that the model embeds without truncating it."""

    def count(self, text: str) -> int: ...


@runtime_checkable
class Embedder(Protocol):
    model_id: str
    """Identifies model and weights; part of cache keys and the collection's identity."""
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array (len(texts), dim), rows L2-normalised."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """float32 vector (dim,), L2-normalised."""
        ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


def embed_queries(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Queries as one (len(texts), dim) float32 array: in one batch where the embedder has
    ``embed_queries`` (a batch of short queries costs a fraction of one call per query),
    else one ``embed_query`` call each."""
    batch = getattr(embedder, "embed_queries", None)
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    if callable(batch):
        return np.asarray(batch(texts), dtype=np.float32)
    return np.stack([np.asarray(embedder.embed_query(t), dtype=np.float32) for t in texts])
