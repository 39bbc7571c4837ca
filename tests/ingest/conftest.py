"""Generated files of every supported type (good and bad), made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.ingest.loaders import preload
from tests.ingest import make_files as mf


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
