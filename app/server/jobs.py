"""Background ingestion jobs for uploaded files: the same pipeline as `ragline ingest`."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ragline.ingest.pipeline import Ingestor
from ragline.retrieval.errors import RaglineError
from ragline.retrieval.pool import CollectionPool
from ragline.server.errors import scrub
from ragline.server.metrics import Metrics
from ragline.server.settings import ServerConfig

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Job:
    id: str
    collection: str
    files: list[str]
    state: str = "queued"  # queued | running | done | failed
    files_done: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    report: dict[str, Any] | None = None
    message: str | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None
    owner: str = ""
    """The identity of the caller that uploaded the files (only it, or an operator key,
    may see the job)."""
    tenant: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The job as its caller sees it: file names, never server paths."""
        report = dict(self.report) if self.report is not None else None
        if report is not None:
            report["files_failed"] = _public_errors(report.get("files_failed", []))
        return {
            "id": self.id,
            "collection": self.collection,
            "state": self.state,
            "files_total": len(self.files),
            "files_done": self.files_done,
            "errors": _public_errors(self.errors),
            "report": report,
            "message": scrub(self.message) if self.message else None,
            "created": self.created,
            "finished": self.finished,
        }


def _public_errors(errors: list[dict[str, str]]) -> list[dict[str, str]]:
    return [
        {"path": Path(e.get("path", "")).name, "error": scrub(e.get("error", ""))} for e in errors
    ]


class JobManager:
    """Runs one ingestion at a time (ingestion saturates the CPU); keeps recent jobs."""

    def __init__(
        self, settings: ServerConfig, pool: CollectionPool, metrics: Metrics, keep: int = 200
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.metrics = metrics
        self.keep = keep
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")

    def submit(
        self,
        collection: str,
        paths: list[Path],
        embedder: str | None = None,
        *,
        owner: str = "",
        tenant: str = "",
    ) -> Job:
        """Queue an ingestion of ``paths``; their chunks carry ``tenant`` (if any)."""
        job = Job(uuid.uuid4().hex, collection, [str(p) for p in paths], owner=owner, tenant=tenant)
        with self._lock:
            self._jobs[job.id] = job
            for old in sorted(self._jobs.values(), key=lambda j: j.created)[: -self.keep]:
                self._jobs.pop(old.id, None)
        self.metrics.jobs_running.inc()
        self._executor.submit(self._run, job, paths, embedder)
        return job

    def run_exclusive(self, fn: Callable[[], T]) -> T:
        """Run a write (e.g. a deletion) on the ingestion thread, after queued jobs: one writer."""
        return self._executor.submit(fn).result()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _run(self, job: Job, paths: list[Path], embedder: str | None) -> None:
        job.state = "running"

        def progress(state: str, path: Path) -> None:
            job.files_done += 1
            self.metrics.files.labels(state).inc()

        try:
            shared = self.pool.embedder(embedder) if embedder and embedder != "auto" else None
            ingestor = Ingestor(
                self.settings,
                job.collection,
                embedder=embedder,
                model=shared,
                on_chunks_removed=self.pool.on_chunks_removed,
                metadata={"tenant": job.tenant} if job.tenant else None,
            )
            report = ingestor.run(paths, progress=progress)
            job.report = report.to_dict()
            job.errors = list(report.files_failed)
            self.metrics.chunks.inc(report.chunks_added)
            job.state = "done"
        except RaglineError as exc:
            job.state, job.message = "failed", str(exc)
        except Exception as exc:  # never let a job die silently
            log.exception("ingestion job %s failed", job.id)
            job.state, job.message = "failed", f"{type(exc).__name__}: {exc}".splitlines()[0]
        finally:
            job.finished = time.time()
            self.metrics.jobs_running.dec()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
