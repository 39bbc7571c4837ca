"""`ragline keys create|list|revoke`: API keys bound to tenants, for the HTTP server.

The key file lives in the data directory (``keys.json``, hashes only); a running server
picks up changes within a second."""

from __future__ import annotations

from typing import Annotated

import typer

from ragline.cli.output import print_json
from ragline.server.keys import KeyStore, parse_collections, parse_scopes
from ragline.settings import load_settings

keys_app = typer.Typer(
    help="Create, list or revoke API keys bound to tenants.", no_args_is_help=True
)


def _store() -> KeyStore:
    return KeyStore.for_data_dir(load_settings().data_dir)


@keys_app.command("create")
def create(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant the key is bound to.")],
    scope: Annotated[
        str, typer.Option("--scope", help="read, write or read,write (default: read).")
    ] = "read",
    collections: Annotated[
        str | None,
        typer.Option("--collections", help="Comma-separated collections (default: all)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"key": ..., ...}.')] = False,
) -> None:
    """Make a key for TENANT and print it once: only its hash is stored."""
    scopes = parse_scopes(scope)
    allowed = parse_collections(collections)
    key, record = _store().create(tenant, scopes, allowed)
    if as_json:
        print_json({"key": key, **record.public()})
        return
    typer.echo(key)
    where = ", ".join(record.collections) or "every collection"
    typer.echo(
        f"key {record.id} for tenant {record.tenant}: {','.join(record.scopes)} on {where} "
        "(shown once: store it now)",
        err=True,
    )


@keys_app.command("list")
def list_keys(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every key's id, tenant, scopes, collections and state (never the key)."""
    records = _store().all()
    if as_json:
        print_json([r.public() for r in records])
        return
    if not records:
        typer.echo("no API keys (make one with: ragline keys create --tenant NAME)")
    for r in records:
        state = "revoked" if r.revoked is not None else "active"
        where = ",".join(r.collections) or "*"
        typer.echo(f"{r.id}  {r.tenant}  {','.join(r.scopes)}  {where}  {state}")


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id (from keys list).")]) -> None:
    """Revoke a key: the server refuses it within a second."""
    record = _store().revoke(key_id)
    typer.echo(f"revoked {record.id} (tenant {record.tenant})")
