"""The incremental, resumable ingestion pipeline.

discover → hash (skip unchanged) → parse (worker processes) → chunk → embed (batched, cached)
→ write. Writes are write-ahead: the catalog records a document's new chunk ids as pending
before the store is touched, and commits them (bumping the index version) only after the
store holds them and the document's stale chunks are deleted. Killed at any point, a re-run
reaches the same end state as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ragline.ingest.chunking import Chunker
from ragline.ingest.discover import discover
from ragline.ingest.language import detect_language
from ragline.ingest.parsing import Parsed, parse_all
from ragline.retrieval import embedders
from ragline.retrieval.catalog import DONE, CommitInfo
from ragline.retrieval.collection import ChunksRemoved, Collection
from ragline.retrieval.embedders.base import Embedder
from ragline.retrieval.embedders.cache import CachedEmbedder, EmbeddingCache
from ragline.retrieval.ids import document_id
from ragline.retrieval.settings import Settings
from ragline.retrieval.types import Chunk, MetaValue

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    collection: str
    files_ok: int = 0
    files_skipped: int = 0
    files_failed: list[dict[str, str]] = field(default_factory=list)
    documents_removed: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_embedded: int = 0
    embedding_cache_hits: int = 0
    index_version: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class _Pending:
    parsed: Parsed
    doc_id: str
    content_hash: str
    size: int
    modified: float
    chunks: list[Chunk]


@dataclass(frozen=True)
class _Candidate:
    path: Path
    doc_id: str
    content_hash: str
    size: int
    modified: float


Progress = Callable[[str, Path], None]
"""Called with ("ok" | "skipped" | "failed", path) as each file is settled."""


class Ingestor:
    def __init__(
        self,
        settings: Settings,
        collection: str,
        *,
        embedder: str | None = None,
        store: str | None = None,
        workers: int | None = None,
        model: Embedder | None = None,
        on_chunks_removed: ChunksRemoved | None = None,
        metadata: Mapping[str, MetaValue] | None = None,
    ) -> None:
        """Ingest into collection ``collection`` (created on first run). ``embedder`` and
        ``store`` name the backends of a new collection; ``model`` shares an already loaded
        embedding model; ``on_chunks_removed`` is told the ids of every chunk replaced or
        deleted (pass the answer cache's eviction, e.g. ``ragline.cache.evictor(settings)``;
        cached answers are keyed by the index version, so they are never served stale
        either way, but this frees them at once)."""
        self.settings = settings
        self.model = model
        self.on_chunks_removed = on_chunks_removed
        self.metadata: dict[str, MetaValue] = dict(metadata or {})
        """Merged into every chunk's metadata (e.g. the tenant of an upload)."""
        self.name = collection
        self.embedder_name = embedder or settings.embedding.model
        self.store_name = store or settings.store.backend
        self.workers = workers if workers is not None else settings.ingest.workers
        if self.workers <= 0:
            self.workers = os.cpu_count() or 1
        self.collection: Collection | None = None
        self._cache: EmbeddingCache | None = None
        self._embedder: CachedEmbedder | None = None
        self._chunker: Chunker | None = None

    # -- public -------------------------------------------------------------------------
    def run(
        self, paths: Iterable[Path], prune: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport(self.name)
        notify = progress or (lambda _state, _path: None)
        files = list(discover(paths))
        if Collection.exists(self.name, self.settings):
            self.collection = Collection.open(
                self.name,
                self.settings,
                embedder=self.model,
                on_chunks_removed=self.on_chunks_removed,
            )
        try:
            in_flight: dict[Path, _Candidate] = {}

            def to_parse() -> Iterator[Path]:
                for candidate in self._select(files, report, notify):
                    in_flight[candidate.path] = candidate
                    yield candidate.path

            batch: list[_Pending] = []
            sample: list[tuple[Parsed, _Candidate]] = []
            for parsed in parse_all(to_parse(), self.settings.ingest, self.workers):
                ready = [(parsed, in_flight.pop(parsed.path))]
                if self.collection is None:
                    # a new collection's language (and so its embedder) is judged on a
                    # sample of documents, not on whichever file happened to parse first
                    sample += ready
                    if not _sample_is_enough([p for p, _ in sample]):
                        continue
                    self.collection = self._create([p for p, _ in sample])
                    ready, sample = sample, []
                for parsed_file, candidate in ready:
                    pending = self._prepare(parsed_file, candidate, report, notify)
                    if pending is not None:
                        batch.append(pending)
                    if sum(len(p.chunks) for p in batch) >= self.settings.ingest.flush_chunks:
                        self._flush(batch, report, notify)
                        batch = []
            if sample:
                self.collection = self._create([p for p, _ in sample])
                for parsed_file, candidate in sample:
                    pending = self._prepare(parsed_file, candidate, report, notify)
                    if pending is not None:
                        batch.append(pending)
            self._flush(batch, report, notify)
            if prune and self.collection is not None:
                self._prune(report)
        finally:
            if self.collection is not None:
                report.index_version = self.collection.index_version
                self.collection.close()
            if self._cache is not None:
                self._cache.close()
        if self._embedder is not None:
            report.chunks_embedded = self._embedder.misses
            report.embedding_cache_hits = self._embedder.hits
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    # -- steps --------------------------------------------------------------------------
    def _select(
        self, files: list[Path], report: IngestReport, notify: Progress
    ) -> Iterator[_Candidate]:
        """Hash every file; yield those that are new, changed, or not cleanly stored."""
        limit = self.settings.ingest.max_file_mb * 1024 * 1024
        for path in files:
            doc_id = document_id(source_uri(path))
            try:
                stat = path.stat()
                digest = "" if stat.st_size > limit else file_hash(path)
            except OSError as exc:
                self._fail(report, notify, path, doc_id, f"cannot read file: {exc.strerror or exc}")
                continue
            record = None if self.collection is None else self.collection.catalog.document(doc_id)
            if record is not None and record.state == DONE and record.content_hash == digest:
                report.files_skipped += 1
                notify("skipped", path)
                continue
            yield _Candidate(path, doc_id, digest, stat.st_size, stat.st_mtime)

    def _prepare(
        self, parsed: Parsed, c: _Candidate, report: IngestReport, notify: Progress
    ) -> _Pending | None:
        if parsed.error is not None:
            self._fail(report, notify, c.path, c.doc_id, parsed.error)
            return None
        if self.collection is None:
            self.collection = self._create([parsed])
        chunker = self._get_chunker()
        drafts = chunker.split(parsed.elements)
        if not drafts:
            self._fail(report, notify, c.path, c.doc_id, "no text found")
            return None
        source = source_uri(c.path)
        base: dict[str, MetaValue] = {
            "source": source,
            "file_name": c.path.name,
            "file_type": c.path.suffix.lower().lstrip("."),
            "mime_type": parsed.mime_type,
            "modified": c.modified,
            **self.metadata,
        }
        chunks = []
        for position, d in enumerate(drafts):
            meta = dict(base, element_type=d.element_type, start=d.start, end=d.end)
            if d.page is not None:
                meta["page"] = d.page
            if d.heading:
                meta["heading"] = " > ".join(d.heading)
            chunks.append(Chunk.create(c.doc_id, d.text, position, meta))
        return _Pending(parsed, c.doc_id, c.content_hash, c.size, c.modified, chunks)

    def _flush(self, batch: list[_Pending], report: IngestReport, notify: Progress) -> None:
        if not batch or self.collection is None:
            return
        collection = self.collection
        catalog = collection.catalog
        chunks = [chunk for p in batch for chunk in p.chunks]
        vectors = self._get_embedder().embed_documents([c.text for c in chunks])
        previous = {p.doc_id: catalog.document(p.doc_id) for p in batch}
        catalog.begin_writes(
            [(p.doc_id, source_uri(p.parsed.path), [c.id for c in p.chunks]) for p in batch]
        )
        collection.upsert(chunks, np.asarray(vectors, dtype=np.float32))
        stale: set[str] = set()
        added = 0
        for p in batch:
            new_ids = {c.id for c in p.chunks}
            record = previous[p.doc_id]
            old = record.stored_ids if record is not None else set()
            committed = set(record.chunk_ids) if record is not None else set()
            stale |= old - new_ids
            added += len(new_ids - committed)
            report.chunks_removed += len(committed - new_ids)
        if stale:
            collection.delete(sorted(stale))
        catalog.commit_writes(
            [
                CommitInfo(
                    p.doc_id,
                    source_uri(p.parsed.path),
                    p.content_hash,
                    tuple(c.id for c in p.chunks),
                    p.parsed.mime_type,
                    p.size,
                    p.modified,
                )
                for p in batch
            ]
        )
        report.chunks_added += added
        for p in batch:
            report.files_ok += 1
            notify("ok", p.parsed.path)

    def _prune(self, report: IngestReport) -> None:
        """Remove documents whose files are gone, with all their chunks."""
        assert self.collection is not None
        gone = [
            r.doc_id for r in self.collection.catalog.documents() if not Path(r.source).exists()
        ]
        documents, chunks = self.collection.remove_documents(gone)
        report.documents_removed += documents
        report.chunks_removed += chunks

    def _fail(
        self, report: IngestReport, notify: Progress, path: Path, doc_id: str, error: str
    ) -> None:
        report.files_failed.append({"path": str(path), "error": error})
        if self.collection is not None:
            self.collection.catalog.mark_failed(doc_id, source_uri(path), error)
        notify("failed", path)

    # -- lazily built parts ---------------------------------------------------------------
    def _create(self, sample: list[Parsed]) -> Collection:
        name = self.embedder_name
        language = detect_language(_language_sample(sample), sample=LANGUAGE_SAMPLE_CHARS)
        if name == "auto":
            name = embedders.for_language(language)
        log.info("creating collection %s (language %s, embedder %s)", self.name, language, name)
        model = self.model if self.model is not None and self.embedder_name == name else None
        return Collection.create(
            self.name,
            self.settings,
            name,
            language,
            self.store_name,
            model=model,
            on_chunks_removed=self.on_chunks_removed,
        )

    def _get_chunker(self) -> Chunker:
        if self._chunker is None:
            assert self.collection is not None
            info = self.collection.info
            self._chunker = Chunker(
                self.collection.token_counter, info.chunk_size, info.chunk_overlap
            )
        return self._chunker

    def _get_embedder(self) -> CachedEmbedder:
        if self._embedder is None:
            assert self.collection is not None
            if self.settings.embedding.cache:
                self._cache = EmbeddingCache(self.settings.cache_dir / "embeddings.sqlite")
            self._embedder = CachedEmbedder(self.collection.embedder, self._cache)
        return self._embedder


def source_uri(path: Path) -> str:
    return str(path.absolute())


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


LANGUAGE_SAMPLE_DOCS = 16
LANGUAGE_SAMPLE_CHARS = 100_000


def _sample_is_enough(sample: list[Parsed]) -> bool:
    parsed = [p for p in sample if p.error is None]
    return len(parsed) >= LANGUAGE_SAMPLE_DOCS or (
        sum(len(e.text) for p in parsed for e in p.elements) >= LANGUAGE_SAMPLE_CHARS
    )


def _language_sample(sample: list[Parsed]) -> str:
    """Text of the sampled documents, in path order, each given an equal share."""
    parsed = sorted((p for p in sample if p.error is None), key=lambda p: str(p.path))
    share = LANGUAGE_SAMPLE_CHARS // max(1, len(parsed))
    return "\n".join("\n".join(e.text for e in p.elements)[:share] for p in parsed)
