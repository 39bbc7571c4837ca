"""Generated files of every supported type (good and bad), made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.ingest.loaders import preload
from tests.ingest import make_files as mf
from tests.ingest import make_more_files as mm


@pytest.fixture(scope="session")
def unstructured_ready() -> None:
    """Import unstructured and its spaCy model once for the whole session (several seconds)."""
    preload()


@pytest.fixture(scope="session")
def good(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return mf.make_good_files(tmp_path_factory.mktemp("good"))


@pytest.fixture(scope="session")
def bad(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return mf.make_bad_files(tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="session")
def more(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Markup, e-mail, archives and images of the formats added later (fast to make)."""
    root = tmp_path_factory.mktemp("more")
    files = mm.make_markup(root / "markup")
    files.update(mm.make_archives(root / "archives"))
    images = root / "images"
    images.mkdir()
    for suffix in ("png", "jpg", "bmp", "tiff", "gif", "webp"):
        files[f"image_{suffix}"] = mm.make_image(images / f"invoice.{suffix}")
    files["image_blank"] = mm.make_image(images / "photo.png", None)
    files["heic"] = mm.FILES / "receipt.heic"
    files["pdf_mixed"] = mm.make_mixed_pdf(root / "mixed.pdf")
    return files


@pytest.fixture(scope="session")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """.doc, .ppt and .xls written by LibreOffice (seconds each: once per session)."""
    made = mm.make_legacy_office(tmp_path_factory.mktemp("legacy"))
    if not made:
        pytest.skip("LibreOffice (soffice) is not installed")
    return made
