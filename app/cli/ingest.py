"""`ragline ingest`: a thin command over ingest.pipeline.Ingestor."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from ragline.cache import evictor
from ragline.cli.output import interactive, print_json
from ragline.ingest.engines import ENGINES, open_engine
from ragline.ingest.pipeline import Ingestor, IngestReport
from ragline.retrieval.errors import IngestError
from ragline.retrieval.locks import disk_reason, storage_error
from ragline.retrieval.logs import setup_logging
from ragline.settings import load_settings


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and directories to ingest.")],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Collection name.")],
    workers: Annotated[
        int | None, typer.Option(help="Parser processes (default: one per core).", min=1)
    ] = None,
    prune: Annotated[
        bool,
        typer.Option("--prune", help="Also remove documents under PATHS whose files are gone."),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="With --prune: prune even when a directory yields no files or more than "
            "ingest.prune_max_share of the collection would go.",
        ),
    ] = False,
    embedder: Annotated[
        str | None,
        typer.Option(
            help="New collections only: e5-small, minilm, use-m3 or auto (e5-small today)."
        ),
    ] = None,
    store: Annotated[
        str | None, typer.Option(help="New collections only: chroma, faiss, torch, auto.")
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="Where files are parsed and embedded: local (this machine) or ray (the Ray "
            "cluster RAY_ADDRESS names, else a Ray instance started here; needs the 'scale' "
            "extra). Writes always go through this process.",
        ),
    ] = "local",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON report.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Load, chunk, embed and store documents; unchanged files are skipped."""
    settings = load_settings()
    setup_logging(settings.log_level, settings.log_json)
    if engine not in ENGINES:
        raise typer.BadParameter(f"choose one of {', '.join(ENGINES)}", param_hint="--engine")
    runner = open_engine(engine, settings)
    ingestor = Ingestor(
        settings,
        collection,
        embedder=embedder,
        store=store,
        workers=workers,
        on_chunks_removed=evictor(settings.cache),
        engine=runner,
    )
    try:
        with _storage_errors(collection):
            if interactive(quiet):
                from tqdm import tqdm

                bar = tqdm(desc="ingest", unit="file", dynamic_ncols=True)
                try:
                    report = ingestor.run(
                        paths, prune=prune, force=force, progress=lambda _s, _p: bar.update(1)
                    )
                finally:
                    bar.close()
            else:
                report = ingestor.run(paths, prune=prune, force=force)
    finally:
        runner.close()
    if as_json:
        print_json(report.to_dict())
    elif not quiet:
        _summary(report)
    if report.files_failed:
        raise typer.Exit(1)


@contextmanager
def _storage_errors(collection: str) -> Iterator[None]:
    """A disk that fills up or turns read-only mid-run stops it with one line (what was
    committed before stays; a rerun once there is room resumes)."""
    try:
        yield
    except OSError as exc:
        error = storage_error(exc, f"collection {collection!r}")
        raise IngestError(f"ingestion stopped: {error}; a rerun resumes") from exc
    except sqlite3.OperationalError as exc:
        reason = disk_reason(str(exc)) or str(exc)
        raise IngestError(
            f"ingestion stopped: cannot write collection {collection!r}: {reason}; a rerun resumes"
        ) from exc


def _summary(report: IngestReport) -> None:
    typer.echo(
        f"{report.collection}: {report.files_ok} ingested, {report.files_skipped} unchanged, "
        f"{len(report.files_failed)} failed, {report.documents_removed} removed; "
        f"+{report.chunks_added} / -{report.chunks_removed} chunks; "
        f"index version {report.index_version}; {report.seconds:.1f} s"
    )
    for failure in report.files_failed:
        typer.echo(f"  failed: {failure['path']}: {failure['error']}", err=True)
