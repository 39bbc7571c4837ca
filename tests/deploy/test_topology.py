"""The docker-compose topology without Docker: a Chroma server process, the local Redis,
`ragline ingest`, `ragline search`, `ragline ask` and `ragline serve` (subprocesses) pointed
at them. Ingest, ask, restart the app process, ask again: nothing lost, the cache still warm."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ragline.retrieval.collection import Collection
from ragline.retrieval.settings import StoreSettings
from ragline.retrieval.stores import chroma_server
from ragline.settings import Settings
from tests.deploy.services import ChromaServer, RaglineServer, call, ragline
from tests.ingest.corpus import write_corpus

pytestmark = [pytest.mark.slow, pytest.mark.redis]
REDIS = "redis://127.0.0.1:6379/0"
QUESTION = "How do I enable a unit at boot with systemd?"


@pytest.fixture
def shared_redis(redis_prefix: str) -> Iterator[str]:
    """The shared Redis at 6379 under a prefix of this test's own, emptied afterwards."""
    yield redis_prefix
    client = redis.Redis.from_url(REDIS)
    keys = list(client.scan_iter(f"{redis_prefix}*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


def test_ingest_ask_restart_ask_against_chroma_and_redis(
    tmp_path: Path, chroma: ChromaServer, shared_redis: str
) -> None:
    docs = tmp_path / "docs"
    write_corpus(docs)
    data = tmp_path / "data"
    env = {
        "RAGLINE_STORE__CHROMA_URL": chroma.url,
        "RAGLINE_CACHE__REDIS_URL": REDIS,
        "RAGLINE_CACHE__KEY_PREFIX": shared_redis,
    }
    ingest = ragline(
        "ingest", str(docs), "-c", "kb", "--embedder", "minilm", "--workers", "1", "--json",
        data_dir=data, env=env,
    )  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    assert json.loads(ingest.stdout)["files_ok"] == 7

    # The vectors are on the Chroma server, one collection named by the collection's uid.
    settings = Settings(data_dir=data, store=StoreSettings(chroma_url=chroma.url))
    with Collection.open("kb", settings) as kb:
        catalog_ids = {i for r in kb.catalog.documents() for i in r.chunk_ids}
        uid = kb.info.uid
    assert sorted(p.name for p in (data / "collections" / "kb" / "store").iterdir()) == [
        "server.json"
    ]
    client = chroma_server.connect(chroma.url, 10.0)
    remote = client.get_collection(chroma_server.server_name("kb", uid))
    assert set(remote.get(include=[])["ids"]) == catalog_ids
    client.close()

    found = ragline("search", "enable a unit at boot", "-c", "kb", "--json", data_dir=data, env=env)
    assert found.returncode == 0, found.stderr[-2000:]
    assert "systemd" in json.loads(found.stdout)[0]["text"]
    asked = ragline("ask", "What answers PING?", "-c", "kb", "--json", data_dir=data, env=env)
    assert asked.returncode == 0, asked.stderr[-2000:]
    assert json.loads(asked.stdout)["sources"], "the CLI answer retrieved from the server"

    serve = RaglineServer(data, env)
    serve.start()
    try:
        status, first = call(
            serve.url, "POST", "/v1/ask", {"question": QUESTION, "collection": "kb"}
        )
        assert status == 200, first
        assert first["cached"] is False and first["sources"]
        status, before = call(serve.url, "GET", "/v1/collections")
        assert status == 200

        serve.kill()  # the app process dies (no clean shutdown) and starts again
        serve.start()

        status, second = call(
            serve.url, "POST", "/v1/ask", {"question": QUESTION, "collection": "kb"}
        )
        assert status == 200, second
        assert second["cached"] is True, "the answer cache in Redis outlived the app process"
        assert second["text"] == first["text"]
        status, after = call(serve.url, "GET", "/v1/collections")
        assert after == before, "nothing lost"
        status, ready = call(serve.url, "GET", "/readyz")
        assert status == 200 and ready["checks"]["vector_store"]["ok"] is True
    finally:
        serve.stop()
