"""Filter expressions as users type them: ``key=value``, ``key>=v``, ``key<=v``, ``key^=prefix``.

- ``=`` is metadata equality (``tenant=acme``, ``file_type=pdf``, ``page=3``). Values that
  look like numbers or ``true``/``false`` become numbers/booleans; quote them to keep a
  string (``tenant="123"``).
- ``>=`` / ``<=`` compare numbers or dates: ``modified>=2024-01-31`` (ISO dates and times,
  UTC when no zone is given; a bare date as upper bound includes that whole day).
- ``^=`` is a string prefix: ``source^=/docs/``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from ragline.retrieval.errors import UsageError
from ragline.retrieval.types import Condition, Filter, MetaValue, Op

_OPS: tuple[tuple[str, Op], ...] = ((">=", "gte"), ("<=", "lte"), ("^=", "prefix"), ("=", "eq"))


def parse_filters(expressions: Iterable[str]) -> Filter:
    """All expressions, combined with AND."""
    return Filter(tuple(parse_condition(e) for e in expressions))


def parse_condition(expression: str) -> Condition:
    for token, op in _OPS:
        key, sep, raw = expression.partition(token)
        if not sep:
            continue
        key = key.strip()
        if not key or any(c in key for c in "<>=^"):
            break
        if op == "prefix":
            return Condition(key, op, _unquote(raw))
        if op == "eq":
            return Condition(key, op, _scalar(raw))
        return Condition(key, op, _bound(raw, upper=op == "lte", expression=expression))
    raise UsageError(
        f"invalid filter {expression!r}: use key=value, key>=value, key<=value or key^=prefix"
    )


def _unquote(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    return raw


def _scalar(raw: str) -> MetaValue:
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _bound(raw: str, upper: bool, expression: str) -> float | int:
    text = raw.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"invalid filter {expression!r}: {text!r} is neither a number nor an ISO date"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if upper and len(text) == 10:  # a bare date: up to the end of that day
        moment += timedelta(days=1) - timedelta(microseconds=1)
    return moment.timestamp()
