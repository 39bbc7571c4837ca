"""Shared fixtures: settings on a temporary data dir, and cheap access to real token counters."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragline.answer.settings import AnswerSettings
from ragline.retrieval.embedders.offline import force_offline
from ragline.settings import Settings

force_offline()

EVAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "eval-data"


@pytest.fixture(autouse=True)
def memory_store_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-memory fake store is a backend named "memory" during tests only."""
    from tests.retrieval.fakes import register_memory_store

    register_memory_store(monkeypatch)


NO_EXPANSION = AnswerSettings(hypothetical_languages=[])
"""The answer settings of tests that script a fake LLM's replies: those replies are the
answers, so the model's own one-sentence answer before retrieval (query expansion, off by
default, on where a user sets it) stays off even if the default changes;
tests/answer/test_pipeline.py tests the expansion itself."""


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings isolated from the user's environment, data under tmp_path (query expansion
    off: see ``NO_EXPANSION``)."""
    for key in list(os.environ):
        if key.startswith("RAGLINE_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    yield Settings(data_dir=tmp_path / "data", answer=NO_EXPANSION)
