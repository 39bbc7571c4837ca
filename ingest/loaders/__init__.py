"""Turn one file into typed text elements, or refuse it with a one-line reason.

Plain text, Markdown, reStructuredText, JSON, JSON Lines, CSV and TSV are read directly;
PDF, Office, OpenDocument, EPUB, RTF and HTML go through unstructured (imported lazily,
offline), legacy Office files through LibreOffice, Org-mode through pandoc, images through
OCR. Archives and e-mails are containers: the files they hold come back as members, each a
document of its own. Every element is cleaned of invisible characters. Every failure is a
:class:`~ragline.retrieval.errors.LoaderError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ragline.ingest.clean import clean_element
from ragline.ingest.elements import Element
from ragline.ingest.loaders.containers import Contents, Member, Unpacking
from ragline.ingest.loaders.formats import FORMATS, format_suffix
from ragline.ingest.loaders.guards import check_archive, check_file
from ragline.ingest.loaders.mime import detect_mime
from ragline.ingest.loaders.partition import one_line, preload
from ragline.ingest.settings import IngestSettings
from ragline.retrieval.errors import BackendUnavailable, LoaderError

__all__ = [
    "SUPPORTED_SUFFIXES",
    "LoadedFile",
    "Member",
    "format_suffix",
    "is_supported",
    "load_file",
    "preload",
]

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(FORMATS)


@dataclass(frozen=True)
class LoadedFile:
    mime_type: str
    elements: tuple[Element, ...]
    members: tuple[Member, ...] = ()


def is_supported(path: Path | str) -> bool:
    return format_suffix(path) in SUPPORTED_SUFFIXES


def load_file(path: Path, settings: IngestSettings) -> LoadedFile:
    """Read ``path`` into elements in reading order (and, for a container, its members).

    Raises LoaderError (never anything else, bar BackendUnavailable when unstructured's spaCy
    model is missing) when the file cannot be turned into text.
    """
    return _load(path, settings, None)


def _load(path: Path, settings: IngestSettings, unpacking: Unpacking | None) -> LoadedFile:
    suffix = format_suffix(path)
    fmt = FORMATS.get(suffix)
    if fmt is None:
        raise LoaderError(
            f"unsupported file type {suffix}" if suffix else "unsupported file type (no suffix)"
        )
    head = check_file(path, settings)
    try:
        if fmt.zipped:
            check_archive(path, head, suffix, settings)
        if fmt.unpack is not None:
            contents = fmt.unpack(path, unpacking or Unpacking(settings, _load_member))
        else:
            assert fmt.load is not None
            contents = Contents(tuple(fmt.load(path, settings)))
    except (LoaderError, BackendUnavailable):
        raise
    except Exception as exc:
        raise LoaderError(f"could not parse {suffix} file: {one_line(exc)}") from exc
    elements = tuple(e for e in map(clean_element, contents.elements) if e.text.strip())
    if not elements and not contents.members:
        raise LoaderError("no text found")
    return LoadedFile(detect_mime(path, fmt.mime), elements, contents.members)


def _load_member(
    path: Path, unpacking: Unpacking
) -> tuple[str, tuple[Element, ...], tuple[Member, ...]]:
    loaded = _load(path, unpacking.settings, unpacking)
    return loaded.mime_type, loaded.elements, loaded.members
