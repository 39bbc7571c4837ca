"""API keys bound to tenants: the tenant comes from the key, never from the request, and a
tenant never retrieves, sees cited, or gets a cached answer (exact or semantic) built from
another tenant's documents, through /v1/search, /v1/ask, /v1/chat/completions and
conversations. Operator keys (``server.api_keys``) see every document."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ragline.cache import redis_reachable
from ragline.server.keys import KeyStore
from tests.server.live import clean_environment, live_settings
from tests.server.tenancy import (
    COLLECTION,
    DAY,
    PARAPHRASE,
    QUESTION,
    Tenants,
    bearer,
    doc_files,
    tenant_app,
)

OTHER = {"acme": "bolt", "bolt": "acme"}
REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module", params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Tenants]:
    """The answer cache (and conversations) in this process, or in the local Redis."""
    with clean_environment():
        settings = live_settings(tmp_path_factory.mktemp("tenants") / "data")
        if request.param == "redis":
            if not redis_reachable(REDIS):
                pytest.skip(f"no Redis at {REDIS}")
            prefix = f"ragline:test:{uuid.uuid4().hex[:8]}:"
            cache = settings.cache.model_copy(update={"redis_url": REDIS, "key_prefix": prefix})
            settings = settings.model_copy(update={"cache": cache})
        with tenant_app(settings) as app:
            assert app.state.answers.cache is not None
            assert app.state.answers.cache.backend.kind == request.param
            try:
                yield app
            finally:
                app.state.answers.cache.clear()


def cited_files(answer: dict[str, Any]) -> set[str]:
    return {c["file_name"] for c in answer["citations"]}


def assert_own(tenant: str, text: str) -> None:
    """``text`` tells the tenant's own fact and no one else's."""
    assert DAY[tenant] in text, text
    assert not {d for t, d in DAY.items() if t != tenant} & set(text.replace(".", " ").split())


@pytest.mark.parametrize("tenant", ["acme", "bolt"])
def test_search_sees_only_the_keys_tenant(world: Tenants, tenant: str) -> None:
    hits = world.search(tenant, QUESTION)
    assert hits and {h["metadata"]["tenant"] for h in hits} == {tenant}
    assert {h["metadata"]["file_name"] for h in hits} <= doc_files(tenant)
    assert DAY[tenant] in hits[0]["text"]
    # Asking for another tenant's documents, by filter or by a tenant field, finds nothing.
    assert world.search(tenant, QUESTION, filters={"tenant": OTHER[tenant]}) == []
    assert world.search(tenant, QUESTION, where=[{"field": "file_name", "op": "in",
                                                  "value": sorted(doc_files(OTHER[tenant]))}]) == []  # fmt: skip
    sent = world.post(
        tenant, "/v1/search", {"query": QUESTION, "collection": COLLECTION, "tenant": "bolt"}
    )
    assert {h["metadata"]["tenant"] for h in sent.json()["hits"]} == {tenant}


def test_the_operator_key_sees_every_document(world: Tenants) -> None:
    hits = world.search("", QUESTION)
    assert {h["metadata"].get("tenant", "") for h in hits} == {"acme", "bolt", ""}


def test_ask_answers_and_caches_per_tenant_exact_and_semantic(world: Tenants) -> None:
    first = world.ask("acme", QUESTION)
    assert first["cached"] is False
    assert_own("acme", first["text"])
    assert cited_files(first) and cited_files(first) <= doc_files("acme")
    assert world.ask("acme", QUESTION)["cache_kind"] == "exact"
    assert world.ask("acme", PARAPHRASE)["cache_kind"] == "semantic"  # the layer is on
    # bolt asks the same two questions: neither comes from acme's cache.
    for question in (PARAPHRASE, QUESTION):
        theirs = world.ask("bolt", question, tenant="acme")  # a tenant field is ignored
        assert theirs["cache_kind"] in (None, "exact", "semantic")
        assert_own("bolt", theirs["text"])
        assert cited_files(theirs) <= doc_files("bolt")
    # and the operator's answer is its own too (cached answers are per tenant)
    operator = world.ask("", QUESTION)
    assert operator["cached"] is False


def chat(world: Tenants, who: str, content: str, **extra: Any) -> dict[str, Any]:
    body = {"model": COLLECTION, "messages": [{"role": "user", "content": content}], **extra}
    response = world.post(who, "/v1/chat/completions", body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def streamed(world: Tenants, who: str, content: str) -> dict[str, Any]:
    body = {"model": COLLECTION, "stream": True, "messages": [{"role": "user", "content": content}]}
    with world.client.stream(
        "POST", "/v1/chat/completions", json=body, headers=world.headers(who)
    ) as response:
        assert response.status_code == 200
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: {")]
    final: dict[str, Any] = json.loads(events[-1])
    return final


def test_chat_completions_streamed_or_not_stay_in_the_tenant(world: Tenants) -> None:
    question = "Which day are the gateway signing keys rotated?"
    mine = chat(world, "acme", question, tenant="bolt")
    assert_own("acme", mine["choices"][0]["message"]["content"])
    assert {c["file_name"] for c in mine["citations"]} <= doc_files("acme")
    again = chat(world, "acme", question)
    # Asked again, the answer is cached: exact when the first one was computed; the first may
    # itself be a paraphrase hit on the /v1/ask answer above (same tenant), and stays one.
    assert again["ragline"]["cache_kind"] == (mine["ragline"]["cache_kind"] or "exact")
    for answer in (chat(world, "bolt", question), streamed(world, "bolt", question)):
        assert_own("bolt", answer["ragline"]["answer"])
        assert {c["file_name"] for c in answer["citations"]} <= doc_files("bolt")


def test_conversations_belong_to_the_key_that_made_them(world: Tenants) -> None:
    made = world.post("acme", "/v1/conversations", {})
    assert made.status_code == 201
    conversation = made.json()["conversation_id"]
    world.ask("acme", "Where do acme widgets ship from?", conversation_id=conversation)
    # bolt cannot read or extend acme's conversation, through either endpoint
    refused = world.post(
        "bolt", "/v1/ask",
        {"question": "and in what?", "collection": COLLECTION, "conversation_id": conversation},
    )  # fmt: skip
    assert refused.status_code == 404
    body = {"model": COLLECTION, "conversation_id": conversation,
            "messages": [{"role": "user", "content": "and in what?"}]}  # fmt: skip
    assert world.post("bolt", "/v1/chat/completions", body).status_code == 404
    # ids the client makes up are unknown too
    made_up = {"question": "hi?", "collection": COLLECTION, "conversation_id": "conv-42"}
    assert world.post("acme", "/v1/ask", made_up).status_code == 422
    invented = "conv_" + "A" * 24
    made_up["conversation_id"] = invented
    assert world.post("acme", "/v1/ask", made_up).status_code == 404
    # bolt's own conversation never carries acme's turns into its prompts
    own = world.post("bolt", "/v1/conversations", {}).json()["conversation_id"]
    world.ask("bolt", "Where do bolt gadgets ship from?", conversation_id=own)
    calls = len(world.fake.calls)
    follow = world.ask("bolt", "and in what?", conversation_id=own)
    condense = world.fake.calls[calls].messages[-1].content
    assert "bolt gadgets" in condense and "acme" not in condense.lower()
    assert cited_files(follow) <= doc_files("bolt")
    # acme's follow-up sees acme's history
    calls = len(world.fake.calls)
    world.ask("acme", "and in what?", conversation_id=conversation)
    assert "acme widgets" in world.fake.calls[calls].messages[-1].content


def test_reads_need_a_key_once_keys_exist(world: Tenants) -> None:
    for path in ("/v1/collections", "/v1/models"):
        assert world.client.get(path).status_code == 401
        assert (
            world.client.get(path, headers=bearer("rgl_0123456789ab_" + "x" * 43)).status_code
            == 401
        )
    response = world.client.post("/v1/search", json={"query": QUESTION, "collection": COLLECTION})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


def test_scopes_and_collections_of_a_key(world: Tenants) -> None:
    store = KeyStore.for_data_dir(world.settings.data_dir)
    reader, _ = store.create("acme", ("read",))
    elsewhere, _ = store.create("acme", ("read", "write"), collections=("other",))
    store.refresh(force=True)
    world.state.keys.refresh(force=True)
    files = {"files": ("x.md", b"# x\n\nsome text\n", "text/markdown")}
    path = f"/v1/collections/{COLLECTION}/documents"
    refused = world.client.post(path, files=files, headers=bearer(reader))
    assert refused.status_code == 403 and "write scope" in refused.json()["error"]["message"]
    assert world.client.post(path, files=files, headers=bearer(elsewhere)).status_code == 403
    body = {"query": QUESTION, "collection": COLLECTION}
    assert world.client.post("/v1/search", json=body, headers=bearer(reader)).status_code == 200
    assert world.client.post("/v1/search", json=body, headers=bearer(elsewhere)).status_code == 403
    listed = world.client.get("/v1/models", headers=bearer(elsewhere)).json()["data"]
    assert listed == []
    assert [c["name"] for c in world.client.get("/v1/collections", headers=bearer(reader)).json()["data"]] == [COLLECTION]  # fmt: skip


def test_jobs_and_deletions_stay_with_their_tenant(world: Tenants) -> None:
    acme_job = world.jobs["acme"]
    assert (
        world.client.get(f"/v1/jobs/{acme_job}", headers=world.headers("bolt")).status_code == 404
    )
    assert world.client.get(f"/v1/jobs/{acme_job}", headers=world.headers("")).status_code == 200
    hit = world.search("acme", "Acme widgets ship from Oslo")[0]
    assert hit["metadata"]["file_name"] == "widgets.md"
    path = f"/v1/collections/{COLLECTION}/documents/{hit['doc_id']}"
    assert world.client.delete(path, headers=world.headers("bolt")).status_code == 404
    assert world.search("acme", "Acme widgets ship from Oslo")[0]["doc_id"] == hit["doc_id"]
    deleted = world.client.delete(path, headers=world.headers("acme"))
    assert deleted.status_code == 200, deleted.text
    assert all(h["doc_id"] != hit["doc_id"] for h in world.search("acme", "widgets Oslo"))
