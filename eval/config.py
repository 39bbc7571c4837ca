"""Run configurations: what one evaluated retriever is built and queried with.

``embedder``, ``chunk_size``, ``chunk_overlap`` and ``store`` decide the index (one is built,
and cached, per distinct combination); the other fields only change how it is queried.
Config files and sweeps over these fields: :mod:`eval.sweep`.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from retrieval.errors import UsageError
from retrieval.settings import Settings

MODES = ("dense", "bm25", "hybrid")
STORES = ("chroma", "faiss", "faiss-gpu", "torch", "auto")
INDEX_FIELDS = ("embedder", "chunk_size", "chunk_overlap", "store")
DEFAULT_DEPTH = 100


@dataclass(frozen=True)
class RunConfig:
    name: str = "ragline"
    mode: str = "hybrid"
    embedder: str = "auto"
    chunk_size: int = 200
    chunk_overlap: int = 32
    store: str = "chroma"
    k: int = DEFAULT_DEPTH
    """Chunks retrieved per query; documents are ranked by their best chunk among them."""
    candidates: int = 50
    rrf_k: int = 10
    dense_weight: float = 1.0
    bm25_weight: float | None = None
    """None: the retrieval layer's default for the collection's embedder."""
    mmr: bool = False
    mmr_lambda: float = 0.7
    filters: tuple[str, ...] = ()
    role: str = "config"
    """primary (the first configuration; gates apply to it), config, or baseline."""

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> RunConfig:
        r = settings.retrieval
        values: dict[str, Any] = {
            "mode": r.mode,
            "embedder": settings.embedding.model,
            "chunk_size": settings.chunking.size,
            "chunk_overlap": settings.chunking.overlap,
            "store": settings.store.backend,
            "candidates": r.candidates,
            "rrf_k": r.rrf_k,
            "dense_weight": r.dense_weight,
            "bm25_weight": r.bm25_weight,
            "mmr": r.mmr,
            "mmr_lambda": r.mmr_lambda,
        }
        values.update(overrides)
        return cls(**values).checked()

    def checked(self) -> RunConfig:
        if self.mode not in MODES:
            raise UsageError(f"config {self.name!r}: mode must be one of {', '.join(MODES)}")
        if self.store not in STORES:
            raise UsageError(f"config {self.name!r}: store must be one of {', '.join(STORES)}")
        if self.embedder not in ("auto", "minilm", "use-m3"):
            raise UsageError(f"config {self.name!r}: embedder must be auto, minilm or use-m3")
        if self.chunk_size < 16 or not 0 <= self.chunk_overlap < self.chunk_size:
            raise UsageError(
                f"config {self.name!r}: need chunk_size ≥ 16 and 0 ≤ chunk_overlap < chunk_size"
            )
        if not 1 <= self.k <= 1000 or self.candidates < 1 or self.rrf_k < 0:
            raise UsageError(f"config {self.name!r}: need 1 ≤ k ≤ 1000, candidates ≥ 1, rrf_k ≥ 0")
        negative = self.dense_weight < 0 or (self.bm25_weight or 0.0) < 0
        if negative or not 0 <= self.mmr_lambda <= 1:
            raise UsageError(f"config {self.name!r}: weights ≥ 0 and 0 ≤ mmr_lambda ≤ 1")
        return self

    def params(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("name")
        data.pop("role")
        data["filters"] = list(self.filters)
        return data

    def index_params(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in INDEX_FIELDS}


FIELDS = {f.name for f in fields(RunConfig)} - {"role"}


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
