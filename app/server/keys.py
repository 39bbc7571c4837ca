"""API keys bound to tenants: ``keys.json`` in the data directory, hashes only.

A key reads ``rgl_<id>_<secret>``: the id names it in listings and revocations, the secret
is 32 random bytes. Only the SHA-256 of the whole key is stored (a random 256-bit secret
needs no slow hash), so the file gives nobody a usable key. ``ragline keys create`` prints a
key once; the server re-reads the file when it changes (at most once a second), so keys
made or revoked while it runs take effect without a restart. Kept light: the CLI imports
it without the web stack.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ragline.retrieval.errors import BackendUnavailable, UsageError

Scope = Literal["read", "write"]
SCOPES: tuple[Scope, ...] = ("read", "write")
KEY_PREFIX = "rgl_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_KEY = re.compile(r"^rgl_([0-9a-f]{12})_[A-Za-z0-9_-]{20,100}$")
RELOAD_EVERY_S = 1.0


class KeyFileError(BackendUnavailable):
    """The key file cannot be read: nobody is let in until it can (the server answers 503)."""


def hash_key(key: bytes | str) -> str:
    raw = key.encode("utf-8", "surrogateescape") if isinstance(key, str) else key
    return hashlib.sha256(raw).hexdigest()


def check_tenant(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(f"invalid tenant name {name!r}: use 1-63 letters, digits, '.', '_' or '-'")
    return name


@dataclass(frozen=True)
class ApiKey:
    """One key's record (never the key itself)."""

    id: str
    tenant: str
    scopes: tuple[Scope, ...]
    collections: tuple[str, ...] = ()
    """Collections the key may use; empty = every collection."""
    sha256: str = field(default="", repr=False)
    created: float = 0.0
    revoked: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked is None

    def public(self) -> dict[str, Any]:
        """What listings show: everything but the hash."""
        data = asdict(self)
        del data["sha256"]
        data["scopes"] = list(self.scopes)
        data["collections"] = list(self.collections)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ApiKey:
        return cls(
            id=str(data["id"]),
            tenant=str(data["tenant"]),
            scopes=tuple(s for s in data.get("scopes", ()) if s in SCOPES),
            collections=tuple(str(c) for c in data.get("collections", ())),
            sha256=str(data["sha256"]),
            created=float(data.get("created", 0.0)),
            revoked=None if data.get("revoked") is None else float(data["revoked"]),
        )


def parse_scopes(text: str) -> tuple[Scope, ...]:
    """``"read,write"`` → ("read", "write"); an unknown scope is a UsageError."""
    wanted = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown or not wanted:
        raise UsageError(f"invalid --scope {text!r}: use read, write or read,write")
    return tuple(s for s in SCOPES if s in wanted)


def parse_collections(text: str | None) -> tuple[str, ...]:
    from ragline.retrieval.collection import check_name

    if not text:
        return ()
    return tuple(dict.fromkeys(check_name(c.strip()) for c in text.split(",") if c.strip()))


class KeyStore:
    """The keys of one data directory. Writers (the CLI) take an exclusive file lock around
    read-modify-write; readers (the server) keep an in-memory copy refreshed on change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: dict[str, ApiKey] = {}
        self._seen: tuple[int, int, int] | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> KeyStore:
        return cls(data_dir / "keys.json")

    # -- reading ----------------------------------------------------------------------------
    def _read(self) -> dict[str, ApiKey]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            keys = [ApiKey.from_dict(item) for item in raw.get("keys", [])]
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise KeyFileError(f"cannot read the API key file {self.path}: {exc}") from None
        return {k.id: k for k in keys}

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def refresh(self, force: bool = False) -> None:
        """Re-read the file if it changed (checked at most once a second unless forced)."""
        now = time.monotonic()
        with self._lock:
            if not force and now - self._checked < RELOAD_EVERY_S:
                return
            stamp = self._stamp()
            if stamp != self._seen or force:
                # A file that cannot be read raises here, on every call until it can be:
                # never the keys of before.
                self._keys = self._read() if stamp is not None else {}
                self._seen = stamp
            self._checked = now

    def all(self) -> list[ApiKey]:
        self.refresh()
        return sorted(self._keys.values(), key=lambda k: (k.created, k.id))

    def any(self) -> bool:
        """Whether any key was ever made here (revoked ones count: their tenants' documents
        are still stored, so reads stay closed)."""
        self.refresh()
        return bool(self._keys)

    def lookup(self, presented: str) -> ApiKey | None:
        """The active key ``presented`` is, or None."""
        match = _KEY.match(presented)
        if match is None:
            return None
        self.refresh()
        record = self._keys.get(match.group(1))
        if record is None or not record.active:
            return None
        if not hmac.compare_digest(record.sha256, hash_key(presented)):
            return None
        return record

    # -- writing ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, ApiKey]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            keys = self._read()
            yield keys
            self._write(keys.values())
        finally:
            os.close(fd)
        self.refresh(force=True)

    def _write(self, keys: Iterable[ApiKey]) -> None:
        data = {"version": 1, "keys": [asdict(k) for k in keys]}
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)

    def create(
        self,
        tenant: str,
        scopes: Sequence[Scope] = ("read",),
        collections: Sequence[str] = (),
    ) -> tuple[str, ApiKey]:
        """A new key (returned once, never stored) and its record."""
        check_tenant(tenant)
        if not scopes or any(s not in SCOPES for s in scopes):
            raise UsageError("a key needs the read and/or write scope")
        with self._locked() as keys:
            key_id = secrets.token_hex(6)
            while key_id in keys:
                key_id = secrets.token_hex(6)
            key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
            record = ApiKey(
                id=key_id,
                tenant=tenant,
                scopes=tuple(s for s in SCOPES if s in scopes),
                collections=tuple(collections),
                sha256=hash_key(key),
                created=time.time(),
            )
            keys[key_id] = record
        return key, record

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke key ``key_id`` (its id, or the whole key); UsageError if there is none."""
        match = _KEY.match(key_id)
        wanted = match.group(1) if match else key_id
        with self._locked() as keys:
            record = keys.get(wanted)
            if record is None:
                raise UsageError(f"no API key with id {key_id!r} (see: ragline keys list)")
            if record.revoked is None:
                record = ApiKey(**{**asdict(record), "revoked": time.time()})
                keys[wanted] = record
        return record
