"""Health, metrics, search, uploads, jobs, deletion, limits and error shapes, on the real app."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from ragline.server.settings import ServerSettings
from ragline.settings import Settings
from tests.server.conftest import auth


def wait_for_job(client: TestClient, job_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}", headers=auth()).json()
        if job["state"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def test_health_ready_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    client.get("/healthz")
    text = client.get("/metrics").text
    assert 'ragline_http_request_seconds_count{method="GET",route="/healthz",status="200"}' in text


def test_search_returns_hits_with_per_retriever_scores(
    client: TestClient, docs_collection: str
) -> None:
    response = client.post(
        "/v1/search",
        json={"query": "enable a unit at boot", "collection": docs_collection, "k": 3},
        headers=auth(),
    )
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    assert len(hits) == 3 and "systemd" in hits[0]["source"]
    assert {"dense", "bm25"} & set(hits[0]["scores"])
    filtered = client.post(
        "/v1/search",
        json={
            "query": "enable a unit at boot",
            "collection": docs_collection,
            "k": 3,
            "filters": {"file_name": "git-0.md"},
        },
        headers=auth(),
    ).json()["hits"]
    assert filtered and all(h["metadata"]["file_name"] == "git-0.md" for h in filtered)


def test_errors_are_one_line_json(client: TestClient) -> None:
    missing = client.post("/v1/search", json={"query": "x", "collection": "nope"}, headers=auth())
    assert missing.status_code == 404
    assert missing.json()["error"]["message"].startswith("collection 'nope' does not exist")
    bad = client.post("/v1/search", json={"query": "", "collection": "docs"}, headers=auth())
    assert bad.status_code == 422 and "\n" not in bad.json()["error"]["message"]
    garbage = client.post(
        "/v1/search", content=b"{not json", headers={"content-type": "application/json", **auth()}
    )
    assert garbage.status_code == 422
    assert "Traceback" not in garbage.text


def test_upload_needs_a_key_and_respects_type_and_size(client: TestClient) -> None:
    files = {"files": ("notes.md", b"# Notes\n\nRagline uploads work.", "text/markdown")}
    assert client.post("/v1/collections/up/documents", files=files).status_code == 401
    wrong = {"Authorization": "Bearer wrong"}
    assert (
        client.post("/v1/collections/up/documents", files=files, headers=wrong).status_code == 401
    )
    exe = {"files": ("tool.exe", b"MZ....", "application/octet-stream")}
    assert client.post("/v1/collections/up/documents", files=exe, headers=auth()).status_code == 415
    big = {"files": ("big.txt", b"a" * (2 * 1024 * 1024), "text/plain")}
    too_big = client.post("/v1/collections/up/documents", files=big, headers=auth())
    assert too_big.status_code == 413 and too_big.json()["error"]["message"]


def test_uploaded_files_become_searchable_and_deletable(client: TestClient) -> None:
    files = [
        (
            "files",
            (
                "vadd.md",
                b"# Vector sets\n\nRedis 8 adds vector sets. Use VADD to insert.",
                "text/markdown",
            ),
        ),
        ("files", ("junk.txt", bytes(range(256)) * 20, "text/plain")),
    ]
    response = client.post("/v1/collections/up/documents", files=files, headers=auth())
    assert response.status_code == 202, response.text
    job = wait_for_job(client, response.json()["job_id"])
    assert job["state"] == "done" and job["files_done"] == 2
    assert [e["path"].rsplit("/", 1)[-1] for e in job["errors"]] == ["junk.txt"]
    hits = client.post(
        "/v1/search", json={"query": "insert into a vector set", "collection": "up"}, headers=auth()
    ).json()["hits"]
    assert "VADD" in hits[0]["text"]

    doc_id = hits[0]["doc_id"]
    assert client.delete(f"/v1/collections/up/documents/{doc_id}").status_code == 401
    deleted = client.delete(f"/v1/collections/up/documents/{doc_id}", headers=auth())
    assert deleted.status_code == 200 and deleted.json()["chunks_removed"] >= 1
    after = client.post(
        "/v1/search", json={"query": "insert into a vector set", "collection": "up"}, headers=auth()
    ).json()["hits"]
    assert all(h["doc_id"] != doc_id for h in after)
    assert (
        client.delete(f"/v1/collections/up/documents/{doc_id}", headers=auth()).status_code == 404
    )
    listed = client.get("/v1/collections", headers=auth()).json()["data"]
    assert [c["name"] for c in listed] == ["up"]


def test_rate_limit_answers_429_with_retry_after(settings: Settings) -> None:
    from ragline.server import create_app

    limited = settings.model_copy(update={"server": ServerSettings(rate_limit_per_minute=3)})
    with TestClient(create_app(limited)) as c:
        codes = [c.get("/v1/collections").status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429
        assert int(c.get("/v1/collections").headers["Retry-After"]) >= 1
