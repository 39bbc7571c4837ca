"""Embedders by name. Backends import lazily: naming one never loads torch."""

from __future__ import annotations

from ragline.retrieval.embedders.base import Embedder, TokenCounter, l2_normalise
from ragline.retrieval.errors import ConfigError
from ragline.retrieval.settings import EmbeddingSettings

ENGLISH = "minilm"
MULTILINGUAL = "use-m3"
E5 = "e5-small"
NAMES = (ENGLISH, MULTILINGUAL, E5)


def _check(name: str) -> None:
    if name not in NAMES:
        raise ConfigError(f"unknown embedder {name!r}; choose one of {', '.join(NAMES)} or auto")


def for_language(language: str) -> str:
    """The embedder a new collection in ``language`` gets by default: multilingual-e5-small
    for every language (docs/retrieval-quality.md). On English it ranks as well as MiniLM,
    on Chinese far better than USE-m3, and questions asked in another language than the
    collection's find their answers. ``minilm`` stays available: English-only collections
    that must ingest fastest."""
    del language  # one model for all: a collection's queries may come in any language
    return E5


def token_counter(name: str) -> TokenCounter:
    """Token counting for chunk sizes, without loading the model weights."""
    _check(name)
    if name == ENGLISH:
        from ragline.retrieval.embedders.sentence import HFTokenCounter, minilm_path

        return HFTokenCounter(minilm_path())
    if name == E5:
        from ragline.retrieval.embedders.e5 import E5TokenCounter

        return E5TokenCounter()
    from ragline.retrieval.embedders.use import UseTokenCounter

    return UseTokenCounter()


def load_embedder(
    name: str, settings: EmbeddingSettings | None = None, *, serving: bool = False
) -> Embedder:
    """The embedder called ``name``. ``serving``: for a server, where many short questions
    arrive at once and are embedded in batches: USE runs one thread per call (two threads
    managed 6 questions/s at 8 concurrent callers on 2 cores, one thread 250/s) and e5
    embeds questions through torch (twice the engine's speed per question in a batch;
    bench/load.py: 47 -> 98 requests/s on an e5 collection)."""
    _check(name)
    settings = settings or EmbeddingSettings()
    if name == ENGLISH:
        from ragline.retrieval.embedders.sentence import (
            MINILM_ID,
            SentenceTransformerEmbedder,
            minilm_path,
        )

        return SentenceTransformerEmbedder(
            minilm_path(),
            MINILM_ID,
            device=settings.device,
            precision=settings.precision,
            batch_size=settings.batch_size,
        )
    if name == E5:
        from ragline.retrieval.embedders.e5 import E5Embedder

        return E5Embedder(
            batch_size=settings.batch_size,
            precision=settings.precision,
            query_runtime="torch" if serving else "engine",
        )
    from ragline.retrieval.embedders.use import UseEmbedder

    return UseEmbedder(batch_size=settings.batch_size, threads=1 if serving else 0)


__all__ = [
    "E5",
    "ENGLISH",
    "MULTILINGUAL",
    "NAMES",
    "Embedder",
    "TokenCounter",
    "for_language",
    "l2_normalise",
    "load_embedder",
    "token_counter",
]
