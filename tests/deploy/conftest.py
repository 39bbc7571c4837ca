"""Processes shared by the deployment tests: one Chroma server for the session, stopped at
the end (tests that kill it start it again)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.deploy.services import ChromaServer


@pytest.fixture(scope="session")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path_factory.mktemp("deploy-chroma") / "db")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of this test's own on the shared Redis (never another test's keys)."""
    return f"ragline-test-deploy-{uuid.uuid4().hex[:12]}:"
