"""Archives (.zip, .tar, .tar.gz, .tgz): every member is loaded as a document of its own.

The guards that protect Office files protect archives too: the whole zip is checked before
anything is inflated (``guards.check_archive``: declared size, ratio, entry count), every
member is charged to one budget shared with everything nested in it (total bytes and member
count, ``Unpacking.take``), archives nest at most ``ingest.archive_max_depth`` deep, and a
member over ``ingest.max_file_mb`` is refused before it is read. Tar files are read as a stream,
so a compressed tar is never inflated beyond the budget either. Hidden members (a name part
starting with ``.``, ``__MACOSX/``), directories, links and devices are skipped, as hidden files
are when a folder is walked.
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from ragline.ingest.loaders.containers import Contents, Member, Unpacking
from ragline.ingest.loaders.guards import (
    MAX_RATIO,
    MB,
    PASSWORD_PROTECTED,
    RATIO_CHECK_FROM_MB,
    format_mb,
)
from ragline.ingest.loaders.partition import one_line
from ragline.retrieval.errors import LoaderError

EMPTY = "empty archive (no files in it)"


def unpack_zip(path: Path, unpacking: Unpacking) -> Contents:
    members: list[Member] = []
    seen: set[str] = set()
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = member_name(info.filename)
                if name is None or name in seen or info.is_dir() or _zip_link(info):
                    continue
                seen.add(name)
                unpacking.take(info.file_size)
                refused = _too_big(info.file_size, unpacking)
                if refused is None and info.flag_bits & 0x1:
                    refused = PASSWORD_PROTECTED
                if refused is not None:
                    members.append(Member(name, "", info.file_size, error=refused))
                    continue
                try:
                    data = archive.read(info)
                except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                    members.append(Member(name, "", info.file_size, error=_corrupt(exc)))
                    continue
                members += unpacking.load_member(name, data)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise LoaderError(f"corrupt .zip file: {one_line(exc)}") from None
    if not members:
        raise LoaderError(EMPTY)
    return Contents(members=tuple(members))


def unpack_tar(path: Path, unpacking: Unpacking) -> Contents:
    """A plain or compressed (gzip, bzip2, xz) tar, read as one stream."""
    packed = max(1, path.stat().st_size)
    inflated = 0
    members: list[Member] = []
    seen: set[str] = set()
    try:
        with tarfile.open(path, mode="r|*") as archive:
            for info in archive:
                name = member_name(info.name)
                if name is None or name in seen or not info.isfile():
                    continue
                seen.add(name)
                unpacking.take(info.size)
                inflated += info.size
                if inflated > RATIO_CHECK_FROM_MB * MB and inflated / packed > MAX_RATIO:
                    raise LoaderError(
                        f"archive inflates to more than {format_mb(inflated / MB)} MB, "
                        f"{inflated / packed:.0f} times its packed size (a likely zip bomb)"
                    )
                refused = _too_big(info.size, unpacking)
                handle = None if refused is not None else archive.extractfile(info)
                if handle is None:
                    members.append(Member(name, "", info.size, error=refused or "not a file"))
                    continue
                members += unpacking.load_member(name, handle.read())
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise LoaderError(f"corrupt {_suffix(path)} file: {one_line(exc)}") from None
    if not members:
        raise LoaderError(EMPTY)
    return Contents(members=tuple(members))


def member_name(raw: str) -> str | None:
    """The member's path with ``.``, ``..`` and empty parts dropped; None for hidden ones."""
    parts = [p for p in PurePosixPath(raw.replace("\\", "/")).parts if p not in ("/", ".", "..")]
    if not parts or any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return None
    return "/".join(parts)


def _zip_link(info: zipfile.ZipInfo) -> bool:
    """A symbolic link (or device) stored by a Unix zip tool; no file type bits = a file."""
    return stat.S_IFMT(info.external_attr >> 16) not in (0, stat.S_IFREG)


def _too_big(size: int, unpacking: Unpacking) -> str | None:
    limit = unpacking.settings.max_file_mb
    if size > limit * MB:
        return f"file is {format_mb(size / MB)} MB, over the {limit:g} MB limit"
    return None


def _corrupt(exc: BaseException) -> str:
    if isinstance(exc, NotImplementedError):
        return f"unsupported zip compression: {one_line(exc)}"
    return f"corrupt archive member: {one_line(exc)}"


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".tar.gz" if name.endswith(".tar.gz") else path.suffix.lower()
