"""Checks that run before any parser sees a file: is it a readable, non-empty regular file of
acceptable size, and is a zip-based document safe to inflate and not password-protected?"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

from ragline.ingest.settings import IngestSettings
from ragline.retrieval.errors import LoaderError

MB = 1024 * 1024
# Compound File Binary (OLE2): legacy .doc/.xls/.ppt, and encrypted OOXML documents.
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
PASSWORD_PROTECTED = "password-protected document"
# Beyond this inflation ratio an archive this large is refused as a likely zip bomb; real
# office documents inflate 2 to 30 times.
MAX_RATIO = 100
RATIO_CHECK_FROM_MB = 20
MAX_MEMBERS = 50_000
_HEAD_BYTES = 8


def check_file(path: Path, settings: IngestSettings) -> bytes:
    """Refuse what is not a readable, non-empty regular file within the size limit.

    Returns the file's first bytes.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise LoaderError(
            "broken symbolic link" if path.is_symlink() else "file not found"
        ) from None
    except PermissionError:
        raise LoaderError("permission denied") from None
    except OSError as exc:
        raise LoaderError(f"cannot read file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise LoaderError("is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        # FIFOs, sockets and devices could block forever or never end.
        raise LoaderError("not a regular file")
    if info.st_size == 0:
        raise LoaderError("empty file")
    size_mb = info.st_size / MB
    if size_mb > settings.max_file_mb:
        raise LoaderError(
            f"file is {format_mb(size_mb)} MB, over the {settings.max_file_mb:g} MB limit"
        )
    try:
        with path.open("rb") as handle:
            return handle.read(_HEAD_BYTES)
    except PermissionError:
        raise LoaderError("permission denied") from None
    except OSError as exc:
        raise LoaderError(f"cannot read file: {exc.strerror or exc}") from None


def check_archive(path: Path, head: bytes, suffix: str, settings: IngestSettings) -> None:
    """For zip-based formats (OOXML, ODF, EPUB): refuse encrypted documents, files that are not
    zip archives, and archives that would inflate beyond ``settings.max_unzipped_mb``."""
    if head.startswith(CFB_MAGIC):
        raise LoaderError(_describe_cfb(path, suffix))
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            manifest = _read_small(archive, "META-INF/manifest.xml")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise LoaderError(f"corrupt {suffix} file: not a valid zip archive ({exc})") from None
    if len(members) > MAX_MEMBERS:
        raise LoaderError(f"archive has {len(members)} entries, over the {MAX_MEMBERS} limit")
    inflated = sum(member.file_size for member in members)
    compressed = max(1, sum(member.compress_size for member in members))
    inflated_mb = inflated / MB
    if inflated_mb > settings.max_unzipped_mb:
        raise LoaderError(
            f"archive inflates to {format_mb(inflated_mb)} MB, over the "
            f"{settings.max_unzipped_mb:g} MB limit"
        )
    ratio = inflated / compressed
    if inflated_mb > RATIO_CHECK_FROM_MB and ratio > MAX_RATIO:
        raise LoaderError(
            f"archive inflates to {format_mb(inflated_mb)} MB, {ratio:.0f} times its packed size "
            "(a likely zip bomb)"
        )
    if manifest is not None and b"encryption-data" in manifest:
        raise LoaderError(PASSWORD_PROTECTED)  # an encrypted OpenDocument file


def format_mb(size_mb: float) -> str:
    """One decimal ("123.4"), or two significant digits below 1 MB ("0.031")."""
    return f"{size_mb:.1f}" if size_mb >= 1 else f"{size_mb:.2g}"


def _read_small(archive: zipfile.ZipFile, name: str, limit: int = MB) -> bytes | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > limit:
        return None
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError):
        return None


def _describe_cfb(path: Path, suffix: str) -> str:
    """An OLE2 container under an OOXML name is an encrypted document or a legacy one."""
    try:
        import msoffcrypto

        with path.open("rb") as handle:
            encrypted = bool(msoffcrypto.OfficeFile(handle).is_encrypted())
    except Exception:  # not installed, or not a parsable container: say both possibilities
        return f"{PASSWORD_PROTECTED} or legacy binary Office file, not a valid {suffix} file"
    if encrypted:
        return PASSWORD_PROTECTED
    return f"legacy binary Office file, not a valid {suffix} file; save it as {suffix}"
