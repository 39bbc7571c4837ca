"""Fixtures of the answer tests: a small English collection over the test corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.cache.settings import CacheSettings
from ragline.ingest.pipeline import Ingestor
from ragline.settings import Settings
from tests.ingest.corpus import write_corpus


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> Settings:
    """Settings with a collection "docs" over the test corpus, the answer cache off."""
    docs = tmp_path / "docs"
    write_corpus(docs)
    Ingestor(settings, "docs", embedder="minilm", workers=1).run([docs])
    return settings.model_copy(update={"cache": CacheSettings(redis_url="")})
