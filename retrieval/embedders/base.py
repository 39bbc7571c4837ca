"""The Embedder protocol and helpers every backend shares."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from ragline.retrieval.errors import RaglineError

log = logging.getLogger(__name__)


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


def recompute_non_finite(
    vectors: np.ndarray, texts: Sequence[str], again: Callable[[list[str]], np.ndarray]
) -> np.ndarray:
    """``vectors`` with every row that holds NaN or infinity computed again by ``again``.

    Reduced-precision (bf16) CPU kernels have given NaN rows on some CPUs (Intel AMX in CI,
    never on AVX512-BF16 here) for texts that embed fine in fp32; ``again`` is the same model
    in fp32. A row still not finite then is an error: a store refuses such vectors anyway."""
    bad: list[int] = np.flatnonzero(~np.isfinite(vectors).all(axis=1)).tolist()
    if not bad:
        return vectors
    log.warning(
        "%d of %d embeddings were not finite; computing them again in fp32", len(bad), len(texts)
    )
    fixed = np.asarray(again([texts[i] for i in bad]), dtype=np.float32)
    if not np.isfinite(fixed).all():
        raise RaglineError(f"the embedding model gave NaN for {texts[bad[0]][:80]!r} in fp32 too")
    out = np.array(vectors, dtype=np.float32)
    out[bad] = fixed
    return out


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
