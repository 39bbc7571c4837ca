"""The schema describes what the API does (schemathesis checks it at large in
test_schemathesis.py; these are the cases a review found, pinned down): documented error
statuses and bodies, /metrics' content type, chat messages the schema allows, and uploads
typed by their part's Content-Type."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.server.conftest import auth


def operation(client: TestClient, path: str, method: str) -> dict[str, Any]:
    op: dict[str, Any] = client.get("/openapi.json").json()["paths"][path][method]
    return op


def test_error_statuses_and_bodies_are_documented(client: TestClient) -> None:
    search = operation(client, "/v1/search", "post")
    assert {"400", "401", "403", "404", "413", "422", "429", "503"} <= set(search["responses"])
    body = search["responses"]["404"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ErrorBody"}
    assert search["security"] == [{"HTTPBearer": []}]
    missing = client.post("/v1/search", json={"query": "q", "collection": "nope"}, headers=auth())
    assert set(missing.json()) == {"error"}
    assert set(missing.json()["error"]) == {"message", "type", "code"}


def test_metrics_content_type_is_the_documented_one(client: TestClient) -> None:
    documented = set(operation(client, "/metrics", "get")["responses"]["200"]["content"])
    served = client.get("/metrics").headers["content-type"]
    assert documented == {served}


def test_a_tool_message_without_content_is_accepted(
    client: TestClient, docs_collection: str
) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "How do I enable a unit at boot?"},
        {"role": "tool"},
        {"role": "assistant", "content": None},
    ]
    response = client.post(
        "/v1/chat/completions",
        json={"model": docs_collection, "messages": messages},
        headers=auth(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["ragline"]["question"] == "How do I enable a unit at boot?"


def test_messages_without_a_question_are_schema_errors(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ChatRequest"]
    assert schema["properties"]["messages"]["contains"]["properties"]["role"] == {"const": "user"}
    for messages in ([{"role": "tool"}], [{"role": "user", "content": "  "}]):
        response = client.post(
            "/v1/chat/completions", json={"model": "docs", "messages": messages}, headers=auth()
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["message"].startswith("invalid messages")


def test_a_model_name_that_cannot_be_a_collection_is_not_found(client: TestClient) -> None:
    body = {"model": "gpt-4o mini", "messages": [{"role": "user", "content": "hi?"}]}
    response = client.post("/v1/chat/completions", json=body, headers=auth())
    assert response.status_code == 404


def test_an_upload_is_typed_by_its_content_type_when_its_name_is_not(client: TestClient) -> None:
    encoding = operation(client, "/v1/collections/{name}/documents", "post")["requestBody"][
        "content"
    ]["multipart/form-data"]["encoding"]["files"]["contentType"]
    assert "text/markdown" in encoding and "application/pdf" in encoding
    parts = [
        ("files", ("notes", b"# Notes\n\nplain words\n", "text/markdown; charset=utf-8")),
        ("files", ("notes", b"more words\n", "text/plain")),
        ("files", ("notes.md", b"# Again\n\nwords\n", "application/octet-stream")),
        ("files", ("notes.md", b"# Twice\n\nwords\n", "application/octet-stream")),
    ]
    response = client.post("/v1/collections/typed/documents", files=parts, headers=auth())
    assert response.status_code == 202, response.text
    assert response.json()["files"] == ["notes.md", "notes.txt", "notes-2.md", "notes-3.md"]
    blob = [("files", ("blob", b"\x00\x01", "application/octet-stream"))]
    refused = client.post("/v1/collections/typed/documents", files=blob, headers=auth())
    assert refused.status_code == 415
