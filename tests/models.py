"""The bundled GGUF models for tests: assembled once per machine, shared by every test.

The app resolves its configured model when it starts; with the default settings that is the
1.1 GB Qwen2.5-Coder-1.5B, concatenated from its 22 parts into ``data_dir/models`` and hashed.
Tests on a temporary data dir would each write (and fsync) a copy of their own, so they get a
hard link to the one assembled here instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ragline.llm.errors import LLMUnavailable
from ragline.llm.llama_cpu import requantised, weights_for
from ragline.llm.models import resolve_model
from ragline.llm.settings import LLMSettings

MODELS_DIR = Path(
    os.environ.get("RAGLINE_TEST_MODELS", Path(tempfile.gettempdir()) / "ragline-test")
)
"""Where the tests' bundled models are assembled (the sha256 marker beside each skips
re-hashing on later runs)."""


def link_default_model(data_dir: Path) -> None:
    """Give ``data_dir`` the default bundled model (and its sha256 marker) as a link to the
    shared copy, so the app finds it assembled, and the requantised copy the default
    ``llm.weights_type`` loads on this machine, if any; nothing when the model is not
    installed."""
    try:
        shared = resolve_model(LLMSettings(), MODELS_DIR).path
        files = [shared, shared.with_name(shared.name + ".sha256")]
        weights = weights_for(LLMSettings().weights_type, bundled=True)
        if weights != "stored":
            files.append(requantised(shared, weights, shared.parent))
    except LLMUnavailable:
        return  # the app will say so itself
    folder = data_dir / "models"
    folder.mkdir(parents=True, exist_ok=True)
    for src in files:
        dst = folder / src.name
        if dst.exists() or not src.is_file():
            continue
        try:
            os.link(src, dst)
        except OSError:  # another file system
            shutil.copyfile(src, dst)
