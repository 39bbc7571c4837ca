"""POST /v1/search: hybrid/dense/BM25 hits with per-retriever scores."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, Field, StrictBool

from ragline.retrieval.settings import SearchMode
from ragline.retrieval.types import Condition, Filter, MetaValue
from ragline.server.openapi import KEYED, errors
from ragline.server.security import Caller, ReadKey
from ragline.server.settings import ServerConfig
from ragline.server.state import StateDep

router = APIRouter(prefix="/v1", tags=["search"])
COLLECTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
MAX_CONDITIONS = 32
MAX_IN_VALUES = 256


def _field_name(name: str) -> str:
    # Chroma reserves keys starting with "$" (operators) and "#" (document, embedding):
    # such a field could never be in our metadata, and would make the store raise.
    if name.startswith(("$", "#")):
        raise ValueError("a metadata field name may not start with '$' or '#'")
    return name


FieldName = Annotated[
    str, Field(min_length=1, max_length=100, pattern=r"^[^$#]"), AfterValidator(_field_name)
]
Value = StrictBool | Annotated[int, Field(ge=-(2**63), le=2**63 - 1)] | float | str
"""A metadata value as stores keep it (integers are 64-bit in Chroma and SQLite)."""
CollectionField = Annotated[str, Field(min_length=1, max_length=63, pattern=COLLECTION_PATTERN)]


class ConditionModel(BaseModel):
    field: FieldName
    op: Literal["eq", "in", "gte", "lte", "prefix"] = "eq"
    value: Value | Annotated[list[Value], Field(max_length=MAX_IN_VALUES)]


Filters = Annotated[
    dict[FieldName, Value],
    Field(
        default_factory=dict,
        max_length=MAX_CONDITIONS,
        description="metadata equality",
        json_schema_extra={"additionalProperties": False},  # field names: see FieldName
    ),
]
Conditions = Annotated[
    list[ConditionModel],
    Field(default_factory=list, max_length=MAX_CONDITIONS, description="other conditions"),
]


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    collection: CollectionField
    k: int = Field(5, ge=1, le=1000, description="at most server.max_k")
    mode: SearchMode = "hybrid"
    filters: Filters
    where: Conditions


def check_k(k: int | None, settings: ServerConfig, where: str = "k") -> None:
    """Refuse a k above ``server.max_k`` the way the schema would (422)."""
    limit = settings.server.max_k
    if k is not None and k > limit:
        raise RequestValidationError(
            [{"loc": ("body", where), "msg": f"must be at most {limit} (server.max_k)"}]
        )


def to_filter(filters: Mapping[str, MetaValue], where: list[ConditionModel]) -> Filter | None:
    conditions = [Condition(k, "eq", v) for k, v in sorted(filters.items())]
    for c in where:
        value = tuple(c.value) if isinstance(c.value, list) else c.value
        conditions.append(Condition(c.field, c.op, value))
    return Filter(tuple(conditions)) if conditions else None


def scoped(where: Filter | None, caller: Caller) -> Filter | None:
    """``where`` limited to the caller's tenant: a tenant key only ever sees chunks its
    tenant uploaded, whatever the request's own filters say."""
    if not caller.tenant:
        return where
    return (where or Filter()).and_(Condition("tenant", "eq", caller.tenant))


@router.post("/search", responses=errors(400, *KEYED, 404, 413, 422, 503))
async def search_route(body: SearchRequest, state: StateDep, caller: ReadKey) -> dict[str, Any]:
    caller.check_collection(body.collection)
    check_k(body.k, state.settings)
    started = time.perf_counter()
    options = state.settings.retrieval.model_copy(update={"mode": body.mode, "k": body.k})
    where = scoped(to_filter(body.filters, body.where), caller)
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
