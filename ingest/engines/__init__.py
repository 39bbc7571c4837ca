"""Where ingestion parses and embeds; what it writes, and how, is the same for every engine.

- ``local``: parser processes on this machine, the embedding model in this process.
- ``ray``: Ray tasks on a Ray cluster (or a local Ray instance): see
  :mod:`ragline.ingest.engines.ray_engine`.

The pipeline (``ragline.ingest.pipeline.Ingestor``) drives an engine and keeps every write
(catalog, store, keyword index) in the calling process, under the collection's write lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from ragline.ingest.parsing import Parsed, Parser, parse_all, parse_file
from ragline.ingest.settings import IngestConfig, IngestSettings
from ragline.retrieval.collection import Collection
from ragline.retrieval.embedders.base import Embedder
from ragline.retrieval.errors import UsageError

ENGINES = ("local", "ray")


class Engine(Protocol):
    name: str

    def parse(
        self, paths: Iterable[Path], settings: IngestSettings, workers: int
    ) -> Iterator[Parsed]:
        """Parse ``paths``, yielding each outcome as it completes; never raises for a file."""
        ...

    def embedder(self, collection: Collection) -> Embedder:
        """What embeds ``collection``'s documents (its own model, wherever it runs)."""
        ...

    def close(self) -> None: ...


class LocalEngine:
    """Parser processes here (``parse_all``); the collection's own model embeds."""

    name = "local"

    def __init__(self, parser: Parser = parse_file) -> None:
        self.parser = parser

    def parse(
        self, paths: Iterable[Path], settings: IngestSettings, workers: int
    ) -> Iterator[Parsed]:
        return parse_all(paths, settings, workers, self.parser)

    def embedder(self, collection: Collection) -> Embedder:
        return collection.embedder

    def close(self) -> None:
        pass


def open_engine(name: str, settings: IngestConfig) -> Engine:
    """The engine called ``name`` (``ray`` connects to RAY_ADDRESS, else starts Ray here)."""
    if name == "local":
        return LocalEngine()
    if name == "ray":
        from ragline.ingest.engines.ray_engine import RayEngine

        return RayEngine(settings)
    raise UsageError(f"unknown ingestion engine {name!r}; choose one of {', '.join(ENGINES)}")


__all__ = ["ENGINES", "Engine", "LocalEngine", "open_engine"]
