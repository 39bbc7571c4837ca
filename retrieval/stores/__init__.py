"""Vector-store backends, chosen by name; each is imported only when it is opened."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ragline.retrieval.errors import BackendUnavailable, ConfigError
from ragline.retrieval.stores.base import VectorStore

# name -> "module:factory"; factories take (path, dim, **options) and return a VectorStore.
REGISTRY: dict[str, str] = {
    "chroma": "ragline.retrieval.stores.chroma:ChromaStore",
    "faiss": "ragline.retrieval.stores.faiss_store:FaissStore",
    "faiss-gpu": "ragline.retrieval.stores.faiss_store:FaissGpuStore",
    "torch": "ragline.retrieval.stores.torch_store:TorchStore",
}


def open_store(name: str, path: Path, dim: int, **options: Any) -> VectorStore:
    """Open (creating if needed) the store ``name`` persisted under ``path``."""
    if name not in REGISTRY:
        raise ConfigError(f"unknown vector store {name!r}; choose one of {', '.join(REGISTRY)}")
    module_name, _, attr = REGISTRY[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendUnavailable(f"vector store {name!r} is not installed: {exc}") from exc
    factory = getattr(module, attr)
    store: VectorStore = factory(path, dim, **options)
    return store


__all__ = ["REGISTRY", "VectorStore", "open_store"]
