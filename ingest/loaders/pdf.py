"""PDFs: the text layer via unstructured's "fast" strategy, OCR (tesseract) for pages that are
pictures of text.

unstructured returns no elements rather than raising for broken or encrypted PDFs, so pypdf
opens the file first to tell those apart from PDFs that merely have no text layer. A page is
OCR'd when its text layer holds (almost) nothing and it shows an image — a scanned page in an
otherwise digital PDF, or every page of a scan; its elements are marked ``ocr``. The "hi_res"
strategy is never used: it needs layout models from a model hub.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from ragline.ingest.elements import Element
from ragline.ingest.loaders.guards import PASSWORD_PROTECTED
from ragline.ingest.loaders.ocr import ocr, tesseract_available
from ragline.ingest.loaders.partition import one_line, partition, to_elements
from ragline.ingest.settings import IngestSettings
from ragline.retrieval.errors import LoaderError

_HEADER_WINDOW = 1024  # PDF readers accept junk before the %PDF header
# A page whose text layer has fewer characters than this (a page number, a stamp) and that
# shows an image is read by OCR instead.
_SCANNED_PAGE_CHARS = 25


def load_pdf(path: Path, settings: IngestSettings) -> list[Element]:
    reader, problem = _open(path)
    elements = to_elements(
        partition(
            "pdf", "partition_pdf", path, filename=str(path), strategy="fast", languages=["eng"]
        )
    )
    if not elements and problem:
        raise LoaderError(f"corrupt PDF: {problem}")
    scanned = _scanned_pages(reader, elements)
    if not scanned:
        return elements
    if not elements:
        if not settings.pdf_ocr:
            raise LoaderError("no text found (the PDF has no text layer and OCR is off)")
        if not ocr_available():
            raise LoaderError(
                "no text found (the PDF has no text layer; install tesseract-ocr and "
                "poppler-utils to OCR it)"
            )
    elif not settings.pdf_ocr or not ocr_available():
        return elements  # the text layer is what we can read
    read = _ocr_pages(path, reader, scanned, settings)
    if not elements and not read:
        raise LoaderError("no text found, not even by OCR")
    replaced = {e.page for e in read}
    kept = [e for e in elements if e.page not in replaced]
    return sorted([*kept, *read], key=lambda e: e.page or 0)


def ocr_available() -> bool:
    """Tesseract, and poppler's pdftoppm to turn pages into images for it."""
    return tesseract_available() and shutil.which("pdftoppm") is not None


def _open(path: Path) -> tuple[Any, str | None]:
    """pypdf's reader (None when it cannot read the file) and why not; raises for a missing
    header or a password."""
    with path.open("rb") as handle:
        if b"%PDF-" not in handle.read(_HEADER_WINDOW):
            raise LoaderError("not a PDF file (no %PDF header)")
    import pypdf

    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoaderError(PASSWORD_PROTECTED)
        if len(reader.pages) == 0:
            return None, "it has no pages"
    except LoaderError:
        raise
    except Exception as exc:
        return None, one_line(exc)
    return reader, None


def _scanned_pages(reader: Any, elements: list[Element]) -> list[int]:
    """1-based numbers of the pages to OCR: every page when there is no text at all, else the
    pages with (almost) no text that show an image."""
    if reader is None:
        return []
    count = len(reader.pages)
    if not elements:
        return list(range(1, count + 1))
    chars = dict.fromkeys(range(1, count + 1), 0)
    for e in elements:
        if e.page in chars:
            chars[e.page] += len(e.text.strip())
    return [n for n, size in chars.items() if size < _SCANNED_PAGE_CHARS and _has_image(reader, n)]


def _has_image(reader: Any, number: int) -> bool:
    try:
        page: Any = reader.pages[number - 1]
        resources: Any = page.get("/Resources")
        xobjects: Any = resources.get_object().get("/XObject") if resources else None
        if not xobjects:
            return False
        return any(
            xobject.get_object().get("/Subtype") == "/Image"
            for xobject in xobjects.get_object().values()
        )
    except Exception:  # an unusual page structure: OCR it rather than lose it
        return True


def _ocr_pages(
    path: Path, reader: Any, pages: list[int], settings: IngestSettings
) -> list[Element]:
    if len(pages) == len(reader.pages):
        return ocr("pdf", path, settings)
    import pypdf

    out: list[Element] = []
    with tempfile.TemporaryDirectory(prefix="ragline-ocr-") as folder:
        for number in pages:
            single = Path(folder) / f"page-{number}.pdf"
            writer = pypdf.PdfWriter()
            writer.add_page(reader.pages[number - 1])
            with single.open("wb") as handle:
                writer.write(handle)
            out += ocr("pdf", single, settings, starting_page_number=number)
    return out
