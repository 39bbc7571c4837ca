"""Chroma: one cosine collection, vectors always passed in; embedded (``PersistentClient``
in the collection's ``store/``) or on a Chroma server (``chroma_url``; see ``chroma_server``).

Chroma never embeds here (its default embedder would try to download a model). Filters
Chroma can say exactly go into its ``where``; the rest (``prefix``) are checked in Python on
the candidates' metadata and the query is restricted to the ids that pass. Chroma's HNSW is
approximate, so a query that comes back short of ``min(k, matches)`` is redone exactly over
the matching vectors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ragline.retrieval.embedders.offline import force_offline
from ragline.retrieval.errors import BackendUnavailable, CollectionMismatch, StoreBusy, UsageError
from ragline.retrieval.locks import StorageUnavailable, disk_reason
from ragline.retrieval.stores import chroma_server as server
from ragline.retrieval.stores.base import Closable
from ragline.retrieval.stores.filters import ChromaFilter, clean_metadata, to_chroma
from ragline.retrieval.stores.sharing import SharedExclusive
from ragline.retrieval.stores.sidecar import as_matrix, chunk_vectors, exact_search
from ragline.retrieval.types import DOC_ID, POSITION, Chunk, Filter, Hit

log = logging.getLogger(__name__)
_T = TypeVar("_T")
_READ_ATTEMPTS = 4

COLLECTION = "chunks"
_DIM_KEY = server.DIM_KEY


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class ChromaStore(Closable):
    backend = "chroma"

    def __init__(
        self,
        path: Path,
        dim: int,
        collection: str = COLLECTION,
        *,
        chroma_url: str = "",
        chroma_timeout_s: float = 30.0,
        server_name: str = "",
    ) -> None:
        """The store of one collection at ``path``. With ``chroma_url`` its vectors are the
        Chroma collection ``server_name`` on that server (``path`` keeps only a marker)."""
        force_offline()  # ANONYMIZED_TELEMETRY=False among others
        _chromadb()  # BackendUnavailable before anything is created
        if dim <= 0:
            raise UsageError(f"vector dimension must be positive, got {dim}")
        self.path = path
        self.dim = dim
        self.url = chroma_url
        self.timeout_s = chroma_timeout_s
        self._existing = False
        if self.url:
            if not server_name:
                raise UsageError("a Chroma server store needs the name of its collection")
            self._name = server_name
            self._existing = server.check_server(path, server_name)
        else:
            server.check_embedded(path)
            path.mkdir(parents=True, exist_ok=True)
            self._name = collection
        self._clients = SharedExclusive()
        self._client, self._col = self._connect()
        stored = (self._col.metadata or {}).get(_DIM_KEY)
        space = ((self._col.configuration or {}).get("hnsw") or {}).get("space")
        if stored is not None and int(stored) != dim:
            self._client.close()
            raise CollectionMismatch(f"the store at {path} holds {stored}-dim vectors, not {dim}")
        if space not in (None, "cosine"):
            self._client.close()
            raise CollectionMismatch(f"the Chroma collection at {path} uses {space}, not cosine")
        with self._reachable():
            self._max_batch = int(self._client.get_max_batch_size())
        self._closed = False

    def _connect(self) -> tuple[Any, Any]:
        from chromadb.config import Settings as ChromaSettings

        if self.url:
            remote = server.connect(self.url, self.timeout_s)
            try:
                col = server.open_collection(remote, self.url, self._name, self.dim, self._existing)
            except BaseException:
                remote.close()
                raise
            if not self._existing:
                server.write_marker(self.path, self._name)
                self._existing = True
            return remote, col
        client: Any = _chromadb().PersistentClient(
            path=str(self.path), settings=ChromaSettings(anonymized_telemetry=False)
        )
        col = client.get_or_create_collection(
            self._name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={_DIM_KEY: self.dim},
        )
        return client, col

    def _reconnect(self, failed: Any) -> None:
        """A fresh client in place of one whose view of the store went stale (another
        process wrote to it). It waits for reads in flight on the old client; the last
        client of a path closing stops Chroma's shared in-process state for it, so the new
        one reads the store from disk."""
        with self._clients.exclusive():
            if self._col is not failed or self._closed:
                return  # another thread reconnected already
            self._client.close()
            self._client, self._col = self._connect()

    def refresh(self) -> None:
        """See what other processes wrote since this store opened (a new client; a server's
        client always sees the server's current state)."""
        self._check_open()
        if not self.url:
            self._reconnect(self._col)

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """A server that does not answer raises StoreUnavailable (the HTTP client recovers
        by itself once the server is back)."""
        if not self.url:
            yield
            return
        with server.translate(self.url):
            yield

    @contextmanager
    def _using(self) -> Iterator[None]:
        with self._clients.shared(), self._reachable():
            yield

    # -- writes ---------------------------------------------------------------------------
    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        with self._using(), self._writable():
            self._upsert(chunks, vectors)

    @contextmanager
    def _writable(self) -> Iterator[None]:
        """A full or read-only disk under the embedded store is a StorageUnavailable."""
        from chromadb.errors import InternalError

        try:
            yield
        except InternalError as exc:
            reason = disk_reason(str(exc))
            if reason is None:
                raise
            raise StorageUnavailable(
                f"cannot write the vector store of {self.path.parent.name!r}: {reason}"
            ) from exc

    def _upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        self._check_open()
        if len(chunks) == 0:
            return
        matrix = chunk_vectors(chunks, vectors, self.dim)
        last = {c.id: i for i, c in enumerate(chunks)}  # Chroma refuses repeated ids
        rows = sorted(last.values())
        for part in _batches(rows, self._max_batch):
            metas: list[dict[str, Any]] = []
            for i in part:
                meta: dict[str, Any] = clean_metadata(chunks[i].metadata)
                meta.setdefault(DOC_ID, chunks[i].doc_id)
                meta.setdefault(POSITION, chunks[i].position)
                metas.append(meta)
            self._col.upsert(
                ids=[chunks[i].id for i in part],
                embeddings=matrix[list(part)],
                documents=[chunks[i].text for i in part],
                metadatas=metas,
            )

    def delete(self, chunk_ids: Iterable[str]) -> int:
        with self._using(), self._writable():
            return self._delete(chunk_ids)

    def _delete(self, chunk_ids: Iterable[str]) -> int:
        self._check_open()
        ids = list(dict.fromkeys(chunk_ids))
        removed = 0
        for part in _batches(ids, self._max_batch):
            present = self._col.get(ids=list(part), include=[])["ids"]
            if present:
                self._col.delete(ids=present)
                removed += len(present)
        return removed

    # -- reads ----------------------------------------------------------------------------
    def count(self) -> int:
        with self._using():
            self._check_open()
            return int(self._col.count())

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        return self._retrying(lambda: self._get(chunk_ids))

    def _get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        self._check_open()
        found: dict[str, Chunk] = {}
        unique = list(dict.fromkeys(chunk_ids))
        for part in _batches(unique, self._max_batch):
            res = self._col.get(ids=list(part), include=["documents", "metadatas"])
            docs = res["documents"] or []
            metas = res["metadatas"] or []
            for cid, text, meta in zip(res["ids"], docs, metas, strict=True):
                data = dict(meta or {})
                doc_id = str(data.get(DOC_ID, ""))
                position = data.get(POSITION, 0)
                found[cid] = Chunk(cid, doc_id, text or "", int(position), data)
        return [found[c] for c in chunk_ids if c in found]

    def search(self, vectors: np.ndarray, k: int, where: Filter | None = None) -> list[list[Hit]]:
        ranked = self.search_ids(vectors, k, where)
        chunks = {c.id: c for c in self.get(list({i for row in ranked for i, _ in row}))}
        return [
            [
                Hit(cid, chunk.doc_id, chunk.text, score, chunk.metadata)
                for cid, score in row
                if (chunk := chunks.get(cid)) is not None  # gone since: a concurrent delete
            ]
            for row in ranked
        ]

    def search_ids(
        self, vectors: np.ndarray, k: int, where: Filter | None = None
    ) -> list[list[tuple[str, float]]]:
        """:meth:`search` as (chunk id, cosine) pairs. Chroma reads no text or metadata for
        them (measured on 10k chunks, 50 results: 0.5 ms a query instead of 3-5 ms)."""
        return self._retrying(lambda: self._search_ids(vectors, k, where))

    def _retrying(self, read: Callable[[], _T]) -> _T:
        """Run a read again when Chroma fails inside because another process wrote to the
        same store: embedded Chroma is not multi-process safe, and a server searching while
        `ragline ingest` added files saw "Error finding id" in 2% of its searches, until its
        client was replaced by a fresh one (waiting alone did not help)."""
        from chromadb.errors import InternalError

        for attempt in range(_READ_ATTEMPTS):
            with self._using():
                col = self._col
                try:
                    return read()
                except InternalError as exc:
                    if attempt == _READ_ATTEMPTS - 1:
                        raise StoreBusy(
                            f"the Chroma store at {self.path} failed {_READ_ATTEMPTS} reads "
                            f"while another process was writing to it ({exc}); try again"
                        ) from exc
                    log.info("chroma read failed (%s); reconnecting and retrying", exc)
            time.sleep(0.05 * 2**attempt)
            self._reconnect(col)
        raise AssertionError("unreachable")

    def _search_ids(
        self, vectors: np.ndarray, k: int, where: Filter | None
    ) -> list[list[tuple[str, float]]]:
        self._check_open()
        queries = as_matrix(vectors, self.dim, "query vectors")
        empty: list[list[tuple[str, float]]] = [[] for _ in range(queries.shape[0])]
        split = to_chroma(where)
        if k <= 0 or queries.shape[0] == 0 or split.impossible:
            return empty
        ids: list[str] | None = None
        matches: int | None = None
        if split.rest:
            ids = self._python_matches(split)
            if not ids:
                return empty
            matches = len(ids)
        out: list[list[tuple[str, float]]] = []
        # No count() first (a store round trip per search): Chroma answers a larger
        # n_results than it holds with what it has, and short rows are checked below.
        for start in range(0, queries.shape[0], self._max_batch):
            res = self._col.query(
                query_embeddings=queries[start : start + self._max_batch],
                n_results=k,
                where=split.where,
                ids=ids,
                include=["distances"],
            )
            out.extend(
                [(cid, _cosine(d)) for cid, d in zip(row_ids, row_d, strict=True)]
                for row_ids, row_d in zip(res["ids"], res["distances"], strict=True)
            )
        if any(len(row) < k for row in out):
            if matches is None and split.where is None:
                matches = int(self._col.count())
            elif matches is None:
                matches = len(self._col.get(where=split.where, include=[])["ids"])
            short = [i for i, row in enumerate(out) if len(row) < min(k, matches)]
            if short:
                log.debug("chroma: %d queries short of k=%d; searching exactly", len(short), k)
                for i, row in zip(short, self._exact(queries[short], k, split, ids), strict=True):
                    out[i] = row
        return out

    def _python_matches(self, split: ChromaFilter) -> list[str]:
        """Ids whose metadata passes the conditions Chroma cannot evaluate."""
        matched: list[str] = []
        for ids, metas, _ in self._pages(split.where, None, ["metadatas"]):
            matched.extend(
                cid for cid, meta in zip(ids, metas, strict=True) if split.rest.matches(meta or {})
            )
        return matched

    def _pages(
        self, where: dict[str, Any] | None, ids: list[str] | None, include: list[str]
    ) -> Iterator[tuple[list[str], list[Any], Any]]:
        """(ids, metadatas, embeddings) of the matching records, one page at a time."""
        id_parts: Iterable[Sequence[str] | None] = (
            _batches(ids, self._max_batch) if ids is not None else [None]
        )
        for id_part in id_parts:
            offset = 0
            while True:
                res = self._col.get(
                    ids=list(id_part) if id_part is not None else None,
                    where=where,
                    limit=self._max_batch,
                    offset=offset,
                    include=include,
                )
                if not res["ids"]:
                    break
                metas: list[Any] = list(res["metadatas"] or [])
                metas += [None] * (len(res["ids"]) - len(metas))
                yield res["ids"], metas, res["embeddings"]
                offset += len(res["ids"])
                if len(res["ids"]) < self._max_batch:
                    break

    def _exact(
        self, queries: np.ndarray, k: int, split: ChromaFilter, ids: list[str] | None
    ) -> list[list[tuple[str, float]]]:
        """Brute force over the matching vectors, streamed page by page."""
        names: list[str] = []

        def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for page_ids, _, embeddings in self._pages(split.where, ids, ["embeddings"]):
                start = len(names)
                names.extend(page_ids)
                numbers = np.arange(start, start + len(page_ids), dtype=np.int64)
                yield numbers, as_matrix(np.asarray(embeddings), self.dim, "stored vectors")

        scores, rows = exact_search(queries, k, batches())
        return [
            [(names[r], float(score)) for score, r in zip(row_s, row_r, strict=True) if r >= 0]
            for row_s, row_r in zip(scores.tolist(), rows.tolist(), strict=True)
        ]

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        with self._clients.exclusive():
            if not self._closed:
                self._closed = True
                self._client.close()


def _cosine(distance: float) -> float:
    return max(-1.0, min(1.0, 1.0 - float(distance)))  # np.clip costs 10x per scalar


def _chromadb() -> Any:
    try:
        import chromadb
    except ImportError as exc:
        raise BackendUnavailable(f"chromadb is not installed: {exc}") from exc
    return chromadb
