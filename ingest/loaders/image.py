"""Images (PNG, JPEG, TIFF, BMP, GIF, WebP, HEIC/HEIF) read by OCR; the first frame of a
multi-frame image is read. HEIC is decoded by pi-heif (pillow-heif's decoder-only build)."""

from __future__ import annotations

import functools
from pathlib import Path

from ragline.ingest.elements import Element
from ragline.ingest.loaders.ocr import ocr, tesseract_available
from ragline.ingest.loaders.partition import one_line
from ragline.ingest.settings import IngestSettings
from ragline.retrieval.errors import LoaderError


def load_image(path: Path, settings: IngestSettings) -> list[Element]:
    if not settings.image_ocr:
        raise LoaderError("image not read: OCR of images is off (ingest.image_ocr)")
    if not tesseract_available():
        raise LoaderError("cannot read images here: install tesseract-ocr to OCR them")
    _check_image(path)
    elements = ocr("image", path, settings)
    if not elements:
        raise LoaderError("no text found in the image (OCR)")
    return elements


@functools.cache
def _register_heif() -> None:
    from pi_heif import register_heif_opener

    register_heif_opener()


def _check_image(path: Path) -> None:
    """Refuse what Pillow cannot open, and decompression bombs, before OCR sees them."""
    from PIL import Image

    _register_heif()
    try:
        with Image.open(path) as image:
            image.verify()
    except Image.DecompressionBombError as exc:
        raise LoaderError(f"image is too large to read: {one_line(exc)}") from None
    except Exception as exc:
        raise LoaderError(f"not a readable image: {one_line(exc)}") from None
