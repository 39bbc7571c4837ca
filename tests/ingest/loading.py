"""Small helpers over ``load_file`` for the loader tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragline.ingest.elements import Element
from ragline.ingest.loaders import LoadedFile, load_file
from ragline.ingest.settings import IngestSettings


def load(path: Path, **overrides: Any) -> LoadedFile:
    return load_file(path, IngestSettings(**overrides))


def all_text(loaded: LoadedFile) -> str:
    return "\n".join(element.text for element in loaded.elements)


def first(loaded: LoadedFile, text: str) -> Element:
    return next(e for e in loaded.elements if text in e.text)
