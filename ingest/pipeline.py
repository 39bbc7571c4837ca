"""The incremental, resumable ingestion pipeline.

discover → hash (skip unchanged) → parse (worker processes) → chunk → embed (batched, cached)
→ write. Writes are write-ahead: the catalog records a document's new chunk ids as pending
before the store is touched, and commits them (bumping the index version) only after the
store holds them and the document's stale chunks are deleted. Killed at any point, a re-run
reaches the same end state as an uninterrupted run.
"""

from __future__ import annotations

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
from ragline.ingest.documents import (
    Candidate,
    Pending,
    StoredMembers,
    base_metadata,
    build_chunks,
    file_hash,
    member_source,
    source_uri,
)
from ragline.ingest.elements import Element
from ragline.ingest.engines import Engine, LocalEngine
from ragline.ingest.failures import failure_key, lasting
from ragline.ingest.language import (
    LANGUAGE_SAMPLE_CHARS,
    detect_language,
    language_sample,
    sample_is_enough,
)
from ragline.ingest.loaders.containers import CONTAINER_SUFFIXES
from ragline.ingest.parsing import Parsed
from ragline.ingest.prune import PrunePlan, plan_prune
from ragline.ingest.settings import IngestConfig
from ragline.retrieval import embedders
from ragline.retrieval.catalog import DONE, FAILED, CommitInfo
from ragline.retrieval.collection import ChunksRemoved, Collection
from ragline.retrieval.embedders.base import Embedder
from ragline.retrieval.embedders.cache import CachedEmbedder, EmbeddingCache
from ragline.retrieval.ids import document_id
from ragline.retrieval.locks import write_lock
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


Progress = Callable[[str, Path], None]
"""Called with ("ok" | "skipped" | "failed", path) as each file is settled."""


