"""No internals in errors: no data-dir or store paths, base URLs or upstream bodies in HTTP
error messages or in /readyz without an operator key; wrong keys are rate-limited per
address; a non-ASCII bearer token gets 401, not 500; rate-limit buckets are pruned; and a
server bound beyond loopback refuses to start without a key."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from ragline.llm.errors import LLMBusy, LLMError, LLMUnavailable
from ragline.retrieval.errors import ConfigError, RaglineError, UsageError
from ragline.server import create_app
from ragline.server.errors import scrub
from ragline.server.keys import KeyStore
from ragline.server.ratelimit import RateLimiter
from ragline.server.settings import ServerSettings
from ragline.settings import Settings
from tests.server.conftest import API_KEY, auth

UPSTREAM = "http://10.20.30.40:8000/v1"
SECRET = "UPSTREAM-SECRET-BODY"


@pytest.fixture
def app_settings(server_settings: Settings) -> Settings:
    server = server_settings.server.model_copy(update={"auth_failures_per_minute": 3})
    llm = server_settings.llm.model_copy(update={"backend": "fake"})
    return server_settings.model_copy(update={"server": server, "llm": llm})


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings), raise_server_exceptions=False) as c:
        yield c


def failing(client: TestClient, exc: Exception) -> None:
    """Make every answer fail with ``exc``."""

    def ask(*args: Any, **kwargs: Any) -> Any:
        raise exc

    client.app.state.ragline.answers.answerer.ask = ask  # type: ignore[attr-defined]


def message(response: Any) -> str:
    text: str = response.json()["error"]["message"]
    return text


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (LLMUnavailable(f"{UPSTREAM}/chat/completions failed 3 times: 500 {SECRET}"), 503),
        (LLMError(f"{UPSTREAM}/chat/completions rejected the request: 400 {SECRET}"), 502),
        (LLMBusy(f"{UPSTREAM}/chat/completions failed 4 times, giving up: 429 {SECRET}"), 503),
    ],
)
def test_llm_failures_keep_the_backend_to_themselves(
    client: TestClient, docs_collection: str, exc: RaglineError, status: int
) -> None:
    failing(client, exc)
    response = client.post(
        "/v1/ask", json={"question": "hi?", "collection": "docs"}, headers=auth()
    )
    assert response.status_code == status
    text = message(response)
    assert "10.20.30.40" not in text and SECRET not in text and "language model" in text


def test_paths_never_leave_in_messages(
    client: TestClient, app_settings: Settings, docs_collection: str
) -> None:
    data = app_settings.data_dir
    failing(client, UsageError(f"cannot read {data}/collections/docs/store/index.faiss: gone"))
    response = client.post(
        "/v1/ask", json={"question": "hi?", "collection": "docs"}, headers=auth()
    )
    assert response.status_code == 400
    assert str(data) not in message(response) and "index.faiss" not in message(response)
    assert message(response) == "cannot read <path>: gone"


def test_scrub_masks_urls_and_absolute_paths() -> None:
    assert scrub("at http://user:pw@host:1/v1 and /srv/data/x.md, ok") == "at <url> and <path>, ok"
    assert scrub("redis://cache:6379/0 down") == "<url> down"
    assert scrub("read,write and 1/2 and a/b stay") == "read,write and 1/2 and a/b stay"
    assert scrub("two\nlines") == "two lines"


def test_readyz_shows_details_to_operators_only(client: TestClient, app_settings: Settings) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        body = client.get("/readyz", headers=headers).json()
        assert body["ready"] is True
        assert set(body["checks"]) == {"data_dir", "collections", "answering"}
        assert all(check == {"ok": True} for check in body["checks"].values())
    tenant_key, _ = KeyStore.for_data_dir(app_settings.data_dir).create("acme")
    client.app.state.ragline.keys.refresh(force=True)  # type: ignore[attr-defined]
    tenant = client.get("/readyz", headers={"Authorization": f"Bearer {tenant_key}"}).json()
    assert tenant["checks"]["answering"] == {"ok": True}
    detailed = client.get("/readyz", headers=auth()).json()
    assert detailed["checks"]["answering"]["model_id"] == "fake"
    assert str(app_settings.data_dir) not in str(detailed)


def test_an_unreadable_key_file_lets_no_tenant_and_nobody_anonymous_in(
    client: TestClient, app_settings: Settings
) -> None:
    tenant_key, _ = KeyStore.for_data_dir(app_settings.data_dir).create("acme")
    (app_settings.data_dir / "keys.json").write_text("{not json")
    time.sleep(1.1)  # the server looks at the file at most once a second
    for _ in range(2):  # every time, not only the first request after the change
        response = client.get("/v1/collections", headers={"Authorization": f"Bearer {tenant_key}"})
        assert response.status_code == 503
        text = message(response)
        assert "API key file" in text and str(app_settings.data_dir) not in text
    assert client.get("/v1/collections").status_code == 401
    # operator keys come from the settings, not the file: the operator can still get in
    assert client.get("/v1/collections", headers=auth()).status_code == 200


def test_wrong_keys_are_rate_limited_per_address(client: TestClient) -> None:
    wrong = {"Authorization": "Bearer not-the-key-at-all"}
    codes = [client.get("/v1/collections", headers=wrong).status_code for _ in range(5)]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]
    refused = client.get("/v1/collections", headers=wrong)
    assert int(refused.headers["retry-after"]) >= 1 and "wrong API key" in message(refused)
    assert client.get("/v1/collections", headers=auth()).status_code == 200  # the owner is fine


def test_a_non_ascii_bearer_token_is_a_401(client: TestClient) -> None:
    for token in ("kéy-ünïcode-tøken", "ключ", "\x00\xff"):
        header = f"Bearer {token}".encode()
        response = client.get("/v1/collections", headers={b"Authorization": header})
        assert response.status_code == 401, response.text


def test_non_ascii_tokens_on_open_reads_are_anonymous(settings: Settings) -> None:
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        header = "Bearer kéy".encode()
        assert c.get("/v1/collections", headers={b"Authorization": header}).status_code == 200
        files = {"files": ("a.md", b"# a\n\ntext\n", "text/markdown")}
        upload = c.post("/v1/collections/x/documents", files=files)
        assert upload.status_code == 403 and "no API keys" in message(upload)


def test_rate_limit_buckets_are_pruned() -> None:
    limiter = RateLimiter(3, window_s=1)
    assert [limiter.allow("a")[0] for _ in range(4)] == [True, True, True, False]
    for i in range(500):
        limiter.allow(f"client-{i}")
    assert limiter.buckets >= 500
    time.sleep(2.1)  # two windows: every counter has expired
    limiter.allow("later")
    deadline = time.monotonic() + 2
    while limiter.buckets > 1:
        assert time.monotonic() < deadline, limiter.buckets
        time.sleep(0.02)


def test_beyond_loopback_the_server_needs_a_key(settings: Settings) -> None:
    exposed = settings.model_copy(update={"server": ServerSettings(host="0.0.0.0")})
    with pytest.raises(ConfigError, match="without an API key"), TestClient(create_app(exposed)):
        pass
    KeyStore.for_data_dir(settings.data_dir).create("acme")
    with TestClient(create_app(exposed)) as c:
        assert c.get("/v1/collections").status_code == 401  # reads need the key


def test_operator_keys_must_be_long(settings: Settings) -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        ServerSettings(api_keys=[SecretStr("change-me")])
    assert ServerSettings(api_keys=[SecretStr(API_KEY)]).api_keys
