"""Domain types shared by every package: plain frozen values with content-hash ids."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ragline.retrieval.ids import chunk_id, text_hash

MetaValue = str | int | float | bool
"""Metadata values every store can keep and filter on."""

# Metadata keys ragline itself writes on every chunk.
SOURCE = "source"
DOC_ID = "doc_id"
PAGE = "page"
HEADING = "heading"
ELEMENT_TYPE = "element_type"
MIME_TYPE = "mime_type"
MODIFIED = "modified"
START = "start"
END = "end"
POSITION = "position"


@dataclass(frozen=True)
class Document:
    """A source file (or URI) as ingestion sees it."""

    id: str
    source: str
    content_hash: str
    mime_type: str
    modified: float
    size: int


@dataclass(frozen=True, eq=False)
class Chunk:
    """A piece of a document, the unit that is embedded, stored and cited."""

    id: str
    doc_id: str
    text: str
    position: int
    metadata: Mapping[str, MetaValue] = field(default_factory=dict)

    @classmethod
    def create(
        cls, doc_id: str, text: str, position: int, metadata: Mapping[str, MetaValue]
    ) -> Chunk:
        meta = {**metadata, DOC_ID: doc_id, POSITION: position}
        return cls(chunk_id(doc_id, text, position), doc_id, text, position, meta)

    @property
    def text_hash(self) -> str:
        return text_hash(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Chunk) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


@dataclass(frozen=True)
class Hit:
    """One search result: a chunk and how well it matched."""

    chunk_id: str
    doc_id: str
    text: str
    score: float
    metadata: Mapping[str, MetaValue] = field(default_factory=dict)
    scores: Mapping[str, float] = field(default_factory=dict)
    """Per-retriever scores when several retrievers contributed (e.g. dense, bm25)."""

    @property
    def source(self) -> str:
        return str(self.metadata.get(SOURCE, ""))

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "source": self.source,
            "score": self.score,
            "scores": dict(self.scores),
            "text": self.text,
            "metadata": dict(self.metadata),
        }


Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    """One chat message, as prompts are built and LLMs are called."""

    role: Role
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


Op = Literal["eq", "in", "gte", "lte", "prefix"]


@dataclass(frozen=True)
class Condition:
    """``metadata[field] <op> value``."""

    field: str
    op: Op
    value: MetaValue | tuple[MetaValue, ...]

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        actual = metadata.get(self.field)
        if actual is None:
            return False
        value = self.value
        if self.op == "eq":
            return bool(actual == value)
        if self.op == "in":
            return isinstance(value, tuple) and actual in value
        if self.op == "prefix":
            return isinstance(actual, str) and actual.startswith(str(value))
        if isinstance(actual, str) or isinstance(value, (str, tuple)):
            return False
        if self.op == "gte":
            return bool(actual >= value)
        return bool(actual <= value)


@dataclass(frozen=True)
class Filter:
    """A conjunction of metadata conditions, applied inside each store's search."""

    conditions: tuple[Condition, ...] = ()

    @classmethod
    def where(cls, **equals: MetaValue) -> Filter:
        return cls(tuple(Condition(k, "eq", v) for k, v in sorted(equals.items())))

    def and_(self, condition: Condition) -> Filter:
        return Filter((*self.conditions, condition))

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        return all(c.matches(metadata) for c in self.conditions)

    def __bool__(self) -> bool:
        return bool(self.conditions)

    def to_dict(self) -> list[dict[str, Any]]:
        return [{"field": c.field, "op": c.op, "value": c.value} for c in self.conditions]
