"""The SQLite sidecar: the source of truth of the FAISS and torch stores.

``meta.sqlite`` (WAL) holds every chunk with its integer search id (``fid``), text, metadata
JSON and float32 vector, plus a ``generation`` counter bumped in the same transaction as each
change. Search structures (a FAISS index file, a tensor on a GPU) are derived from it and
remember the generation they reflect, so a crash between writing the sidecar and writing a
derived file is detected on open and repaired by rebuilding from here.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ragline.retrieval.errors import CollectionMismatch
from ragline.retrieval.stores.filters import filter_sql, metadata_json
from ragline.retrieval.types import Chunk, Filter, Hit

FORMAT = 1
_BATCH = 500  # ids per IN (...) clause

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    fid INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc_id ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass
class Change:
    """What one upsert or delete did, for the derived structures to follow."""

    before: int
    """Generation before the change."""
    after: int
    added: list[int] = field(default_factory=list)
    """New fids, with their vectors in ``added_vectors`` (same order)."""
    added_vectors: np.ndarray | None = None
    replaced: list[int] = field(default_factory=list)
    """Existing fids whose vector changed, new vectors in ``replaced_vectors``."""
    replaced_vectors: np.ndarray | None = None
    removed: list[int] = field(default_factory=list)


def _batches(items: Sequence[Any], size: int = _BATCH) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class MetaDB:
    """Chunks, vectors and the generation counter of one store directory."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.executescript(_SCHEMA)
        with self._transaction():
            info = self._info()
            stored = info.get("dim")
            if stored is None:
                self._set("dim", dim)
                self._set("format", FORMAT)
                self._set("generation", 0)
                self._set("next_fid", 0)
            elif stored != dim:
                raise CollectionMismatch(
                    f"the store at {path.parent} holds {stored}-dimensional vectors, not {dim}"
                )

    # -- plumbing -------------------------------------------------------------------------
    def _transaction(self) -> _Tx:
        return _Tx(self._conn)

    def _info(self) -> dict[str, int]:
        return {k: int(v) for k, v in self._conn.execute("SELECT key, value FROM info")}

    def _get(self, key: str) -> int:
        row = self._conn.execute("SELECT value FROM info WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _set(self, key: str, value: int) -> None:
        self._conn.execute("INSERT OR REPLACE INTO info(key, value) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        self._conn.close()

    # -- reads ----------------------------------------------------------------------------
    def generation(self) -> int:
        return self._get("generation")

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        found: dict[str, Chunk] = {}
        unique = list(dict.fromkeys(chunk_ids))
        for part in _batches(unique):
            marks = ", ".join("?" for _ in part)
            rows = self._conn.execute(
                "SELECT chunk_id, doc_id, text, position, metadata FROM chunks "
                f"WHERE chunk_id IN ({marks})",
                list(part),
            )
            for cid, doc_id, text, position, meta in rows:
                found[cid] = Chunk(cid, doc_id, text, int(position), json.loads(meta))
        return [found[c] for c in chunk_ids if c in found]

    def fids_matching(self, where: Filter) -> np.ndarray:
        """Sorted int64 fids of the chunks whose metadata passes ``where``."""
        clause, params = filter_sql(where)
        rows = self._conn.execute(f"SELECT fid FROM chunks WHERE {clause} ORDER BY fid", params)
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def hits(self, scores: np.ndarray, fids: np.ndarray) -> list[list[Hit]]:
        """Per query, the hits for the fids (-1 = none) in the given order."""
        wanted = np.unique(fids[fids >= 0]).tolist()
        rows: dict[int, tuple[str, str, str, dict[str, Any]]] = {}
        for part in _batches(wanted):
            marks = ", ".join("?" for _ in part)
            for fid, cid, doc_id, text, meta in self._conn.execute(
                f"SELECT fid, chunk_id, doc_id, text, metadata FROM chunks WHERE fid IN ({marks})",
                list(part),
            ):
                rows[int(fid)] = (cid, doc_id, text, json.loads(meta))
        out: list[list[Hit]] = []
        for row_scores, row_fids in zip(scores.tolist(), fids.tolist(), strict=True):
            hits: list[Hit] = []
            for score, fid in zip(row_scores, row_fids, strict=True):
                found = rows.get(fid) if fid >= 0 else None
                if found is not None:  # a concurrent delete may have removed it
                    cid, doc_id, text, meta = found
                    hits.append(Hit(cid, doc_id, text, float(score), meta))
            out.append(hits)
        return out

    def ranked_ids(self, scores: np.ndarray, fids: np.ndarray) -> list[list[tuple[str, float]]]:
        """:meth:`hits` as (chunk id, score) pairs: only the ids are read."""
        wanted = np.unique(fids[fids >= 0]).tolist()
        names: dict[int, str] = {}
        for part in _batches(wanted):
            marks = ", ".join("?" for _ in part)
            for fid, cid in self._conn.execute(
                f"SELECT fid, chunk_id FROM chunks WHERE fid IN ({marks})", list(part)
            ):
                names[int(fid)] = cid
        return [
            [
                (names[fid], float(score))
                for score, fid in zip(row_scores, row_fids, strict=True)
                if fid in names
            ]
            for row_scores, row_fids in zip(scores.tolist(), fids.tolist(), strict=True)
        ]

    def iter_vectors(
        self, batch: int = 65536, fids: np.ndarray | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(fids, float32 vectors) in ascending fid order, ``batch`` rows at a time.

        Without ``fids``: every chunk. Memory stays bounded by ``batch`` either way.
        """
        if fids is None:
            cursor = self._conn.execute("SELECT fid, vector FROM chunks ORDER BY fid")
            while rows := cursor.fetchmany(batch):
                yield self._unpack(rows)
            return
        ordered = np.unique(fids)
        for start in range(0, len(ordered), batch):
            rows = []
            for part in _batches(ordered[start : start + batch].tolist()):
                marks = ", ".join("?" for _ in part)
                rows.extend(
                    self._conn.execute(
                        f"SELECT fid, vector FROM chunks WHERE fid IN ({marks}) ORDER BY fid",
                        list(part),
                    )
                )
            if rows:
                rows.sort(key=lambda r: int(r[0]))
                yield self._unpack(rows)

    def sample_vectors(self, n: int) -> np.ndarray:
        """Up to ``n`` vectors drawn at random (IVF training)."""
        rows = self._conn.execute(
            "SELECT fid, vector FROM chunks ORDER BY random() LIMIT ?", (n,)
        ).fetchall()
        return self._unpack(rows)[1]

    def _unpack(self, rows: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        return ids, vecs.reshape(len(rows), self.dim)

    def snapshot(self) -> _Tx:
        """A read transaction: generation and vectors read inside it are consistent."""
        return _Tx(self._conn, "BEGIN")

    # -- writes ---------------------------------------------------------------------------
    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> Change:
        """Insert or replace by chunk id (the last duplicate in ``chunks`` wins)."""
        last = {c.id: i for i, c in enumerate(chunks)}
        order = sorted(last.values())
        with self._transaction():
            before = self.generation()
            next_fid = self._get("next_fid")
            existing: dict[str, tuple[int, bytes]] = {}
            ids = [chunks[i].id for i in order]
            for part in _batches(ids):
                marks = ", ".join("?" for _ in part)
                for fid, cid, blob in self._conn.execute(
                    f"SELECT fid, chunk_id, vector FROM chunks WHERE chunk_id IN ({marks})",
                    list(part),
                ):
                    existing[cid] = (int(fid), bytes(blob))
            added: list[int] = []
            added_rows: list[int] = []
            replaced: list[int] = []
            replaced_rows: list[int] = []
            updates: list[tuple[Any, ...]] = []
            inserts: list[tuple[Any, ...]] = []
            for i in order:
                chunk = chunks[i]
                blob = vectors[i].tobytes()
                fields = (chunk.doc_id, chunk.position, chunk.text, metadata_json(chunk.metadata))
                if chunk.id in existing:
                    fid, old = existing[chunk.id]
                    if old != blob:
                        replaced.append(fid)
                        replaced_rows.append(i)
                    updates.append((*fields, blob, fid))
                else:
                    fid = next_fid
                    next_fid += 1
                    added.append(fid)
                    added_rows.append(i)
                    inserts.append((fid, chunk.id, *fields, blob))
            self._conn.executemany(
                "UPDATE chunks SET doc_id = ?, position = ?, text = ?, metadata = ?, vector = ? "
                "WHERE fid = ?",
                updates,
            )
            self._conn.executemany(
                "INSERT INTO chunks(fid, chunk_id, doc_id, position, text, metadata, vector) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                inserts,
            )
            self._set("next_fid", next_fid)
            self._set("generation", before + 1)
        return Change(
            before,
            before + 1,
            added,
            vectors[added_rows],
            replaced,
            vectors[replaced_rows],
        )

    def delete(self, chunk_ids: Iterable[str]) -> Change:
        ids = list(dict.fromkeys(chunk_ids))
        with self._transaction():
            before = self.generation()
            removed: list[int] = []
            for part in _batches(ids):
                marks = ", ".join("?" for _ in part)
                removed.extend(
                    int(r[0])
                    for r in self._conn.execute(
                        f"DELETE FROM chunks WHERE chunk_id IN ({marks}) RETURNING fid", list(part)
                    )
                )
            after = before + 1 if removed else before
            if removed:
                self._set("generation", after)
        return Change(before, after, removed=sorted(removed))


class _Tx:
    """``with`` block around one SQLite transaction (IMMEDIATE for writes)."""

    def __init__(self, conn: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> None:
        self._conn = conn
        self._begin = begin

    def __enter__(self) -> None:
        self._conn.execute(self._begin)

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
