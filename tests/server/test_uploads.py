"""Uploads are checked before their body is read: the key and the declared size first, then
the bytes as they arrive, with a cap on the number of files; files are staged under unique
temporary names, and a refused multi-file upload leaves nothing behind.

The first tests drive the app with raw ASGI messages, so they see exactly how much of a
body the server pulled before answering."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from ragline.server import create_app
from ragline.server.guard import upload_cap
from ragline.server.keys import KeyStore
from ragline.server.settings import ServerSettings
from ragline.settings import Settings
from tests.server.conftest import API_KEY, auth
from tests.server.tenancy import wait_for_job

MB = 1024 * 1024
PART_START = (
    b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="big.md"\r\n'
    b"Content-Type: text/markdown\r\n\r\n"
)
PATH = "/v1/collections/up/documents"


@pytest.fixture
def small(settings: Settings) -> Settings:
    server = ServerSettings(
        api_keys=[SecretStr(API_KEY)],
        max_upload_mb=1,
        max_upload_files=3,
        rate_limit_per_minute=0,
    )
    llm = settings.llm.model_copy(update={"backend": "fake"})
    return settings.model_copy(update={"server": server, "llm": llm})


@pytest.fixture
def client(small: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(small), raise_server_exceptions=False) as c:
        yield c


class Body:
    """An ASGI ``receive`` handing out ``chunk``-byte pieces of a multipart body of
    ``total`` bytes (None: endless), counting what the app pulled."""

    def __init__(self, chunk: int = MB, total: int | None = 32 * MB) -> None:
        self.chunk, self.total, self.pulled = chunk, total, 0

    async def __call__(self) -> dict[str, Any]:
        if self.total is not None and self.pulled >= self.total:
            return {"type": "http.disconnect"}
        size = self.chunk if self.total is None else min(self.chunk, self.total - self.pulled)
        data = b"x" * size
        if not self.pulled:  # a well-formed start: one file part that never ends
            data = PART_START + data[len(PART_START) :]
        self.pulled += size
        more = self.total is None or self.pulled < self.total
        return {"type": "http.request", "body": data, "more_body": more}


def raw_post(client: TestClient, headers: dict[str, str], body: Body) -> tuple[int, bytes]:
    """POST ``PATH`` through the ASGI interface; (status, response body)."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def call() -> None:
        await client.app(scope, body, send)  # type: ignore[arg-type]

    assert client.portal is not None
    client.portal.call(call)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], content


MULTIPART = {"content-type": "multipart/form-data; boundary=xyz"}


def leftovers(settings: Settings) -> list[str]:
    """Every file under the uploads folder (temporary parts included)."""
    root = settings.data_dir / "uploads" / "up"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_an_anonymous_upload_is_refused_before_a_byte_is_read(client: TestClient) -> None:
    body = Body()
    status, content = raw_post(client, {**MULTIPART, "content-length": str(10**10)}, body)
    assert status == 401 and b"API key" in content
    assert body.pulled == 0
    wrong = {**MULTIPART, "authorization": "Bearer wrong-key-wrong-key"}
    assert raw_post(client, wrong, body)[0] == 401 and body.pulled == 0


def test_a_declared_size_over_the_cap_is_refused_before_reading(client: TestClient) -> None:
    body = Body()
    declared = upload_cap(1, 3) + 1
    headers = {**MULTIPART, **auth(), "content-length": str(declared)}
    status, content = raw_post(client, headers, body)
    assert status == 413 and b"at most 3 files of 1 MB" in content
    assert body.pulled == 0


def test_an_undeclared_body_is_counted_and_cut_off_at_the_cap(
    client: TestClient, small: Settings
) -> None:
    body = Body(chunk=MB)  # no Content-Length (chunked), ten times the cap
    status, _ = raw_post(client, {**MULTIPART, **auth()}, body)
    assert status == 413
    cap = upload_cap(1, 3)
    assert cap < body.pulled <= cap + MB  # stopped at the first chunk past the cap
    assert leftovers(small) == []


def files(*items: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, data, "application/octet-stream")) for name, data in items]


def test_too_many_files_are_refused(client: TestClient, small: Settings) -> None:
    many = files(*[(f"n{i}.md", b"# n\n\ntext\n") for i in range(4)])
    response = client.post(PATH, files=many, headers=auth())
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "invalid files: at most 3 files"
    assert leftovers(small) == []


@pytest.mark.parametrize(
    ("bad", "status"),
    [(("big.md", b"a" * (MB + 1)), 413), (("tool.exe", b"MZ"), 415)],
)
def test_a_failed_multi_file_upload_leaves_nothing(
    client: TestClient, small: Settings, bad: tuple[str, bytes], status: int
) -> None:
    batch = files(("ok.md", b"# ok\n\nfine\n"), bad, ("late.md", b"# late\n\nfine\n"))
    response = client.post(PATH, files=batch, headers=auth())
    assert response.status_code == status, response.text
    assert leftovers(small) == []  # neither the good files nor any temporary part


def test_the_same_name_uploaded_at_once_never_collides(client: TestClient, small: Settings) -> None:
    results: list[int] = []
    bodies = [f"# Notes\n\nVersion {i} of the notes, padded {'x' * 50000}.\n" for i in range(6)]

    def send(i: int) -> None:
        response = client.post(PATH, files=files(("notes.md", bodies[i].encode())), headers=auth())
        results.append(response.status_code)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [202] * len(bodies)
    assert leftovers(small) == ["notes.md"]
    assert (small.data_dir / "uploads" / "up" / "notes.md").read_text() in bodies


def test_tenants_upload_one_file_name_to_separate_documents(
    client: TestClient, small: Settings
) -> None:
    store = KeyStore.for_data_dir(small.data_dir)
    keys = {t: store.create(t, ("read", "write"))[0] for t in ("acme", "bolt")}
    client.app.state.ragline.keys.refresh(force=True)  # type: ignore[attr-defined]
    jobs = []
    for tenant, key in keys.items():
        body = f"# Plan\n\nThe {tenant} plan is ready.\n".encode()
        response = client.post(
            PATH, files=files(("plan.md", body)), headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 202, response.text
        jobs.append((response.json()["job_id"], key))
    for job_id, key in jobs:
        job = wait_for_job(client, job_id, {"Authorization": f"Bearer {key}"})
        assert job["state"] == "done", job
    assert leftovers(small) == ["@acme/plan.md", "@bolt/plan.md"]
    found = client.post(
        "/v1/search", json={"query": "plan ready", "collection": "up"}, headers=auth()
    ).json()["hits"]
    assert {h["metadata"]["tenant"] for h in found} == {"acme", "bolt"}
    assert len({h["doc_id"] for h in found}) == 2


def test_job_status_shows_file_names_not_server_paths(client: TestClient, small: Settings) -> None:
    batch = files(("junk.txt", bytes(range(256)) * 20), ("fine.md", b"# Fine\n\nAll fine.\n"))
    response = client.post(PATH, files=batch, headers=auth())
    job = wait_for_job(client, response.json()["job_id"], auth())
    assert [e["path"] for e in job["errors"]] == ["junk.txt"]
    assert str(small.data_dir) not in str(job) and "/uploads/" not in str(job)
