"""A real app on a temporary data dir, with a small real collection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from ragline.ingest.pipeline import Ingestor
from ragline.server import create_app
from ragline.server.settings import ServerSettings
from ragline.settings import Settings
from tests.ingest.corpus import write_corpus
from tests.models import link_default_model

API_KEY = "test-operator-key-123456"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings, with the default model linked in: the app resolves it at start."""
    link_default_model(settings.data_dir)
    return settings


@pytest.fixture
def server_settings(settings: Settings) -> Settings:
    server = ServerSettings(api_keys=[SecretStr(API_KEY)], max_upload_mb=1, rate_limit_per_minute=0)
    return settings.model_copy(update={"server": server})


@pytest.fixture
def docs_collection(server_settings: Settings, tmp_path: Path) -> str:
    docs = tmp_path / "docs"
    write_corpus(docs)
    Ingestor(server_settings, "docs", embedder="minilm", workers=1).run([docs])
    return "docs"


@pytest.fixture
def client(server_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(server_settings), raise_server_exceptions=False) as c:
        yield c


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}
