"""Embedding cache keyed by (model id, chunk text hash): unchanged chunks are never re-embedded."""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragline.retrieval.embedders.base import Embedder, embed_queries
from ragline.retrieval.ids import text_hash

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model_id TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model_id, text_hash)
) WITHOUT ROWID;
"""


class EmbeddingCache:
    """A SQLite table of float32 vectors. Safe to share between collections."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def get_many(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):
            part = list(hashes[start : start + 500])
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT text_hash, vector FROM embeddings WHERE model_id=? AND text_hash IN ({marks})",
                [model_id, *part],
            )
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model_id: str, items: Sequence[tuple[str, np.ndarray]]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                [(model_id, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items],
            )

    def count(self, model_id: str | None = None) -> int:
        if model_id is None:
            row = self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()
        else:
            row = self._db.execute(
                "SELECT COUNT(*) FROM embeddings WHERE model_id=?", (model_id,)
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        self._db.close()


class CachedEmbedder:
    """Wraps an Embedder; document embeddings go through the cache (if any), queries do not."""

    def __init__(self, inner: Embedder, cache: EmbeddingCache | None) -> None:
        self.inner = inner
        self.cache = cache
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.hits = 0
        self.misses = 0

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        hashes = [text_hash(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        if self.cache is not None:
            found = self.cache.get_many(self.model_id, list(dict.fromkeys(hashes)))
        missing = {h: t for h, t in zip(hashes, texts, strict=True) if h not in found}
        if missing:
            keys = list(missing)
            vectors = self.inner.embed_documents([missing[k] for k in keys])
            fresh = list(zip(keys, vectors, strict=True))
            if self.cache is not None:
                self.cache.put_many(self.model_id, fresh)
            found.update(fresh)
        self.misses += len(missing)
        self.hits += len(texts) - len(missing)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, h in enumerate(hashes):
            out[i] = found[h]
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return embed_queries(self.inner, texts)


class RecentQueries:
    """Wraps an Embedder; remembers the last ``size`` query vectors.

    One answer embeds its question up to three times (retrieval, the semantic answer cache,
    few-shot example selection); with this in front of the shared embedder it is embedded
    once. Small on purpose: it is not a cache of everyone's questions (a load test cycling
    through hundreds of distinct queries never hits it), only of the ones just asked.
    Document embeddings pass through.
    """

    def __init__(self, inner: Embedder, size: int = 64) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.size = size
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:  # threads, device, batch_size of the inner one
        return getattr(self.inner, name)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self.embed_queries([text])[0]
        return vector

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            known = {t: self._recent[t] for t in texts if t in self._recent}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            fresh = embed_queries(self.inner, missing)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    vector.flags.writeable = False
                    known[text] = self._recent[text] = vector
                while len(self._recent) > self.size:
                    self._recent.popitem(last=False)
        with self._lock:
            for text in known:
                if text in self._recent:
                    self._recent.move_to_end(text)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = known[text]
        return out
