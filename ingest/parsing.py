"""Parsing files in worker processes, with a bounded number of files in flight."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from ragline.ingest.elements import Element
from ragline.ingest.loaders.containers import Member
from ragline.ingest.settings import IngestSettings
from ragline.retrieval.errors import LoaderError


@dataclass(frozen=True)
class Parsed:
    """The outcome for one file: elements (and the members of a container), or a one-line
    error."""

    path: Path
    mime_type: str = ""
    elements: tuple[Element, ...] = ()
    error: str | None = None
    members: tuple[Member, ...] = ()


def parse_file(path: Path, settings: IngestSettings) -> Parsed:
    """Load one file; every failure becomes ``Parsed.error``, never an exception."""
    from ragline.ingest.loaders import load_file
    from ragline.retrieval.embedders.offline import force_offline

    force_offline()
    try:
        loaded = load_file(path, settings)
    except LoaderError as exc:
        return Parsed(path, error=str(exc))
    except Exception as exc:  # a loader bug must not stop the run
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return Parsed(path, error=f"{type(exc).__name__}: {first_line}"[:300])
    return Parsed(path, loaded.mime_type, loaded.elements, members=loaded.members)


Parser = Callable[[Path, IngestSettings], Parsed]


def parse_all(
    paths: Iterable[Path], settings: IngestSettings, workers: int, parser: Parser = parse_file
) -> Iterator[Parsed]:
    """Parse files in worker processes, yielding results as they complete.

    If a parser process dies (a segfault in a native library) or no file finishes within
    ``settings.file_timeout_s``, the pool is torn down and every file that was in flight is
    parsed again alone in a fresh process, so only the file at fault fails.
    """
    workers = max(1, workers)
    todo = iter(paths)
    suspects: list[Path] = []
    broken = True
    while broken:
        with _Pool(workers) as pool:
            broken = yield from pool.run(todo, settings, parser, workers * 2, suspects)
    for path in suspects:
        with _Pool(1) as alone:
            yield from alone.run(iter([path]), settings, parser, 1, None)


class _Pool:
    def __init__(self, workers: int) -> None:
        context = multiprocessing.get_context("forkserver")
        self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=context)

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    def kill(self) -> None:
        """Stop the worker processes now (a hung parser ignores polite shutdown)."""
        processes = getattr(self.executor, "_processes", None) or {}
        for process in list(processes.values()):
            process.kill()
        self.executor.shutdown(wait=False, cancel_futures=True)

    def run(
        self,
        todo: Iterator[Path],
        settings: IngestSettings,
        parser: Parser,
        limit: int,
        suspects: list[Path] | None,
    ) -> Generator[Parsed, None, bool]:
        """Yield results; return True if the pool broke (in-flight files go to ``suspects``)."""
        running: dict[Future[Parsed], Path] = {}
        while True:
            while len(running) < limit:
                path = next(todo, None)
                if path is None:
                    break
                running[self.executor.submit(parser, path, settings)] = path
            if not running:
                return False
            done, _ = wait(running, timeout=settings.file_timeout_s, return_when=FIRST_COMPLETED)
            if not done:  # nothing finished in time: a parser hangs
                self.kill()
                if suspects is None:
                    for path in running.values():
                        yield Parsed(
                            path, error=f"parsing took longer than {settings.file_timeout_s:g} s"
                        )
                    return False
                suspects.extend(running.values())
                return True
            for future in done:
                path = running.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    if suspects is None:
                        yield Parsed(path, error="the parser process crashed on this file")
                        continue
                    # The pool is gone with everything in flight; each of those is re-run
                    # alone later, and the files not yet sent go to a fresh pool.
                    suspects.append(path)
                    suspects.extend(running.values())
                    return True
