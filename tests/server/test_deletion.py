"""Deleted means gone: deleting a document evicts the answers citing it, deleting a collection
evicts its answers, and a collection re-created under the same name (whose index version
starts at 1 again) never serves the old one's answers: its uid is in the cache namespace."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragline.answer import AskRequest
from ragline.answer.build import build_answerer
from ragline.cache import open_store, redis_reachable
from ragline.ingest.pipeline import Ingestor
from ragline.llm.fake import FakeLLM
from ragline.retrieval.collection import Collection, delete_collection
from ragline.server import create_app
from ragline.settings import Settings
from tests.cli.run import run_ragline
from tests.server.conftest import auth
from tests.server.live import echo_first_source

QUESTION = "When is the archive sealed?"
REDIS = "redis://127.0.0.1:6379/0"


def write_docs(folder: Path, day: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "archive.md").write_text(f"# Archive\n\nThe archive is sealed every {day}.\n")
    (folder / "misc.md").write_text("# Misc\n\nThe lobby opens at eight.\n")
    return folder


def fake_settings(settings: Settings, **cache: Any) -> Settings:
    llm = settings.llm.model_copy(update={"backend": "fake"})
    return settings.model_copy(
        update={"llm": llm, "cache": settings.cache.model_copy(update=cache)}
    )


def test_deleting_a_document_evicts_the_answers_citing_it(
    server_settings: Settings, tmp_path: Path
) -> None:
    config = fake_settings(server_settings)
    Ingestor(config, "kb", embedder="minilm", workers=1).run(
        [write_docs(tmp_path / "d", "Tuesday")]
    )
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        state = client.app.state.ragline  # type: ignore[attr-defined]
        state.answers.llm.default = echo_first_source
        body = {"question": QUESTION, "collection": "kb"}
        first = client.post("/v1/ask", json=body, headers=auth()).json()
        assert "Tuesday" in first["text"] and first["citations"]
        assert client.post("/v1/ask", json=body, headers=auth()).json()["cached"] is True
        entries = state.answers.cache.stats()["entries"]
        doc_id = first["citations"][0]["doc_id"]
        deleted = client.delete(f"/v1/collections/kb/documents/{doc_id}", headers=auth())
        assert deleted.status_code == 200, deleted.text
        assert state.answers.cache.stats()["entries"] == entries - 1  # evicted at once
        after = client.post("/v1/ask", json=body, headers=auth()).json()
        assert after["cached"] is False and "Tuesday" not in after["text"]
        assert all(c["doc_id"] != doc_id for c in after["citations"])


def ask(settings: Settings, question: str = QUESTION) -> dict[str, Any]:
    with build_answerer(settings, llm=FakeLLM(default=echo_first_source)) as stack:
        return stack.answerer.ask(AskRequest(question, "kb")).to_dict()


def test_a_collection_made_again_under_its_name_never_serves_the_old_answers(
    settings: Settings, tmp_path: Path
) -> None:
    """One process, the in-process cache, no eviction at all: only the uid tells them apart."""
    config = fake_settings(settings)
    with build_answerer(config, llm=FakeLLM(default=echo_first_source)) as stack:
        Ingestor(config, "kb", embedder="minilm", workers=1).run([write_docs(tmp_path / "a", "Tuesday")])  # fmt: skip
        old = stack.answerer.ask(AskRequest(QUESTION, "kb"))
        assert "Tuesday" in old.text and not old.cached
        assert stack.answerer.ask(AskRequest(QUESTION, "kb")).cached
        old_info = Collection.read_info("kb", config)
        delete_collection("kb", config)
        stack.collections.forget("kb")
        Ingestor(config, "kb", embedder="minilm", workers=1).run([write_docs(tmp_path / "b", "Friday")])  # fmt: skip
        new_info = Collection.read_info("kb", config)
        assert new_info.uid != old_info.uid and len(new_info.uid) == 32
        new = stack.answerer.ask(AskRequest(QUESTION, "kb"))
        assert new.index_version == old.index_version  # same name, same version: only the uid
        assert not new.cached and "Friday" in new.text and "Tuesday" not in new.text


@pytest.mark.redis
def test_collections_delete_evicts_its_answers_from_redis(
    settings: Settings, tmp_path: Path
) -> None:
    if not redis_reachable(REDIS):
        pytest.skip(f"no Redis at {REDIS}")
    prefix = f"ragline:test:{uuid.uuid4().hex[:8]}:"
    config = fake_settings(settings, redis_url=REDIS, key_prefix=prefix)
    Ingestor(config, "kb", embedder="minilm", workers=1).run([write_docs(tmp_path / "a", "Tuesday")])  # fmt: skip
    assert "Tuesday" in ask(config)["text"]
    store = open_store(config.cache)
    try:
        assert store.count()["entries"] == 1
        env = {"RAGLINE_CACHE__REDIS_URL": REDIS, "RAGLINE_CACHE__KEY_PREFIX": prefix}
        result = run_ragline("collections", "delete", "kb", data_dir=config.data_dir, env=env)
        assert result.returncode == 0, result.stderr
        assert re.fullmatch(r"deleted kb; 1 cached answers evicted\n", result.stdout)
        assert store.count()["entries"] == 0
        Ingestor(config, "kb", embedder="minilm", workers=1).run([write_docs(tmp_path / "b", "Friday")])  # fmt: skip
        again = ask(config)
        assert again["cached"] is False and "Friday" in again["text"]
    finally:
        store.clear()
        store.close()
