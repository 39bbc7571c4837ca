"""Schemathesis against the app's own OpenAPI schema, in-process over ASGI: no generated
input (valid or not, with the API key) may get a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from ragline.ingest.pipeline import Ingestor
from ragline.server import create_app
from tests.ingest.corpus import write_corpus
from tests.server.live import API_KEY, clean_environment, live_settings

schemathesis = pytest.importorskip("schemathesis")
pytestmark = pytest.mark.slow

EXAMPLES = 60
"""Per operation and generation mode: the whole run stays under two minutes on two cores."""
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The schema of a real app (fake LLM, in-process cache, small real collection); the
    ASGI client starts the app's lifespan on the first request."""
    root = tmp_path_factory.mktemp("schemathesis")
    with clean_environment():
        config = live_settings(root / "data")
        server = config.server.model_copy(update={"max_upload_mb": 0.05})
        config = config.model_copy(update={"server": server})
        write_corpus(root / "docs", paragraphs=1)
        Ingestor(config, "docs", embedder="minilm", workers=1).run([root / "docs"])
        yield schemathesis.openapi.from_asgi("/openapi.json", create_app(config))


def steer(generated: tuple[Any, bool]) -> Any:
    """Half the cases are pointed at the real collection (with a user turn last), so the
    generated values reach retrieval, the answer pipeline and the stores, not only the
    validation in front of them."""
    case, use_docs = generated
    if not use_docs:
        return case
    if case.path_parameters and "name" in case.path_parameters:
        case.path_parameters["name"] = "docs"
    body = case.body
    if isinstance(body, dict):
        for key in ("collection", "model"):
            if key in body:
                body[key] = "docs"
        messages = body.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
            messages[-1]["role"] = "user"
            content = messages[-1].get("content")
            if not isinstance(content, str) or not content.strip():
                messages[-1]["content"] = "How do I enable a unit at boot?"
    return case


def fuzz(operation: Any, mode: Any, failures: list[str]) -> None:
    """Send ``EXAMPLES`` generated requests to one operation; note every 5xx."""
    where = f"{operation.label} ({mode.value})"

    @given(case=st.tuples(operation.as_strategy(generation_mode=mode), st.booleans()).map(steer))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        try:
            response = case.call(headers=AUTH)
        except Exception as exc:  # an exception escaping the app is a 500 too
            failures.append(f"{where}: {type(exc).__name__}: {exc}")
            return
        if response.status_code >= 500:
            failures.append(
                f"{where}: {response.status_code} {response.text[:300]}\n"
                f"    {case.as_curl_command()[:600]}"
            )

    try:
        check()
    except Unsatisfiable:  # no invalid input exists (an operation without parameters)
        assert mode.value == "negative", where


def test_no_generated_input_gets_a_server_error(api_schema: Any) -> None:
    """Every operation, valid and invalid inputs, the API key sent: nothing answers 5xx."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {"POST /v1/chat/completions", "GET /v1/models", "POST /v1/ask"} <= labels
    assert "POST /v1/collections/{name}/documents" in labels and "GET /" not in labels
    failures: list[str] = []
    for operation in operations:
        for mode in schemathesis.GenerationMode:
            fuzz(operation, mode, failures)
    assert not failures, "\n".join(failures[:20])
