"""One writer per collection: an exclusive lock around ingestion runs, uploads and deletions.

Two writers of one collection (``ragline ingest`` beside a server, ``serve --workers 2``, two
Ray drivers) interleaving their write-ahead rounds can leave chunks in the store that the
catalog does not know (searchable for good, never deleted). Every writer therefore holds
``collections/.<name>.lock`` (``flock``, exclusive) for as long as it writes.

The lock lives next to the catalog it protects, in the data directory, in both store modes:
with a Chroma server (``store.chroma_url``) the vectors are remote but the catalog is not, so
writers of one collection share its data directory and so its lock file. Machines that share
one data directory do so over a network file system; Linux maps ``flock`` there onto NFS
byte-range locks, which hold across machines. The kernel drops a lock when its holder dies
(``kill -9`` included): there is nothing to expire or clean up.

A thread already holding a collection's lock may take it again (nested writes); other
threads and processes wait up to ``timeout_s``, then get :class:`CollectionLocked` naming the
holder. A data directory that cannot be written (read-only, full) fails at once with
:class:`StorageUnavailable`, before anything is changed.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ragline.retrieval.errors import BackendUnavailable, RaglineError, UsageError

_held: dict[Path, tuple[int, int]] = {}
"""Locks this process holds: path -> (thread id, depth)."""
_held_lock = threading.Lock()
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
"""Collection names (as ``ragline.retrieval.collection.check_name`` has them)."""


class CollectionLocked(RaglineError):
    """Another writer kept the collection's write lock longer than this one would wait."""

    retry_after = 5
    http_status = 409


class StorageUnavailable(BackendUnavailable):
    """The data directory cannot be written (read-only, full, permissions)."""


def lock_path(collections_dir: Path, name: str) -> Path:
    """The lock file of collection ``name`` (collection names never start with a dot, so it
    cannot be taken for a collection or collide with one)."""
    if not _NAME.match(name):
        raise UsageError(f"invalid collection name {name!r}")
    return collections_dir / f".{name}.lock"


def holder(path: Path) -> str:
    """Who holds (or last held) the lock at ``path``, as written by the holder."""
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "another writer"
    if not info:
        return "another writer"
    since = time.strftime("%H:%M:%S", time.localtime(float(info.get("since", 0))))
    return f"{info.get('purpose', 'a writer')} (pid {info.get('pid')} on {info.get('host')}, since {since})"


_DISK_ERRORS = (
    ("disk is full", "no space left on device"),
    ("no space left", "no space left on device"),
    ("readonly database", "the file system is read-only"),
    ("read-only file system", "the file system is read-only"),
)
"""What SQLite and embedded Chroma say when their disk cannot be written."""


def disk_reason(message: str) -> str | None:
    """The disk problem a store's error message reports, in ragline's words; None if none."""
    lowered = message.lower()
    return next((reason for key, reason in _DISK_ERRORS if key in lowered), None)


def storage_error(exc: OSError, what: str) -> StorageUnavailable:
    reason = {
        errno.EROFS: "the file system is read-only",
        errno.ENOSPC: "no space left on device",
        errno.EDQUOT: "disk quota exceeded",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return StorageUnavailable(f"cannot write {what}: {reason}")


@contextmanager
def write_lock(
    collections_dir: Path, name: str, purpose: str, timeout_s: float = 600.0
) -> Iterator[None]:
    """Hold collection ``name``'s write lock for the block. ``purpose`` ("ingest", "upload",
    "delete document") is recorded for whoever waits."""
    path = lock_path(collections_dir, name).absolute()
    me = threading.get_ident()
    with _held_lock:
        owner = _held.get(path)
        if owner is not None and owner[0] == me:
            _held[path] = (me, owner[1] + 1)
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _held_lock:
                thread, depth = _held[path]
                _held[path] = (thread, depth - 1)
        return
    fd = _acquire(path, name, purpose, timeout_s)
    with _held_lock:
        _held[path] = (me, 1)
    try:
        yield
    finally:
        with _held_lock:
            _held.pop(path, None)
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _acquire(path: Path, name: str, purpose: str, timeout_s: float) -> int:
    what = f"collection {name!r}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise storage_error(exc, what) from exc
    deadline = time.monotonic() + timeout_s
    pause = 0.02
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise CollectionLocked(
                        f"{what} is being written by {holder(path)}; gave up after "
                        f"{timeout_s:g} s (store.write_lock_timeout_s): try again when it is done"
                    ) from None
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                pause = min(pause * 2, 0.5)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose}
        data = json.dumps({**info, "since": time.time()}).encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        except OSError as exc:  # a full disk: nothing can be written after this either
            raise storage_error(exc, what) from exc
    except BaseException:
        os.close(fd)
        raise
    return fd


__all__ = [
    "CollectionLocked",
    "StorageUnavailable",
    "disk_reason",
    "lock_path",
    "storage_error",
    "write_lock",
]
