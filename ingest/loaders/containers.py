"""Files that hold other files (archives, e-mails with attachments): their members, loaded as
documents of their own, and the budget that keeps a zip bomb from exhausting the machine.

A member is named by its path inside the container; nested containers flatten into one list
with ``!/`` between the levels (``docs.zip`` holding ``old.tar.gz`` holding ``a.txt`` gives the
member ``old.tar.gz!/a.txt``), so the pipeline stores it as ``…/docs.zip!/old.tar.gz!/a.txt``.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ragline.ingest.elements import Element
from ragline.ingest.loaders.guards import MB
from ragline.ingest.settings import IngestSettings
from ragline.retrieval.errors import LoaderError

SEPARATOR = "!/"
# Suffixes of files that may hold members: a stored source "<file><SEPARATOR><member>" is a
# member only when <file> ends with one of these.
# (tests/ingest/test_archives.py checks this against the format table).
CONTAINER_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".eml", ".msg")


@dataclass(frozen=True)
class Member:
    """One file inside a container: its elements, or the one-line reason it failed."""

    name: str
    content_hash: str
    size: int
    mime_type: str = ""
    elements: tuple[Element, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Contents:
    """What a container loader returns: the container's own text (an e-mail's body; nothing
    for an archive) and its members."""

    elements: tuple[Element, ...] = ()
    members: tuple[Member, ...] = ()


class Unpacking:
    """Shared by a container and everything nested in it: the bytes and members it may still
    unpack, how deep it is, and how to load a member (``ragline.ingest.loaders.load_file``)."""

    def __init__(self, settings: IngestSettings, load: LoadMember) -> None:
        self.settings = settings
        self.depth = 0
        self.bytes_left = int(settings.max_unzipped_mb * MB)
        self.members_left = settings.archive_max_members
        self._load = load

    def take(self, size: int) -> None:
        """Account for one member of ``size`` bytes; refuse when the budget is spent."""
        self.members_left -= 1
        if self.members_left < 0:
            raise BudgetSpent(
                f"archive holds more than {self.settings.archive_max_members} files "
                "(with what it nests)"
            )
        self.bytes_left -= size
        if self.bytes_left < 0:
            raise BudgetSpent(
                f"archive inflates to more than {self.settings.max_unzipped_mb:g} MB "
                "(with what it nests)"
            )

    def load_member(self, name: str, data: bytes) -> list[Member]:
        """Load extracted bytes as member ``name``; a nested container contributes its own
        members after it. A member that fails becomes a failed Member, never an exception —
        except when the budget is spent, which fails the whole container."""
        digest = hashlib.sha256(data).hexdigest()
        if self.depth >= self.settings.archive_max_depth:
            error = f"nested more than {self.settings.archive_max_depth} containers deep"
            return [Member(name, digest, len(data), error=error)]
        with tempfile.TemporaryDirectory(prefix="ragline-member-") as folder:
            path = Path(folder) / member_file_name(name)
            path.write_bytes(data)
            self.depth += 1
            try:
                mime, elements, nested = self._load(path, self)
            except BudgetSpent:
                raise
            except LoaderError as exc:
                return [Member(name, digest, len(data), error=str(exc))]
            finally:
                self.depth -= 1
        prefix = name + SEPARATOR
        renamed = [
            Member(prefix + m.name, m.content_hash, m.size, m.mime_type, m.elements, m.error)
            for m in nested
        ]
        return [Member(name, digest, len(data), mime, elements), *renamed]


class BudgetSpent(LoaderError):
    """The container (with what it nests) is over the size or member-count limit."""


LoadMember = Callable[[Path, Unpacking], tuple[str, tuple[Element, ...], tuple[Member, ...]]]
"""Loads one extracted member file: (MIME type, elements, the members it holds itself)."""


def member_file_name(name: str) -> str:
    """A safe local file name keeping the member's own name (and so its suffix)."""
    base = PurePosixPath(name.replace("\\", "/")).name or "member"
    base = "".join(c if c.isprintable() and c not in "/\0" else "_" for c in base)
    return base[-200:] if len(base.encode()) < 240 else base[-60:]


def unique_names(names: list[str]) -> Iterator[str]:
    """Names made unique by a ``-2``, ``-3`` … before the suffix (e-mail attachments)."""
    seen: set[str] = set()
    for name in names:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            stem, dot, suffix = name.rpartition(".")
            candidate = f"{stem}-{n}.{suffix}" if dot and stem else f"{name}-{n}"
        seen.add(candidate)
        yield candidate


def container_of(source: str) -> str | None:
    """The container file of a member source (``/a/docs.zip!/x/y.txt`` → ``/a/docs.zip``),
    or None when ``source`` is a file of its own."""
    start = 0
    while (at := source.find(SEPARATOR, start)) >= 0:
        head = source[:at]
        if head.lower().endswith(CONTAINER_SUFFIXES):
            return head
        start = at + 1
    return None
