"""Schemathesis against the app's own OpenAPI schema, in-process over ASGI, with every check
(`--checks all`): no generated input (valid or not, with the API key) gets a 5xx, every
status and body the API answers is the one the schema describes, schema-valid input is
accepted (or refused only for a missing resource or key), schema-invalid input is refused,
and endpoints behind a key refuse requests without one."""

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
from schemathesis.checks import CHECKS  # noqa: E402
from schemathesis.core.errors import SerializationNotPossible  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402
from schemathesis.specs.openapi import checks as _openapi_checks  # noqa: E402, F401

ALL_CHECKS = CHECKS.get_all()

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
        # ignored_auth sends wrong keys on purpose: the per-address limit on them would
        # answer 429 after a few (tests/server/test_internals.py covers that limit).
        server = config.server.model_copy(
            update={"max_upload_mb": 0.05, "auth_failures_per_minute": 0}
        )
        config = config.model_copy(update={"server": server})
        write_corpus(root / "docs", paragraphs=1)
        Ingestor(config, "docs", embedder="minilm", workers=1).run([root / "docs"])
        yield schemathesis.openapi.from_asgi("/openapi.json", create_app(config))


def steer(generated: tuple[Any, bool]) -> Any:
    """Half the schema-valid cases are pointed at the real collection (with a user turn
    last), so the generated values reach retrieval, the answer pipeline and the stores, not
    only the validation in front of them. Invalid cases are left as generated: steering
    could make them valid."""
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
    """Send ``EXAMPLES`` generated requests to one operation; note every failed check."""
    where = f"{operation.label} ({mode.value})"

    steered = st.booleans() if mode.is_positive else st.just(False)

    @given(case=st.tuples(operation.as_strategy(generation_mode=mode), steered).map(steer))
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
            case.call_and_validate(headers=AUTH, checks=ALL_CHECKS)
        except FailureGroup as group:
            failures.append(f"{where}: {str(group)[:1500]}")
        except SerializationNotPossible:
            # schemathesis cannot put a generated non-binary value into a part of a declared
            # file type (e.g. a spreadsheet): a request it cannot make, not an API failure
            return
        except Exception as exc:  # an exception escaping the app is a 500 too
            failures.append(f"{where}: {type(exc).__name__}: {exc}")

    try:
        check()
    except Unsatisfiable:  # no invalid input exists (an operation without parameters)
        assert mode.value == "negative", where


def test_every_check_passes_on_every_operation(api_schema: Any) -> None:
    """Every operation, valid and invalid inputs, the API key sent: every check passes."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {"POST /v1/chat/completions", "GET /v1/models", "POST /v1/ask"} <= labels
    assert "POST /v1/collections/{name}/documents" in labels and "GET /" not in labels
    failures: list[str] = []
    for operation in operations:
        for mode in schemathesis.GenerationMode:
            fuzz(operation, mode, failures)
    distinct = {f.split("\n", 4)[-1][:400]: f for f in failures}
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(list(distinct.values())[:12])
