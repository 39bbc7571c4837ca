"""The root `ragline` command: each subcommand is a thin layer over a Python API."""

from __future__ import annotations

import sqlite3
import sys
from typing import Annotated

import typer

from ragline.cli.ask import ask
from ragline.cli.cache import cache_app
from ragline.cli.eval import eval_app
from ragline.cli.ingest import ingest
from ragline.cli.keys import keys_app
from ragline.cli.output import print_json
from ragline.cli.prompt import prompt_app
from ragline.cli.search import search
from ragline.cli.serve import serve
from ragline.retrieval.collection import Collection, delete_collection, list_collections
from ragline.retrieval.errors import RaglineError
from ragline.settings import load_settings

app = typer.Typer(
    name="ragline",
    help="Retrieval-augmented generation: ingest documents, search them, answer from them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
collections_app = typer.Typer(help="List collections, or delete one.", invoke_without_command=True)
app.command()(ingest)
app.command()(search)
app.command()(serve)
app.command()(ask)
app.add_typer(collections_app, name="collections")
app.add_typer(cache_app, name="cache")
app.add_typer(prompt_app, name="prompt")
app.add_typer(eval_app, name="eval")
app.add_typer(keys_app, name="keys")


@app.command()
def config() -> None:
    """Print the effective settings (defaults < ragline.toml < RAGLINE_* variables)."""
    print_json(load_settings().dump())


@collections_app.callback()
def collections(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Name, documents, chunks, index version and embedder of each collection."""
    if ctx.invoked_subcommand is not None:
        return
    settings = load_settings()
    rows = []
    for name in list_collections(settings):
        with Collection.open(name, settings) as coll:
            rows.append(coll.stats())
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo(f"no collections in {settings.collections_dir}")
    for r in rows:
        typer.echo(
            f"{r['name']}: {r['documents']} documents, {r['chunks']} chunks, "
            f"index version {r['index_version']}, {r['embedder']} ({r['store']})"
        )


@collections_app.command("delete")
def collections_delete(name: Annotated[str, typer.Argument()]) -> None:
    """Delete a collection and everything stored for it, its cached answers included."""
    from ragline.cache import evictor

    settings = load_settings()
    with Collection.open(name, settings) as coll:
        chunk_ids = sorted({i for r in coll.catalog.documents() for i in r.stored_ids})
    delete_collection(name, settings)
    # Answers made from it are keyed by its identity, so a collection made again under this
    # name never sees them; evicting frees them now (in Redis: a server's in-process cache
    # cannot be reached from here and lets them age out).
    evict = evictor(settings.cache)
    evicted = evict(chunk_ids) if evict is not None and chunk_ids else 0
    typer.echo(f"deleted {name}" + (f"; {evicted} cached answers evicted" if evicted else ""))


def main() -> None:
    try:
        app()
    except RaglineError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except (OSError, sqlite3.Error) as exc:
        # the data directory itself failed us (read-only, full, unreadable): one line, no
        # traceback; nothing was changed by a command that could not open its files
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        where = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""
        typer.echo(f"error: cannot use the data directory: {reason}{where}", err=True)
        sys.exit(1)
