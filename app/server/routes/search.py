"""POST /v1/search: hybrid/dense/BM25 hits with per-retriever scores."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, Field, StrictBool

from ragline.retrieval.settings import SearchMode
from ragline.retrieval.types import Condition, Filter, MetaValue
from ragline.server.security import ReadKey
from ragline.server.state import StateDep

router = APIRouter(prefix="/v1", tags=["search"])


def _field_name(name: str) -> str:
    # Chroma reserves keys starting with "$" (operators) and "#" (document, embedding):
    # such a field could never be in our metadata, and would make the store raise.
    if name.startswith(("$", "#")):
        raise ValueError("a metadata field name may not start with '$' or '#'")
    return name


FieldName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_field_name)]
Value = StrictBool | Annotated[int, Field(ge=-(2**63), le=2**63 - 1)] | float | str
"""A metadata value as stores keep it (integers are 64-bit in Chroma and SQLite)."""


class ConditionModel(BaseModel):
    field: FieldName
    op: Literal["eq", "in", "gte", "lte", "prefix"] = "eq"
    value: Value | list[Value]


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    collection: str = Field(min_length=1, max_length=63)
    k: int = Field(5, ge=1, le=100)
    mode: SearchMode = "hybrid"
    filters: dict[FieldName, Value] = Field(default_factory=dict, description="metadata equality")
    where: list[ConditionModel] = Field(default_factory=list, description="other conditions")


def to_filter(filters: Mapping[str, MetaValue], where: list[ConditionModel]) -> Filter | None:
    conditions = [Condition(k, "eq", v) for k, v in sorted(filters.items())]
    for c in where:
        value = tuple(c.value) if isinstance(c.value, list) else c.value
        conditions.append(Condition(c.field, c.op, value))
    return Filter(tuple(conditions)) if conditions else None


@router.post("/search")
async def search_route(
    body: SearchRequest,
    state: StateDep,
    _: ReadKey,
) -> dict[str, Any]:
    started = time.perf_counter()
    options = state.settings.retrieval.model_copy(update={"mode": body.mode, "k": body.k})
    where = to_filter(body.filters, body.where)
    version, result = await state.searches.search(body.collection, body.query, options, where)
    payload = {
        "collection": body.collection,
        "index_version": version,
        "mode": result.mode,
        "context_found": result.context_found,
        "hits": [h.to_dict() for h in result.hits],
    }
    state.metrics.stage.labels("retrieval").observe(time.perf_counter() - started)
    return payload
