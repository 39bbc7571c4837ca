"""`ragline search`: a thin command over retrieval.retrievers.search."""

from __future__ import annotations

from typing import Annotated

import typer

from ragline.cli.output import print_json, shorten
from ragline.retrieval.collection import Collection
from ragline.retrieval.errors import UsageError
from ragline.retrieval.filters import parse_filters
from ragline.retrieval.logs import setup_logging
from ragline.retrieval.retrievers import search as run_search
from ragline.retrieval.settings import SEARCH_MODES, RetrievalSettings, SearchMode
from ragline.retrieval.types import Filter
from ragline.settings import Settings, load_settings

FILTER_HELP = (
    "Metadata filter, repeatable (AND): key=value, key>=v / key<=v (numbers, ISO dates), "
    "key^=prefix. E.g. --filter file_type=pdf --filter source^=/docs/ "
    "--filter modified>=2024-01-01 --filter tenant=acme."
)


def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    collection: Annotated[str, typer.Option("--collection", "-c")],
    k: Annotated[int | None, typer.Option("--k", "-k", min=1, max=1000)] = None,
    mode: Annotated[
        str | None, typer.Option("--mode", "-m", help="dense, bm25 or hybrid (default: settings).")
    ] = None,
    filters: Annotated[list[str] | None, typer.Option("--filter", "-f", help=FILTER_HELP)] = None,
    mmr: Annotated[
        bool | None, typer.Option("--mmr/--no-mmr", help="Diversify the hits (MMR).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search a collection: dense, keyword (BM25) or hybrid, with metadata filters."""
    settings = load_settings()
    setup_logging(settings.log_level, settings.log_json)
    options = cli_search_options(settings, mode, k, mmr)
    with Collection.open(collection, settings) as coll:
        result = run_search(coll, query, options, cli_filters(filters))
    if as_json:
        print_json([h.to_dict() for h in result.hits])
        return
    if not result.context_found:
        typer.echo(
            f"(no good context: best {result.score_name} score "
            f"{_fmt(result.best_score)} < {result.threshold})",
            err=True,
        )
    for rank, hit in enumerate(result.hits, 1):
        where_text = hit.source
        if "page" in hit.metadata:
            where_text += f" p.{hit.metadata['page']}"
        parts = " ".join(f"{name} {value:.3f}" for name, value in hit.scores.items())
        typer.echo(f"{rank}. [{hit.score:.3f}] {where_text}  ({parts})\n   {shorten(hit.text)}")


def _fmt(score: float | None) -> str:
    return "n/a" if score is None else f"{score:.3f}"


def cli_search_options(
    settings: Settings, mode: str | None, k: int | None, mmr: bool | None = None
) -> RetrievalSettings:
    """Search options from the settings and the command-line flags shared by commands."""
    return settings.retrieval.override(mode=check_mode(mode), k=k, mmr=mmr)


def check_mode(mode: str | None) -> SearchMode | None:
    """A ``--mode`` value, checked."""
    if mode is not None and mode not in SEARCH_MODES:
        raise UsageError(f"invalid --mode {mode!r}: choose one of {', '.join(SEARCH_MODES)}")
    return mode


def cli_filters(filters: list[str] | None) -> Filter | None:
    """``--filter`` flags as one filter (None without any)."""
    return parse_filters(filters or []) or None
