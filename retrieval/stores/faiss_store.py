"""FAISS stores: exact (flat), HNSW or IVF on the CPU, and the same on a GPU.

The SQLite sidecar (``meta.sqlite``) is the truth; ``index.faiss`` is a cache of it stamped
with the generation it reflects (see faiss_index). Filters become an ``IDSelectorBatch`` of
the allowed ids, so they act inside the search; an approximate index that comes back short of
``k`` for a query is redone exactly over the allowed vectors, so ``k`` hits come back whenever
``k`` chunks match. HNSW cannot remove vectors: a delete (or a changed vector) drops the index
and it is rebuilt from the sidecar before the next search.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from ragline.retrieval.errors import BackendUnavailable, ConfigError
from ragline.retrieval.stores import faiss_index as fi
from ragline.retrieval.stores.sidecar import SidecarStore, pad
from ragline.retrieval.stores.sqlite_meta import Change

log = logging.getLogger(__name__)

KINDS = ("flat", "hnsw", "ivf")
GPU_MAX_K = 2048
"""Largest k FAISS GPU indexes select; larger searches run on the CPU copy."""


class FaissStore(SidecarStore):
    backend = "faiss"

    def __init__(
        self,
        path: Path,
        dim: int,
        index: str = "flat",
        hnsw_m: int = 32,
        hnsw_ef_search: int = 128,
        nlist: int = 1024,
        nprobe: int = 32,
    ) -> None:
        if index not in KINDS:
            raise ConfigError(f"unknown FAISS index {index!r}; choose one of {', '.join(KINDS)}")
        if min(hnsw_m, hnsw_ef_search, nlist, nprobe) < 1:
            raise ConfigError("hnsw_m, hnsw_ef_search, nlist and nprobe must be positive")
        self.faiss = fi.import_faiss()
        super().__init__(path, dim)
        self.kind = index
        self.hnsw_ef_search = hnsw_ef_search
        self.nlist = nlist
        self.nprobe = nprobe
        self._wanted = fi.Spec(index, dim, hnsw_m=hnsw_m if index == "hnsw" else 0)
        self._index: Any = None
        self._spec = self._wanted
        self._gen: int | None = None
        self._unsaved = False  # the in-memory index differs from index.faiss

    # -- the derived index ------------------------------------------------------------------
    def _current_generation(self) -> int | None:
        return self._gen if self._index is not None else None

    def _load(self) -> None:
        self._drop()
        with self.db.snapshot():
            generation = self.db.generation()
            count = self.db.count()
            loaded = fi.load_index(self.faiss, self.path, generation, count, self._wanted)
            if loaded is not None and self._needs_rebuild(*loaded):
                loaded = None
            if loaded is None:
                index, spec = fi.build_index(self.faiss, self.db, self._wanted, self.nlist)
                unsaved = True
            else:
                index, spec = loaded
                unsaved = False
        if spec.kind == "ivf":
            self.faiss.extract_index_ivf(index).nprobe = self.nprobe
        self._index, self._spec, self._gen, self._unsaved = index, spec, generation, unsaved
        self._save()

    def _drop(self) -> None:
        self._index = None
        self._gen = None
        self._unsaved = False

    def _needs_rebuild(self, index: Any, spec: fi.Spec) -> bool:
        """An IVF index trained on far fewer vectors than it now holds is retrained."""
        if self._wanted.kind != "ivf":
            return False
        if spec.kind != "ivf":
            return bool(index.ntotal > 0)
        return spec.nlist < self.nlist and index.ntotal > 4 * spec.trained_on

    def _apply(self, change: Change) -> None:
        index = self._index
        gone = change.removed + change.replaced
        if gone:
            if self._spec.kind == "hnsw":
                log.debug("HNSW cannot remove vectors; rebuilding before the next search")
                self._drop()
                return
            index.remove_ids(np.asarray(gone, dtype=np.int64))
        if change.replaced and change.replaced_vectors is not None:
            index.add_with_ids(change.replaced_vectors, np.asarray(change.replaced, np.int64))
        if change.added and change.added_vectors is not None:
            index.add_with_ids(change.added_vectors, np.asarray(change.added, np.int64))
        self._gen = change.after
        self._unsaved = self._unsaved or bool(gone or change.added)
        if self._needs_rebuild(index, self._spec):
            log.info("IVF index outgrew its training; retraining before the next search")
            self._drop()

    def _after_write(self) -> None:
        self._save()

    def _save(self) -> None:
        """Write the index (or just its stamp) if it is current; a dropped one is left stale."""
        if self._index is None or self._gen is None:
            return
        stamp = fi.Stamp(self._gen, int(self._index.ntotal), self._spec)
        fi.save_index(self.faiss, self.path, self._index, stamp, self._unsaved)
        self._unsaved = False

    # -- search ---------------------------------------------------------------------------
    def _size(self) -> int:
        return int(self._index.ntotal) if self._index is not None else self.db.count()

    def _search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self._index_search(queries, k, allowed)

    def _params(self, k: int, allowed: np.ndarray | None) -> tuple[Any, Any]:
        """Search parameters (and the selector they point to, which must stay alive)."""
        faiss = self.faiss
        selector = faiss.IDSelectorBatch(allowed) if allowed is not None else None
        if self._spec.kind == "hnsw":
            ef = max(self.hnsw_ef_search, k)
            if selector is None:
                return faiss.SearchParametersHNSW(efSearch=ef), None
            return faiss.SearchParametersHNSW(efSearch=ef, sel=selector), selector
        if self._spec.kind == "ivf":
            if selector is None:
                return faiss.SearchParametersIVF(nprobe=self.nprobe), None
            return faiss.SearchParametersIVF(nprobe=self.nprobe, sel=selector), selector
        if selector is None:
            return None, None
        return faiss.SearchParameters(sel=selector), selector

    def _index_search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        params, _selector = self._params(k, allowed)
        scores, fids = self._index.search(queries, k, params=params)
        return np.asarray(scores, dtype=np.float32), np.asarray(fids, dtype=np.int64)


def gpu_count(faiss: Any) -> int:
    if not hasattr(faiss, "StandardGpuResources"):
        return 0
    try:
        return int(faiss.get_num_gpus())
    except (AttributeError, RuntimeError):
        return 0


class FaissGpuStore(FaissStore):
    """FaissStore whose searches run on a GPU copy of the index (flat or IVF-Flat).

    The CPU index stays the one that is saved (same files as FaissStore) and serves what GPU
    indexes cannot: k above 2048 and filters whose matches the GPU results do not cover
    (non-cuVS GPU indexes ignore ID selectors, so filtered GPU searches over-fetch and
    keep the allowed ids).
    """

    backend = "faiss-gpu"

    def __init__(
        self,
        path: Path,
        dim: int,
        index: str = "flat",
        hnsw_m: int = 32,
        hnsw_ef_search: int = 128,
        nlist: int = 1024,
        nprobe: int = 32,
        device: int = 0,
        float16: bool = False,
    ) -> None:
        faiss = fi.import_faiss()
        gpus = gpu_count(faiss)
        if gpus == 0:
            support = "with GPU support" if hasattr(faiss, "StandardGpuResources") else "CPU-only"
            raise BackendUnavailable(
                f"faiss-gpu needs FAISS built with GPU support and a visible GPU; this FAISS "
                f"{faiss.__version__} is {support} and sees no GPU (use 'faiss' or 'torch')"
            )
        if not 0 <= device < gpus:
            raise ConfigError(f"GPU {device} does not exist; FAISS sees {gpus}")
        if index == "hnsw":
            log.info("FAISS has no GPU HNSW; using the exact GPU flat index")
            index = "flat"
        super().__init__(path, dim, index, hnsw_m, hnsw_ef_search, nlist, nprobe)
        self.device = device
        self.float16 = float16
        self._resources: Any = None
        self._mirror: Any = None
        self._check_memory(self.db.count())  # before anything is copied, so callers can fall back

    def _drop(self) -> None:
        super()._drop()
        self._mirror = None

    def _load(self) -> None:
        super()._load()
        self._mirror = None
        if self._index is not None:
            self._check_memory(int(self._index.ntotal))

    def _apply(self, change: Change) -> None:
        super()._apply(change)
        if self._index is None or change.removed or change.replaced:
            self._mirror = None  # GPU indexes cannot remove ids; copied again when needed
        elif self._mirror is not None and change.added and change.added_vectors is not None:
            self._mirror.add_with_ids(change.added_vectors, np.asarray(change.added, np.int64))

    def _check_memory(self, n: int) -> None:
        from ragline.retrieval.stores.select import gpu_free_bytes

        free = gpu_free_bytes(self.device)
        need = n * self.dim * (2 if self.float16 else 4) * 1.2 + 512 * 2**20
        if free is not None and need > free:
            raise BackendUnavailable(
                f"the FAISS GPU index needs about {need / 2**30:.1f} GiB on GPU {self.device} "
                f"but {free / 2**30:.1f} GiB are free; use 'faiss' (CPU)"
            )

    def _to_device(self, index: Any) -> Any:
        """A GPU copy of the CPU index (IDMap2 over a GPU flat index, or a GPU IVF index)."""
        faiss = self.faiss
        if self._resources is None:
            self._resources = faiss.StandardGpuResources()
        options = faiss.GpuClonerOptions()
        options.useFloat16 = self.float16
        mirror = faiss.index_cpu_to_gpu(self._resources, self.device, index, options)
        if self._spec.kind == "ivf":
            mirror.nprobe = self.nprobe
        return mirror

    def _device_index(self) -> Any:
        if self._mirror is None:
            self._mirror = self._to_device(self._index)
        return self._mirror

    def _index_search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if k > GPU_MAX_K:
            return super()._index_search(queries, k, allowed)
        try:
            return self._gpu_search(queries, k, allowed)
        except RuntimeError as exc:  # e.g. a k this build cannot select: the CPU index can
            log.warning("FAISS GPU search failed (%s); searching the CPU index", exc)
            return super()._index_search(queries, k, allowed)

    def _gpu_search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        n = int(self._index.ntotal)
        device = self._device_index()
        if allowed is None:
            scores, fids = device.search(queries, k)
            return np.asarray(scores, np.float32), np.asarray(fids, np.int64)
        # Over-fetch in proportion to how few chunks pass the filter, keep the allowed ones.
        fetch = min(n, GPU_MAX_K, k + math.ceil(2 * k * n / max(1, allowed.size)))
        raw_scores, raw_fids = device.search(queries, fetch)
        raw_fids = np.asarray(raw_fids, np.int64)
        keep = np.isin(raw_fids, allowed) & (raw_fids >= 0)
        scores = np.full((queries.shape[0], k), -np.inf, dtype=np.float32)
        fids = np.full((queries.shape[0], k), -1, dtype=np.int64)
        for row in range(queries.shape[0]):
            picked = np.flatnonzero(keep[row])[:k]
            scores[row, : picked.size] = raw_scores[row, picked]
            fids[row, : picked.size] = raw_fids[row, picked]
        short = np.flatnonzero((fids >= 0).sum(axis=1) < min(k, allowed.size))
        if short.size and fetch < n:
            cpu_scores, cpu_fids = pad(*super()._index_search(queries[short], k, allowed), k)
            scores[short], fids[short] = cpu_scores, cpu_fids
        return scores, fids

    def close(self) -> None:
        super().close()
        self._resources = None
