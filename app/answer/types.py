"""What the answer pipeline returns: the answer, its verified citations and how it was made."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Citation:
    """A numbered source the answer cites, pointing at the exact text it came from."""

    number: int
    chunk_ids: tuple[str, ...]
    doc_id: str
    source: str
    file_name: str
    page: int | None
    start: int | None
    """Character offsets of the cited text in the document's text (see ingest.chunking)."""
    end: int | None
    snippet: str


@dataclass
class Answer:
    question: str
    standalone_question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    removed_citations: list[int] = field(default_factory=list)
    """Citation numbers the model wrote that point at no packed source (removed from text)."""
    unsupported: list[str] = field(default_factory=list)
    """Sentences whose cited sources do not support them."""
    context_found: bool = True
    mode: str = "plain"
    reasoning: str | None = None
    votes: dict[str, Any] | None = None
    collection: str = ""
    index_version: int = 0
    template_id: str = ""
    template_version: str = ""
    example_ids: list[str] = field(default_factory=list)
    model_id: str = ""
    tokens: dict[str, int] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    cached: bool = False
    cache_kind: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        values = dict(data)
        values["citations"] = [
            Citation(**{**c, "chunk_ids": tuple(c["chunk_ids"])}) for c in data.get("citations", [])
        ]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})

    @property
    def cited_chunk_ids(self) -> list[str]:
        return [cid for c in self.citations for cid in c.chunk_ids]
