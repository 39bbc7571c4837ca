"""A persistent, incrementally updated BM25 index (scoring by bm25s).

Layout under the index directory:

- ``keyword.sqlite`` — the source of truth, updated in place by ``upsert``/``delete``: one row
  per chunk (id, document, text, metadata, tokens) plus the :class:`KeywordConfig` and a
  *generation* counter bumped by every change. Only new or changed chunks are tokenised.
- ``matrix-<generation>/`` — bm25s' score matrix for that generation and the row → chunk id
  map, and under ``documents/`` a second matrix over whole documents (each document's chunk
  tokens together: document-level evidence for fusion, :meth:`KeywordIndex.search_documents`).
  BM25 weights depend on corpus-wide statistics (idf, average length), so after a change
  the matrices are derived again from the stored tokens — once, on the first search that
  needs them (no re-tokenising), then saved and reused by every later query and process.

Filters are applied inside the search: non-matching rows get a zero weight before the top-k
selection, so ``k`` hits come back whenever ``k`` matching chunks contain a query term.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ragline.retrieval.keyword.tokenize import KeywordConfig, Tokenizer
from ragline.retrieval.types import DOC_ID, POSITION, Chunk, Filter, Hit, MetaValue

log = logging.getLogger(__name__)

_PART = 3
"""The shortest part of a closed compound found written apart ("net" + "mask")."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    tokens TEXT NOT NULL
);
"""


@dataclass
class _Matrix:
    """In-memory bm25s models for one generation (chunks, and whole documents), with
    row-aligned ids and metadata."""

    generation: int
    model: Any  # bm25s.BM25; None when the index is empty
    chunk_ids: list[str]
    metadata: list[dict[str, Any]]
    documents: Any  # bm25s.BM25 over whole documents; None when the index is empty
    doc_ids: list[str]
    _places: dict[str, tuple[str, int]] | None = None

    @property
    def places(self) -> dict[str, tuple[str, int]]:
        """chunk id → (document id, position in the document)."""
        if self._places is None:
            self._places = {
                cid: (str(meta.get(DOC_ID, "")), int(meta.get(POSITION, 0)))
                for cid, meta in zip(self.chunk_ids, self.metadata, strict=True)
            }
        return self._places


class KeywordIndex:
    """BM25 over a collection's chunks; ``upsert``/``delete`` keep it in step with the store."""

    def __init__(self, path: Path, config: KeywordConfig | None = None) -> None:
        """Open the index at ``path``, creating it with ``config`` if it does not exist yet.

        An existing index keeps the configuration it was built with.
        """
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path / "keyword.sqlite", timeout=30.0, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)
        stored = self._meta("config")
        if stored is None:
            self.config = config or KeywordConfig()
            with self.db:
                self.db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('config', ?)", (self.config.to_json(),)
                )
                self.db.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
            stored = self._meta("config")
        assert stored is not None
        self.config = KeywordConfig.from_json(stored)
        self.tokenizer = Tokenizer(self.config)
        self._lock = threading.Lock()
        self._matrix: _Matrix | None = None

    # -- state ----------------------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @property
    def generation(self) -> int:
        return int(self._meta("generation") or 0)

    @property
    def complete(self) -> bool:
        """False until a back-fill from an older collection's store has finished."""
        return self._meta("complete") == "1"

    def mark_complete(self) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('complete', '1')")

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def ids(self) -> set[str]:
        return {str(r[0]) for r in self.db.execute("SELECT chunk_id FROM chunks")}

    def close(self) -> None:
        self._matrix = None
        self.db.close()

    # -- writes ---------------------------------------------------------------------------
    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Add or replace chunks (idempotent by id); only these chunks are tokenised."""
        if not chunks:
            return
        rows = [
            (
                c.id,
                c.doc_id,
                c.text,
                json.dumps(dict(c.metadata), ensure_ascii=False, sort_keys=True),
                " ".join(self.tokenizer.tokenize(c.text)),
            )
            for c in chunks
        ]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?)", rows)
            self._bump()

    def delete(self, chunk_ids: Iterable[str]) -> int:
        """Remove chunks; ids that are not there are ignored. Returns how many went."""
        ids = [(i,) for i in chunk_ids]
        if not ids:
            return 0
        with self.db:
            before = self.db.total_changes
            self.db.executemany("DELETE FROM chunks WHERE chunk_id=?", ids)
            removed = self.db.total_changes - before
            if removed:
                self._bump()
        return removed

    def _bump(self) -> None:
        self.db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")

    # -- reads ----------------------------------------------------------------------------
    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        """Stored chunks among ``chunk_ids``, in the given order (missing ids left out)."""
        found: dict[str, Chunk] = {}
        for start in range(0, len(chunk_ids), 500):
            part = list(chunk_ids[start : start + 500])
            marks = ",".join("?" * len(part))
            for cid, doc_id, text, meta in self.db.execute(
                f"SELECT chunk_id, doc_id, text, metadata FROM chunks WHERE chunk_id IN ({marks})",
                part,
            ):
                metadata: dict[str, MetaValue] = json.loads(meta)
                position = int(metadata.get("position", 0))
                found[cid] = Chunk(cid, doc_id, text, position, metadata)
        return [found[i] for i in chunk_ids if i in found]

    def load(self) -> None:
        """Load the score matrix now rather than on the first search."""
        self._current()

    def search(self, query: str, k: int, where: Filter | None = None) -> list[Hit]:
        """Up to ``k`` chunks containing a query term, best BM25 score first."""
        ranked = self.search_ids(query, k, where)
        chunks = {c.id: c for c in self.get([cid for cid, _ in ranked])}
        hits = []
        for cid, score in ranked:
            chunk = chunks.get(cid)
            if chunk is None:  # deleted by another process since the matrix was built
                continue
            hits.append(
                Hit(chunk.id, chunk.doc_id, chunk.text, score, chunk.metadata, {"bm25": score})
            )
        return hits

    def search_ids(
        self, query: str, k: int, where: Filter | None = None
    ) -> list[tuple[str, float]]:
        """:meth:`search` as (chunk id, score) pairs, without reading the chunks."""
        matrix = self._current()
        tokens = self.tokenizer.tokenize_query(query)
        return _top(matrix.model, matrix.chunk_ids, tokens, k, where, matrix.metadata)

    def search_documents(self, query: str, k: int) -> list[tuple[str, float]]:
        """Up to ``k`` (document id, score) pairs, best first: BM25 over whole documents
        (all of a document's chunks as one text), unfiltered."""
        matrix = self._current()
        return _top(matrix.documents, matrix.doc_ids, self.tokenizer.tokenize_query(query), k)

    def mentions(self, text: str) -> bool:
        """Whether every keyword token of ``text`` occurs in some indexed chunk (tokenised as
        the chunks are: ``hostnames`` is mentioned by a chunk saying ``hostname``), or, for
        one word, as two words side by side (``netmask`` by a chunk saying "net mask"). Text
        of nothing but stop words is mentioned; nothing is in an empty index."""
        matrix = self._current()
        tokens = self.tokenizer.tokenize(text)
        if matrix.model is None:
            return not tokens
        vocabulary = matrix.model.vocab_dict
        if all(token in vocabulary for token in tokens):
            return True
        word = text.strip()
        return len(tokens) == 1 and self._written_apart(word, vocabulary)

    def _written_apart(self, word: str, vocabulary: Mapping[str, int]) -> bool:
        """Whether a Latin-letter ``word`` is two words of at least ``_PART`` letters that
        some chunk writes side by side, apart or hyphenated ("net mask"; not "subnet mask",
        nor "the net of a mask"). A scan of the stored text, made only for a word the
        vocabulary lacks and whose two parts it has."""
        if not (word.isascii() and word.isalpha()):
            return False
        for cut in range(_PART, len(word) - _PART + 1):
            head, tail = word[:cut], word[cut:]
            parts = [self.tokenizer.tokenize(head), self.tokenizer.tokenize(tail)]
            if not all(len(part) == 1 and part[0] in vocabulary for part in parts):
                continue
            apart = re.compile(rf"\b{head}[ -]{tail}\b", re.IGNORECASE)
            rows = self.db.execute(
                "SELECT text FROM chunks WHERE text LIKE ? OR text LIKE ?",
                (f"%{head} {tail}%", f"%{head}-{tail}%"),
            )
            if any(apart.search(str(found)) for (found,) in rows):
                return True
        return False

    def places(self, chunk_ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        """(document id, position in the document) of each indexed chunk among ``chunk_ids``."""
        known = self._current().places
        return {cid: place for cid in chunk_ids if (place := known.get(cid)) is not None}

    # -- the derived score matrix ---------------------------------------------------------
    def _current(self) -> _Matrix:
        generation = self.generation
        matrix = self._matrix
        if matrix is not None and matrix.generation == generation:
            return matrix
        with self._lock:
            matrix = self._matrix
            if matrix is None or matrix.generation != generation:
                matrix = self._load(generation) or self._build(generation)
                self._matrix = matrix
        return matrix

    def _matrix_dir(self, generation: int) -> Path:
        return self.path / f"matrix-{generation}"

    def _load(self, generation: int) -> _Matrix | None:
        folder = self._matrix_dir(generation)
        rows_file = folder / "rows.json"
        if not rows_file.is_file():
            return None
        try:
            bm25s = _bm25s()
            rows = json.loads(rows_file.read_text(encoding="utf-8"))
            model = documents = None
            if rows["chunk_ids"]:
                model = bm25s.BM25.load(str(folder), show_progress=False, verbosity=0)
                documents = bm25s.BM25.load(
                    str(folder / "documents"), show_progress=False, verbosity=0
                )
            return _Matrix(
                generation, model, rows["chunk_ids"], rows["metadata"], documents, rows["doc_ids"]
            )
        except (OSError, ValueError, KeyError) as exc:
            # e.g. saved by an older ragline without the document matrix: rebuilt, and saved
            # in its place (a folder that is there is never overwritten)
            log.warning("keyword matrix %s unreadable (%s); rebuilding", folder, exc)
            shutil.rmtree(folder, ignore_errors=True)
            return None

    def _build(self, generation: int) -> _Matrix:
        bm25s = _bm25s()
        chunk_ids: list[str] = []
        metadata: list[dict[str, Any]] = []
        corpus: list[list[str]] = []
        by_doc: dict[str, list[str]] = {}
        # A snapshot read: rows and generation agree even while another process writes.
        with self.db:
            self.db.execute("BEGIN")
            current = self.generation
            for cid, doc_id, meta, tokens in self.db.execute(
                "SELECT chunk_id, doc_id, metadata, tokens FROM chunks ORDER BY chunk_id"
            ):
                chunk_ids.append(cid)
                metadata.append(json.loads(meta))
                corpus.append(tokens.split())
                by_doc.setdefault(doc_id, []).extend(corpus[-1])
        model = documents = None
        doc_ids = sorted(by_doc)
        if any(corpus):  # chunks of nothing but stop words and punctuation give no model
            c = self.config
            model = bm25s.BM25(k1=c.k1, b=c.b, method=c.method)
            model.index(corpus, show_progress=False)
            documents = bm25s.BM25(k1=c.k1, b=c.b, method=c.method)
            documents.index([by_doc[d] for d in doc_ids], show_progress=False)
        matrix = _Matrix(current, model, chunk_ids, metadata, documents, doc_ids)
        if current == generation:
            self._save(matrix)
        return matrix

    def _save(self, matrix: _Matrix) -> None:
        final = self._matrix_dir(matrix.generation)
        tmp = self.path / f".tmp-matrix-{matrix.generation}-{threading.get_ident()}"
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            if matrix.model is not None:
                matrix.model.save(str(tmp), show_progress=False)
                matrix.documents.save(str(tmp / "documents"), show_progress=False)
            rows = {
                "chunk_ids": matrix.chunk_ids,
                "metadata": matrix.metadata,
                "doc_ids": matrix.doc_ids,
            }
            (tmp / "rows.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
            if final.exists():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.rename(final)
        except OSError as exc:  # a read-only or full disk costs speed, never correctness
            log.warning("cannot save keyword matrix to %s: %s", final, exc)
            shutil.rmtree(tmp, ignore_errors=True)
            return
        for old in self.path.glob("matrix-*"):
            number = old.name.removeprefix("matrix-")
            if old != final and number.isdigit() and int(number) < matrix.generation:
                shutil.rmtree(old, ignore_errors=True)


def _top(
    model: Any,
    ids: Sequence[str],
    tokens: Sequence[str],
    k: int,
    where: Filter | None = None,
    metadata: Sequence[dict[str, Any]] = (),
) -> list[tuple[str, float]]:
    """The ``k`` best-scoring rows of ``model`` for ``tokens`` (rows whose ``metadata`` does
    not match ``where`` left out), as (id, score), best first; ties by id so the order is
    deterministic."""
    if k <= 0 or not tokens or model is None:
        return []
    token_ids = model.get_tokens_ids(list(tokens))
    if not token_ids:
        return []
    scores = np.asarray(model.get_scores_from_ids(token_ids), dtype=np.float64)
    if where:
        mask = np.fromiter((where.matches(m) for m in metadata), dtype=bool, count=len(scores))
        scores = np.where(mask, scores, 0.0)
    positive = np.flatnonzero(scores > 0)
    if positive.size == 0:
        return []
    if positive.size > k:
        positive = positive[np.argpartition(-scores[positive], k - 1)[:k]]
    order = sorted(positive.tolist(), key=lambda r: (-scores[r], ids[r]))
    return [(ids[r], float(scores[r])) for r in order]


def _bm25s() -> Any:
    """bm25s, imported on first use; it sets its own logger to DEBUG on import, which would
    print a line per index build whatever the application's log level is."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s
