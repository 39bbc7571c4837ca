"""Chroma in server mode (``store.chroma_url``): the HTTP client, collection names, the marker
a collection keeps of where its vectors are, and one error for an unreachable server.

Each ragline collection is one Chroma collection named ``ragline-<name>-<uid>``: the uid is
random per collection (collection.json), so data directories, tenants or a collection deleted
and made again under the same name never share one. ``store/server.json`` records that the
vectors live on a server: a collection opened later with the embedded store (or against a
server that lost them) is refused instead of looking empty.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ragline.retrieval.errors import BackendUnavailable, CollectionMismatch, UsageError

MARKER = "server.json"
DIM_KEY = "ragline_dim"
EMBEDDED_FILE = "chroma.sqlite3"


class StoreUnavailable(BackendUnavailable):
    """The Chroma server does not answer (down, restarting, unreachable); retry shortly."""

    retry_after = 2


def server_name(collection: str, uid: str) -> str:
    """The Chroma collection of ragline collection ``collection`` with identity ``uid``
    (Chroma allows 3-512 of ``[A-Za-z0-9._-]``, no ``..``, alphanumeric at both ends)."""
    if not uid:
        raise UsageError(f"collection {collection!r} has no uid: it cannot use a Chroma server")
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", collection)
    return f"ragline-{safe}-{uid}"


def _address(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    ssl = parts.scheme == "https"
    return parts.hostname or "localhost", parts.port or (443 if ssl else 8000), ssl


def connect(url: str, timeout_s: float) -> Any:
    """A chromadb HTTP client for ``url`` whose requests give up after ``timeout_s`` (the
    client's own default is to wait for ever on a hung server)."""
    import chromadb
    import httpx
    from chromadb.config import Settings as ChromaSettings

    host, port, ssl = _address(url)
    with translate(url):
        client: Any = chromadb.HttpClient(
            host=host, port=port, ssl=ssl, settings=ChromaSettings(anonymized_telemetry=False)
        )
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
    return client


@contextmanager
def translate(url: str) -> Iterator[None]:
    """Transport failures talking to the server become :class:`StoreUnavailable`."""
    import httpx

    try:
        yield
    except (httpx.TransportError, ValueError) as exc:
        # chromadb's client turns a refused connection while it starts into a ValueError
        cause = exc if isinstance(exc, httpx.TransportError) else exc.__context__
        if not isinstance(cause, httpx.TransportError):
            raise
        raise StoreUnavailable(
            f"the Chroma server at {url} does not answer ({type(cause).__name__}); "
            "retry when it is back"
        ) from exc


def heartbeat(url: str, timeout_s: float = 2.0) -> str | None:
    """None when the Chroma server at ``url`` answers its heartbeat, else why not (one line,
    without the URL)."""
    import httpx

    try:
        response = httpx.get(f"{url}/api/v2/heartbeat", timeout=timeout_s)
    except httpx.HTTPError as exc:
        return f"no answer ({type(exc).__name__})"
    if response.status_code != 200:
        return f"heartbeat status {response.status_code}"
    return None


def read_marker(store: Path) -> str | None:
    """The server-side collection name recorded in ``store``, if its vectors are on a server."""
    try:
        data = json.loads((store / MARKER).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CollectionMismatch(f"unreadable {store / MARKER}: {exc}") from exc
    return str(data["collection"])


def write_marker(store: Path, name: str) -> None:
    store.mkdir(parents=True, exist_ok=True)
    tmp = store / f"{MARKER}.tmp"
    tmp.write_text(json.dumps({"collection": name}))
    os.replace(tmp, store / MARKER)


def check_embedded(store: Path) -> None:
    """Refuse to open the embedded store where a collection's vectors are on a server."""
    if (store / MARKER).is_file():
        raise CollectionMismatch(
            f"the collection at {store.parent} keeps its vectors on a Chroma server: "
            "set store.chroma_url (RAGLINE_STORE__CHROMA_URL) to that server"
        )


def check_server(store: Path, name: str) -> bool:
    """Whether ``store`` says its vectors are on a server already (so they must be found
    there); refuses one whose vectors are in the embedded store."""
    if (store / EMBEDDED_FILE).is_file():
        raise CollectionMismatch(
            f"the collection at {store.parent} keeps its vectors in the embedded store, not "
            "on a Chroma server: unset store.chroma_url, or ingest into a new collection"
        )
    recorded = read_marker(store)
    if recorded is not None and recorded != name:
        raise CollectionMismatch(
            f"the collection at {store.parent} is {recorded} on the Chroma server, not {name}"
        )
    return recorded is not None


def open_collection(client: Any, url: str, name: str, dim: int, existing: bool) -> Any:
    """The server-side collection ``name``: created if new; one recorded as existing must be
    there (else the server lost it, or ``url`` is another server)."""
    from chromadb.errors import NotFoundError

    with translate(url):
        if existing:
            try:
                return client.get_collection(name, embedding_function=None)
            except (NotFoundError, ValueError) as exc:
                raise CollectionMismatch(
                    f"the Chroma server at {url} has no collection {name} (it lost its data, or "
                    "store.chroma_url points at another server); re-ingest the collection"
                ) from exc
        return client.get_or_create_collection(
            name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={DIM_KEY: dim},
        )


def drop(store: Path, url: str, timeout_s: float) -> bool:
    """Delete the server-side collection recorded in ``store`` (deleting a ragline collection
    in server mode); False when there was none. StoreUnavailable if the server is down: the
    deletion then stops before anything is removed, and can be run again."""
    from chromadb.errors import NotFoundError

    name = read_marker(store)
    if name is None:
        return False
    if not url:
        raise CollectionMismatch(
            f"the collection at {store.parent} keeps its vectors on a Chroma server: set "
            "store.chroma_url to delete it"
        )
    client = connect(url, timeout_s)
    try:
        with translate(url):
            try:
                client.delete_collection(name)
            except (NotFoundError, ValueError):
                return False  # gone already: a deletion run again
        return True
    finally:
        client.close()
