"""A running app (fake LLM, in-process TestClient) with two tenants and an operator, each
having uploaded its own documents into one shared collection through the HTTP API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from ragline.llm.fake import FakeLLM
from ragline.server import create_app
from ragline.server.keys import KeyStore
from ragline.server.state import AppState
from ragline.settings import Settings
from tests.server.live import API_KEY, echo_first_source

COLLECTION = "shared"
QUESTION = "When does the gateway rotate its signing keys?"
PARAPHRASE = "When does the gateway rotate the signing keys?"
DOCS = {
    "acme": {
        "alpha.md": "# Gateway schedule\n\nThe gateway rotates its signing keys every Monday "
        "at noon.\n",
        "widgets.md": "# Widgets\n\nAcme widgets ship from Oslo in blue crates.\n",
    },
    "bolt": {
        "beta.md": "# Gateway schedule\n\nThe gateway rotates its signing keys every Friday "
        "at dawn.\n",
        "gadgets.md": "# Gadgets\n\nBolt gadgets ship from Lima in red crates.\n",
    },
    "": {
        "common.md": "# Gateway schedule\n\nThe gateway rotates its signing keys every "
        "Sunday at midnight.\n",
    },
}
DAY = {"acme": "Monday", "bolt": "Friday", "": "Sunday"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Tenants:
    client: TestClient
    settings: Settings
    keys: dict[str, str]
    """Tenant name ("" = the operator) → its API key."""
    jobs: dict[str, str]
    """Tenant name → the id of its upload's job."""

    @property
    def state(self) -> AppState:
        state: AppState = self.client.app.state.ragline  # type: ignore[attr-defined]
        return state

    @property
    def fake(self) -> FakeLLM:
        llm = self.state.answers.llm
        assert isinstance(llm, FakeLLM)
        return llm

    def headers(self, who: str) -> dict[str, str]:
        return bearer(self.keys[who])

    def post(self, who: str, path: str, body: dict[str, Any]) -> Any:
        return self.client.post(path, json=body, headers=self.headers(who))

    def search(self, who: str, query: str, **extra: Any) -> list[dict[str, Any]]:
        """/v1/search with ``who``'s key (a tenant's name, "" = the operator)."""
        body = {"query": query, "collection": COLLECTION, "k": 10, **extra}
        response = self.post(who, "/v1/search", body)
        assert response.status_code == 200, response.text
        hits: list[dict[str, Any]] = response.json()["hits"]
        return hits

    def ask(self, who: str, question: str, **extra: Any) -> dict[str, Any]:
        response = self.post(
            who, "/v1/ask", {"question": question, "collection": COLLECTION, **extra}
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


def wait_for_job(client: TestClient, job_id: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while True:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if job["state"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


@contextmanager
def tenant_app(settings: Settings) -> Iterator[Tenants]:
    """The app with keys for tenants acme and bolt (read and write) and the operator key;
    each has uploaded ``DOCS[tenant]`` into ``COLLECTION``."""
    store = KeyStore.for_data_dir(settings.data_dir)
    keys = {"": API_KEY}
    for tenant in ("acme", "bolt"):
        keys[tenant], _ = store.create(tenant, ("read", "write"))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        world = Tenants(client, settings, keys, {})
        world.fake.default = echo_first_source
        for tenant, files in DOCS.items():
            upload = [
                ("files", (name, text.encode(), "text/markdown")) for name, text in files.items()
            ]
            response = client.post(
                f"/v1/collections/{COLLECTION}/documents",
                files=upload,
                headers=world.headers(tenant),
            )
            assert response.status_code == 202, response.text
            world.jobs[tenant] = response.json()["job_id"]
            job = wait_for_job(client, world.jobs[tenant], world.headers(tenant))
            assert job["state"] == "done" and not job["errors"], job
        yield world


def doc_files(tenant: str) -> set[str]:
    return set(DOCS[tenant])
