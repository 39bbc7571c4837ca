"""OCR with tesseract through unstructured (strategy ``ocr_only``): images, and PDF pages that
are pictures of text. Which languages are read is a setting (``ingest.ocr_languages``); those
not installed are left out with a warning."""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ragline.ingest.clean import join_cjk
from ragline.ingest.elements import Element
from ragline.ingest.loaders.partition import partition, to_elements
from ragline.ingest.settings import IngestSettings

log = logging.getLogger(__name__)


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


@functools.cache
def installed_languages() -> frozenset[str]:
    try:
        listed = subprocess.run(
            ["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        listed = []
    return frozenset(listed)


def ocr_languages(settings: IngestSettings) -> list[str]:
    """The configured languages tesseract has, in the configured order (``eng`` if none)."""
    installed = installed_languages()
    chosen = [lang for lang in settings.ocr_languages if lang in installed]
    missing = [lang for lang in settings.ocr_languages if lang not in installed]
    if missing:
        _warn_missing(tuple(missing))
    return chosen or ["eng"]


@functools.cache
def _warn_missing(missing: tuple[str, ...]) -> None:
    log.warning("tesseract languages not installed, left out of OCR: %s", ", ".join(missing))


def ocr(module: str, path: Path, settings: IngestSettings, **kwargs: Any) -> list[Element]:
    """OCR ``path`` with ``unstructured.partition.<module>`` (``image`` or ``pdf``)."""
    raw = partition(
        module,
        f"partition_{module}",
        path,
        filename=str(path),
        strategy="ocr_only",
        languages=ocr_languages(settings),
        **kwargs,
    )
    return mark_ocr(to_elements(raw))


def mark_ocr(elements: Iterable[Element], page: int | None = None) -> list[Element]:
    """Elements marked as read by OCR, with tesseract's spaces between CJK characters removed
    and fragments without a letter or digit (specks read as ``|`` or ``~``) dropped."""
    out = []
    for e in elements:
        text = join_cjk(e.text)
        if any(c.isalnum() for c in text):
            out.append(Element(text, e.type, e.page or page, e.heading, ocr=True))
    return out
