"""Turn one file into typed text elements, or refuse it with a one-line reason.

Plain text, Markdown, reStructuredText, JSON, JSON Lines, CSV and TSV are read directly;
PDF, Office, OpenDocument, EPUB, RTF, HTML and e-mail go through unstructured (imported
lazily, offline). Every failure is a :class:`~ragline.retrieval.errors.LoaderError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ragline.ingest.elements import Element
from ragline.ingest.loaders.formats import FORMATS
from ragline.ingest.loaders.guards import check_archive, check_file
from ragline.ingest.loaders.mime import detect_mime
from ragline.ingest.loaders.partition import one_line, preload
from ragline.retrieval.errors import BackendUnavailable, LoaderError
from ragline.retrieval.settings import IngestSettings

__all__ = ["SUPPORTED_SUFFIXES", "LoadedFile", "is_supported", "load_file", "preload"]

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(FORMATS)


@dataclass(frozen=True)
class LoadedFile:
    mime_type: str
    elements: tuple[Element, ...]


def is_supported(path: Path | str) -> bool:
    return Path(path).suffix.lower() in SUPPORTED_SUFFIXES


def load_file(path: Path, settings: IngestSettings) -> LoadedFile:
    """Read ``path`` into elements in reading order.

    Raises LoaderError (never anything else, bar BackendUnavailable when unstructured's spaCy
    model is missing) when the file cannot be turned into text.
    """
    suffix = path.suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt is None:
        raise LoaderError(
            f"unsupported file type {suffix}" if suffix else "unsupported file type (no suffix)"
        )
    head = check_file(path, settings)
    try:
        if fmt.zipped:
            check_archive(path, head, suffix, settings)
        elements = tuple(element for element in fmt.load(path, settings) if element.text.strip())
    except (LoaderError, BackendUnavailable):
        raise
    except Exception as exc:
        raise LoaderError(f"could not parse {suffix} file: {one_line(exc)}") from exc
    if not elements:
        raise LoaderError("no text found")
    return LoadedFile(detect_mime(path, fmt.mime), elements)