class Ingestor:
    def __init__(
        self,
        settings: IngestConfig,
        collection: str,
        *,
        embedder: str | None = None,
        store: str | None = None,
        workers: int | None = None,
        model: Embedder | None = None,
        on_chunks_removed: ChunksRemoved | None = None,
        metadata: Mapping[str, MetaValue] | None = None,
        engine: Engine | None = None,
    ) -> None:
        """Ingest into collection ``collection`` (created on first run). ``embedder`` and
        ``store`` name the backends of a new collection; ``model`` shares an already loaded
        embedding model; ``on_chunks_removed`` is told the ids of every chunk replaced or
        deleted (pass the answer cache's eviction, e.g. ``ragline.cache.evictor(settings.cache)``;
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
        self._members: StoredMembers | None = None
        self.engine: Engine = engine or LocalEngine()
        """Where files are parsed and chunks embedded (e.g. Ray); writes stay here."""

    # -- public -------------------------------------------------------------------------
    def run(
        self,
        paths: Iterable[Path],
        prune: bool = False,
        progress: Progress | None = None,
        force: bool = False,
    ) -> IngestReport:
        """Ingest ``paths``. With ``prune``, documents under these paths whose files are gone
        are removed too — refused (IngestError, nothing changed) when a directory yields no
        files or too much would go, unless ``force`` (see ``ragline.ingest.prune``). The run
        holds the collection's write lock (``ragline.retrieval.locks``) throughout."""
        store = self.settings.store
        with write_lock(
            self.settings.collections_dir, self.name, "ingest", store.write_lock_timeout_s
        ):
            return self._run(paths, prune, progress, force)

    def _run(
        self, paths: Iterable[Path], prune: bool, progress: Progress | None, force: bool
    ) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport(self.name)
        notify = progress or (lambda _state, _path: None)
        roots = list(paths)
        files = list(discover(roots))
        if Collection.exists(self.name, self.settings):
            self.collection = Collection.open(
                self.name,
                self.settings,
                embedder=self.model,
                on_chunks_removed=self.on_chunks_removed,
            )
        try:
            plan: PrunePlan | None = None
            if prune and self.collection is not None:
                plan = plan_prune(
                    self.collection.catalog.documents(),
                    roots,
                    files,
                    self.settings.ingest.prune_max_share,
                    force,
                )
            in_flight: dict[Path, Candidate] = {}

            def to_parse() -> Iterator[Path]:
                for candidate in self._select(files, report, notify):
                    in_flight[candidate.path] = candidate
                    yield candidate.path

            batch: list[Pending] = []
            sample: list[tuple[Parsed, Candidate]] = []
            for parsed in self.engine.parse(to_parse(), self.settings.ingest, self.workers):
                ready = [(parsed, in_flight.pop(parsed.path))]
                if self.collection is None:
                    # a new collection's language (and so its embedder) is judged on a
                    # sample of documents, not on whichever file happened to parse first
                    sample += ready
                    if not sample_is_enough([p for p, _ in sample]):
                        continue
                    self.collection = self._create([p for p, _ in sample])
                    ready, sample = sample, []
                for parsed_file, candidate in ready:
                    batch += self._prepare(parsed_file, candidate, report, notify)
                    if sum(len(p.chunks) for p in batch) >= self.settings.ingest.flush_chunks:
                        self._flush(batch, report, notify)
                        batch = []
            if sample:
                self.collection = self._create([p for p, _ in sample])
                for parsed_file, candidate in sample:
                    batch += self._prepare(parsed_file, candidate, report, notify)
            self._flush(batch, report, notify)
            if plan is not None:
                self._prune(plan, report)
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
    ) -> Iterator[Candidate]:
        """Hash every file; yield those that are new, changed, or not cleanly stored. An
        unchanged file that failed for a lasting reason is reported again, not parsed again."""
        limit = self.settings.ingest.max_file_mb * 1024 * 1024
        for path in files:
            source = source_uri(path)
            doc_id = document_id(source)
            try:
                stat = path.stat()
                digest = "" if stat.st_size > limit else file_hash(path)
            except OSError as exc:
                self._fail(report, notify, path, doc_id, f"cannot read file: {exc.strerror or exc}")
                continue
            if self._unchanged(doc_id, digest):
                report.files_skipped += 1
                notify("skipped", path)
                if source.lower().endswith(CONTAINER_SUFFIXES):
                    for member, error in self._stored_members().failed(source):
                        self._report_failure(report, notify, Path(member), error)
                continue
            record = None if self.collection is None else self.collection.catalog.document(doc_id)
            if (
                digest
                and record is not None
                and record.state == FAILED
                and record.error
                and record.content_hash == failure_key(digest, self.settings.ingest)
            ):
                self._report_failure(report, notify, path, record.error)
                continue
            yield Candidate(path, doc_id, digest, stat.st_size, stat.st_mtime)

    def _prepare(
        self, parsed: Parsed, c: Candidate, report: IngestReport, notify: Progress
    ) -> list[Pending]:
        """The documents of one parsed file: its members (if it is a container) first, the
        file itself last, so a container is committed only after everything it holds."""
        if parsed.error is not None:
            self._fail(report, notify, c.path, c.doc_id, parsed.error, c.content_hash)
            return []
        if self.collection is None:
            self.collection = self._create([parsed])
        source = source_uri(c.path)
        out: list[Pending] = []
        for m in parsed.members:
            label = Path(member_source(source, m.name))
            m_source = source_uri(label)
            m_id = document_id(m_source)
            if m.error is not None:
                self._fail(report, notify, label, m_id, m.error, m.content_hash)
                continue
            if self._unchanged(m_id, m.content_hash):
                report.files_skipped += 1
                notify("skipped", label)
                continue
            chunks = self._chunks(m.elements, m_id, m_source, m.mime_type, c.modified)
            if not chunks:
                self._fail(report, notify, label, m_id, "no text found", m.content_hash)
                continue
            out.append(
                Pending(
                    label, m_source, m_id, m.content_hash, m.mime_type, m.size, c.modified, chunks
                )
            )
        chunks = self._chunks(parsed.elements, c.doc_id, source, parsed.mime_type, c.modified)
        if not chunks and not parsed.members:
            self._fail(report, notify, c.path, c.doc_id, "no text found", c.content_hash)
            return out
        stale: list[str] = []
        if source.lower().endswith(CONTAINER_SUFFIXES):
            current = {source_uri(Path(member_source(source, m.name))) for m in parsed.members}
            stale = self._stored_members().stale(source, current)
        mime = parsed.mime_type
        out.append(
            Pending(
                c.path, source, c.doc_id, c.content_hash, mime, c.size, c.modified, chunks, stale
            )
        )
        return out

    def _unchanged(self, doc_id: str, content_hash: str) -> bool:
        """Stored cleanly with this content: nothing to do."""
        record = None if self.collection is None else self.collection.catalog.document(doc_id)
        return record is not None and record.state == DONE and record.content_hash == content_hash

    def _chunks(
        self, elements: tuple[Element, ...], doc_id: str, source: str, mime: str, modified: float
    ) -> list[Chunk]:
        base = {**base_metadata(source, mime, modified), **self.metadata}
        return build_chunks(self._get_chunker(), elements, doc_id, base)

    def _flush(self, batch: list[Pending], report: IngestReport, notify: Progress) -> None:
        if not batch or self.collection is None:
            return
        collection = self.collection
        catalog = collection.catalog
        chunks = [chunk for p in batch for chunk in p.chunks]
        vectors = self._get_embedder().embed_documents([c.text for c in chunks])
        previous = {p.doc_id: catalog.document(p.doc_id) for p in batch}
        catalog.begin_writes([(p.doc_id, p.source, [c.id for c in p.chunks]) for p in batch])
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
        gone = [doc_id for p in batch for doc_id in p.stale]
        if gone:  # members a container no longer holds, removed before it is committed
            removed_documents, removed_chunks = collection.remove_documents(gone)
            report.documents_removed += removed_documents
            report.chunks_removed += removed_chunks
        catalog.commit_writes(
            [
                CommitInfo(
                    p.doc_id,
                    p.source,
                    p.content_hash,
                    tuple(c.id for c in p.chunks),
                    p.mime_type,
                    p.size,
                    p.modified,
                )
                for p in batch
            ]
        )
        report.chunks_added += added
        for p in batch:
            report.files_ok += 1
            notify("ok", p.label)

    def _prune(self, plan: PrunePlan, report: IngestReport) -> None:
        """Remove the documents whose files are gone, with all their chunks."""
        assert self.collection is not None
        if plan.kept_unreadable:
            log.warning(
                "prune: kept %d documents whose files could not be checked", plan.kept_unreadable
            )
        documents, chunks = self.collection.remove_documents(plan.doc_ids)
        report.documents_removed += documents
        report.chunks_removed += chunks

    def _fail(
        self,
        report: IngestReport,
        notify: Progress,
        path: Path,
        doc_id: str,
        error: str,
        content_hash: str = "",
    ) -> None:
        """Record a failure; a lasting one with the file's hash, so it is not parsed again."""
        if self.collection is not None:
            key = None
            if content_hash and lasting(error):
                key = failure_key(content_hash, self.settings.ingest)
            self.collection.catalog.mark_failed(doc_id, source_uri(path), error, key)
        self._report_failure(report, notify, path, error)

    @staticmethod
    def _report_failure(report: IngestReport, notify: Progress, path: Path, error: str) -> None:
        report.files_failed.append({"path": str(path), "error": error})
        notify("failed", path)

    # -- lazily built parts ---------------------------------------------------------------
    def _create(self, sample: list[Parsed]) -> Collection:
        name = self.embedder_name
        language = detect_language(language_sample(sample), sample=LANGUAGE_SAMPLE_CHARS)
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

    def _stored_members(self) -> StoredMembers:
        if self._members is None:
            assert self.collection is not None
            self._members = StoredMembers(self.collection.catalog.documents())
        return self._members

    def _get_embedder(self) -> CachedEmbedder:
        if self._embedder is None:
            assert self.collection is not None
            if self.settings.embedding.cache:
                self._cache = EmbeddingCache(self.settings.cache_dir / "embeddings.sqlite")
            self._embedder = CachedEmbedder(self.engine.embedder(self.collection), self._cache)
        return self._embedder
