"""A collection's catalog: its identity, index version, and which documents hold which chunks.

One SQLite file per collection (WAL). The ingestion pipeline records each document here with
write-ahead state, so a run killed at any moment can be repeated and ends identical to an
uninterrupted one; every change bumps the index version in the same transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

DONE = "done"
WRITING = "writing"
FAILED = "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    content_hash TEXT,
    state TEXT NOT NULL,
    chunk_ids TEXT NOT NULL DEFAULT '[]',
    pending_ids TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    mime_type TEXT,
    size INTEGER,
    modified REAL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source);
"""


@dataclass(frozen=True)
class DocumentRecord:
    doc_id: str
    source: str
    content_hash: str | None
    state: str
    chunk_ids: tuple[str, ...]
    pending_ids: tuple[str, ...]
    error: str | None
    mime_type: str | None
    size: int | None
    modified: float | None

    @property
    def stored_ids(self) -> set[str]:
        """Every chunk id that may be in the store for this document (committed or in flight)."""
        return set(self.chunk_ids) | set(self.pending_ids)


class Catalog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    # -- meta -----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, items: dict[str, str]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", items.items())

    @property
    def index_version(self) -> int:
        return int(self.get_meta("index_version") or 0)

    def _bump(self) -> None:
        self.db.execute(
            "INSERT INTO meta VALUES ('index_version', '1') ON CONFLICT(key) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    # -- documents ------------------------------------------------------------------------
    def document(self, doc_id: str) -> DocumentRecord | None:
        row = self.db.execute(f"SELECT {_COLS} FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
        return None if row is None else _record(row)

    def documents(self, state: str | None = None) -> Iterator[DocumentRecord]:
        if state is None:
            rows = self.db.execute(f"SELECT {_COLS} FROM documents ORDER BY source")
        else:
            rows = self.db.execute(
                f"SELECT {_COLS} FROM documents WHERE state=? ORDER BY source", (state,)
            )
        for row in rows.fetchall():
            yield _record(row)

    def begin_writes(self, writes: Sequence[tuple[str, str, Sequence[str]]]) -> None:
        """Record (doc_id, source, new chunk ids) as in flight before the store is touched."""
        now = time.time()
        with self.db:
            for doc_id, source, new_ids in writes:
                self.db.execute(
                    "INSERT INTO documents (doc_id, source, state, pending_ids, updated) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT(doc_id) DO UPDATE SET "
                    "state=excluded.state, pending_ids=json(("
                    "  SELECT json_group_array(value) FROM ("
                    "    SELECT value FROM json_each(documents.pending_ids) UNION "
                    "    SELECT value FROM json_each(excluded.pending_ids)))), "
                    "updated=excluded.updated",
                    (doc_id, source, WRITING, json.dumps(list(new_ids)), now),
                )

    def commit_writes(self, commits: Sequence[CommitInfo]) -> None:
        """The store now holds exactly ``chunk_ids`` for each document: record it, bump version."""
        now = time.time()
        with self.db:
            for c in commits:
                self.db.execute(
                    "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, '[]', NULL, ?, ?, ?, ?)",
                    (
                        c.doc_id,
                        c.source,
                        c.content_hash,
                        DONE,
                        json.dumps(list(c.chunk_ids)),
                        c.mime_type,
                        c.size,
                        c.modified,
                        now,
                    ),
                )
            if commits:
                self._bump()

    def mark_failed(
        self, doc_id: str, source: str, error: str, content_hash: str | None = None
    ) -> None:
        """A file failed: remember why; its previously stored chunks (if any) stay.

        ``content_hash`` (optional) records what failed, so an unchanged file that fails for a
        lasting reason need not be parsed again; without it the stored hash is kept."""
        with self.db:
            self.db.execute(
                "INSERT INTO documents (doc_id, source, state, error, content_hash, updated) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(doc_id) DO UPDATE SET "
                "state=excluded.state, error=excluded.error, "
                "content_hash=COALESCE(excluded.content_hash, documents.content_hash), "
                "updated=excluded.updated",
                (doc_id, source, FAILED, error, content_hash, time.time()),
            )

    def remove(self, doc_ids: Iterable[str]) -> None:
        ids = list(doc_ids)
        if not ids:
            return
        with self.db:
            self.db.executemany("DELETE FROM documents WHERE doc_id=?", [(i,) for i in ids])
            self._bump()

    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT state, COUNT(*) FROM documents GROUP BY state").fetchall()
        counts = {str(state): int(n) for state, n in rows}
        chunks = self.db.execute(
            "SELECT COALESCE(SUM(json_array_length(chunk_ids)), 0) FROM documents"
        ).fetchone()[0]
        counts["chunks"] = int(chunks)
        return counts

    def close(self) -> None:
        self.db.close()


@dataclass(frozen=True)
class CommitInfo:
    doc_id: str
    source: str
    content_hash: str
    chunk_ids: tuple[str, ...]
    mime_type: str
    size: int
    modified: float


_COLS = (
    "doc_id, source, content_hash, state, chunk_ids, pending_ids, error, mime_type, size, modified"
)


def _record(row: tuple[object, ...]) -> DocumentRecord:
    doc_id, source, chash, state, ids, pending, error, mime, size, modified = row
    return DocumentRecord(
        doc_id=str(doc_id),
        source=str(source),
        content_hash=None if chash is None else str(chash),
        state=str(state),
        chunk_ids=tuple(json.loads(str(ids))),
        pending_ids=tuple(json.loads(str(pending))),
        error=None if error is None else str(error),
        mime_type=None if mime is None else str(mime),
        size=None if size is None else int(str(size)),
        modified=None if modified is None else float(str(modified)),
    )
