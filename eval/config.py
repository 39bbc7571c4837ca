"""Run configurations: what one evaluated retriever is built and queried with.

A configuration is the retrieval settings section (:class:`RetrievalSettings`, so every
retrieval option is a configuration field, validated by the same model) plus what decides
the index (``embedder``, ``chunk_size``, ``chunk_overlap``, ``store``: one index is built,
and cached, per distinct combination) and the evaluation depth ``k``. Files and sweeps give
the fields flat (``mode = "hybrid"``, ``rrf_k = 10``, ``chunk_size = 256``); see
:mod:`ragline.eval.sweep`.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ragline.answer.settings import AnswerConfig
from ragline.retrieval.errors import UsageError
from ragline.retrieval.settings import (
    ChunkingSettings,
    EmbedderChoice,
    RetrievalSettings,
    StoreBackend,
    one_line,
)

INDEX_FIELDS = ("embedder", "chunk_size", "chunk_overlap", "store")
DEFAULT_DEPTH = 100
REPORTED = ("mode", "candidates", "rrf_k", "dense_weight", "bm25_weight", "mmr", "mmr_lambda")
"""Retrieval fields every report shows; others appear when a configuration sets them."""
Role = Literal["primary", "config", "baseline"]


class RunConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "ragline"
    role: Role = "config"
    """primary (the first configuration; gates apply to it), config, or baseline."""
    embedder: EmbedderChoice = "auto"
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    store: StoreBackend = "chroma"
    k: int = Field(DEFAULT_DEPTH, ge=1, le=1000)
    """Chunks retrieved per query; documents are ranked by their best chunk among them."""
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    filters: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _nest_flat_fields(cls, data: Any) -> Any:
        """Accept the flat fields of config files: chunk_size/chunk_overlap go to
        ``chunking``, retrieval options to ``retrieval``."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        chunking = dict(_as_dict(data.pop("chunking", {})))
        for flat, field in (("chunk_size", "size"), ("chunk_overlap", "overlap")):
            if flat in data:
                chunking[field] = data.pop(flat)
        retrieval = dict(_as_dict(data.pop("retrieval", {})))
        for name in RetrievalSettings.model_fields:
            if name != "k" and name in data:
                retrieval[name] = data.pop(name)
        if isinstance(data.get("filters"), str):
            data["filters"] = (data["filters"],)
        return {**data, "chunking": chunking, "retrieval": retrieval}

    @classmethod
    def create(cls, **fields: Any) -> RunConfig:
        """A validated configuration; a bad field is a one-line UsageError."""
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            raise UsageError(f"config {fields.get('name', 'ragline')!r}: {one_line(exc)}") from None

    @classmethod
    def from_settings(cls, settings: AnswerConfig, **overrides: Any) -> RunConfig:
        base = {
            "embedder": settings.embedding.model,
            "chunking": settings.chunking.model_dump(),
            "store": settings.store.backend,
            "retrieval": settings.retrieval.model_dump(),
        }
        return cls.create(**base, **overrides)

    def with_(self, **changes: Any) -> RunConfig:
        """This configuration with flat ``changes`` applied and validated."""
        return RunConfig.create(**{**self.flat(), **changes})

    def flat(self) -> dict[str, Any]:
        """Every field, flat (retrieval options and chunking at top level)."""
        return {
            "name": self.name,
            "role": self.role,
            "embedder": self.embedder,
            "chunk_size": self.chunking.size,
            "chunk_overlap": self.chunking.overlap,
            "store": self.store,
            "k": self.k,
            "filters": list(self.filters),
            **{n: v for n, v in self.retrieval.model_dump(mode="json").items() if n != "k"},
        }

    def params(self) -> dict[str, Any]:
        """What reports show: the index fields, depth, filters, the usual retrieval options
        and any other retrieval option set to a non-default value."""
        flat = self.flat()
        defaults = RetrievalSettings().model_dump(mode="json")
        shown = {n for n, v in flat.items() if n in defaults and v != defaults[n]}
        keep = {*INDEX_FIELDS, "k", "filters", *REPORTED, *shown}
        return {n: v for n, v in flat.items() if n in keep}

    def index_params(self) -> dict[str, Any]:
        flat = self.flat()
        return {f: flat[f] for f in INDEX_FIELDS}


FIELDS = {"name", "embedder", "chunk_size", "chunk_overlap", "store", "k", "filters"} | set(
    RetrievalSettings.model_fields
)
"""Field names a config file may set (flat)."""


def _as_dict(value: Any) -> dict[str, Any]:
    if hasattr(value, "model_dump"):
        dumped: dict[str, Any] = value.model_dump()
        return dumped
    return dict(value) if isinstance(value, dict) else {}


def load_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UsageError(f"config file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        elif path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            data = tomllib.loads(text)
    except Exception as exc:  # every parser has its own error type
        raise UsageError(f"cannot parse {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a table of settings at top level")
    return data
