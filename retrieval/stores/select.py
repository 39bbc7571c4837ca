"""Choosing a vector-store backend for ``auto``: the fastest one this machine can run.

Order: ``torch`` (torch sees CUDA: exact search, the fastest for the one to 64 questions a
server searches at a time; docs/benchmarks.md "GPU search"), then ``faiss-gpu`` (a FAISS built
with GPU support that sees a GPU), then ``faiss`` on the CPU. ``open_auto`` also falls back
when a backend turns out not to fit (e.g. the vectors do not fit in free GPU memory).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ragline.retrieval.errors import BackendUnavailable
from ragline.retrieval.settings import StoreSettings
from ragline.retrieval.stores import REGISTRY, VectorStore, open_store
from ragline.retrieval.stores.chroma_server import server_name

log = logging.getLogger(__name__)

AUTO_ORDER = ("torch", "faiss-gpu", "faiss")
# Options each backend understands (settings carry FAISS options that torch ignores).
OPTIONS: dict[str, tuple[str, ...]] = {
    "faiss": ("index", "hnsw_m", "hnsw_ef_search", "nlist", "nprobe"),
    "faiss-gpu": ("index", "hnsw_m", "hnsw_ef_search", "nlist", "nprobe", "device", "float16"),
    "torch": ("device", "dtype", "block_size", "query_batch"),
    "chroma": ("collection", "chroma_url", "chroma_timeout_s", "server_name"),
}


def faiss_gpu_reason() -> str | None:
    """Why FAISS on a GPU cannot be used here; None when it can."""
    try:
        import faiss
    except ImportError:
        return "FAISS is not installed"
    if not hasattr(faiss, "StandardGpuResources"):
        return f"FAISS {faiss.__version__} is a CPU-only build"
    try:
        gpus = int(faiss.get_num_gpus())
    except (AttributeError, RuntimeError) as exc:
        return f"FAISS cannot count GPUs: {exc}"
    return None if gpus > 0 else "FAISS has GPU support but sees no GPU"


def torch_cuda_reason() -> str | None:
    """Why torch cannot search on a GPU here; None when it can."""
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return f"torch {torch.__version__} sees no CUDA device"
    return None


def available(name: str) -> str | None:
    """Why backend ``name`` is unusable on this machine for ``auto``; None when usable."""
    if name == "faiss-gpu":
        return faiss_gpu_reason()
    if name == "torch":
        return torch_cuda_reason()
    return None


def candidates(name: str) -> list[str]:
    """Backends to try for ``name``, best first: one for a concrete name."""
    if name != "auto":
        return [name]
    chosen: list[str] = []
    for backend in AUTO_ORDER:
        reason = available(backend)
        if reason is None:
            chosen.append(backend)
        else:
            log.info("store backend %s skipped: %s", backend, reason)
    return chosen


def resolve_backend(name: str) -> str:
    """``auto`` becomes the best backend this machine can run; other names pass through."""
    if name != "auto":
        return name
    backend = candidates(name)[0]
    log.info("store backend auto -> %s", backend)
    return backend


def open_auto(path: Path, dim: int, name: str = "auto", **options: Any) -> tuple[str, VectorStore]:
    """Open the first of ``candidates(name)`` that works; returns (backend, store).

    Options a backend does not understand are left out for it.
    """
    errors: list[str] = []
    for backend in candidates(name):
        wanted = {k: v for k, v in options.items() if k in OPTIONS.get(backend, ())}
        try:
            store = open_store(backend, path, dim, **wanted)
        except BackendUnavailable as exc:
            if name != "auto":
                raise
            log.info("store backend %s unavailable: %s", backend, exc)
            errors.append(f"{backend}: {exc}")
            continue
        log.info("store backend %s opened at %s", backend, path)
        return backend, store
    raise BackendUnavailable("no vector store backend works here (" + "; ".join(errors) + ")")


def server_options(store: StoreSettings, name: str, uid: str) -> dict[str, Any]:
    """Options that put collection ``name`` (identity ``uid``) on the Chroma server of
    ``store.chroma_url``; none when it is unset (the embedded store)."""
    if not store.chroma_url:
        return {}
    return {
        "chroma_url": store.chroma_url,
        "chroma_timeout_s": store.chroma_timeout_s,
        "server_name": server_name(name, uid),
    }


def gpu_free_bytes(device: int = 0) -> int | None:
    """Free memory on CUDA device ``device`` as torch reports it; None when unknown."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    free, _total = torch.cuda.mem_get_info(device)
    return int(free)


__all__ = ["AUTO_ORDER", "REGISTRY", "candidates", "open_auto", "resolve_backend", "server_options"]
