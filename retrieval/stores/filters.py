"""Metadata values and filters as the backends see them.

One meaning for every backend: ``Condition.matches`` (retrieval.types). Here it is translated
to SQL over the JSON metadata of the SQLite sidecar, and to Chroma's ``where``, with the
conditions Chroma cannot say exactly left to be checked in Python.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ragline.retrieval.errors import UsageError
from ragline.retrieval.types import Condition, Filter, MetaValue

_NUMBER_TYPES = "('integer', 'real', 'true', 'false')"


def clean_metadata(metadata: Mapping[str, Any]) -> dict[str, MetaValue]:
    """The metadata a store keeps: None values dropped, everything else a finite scalar."""
    out: dict[str, MetaValue] = {}
    for key, value in metadata.items():
        if value is None:
            continue
        if not isinstance(key, str) or not key:
            raise UsageError(f"metadata keys must be non-empty strings, got {key!r}")
        if not isinstance(value, str | int | float | bool):
            raise UsageError(
                f"metadata {key!r} must be a str, int, float or bool, not {type(value).__name__}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"metadata {key!r} must be a finite number, got {value!r}")
        out[key] = value
    return out


def metadata_json(metadata: Mapping[str, Any]) -> str:
    return json.dumps(clean_metadata(metadata), ensure_ascii=False, sort_keys=True)


def _json_path(field: str) -> str:
    if '"' in field or "\\" in field:
        raise UsageError(f"filter field {field!r} may not contain quotes or backslashes")
    return f'$."{field}"'


def _is_number(value: object) -> bool:
    return isinstance(value, int | float)


def condition_sql(cond: Condition, column: str = "metadata") -> tuple[str, list[Any]]:
    """SQL (over a JSON text column) that is true exactly when ``cond.matches`` is."""
    path = _json_path(cond.field)
    value = cond.value
    extract = f"json_extract({column}, ?)"
    kind = f"json_type({column}, ?)"
    if cond.op == "eq":
        if isinstance(value, tuple):
            return "0", []
        return f"{extract} = ?", [path, value]
    if cond.op == "in":
        if not isinstance(value, tuple) or not value:
            return "0", []
        marks = ", ".join("?" for _ in value)
        return f"{extract} IN ({marks})", [path, *value]
    if cond.op == "prefix":
        prefix = str(value)
        return (
            f"({kind} = 'text' AND substr({extract}, 1, ?) = ?)",
            [path, path, len(prefix), prefix],
        )
    if cond.op in ("gte", "lte"):
        if isinstance(value, str | tuple):
            return "0", []
        sign = ">=" if cond.op == "gte" else "<="
        return f"({kind} IN {_NUMBER_TYPES} AND {extract} {sign} ?)", [path, path, value]
    raise UsageError(f"unknown filter operator {cond.op!r}")


def filter_sql(where: Filter, column: str = "metadata") -> tuple[str, list[Any]]:
    """A WHERE clause (without the keyword) and its parameters; ``1`` for an empty filter."""
    if not where.conditions:
        return "1", []
    parts: list[str] = []
    params: list[Any] = []
    for cond in where.conditions:
        sql, args = condition_sql(cond, column)
        parts.append(sql)
        params.extend(args)
    return " AND ".join(parts), params


@dataclass(frozen=True)
class ChromaFilter:
    """A Filter split into what Chroma evaluates and what is checked in Python."""

    where: dict[str, Any] | None
    """Chroma ``where`` for the conditions it evaluates exactly (None: no native part)."""
    rest: Filter
    """Conditions checked in Python on the candidates' metadata (e.g. ``prefix``)."""
    impossible: bool = False
    """True when no metadata can match (e.g. ``in ()`` or ``gte`` a string)."""


def _chroma_condition(cond: Condition) -> dict[str, Any] | bool | None:
    """Chroma's form of ``cond``; None when Python must check it; False when it never matches."""
    value = cond.value
    if cond.op == "eq":
        if isinstance(value, tuple):
            return False
        return {cond.field: {"$eq": value}}
    if cond.op == "in":
        if not isinstance(value, tuple) or not value:
            return False
        kinds = {type(v) for v in value}
        if len(kinds) == 1:
            return {cond.field: {"$in": list(value)}}
        if len(value) == 1:
            return {cond.field: {"$eq": value[0]}}
        return {"$or": [{cond.field: {"$eq": v}} for v in value]}
    if cond.op in ("gte", "lte"):
        if isinstance(value, str | tuple):
            return False
        if isinstance(value, bool) or not _is_number(value):
            return None
        return {cond.field: {f"${cond.op}": value}}
    return None  # prefix: not native in Chroma


def to_chroma(where: Filter | None) -> ChromaFilter:
    if not where:
        return ChromaFilter(None, Filter())
    native: list[dict[str, Any]] = []
    rest: list[Condition] = []
    for cond in where.conditions:
        clause = _chroma_condition(cond)
        if clause is False:
            return ChromaFilter(None, Filter(), impossible=True)
        if clause is None or clause is True:
            rest.append(cond)
        else:
            native.append(clause)
    if not native:
        chroma_where: dict[str, Any] | None = None
    elif len(native) == 1:
        chroma_where = native[0]
    else:
        chroma_where = {"$and": native}
    return ChromaFilter(chroma_where, Filter(tuple(rest)))
