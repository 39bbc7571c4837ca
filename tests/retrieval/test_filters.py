"""Filter expressions as typed on the command line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ragline.retrieval.errors import UsageError
from ragline.retrieval.filters import parse_condition, parse_filters
from ragline.retrieval.types import Condition


def test_equality_values_are_typed() -> None:
    assert parse_condition("file_type=pdf") == Condition("file_type", "eq", "pdf")
    assert parse_condition("page=3") == Condition("page", "eq", 3)
    assert parse_condition("score=0.5") == Condition("score", "eq", 0.5)
    assert parse_condition("draft=true") == Condition("draft", "eq", True)
    assert parse_condition('tenant="123"') == Condition("tenant", "eq", "123")
    assert parse_condition("url=a=b") == Condition("url", "eq", "a=b")


def test_prefix_and_ranges() -> None:
    assert parse_condition("source^=/docs/") == Condition("source", "prefix", "/docs/")
    assert parse_condition("page>=2") == Condition("page", "gte", 2)
    low = parse_condition("modified>=2024-01-31")
    assert low.value == datetime(2024, 1, 31, tzinfo=UTC).timestamp()
    high = parse_condition("modified<=2024-01-31")
    assert high.value == pytest.approx(datetime(2024, 2, 1, tzinfo=UTC).timestamp() - 1e-6)
    assert parse_condition("modified<=2024-01-31T12:00:00+00:00").value == (
        datetime(2024, 1, 31, 12, tzinfo=UTC).timestamp()
    )


def test_filters_combine_and_match() -> None:
    where = parse_filters(["tenant=acme", "page>=2", "source^=/docs/"])
    assert where.matches({"tenant": "acme", "page": 3, "source": "/docs/a.pdf"})
    assert not where.matches({"tenant": "acme", "page": 1, "source": "/docs/a.pdf"})
    assert not where.matches({"tenant": "other", "page": 3, "source": "/docs/a.pdf"})


@pytest.mark.parametrize("bad", ["nokey", "=value", "modified>=yesterday", "a>=b=c"])
def test_malformed_filters_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="invalid filter"):
        parse_condition(bad)
