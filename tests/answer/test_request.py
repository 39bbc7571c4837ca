"""What one request asks for: its checks, its search filter and template, and the digest of
the prompt templates that versions cached answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.answer.request import (
    MAX_SAMPLES,
    digest_dir,
    search_filter,
    search_options,
    template_for,
    validate,
)
from ragline.answer.types import AskRequest
from ragline.retrieval.errors import UsageError
from ragline.retrieval.types import Condition, Filter
from ragline.settings import Settings


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (AskRequest("   ", "docs"), "the question is empty"),
        (AskRequest("x" * 11, "docs"), "the question is 11 characters; the limit is 10"),
        (AskRequest("q", "docs", mode="poem"), "unknown mode 'poem'"),  # type: ignore[arg-type]
        (AskRequest("q", "docs", samples=MAX_SAMPLES + 1), "samples must be between 1 and"),
    ],
)
def test_bad_requests_are_refused_with_what_is_wrong(request_: AskRequest, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        validate(request_, max_question_chars=10)


def test_a_good_request_passes() -> None:
    validate(AskRequest("How do I copy a file?", "docs", samples=MAX_SAMPLES), 100)


def test_a_tenant_restricts_the_filter_to_its_documents() -> None:
    assert search_filter(AskRequest("q", "docs")) is None
    tenant_only = search_filter(AskRequest("q", "docs", tenant="acme"))
    assert tenant_only == Filter().and_(Condition("tenant", "eq", "acme"))
    mine = Filter().and_(Condition("lang", "eq", "en"))
    both = search_filter(AskRequest("q", "docs", where=mine, tenant="acme"))
    assert both == mine.and_(Condition("tenant", "eq", "acme"))


def test_the_request_overrides_search_options_and_reasoning_modes_pick_their_template(
    settings: Settings,
) -> None:
    options = search_options(settings, AskRequest("q", "docs", k=3, search_mode="bm25"))
    assert (options.k, options.mode) == (3, "bm25")
    assert template_for(settings, "cot") == "cot_qa"
    assert template_for(settings, "plain") == settings.prompts.template


def test_the_templates_digest_changes_with_any_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("one", encoding="utf-8")
    before = digest_dir(tmp_path)
    assert digest_dir(tmp_path) == before
    (tmp_path / "a.yaml").write_text("two", encoding="utf-8")
    assert digest_dir(tmp_path) != before
