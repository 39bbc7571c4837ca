"""The MIME type of a file: libmagic's answer, unless it is generic and the suffix says more."""

from __future__ import annotations

import mimetypes
from pathlib import Path

# libmagic answers that say less than a known suffix does (Markdown is "text/plain" to it,
# an OOXML file written by some tools is just "application/zip").
_GENERIC = frozenset(
    {
        "application/octet-stream",
        "application/zip",
        "application/x-empty",
        "inode/x-empty",
        "text/plain",
    }
)


def detect_mime(path: Path, suffix_mime: str | None = None) -> str:
    """``suffix_mime`` is what the caller knows the suffix means; else mimetypes is asked."""
    by_suffix = suffix_mime or mimetypes.guess_type(path.name)[0]
    sniffed = _libmagic(path)
    if sniffed and (sniffed not in _GENERIC or by_suffix is None):
        return sniffed
    return by_suffix or sniffed or "application/octet-stream"


def _libmagic(path: Path) -> str | None:
    try:
        import magic

        return str(magic.from_file(str(path), mime=True)) or None
    except Exception:  # libmagic missing or unreadable file: the suffix decides
        return None
