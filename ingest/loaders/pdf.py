"""PDFs: the text layer via unstructured's "fast" strategy, OCR (tesseract) when there is none.

unstructured returns no elements rather than raising for broken or encrypted PDFs, so pypdf
opens the file first to tell those apart from PDFs that merely have no text layer. The
"hi_res" strategy is never used: it needs layout models from a model hub.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from ragline.ingest.elements import Element
from ragline.ingest.loaders.guards import PASSWORD_PROTECTED
from ragline.ingest.loaders.partition import one_line, partition, to_elements
from ragline.retrieval.errors import LoaderError
from ragline.retrieval.settings import IngestSettings

_HEADER_WINDOW = 1024  # PDF readers accept junk before the %PDF header
# Tesseract languages used when installed, in this order (English and Chinese text).
_OCR_LANGUAGES = ("eng", "chi_sim", "chi_tra")


def load_pdf(path: Path, settings: IngestSettings) -> list[Element]:
    problem = _structure_problem(path)
    elements = to_elements(
        partition(
            "pdf", "partition_pdf", path, filename=str(path), strategy="fast", languages=["eng"]
        )
    )
    if elements:
        return elements
    if problem:
        raise LoaderError(f"corrupt PDF: {problem}")
    if not settings.pdf_ocr:
        raise LoaderError("no text found (the PDF has no text layer and OCR is off)")
    if not ocr_available():
        raise LoaderError(
            "no text found (the PDF has no text layer; install tesseract-ocr and "
            "poppler-utils to OCR it)"
        )
    elements = to_elements(
        partition(
            "pdf",
            "partition_pdf",
            path,
            filename=str(path),
            strategy="ocr_only",
            languages=list(ocr_languages()),
        )
    )
    if not elements:
        raise LoaderError("no text found, not even by OCR")
    return elements


def _structure_problem(path: Path) -> str | None:
    """Why pypdf cannot read the file (None when it can); raises for a missing header or a
    password."""
    with path.open("rb") as handle:
        if b"%PDF-" not in handle.read(_HEADER_WINDOW):
            raise LoaderError("not a PDF file (no %PDF header)")
    import pypdf

    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoaderError(PASSWORD_PROTECTED)
        if len(reader.pages) == 0:
            return "it has no pages"
    except LoaderError:
        raise
    except Exception as exc:
        return one_line(exc)
    return None


def ocr_available() -> bool:
    """Tesseract, and poppler's pdftoppm to turn pages into images for it."""
    return shutil.which("tesseract") is not None and shutil.which("pdftoppm") is not None


@functools.cache
def ocr_languages() -> tuple[str, ...]:
    try:
        listed = subprocess.run(
            ["tesseract", "--list-langs"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        listed = []
    return tuple(lang for lang in _OCR_LANGUAGES if lang in listed) or ("eng",)
