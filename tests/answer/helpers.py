"""Helpers of the answer tests."""

from __future__ import annotations

from pathlib import Path

from ragline.answer import Answerer
from ragline.answer.build import build_answerer
from ragline.cache.settings import CacheSettings
from ragline.ingest.pipeline import Ingestor
from ragline.llm.fake import FakeLLM
from ragline.settings import Settings

QUESTION = "How do I enable a service at boot?"


def answerer(env: Settings, llm: FakeLLM, cache: bool = True) -> Answerer:
    return build_answerer(env, llm=llm, cache=cache).answerer


def chinese(settings: Settings, tmp_path: Path, files: dict[str, str]) -> Settings:
    """Settings with a collection "zh" of ``files`` (name → text), the answer cache off."""
    docs = tmp_path / "zh"
    docs.mkdir()
    for name, text in files.items():
        (docs / name).write_text(text, encoding="utf-8")
    Ingestor(settings, "zh", embedder="minilm", workers=1).run([docs])
    return settings.model_copy(update={"cache": CacheSettings(redis_url="")})
