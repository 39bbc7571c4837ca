"""Concurrent /v1/search requests answered in batches.

A search is mostly fixed cost per call: one query-embedding call and one vector-store
call, whatever the number of queries in them (measured on 2 cores with use-m3 and Chroma
on 10k chunks: a batch of 16 costs about a quarter per query of 16 single calls). So the
server queues searches and lets ``threads`` worker threads take everything queued at once
(up to ``max_batch``): with one request in flight it runs alone, at once, and under load
the queue fills while a batch runs, so batches grow with the load and no request waits
for a timer. Requests are grouped by collection and search options; a batch that fails is
retried one query at a time, so one bad request cannot fail the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi.concurrency import run_in_threadpool

from ragline.retrieval.retrievers import SearchResult, search_many
from ragline.retrieval.settings import RetrievalSettings
from ragline.retrieval.types import Filter

if TYPE_CHECKING:
    from ragline.retrieval.collection import Collection

log = logging.getLogger(__name__)

Opener = Callable[[str], "Collection"]
Outcome = tuple[int, SearchResult] | BaseException


@dataclass
class _Job:
    collection: str
    query: str
    options: RetrievalSettings
    where: Filter | None
    future: asyncio.Future[tuple[int, SearchResult]]

    def group(self) -> str:
        where = self.where.to_dict() if self.where else []
        options = json.dumps([self.options.model_dump(mode="json"), where], sort_keys=True)
        return f"{self.collection}\0{options}"


class SearchBatcher:
    def __init__(
        self,
        open_collection: Opener,
        max_batch: int = 32,
        threads: int = 1,
        observe_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.open_collection = open_collection
        self.max_batch = max_batch
        self.threads = threads
        self.observe_batch = observe_batch or (lambda _size: None)
        self._queue: list[_Job] = []
        self._running: set[asyncio.Task[None]] = set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def search(
        self,
        collection: str,
        query: str,
        options: RetrievalSettings,
        where: Filter | None = None,
    ) -> tuple[int, SearchResult]:
        """The index version searched and the result."""
        future: asyncio.Future[tuple[int, SearchResult]] = (
            asyncio.get_running_loop().create_future()
        )
        self._queue.append(_Job(collection, query, options, where, future))
        self._start()
        return await future

    def _start(self) -> None:
        while self._queue and len(self._running) < self.threads:
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._start()

    async def _run(self, batch: list[_Job]) -> None:
        self.observe_batch(len(batch))
        try:
            outcomes = await run_in_threadpool(self._execute, batch)
        except asyncio.CancelledError:  # shutting down
            for job in batch:
                job.future.cancel()
            raise
        except Exception as exc:  # a bug here: no request may hang on it
            outcomes = [exc] * len(batch)
        for job, outcome in zip(batch, outcomes, strict=True):
            if job.future.done():  # the client went away
                continue
            if isinstance(outcome, BaseException):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)

    def _execute(self, batch: list[_Job]) -> list[Outcome]:
        outcomes: dict[int, Outcome] = {}
        groups: dict[str, list[int]] = {}
        for i, job in enumerate(batch):
            groups.setdefault(job.group(), []).append(i)
        for members in groups.values():
            jobs = [batch[i] for i in members]
            outcomes.update(zip(members, self._search_group(jobs), strict=True))
        return [outcomes[i] for i in range(len(batch))]

    def _search_group(self, jobs: list[_Job]) -> list[Outcome]:
        first = jobs[0]
        try:
            collection = self.open_collection(first.collection)
            version = collection.index_version
            results = search_many(collection, [j.query for j in jobs], first.options, first.where)
            return [(version, r) for r in results]
        except Exception as exc:
            if len(jobs) == 1:
                return [exc]
            log.debug("batched search of %d failed (%s); searching one by one", len(jobs), exc)
            return [outcome for job in jobs for outcome in self._search_group([job])]
