"""`ragline cache stats|clear`: look into, or empty, the shared answer cache."""

from __future__ import annotations

from typing import Annotated

import typer

from ragline.cli.output import print_json
from ragline.settings import load_settings

cache_app = typer.Typer(help="Inspect or empty the answer cache.", no_args_is_help=True)

_NO_REDIS = "no Redis configured (cache.redis_url): answers are cached inside each process only"


@cache_app.command("stats")
def stats(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Entries and namespaces stored, and the cache's settings."""
    from ragline.cache.factory import open_store

    settings = load_settings()
    store = open_store(settings.cache)
    try:
        counts = store.count()  # Redis down: CacheUnavailable, a one-line error
    finally:
        store.close()
    data = {
        "backend": store.kind,
        "redis_url": settings.cache.redis_url,
        "key_prefix": settings.cache.key_prefix,
        **counts,
        "ttl_s": settings.cache.ttl_s,
        "max_entries_per_namespace": settings.cache.max_entries,
        "semantic": settings.cache.semantic,
        "similarity_threshold": (
            "by embedder"
            if settings.cache.similarity_threshold is None
            else settings.cache.similarity_threshold
        ),
        "min_overlap": settings.cache.min_overlap,
    }
    if as_json:
        print_json(data)
        return
    if store.kind == "memory":
        typer.echo(_NO_REDIS)
        return
    typer.echo(
        f"{data['entries']} cached answers in {data['namespaces']} namespaces "
        f"({settings.cache.redis_url}, prefix {settings.cache.key_prefix!r})"
    )


@cache_app.command("clear")
def clear() -> None:
    """Remove every cached answer under the configured key prefix."""
    from ragline.cache.factory import open_store

    settings = load_settings()
    store = open_store(settings.cache)
    if store.kind == "memory":
        typer.echo(_NO_REDIS)
        return
    try:
        removed = store.clear()
    finally:
        store.close()
    typer.echo(f"removed {removed} cached answers")
