"""Exact search with torch: a (N, dim) tensor on the device, blockwise matmul + running top-k.

Same files as FaissStore (the SQLite sidecar is the truth; no index file of its own), so a
store written by one opens with the other. On CUDA vectors are kept in fp32 (exact) while
twice the collection fits in free GPU memory, else in fp16 (``auto``; fp16 or bf16 on
request), and scores are merged in fp32; on the CPU everything is fp32. Queries go in batches
and the corpus in blocks, each block's top-k merged into a running top-k, so memory for scores
stays at ``query_batch x block_size`` whatever N is. Filters mask the disallowed rows of each
block before its top-k.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ragline.retrieval.errors import BackendUnavailable, ConfigError
from ragline.retrieval.stores.sidecar import SidecarStore
from ragline.retrieval.stores.sqlite_meta import Change

log = logging.getLogger(__name__)

DTYPES = {
    "fp32": "float32",
    "float32": "float32",
    "fp16": "float16",
    "float16": "float16",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
}
HEADROOM = 256 * 2**20
"""Bytes of GPU memory kept free beyond the vectors and the score blocks."""


def auto_dtype(device: str, rows: int, dim: int, free_bytes: int) -> str:
    """The precision ``auto`` keeps vectors in: fp32 on the CPU; on CUDA fp32 while twice the
    collection fits in ``free_bytes`` (room to grow), else fp16 (half the memory).

    On an H200, fp32 searched a single question as fast as fp16 (1.19 vs 1.29 ms over 1M
    vectors, 10.8 vs 10.1 ms over 10M) and exactly, where fp16 kept 98.9-99.4% of the exact
    top 10 (docs/benchmarks.md, "GPU search").
    """
    if not device.startswith("cuda"):
        return "float32"
    return "float32" if 2 * rows * dim * 4 + HEADROOM <= free_bytes else "float16"


def import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise BackendUnavailable(f"torch is not installed: {exc}") from exc
    return torch


class TorchStore(SidecarStore):
    backend = "torch"

    def __init__(
        self,
        path: Path,
        dim: int,
        device: str = "auto",
        dtype: str = "auto",
        block_size: int = 65536,
        query_batch: int = 1024,
    ) -> None:
        torch = import_torch()
        self.torch = torch
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendUnavailable(
                f"the torch store was asked for {device}, but torch sees no GPU"
            )
        if dtype != "auto" and dtype not in DTYPES:
            raise ConfigError(f"unknown dtype {dtype!r}; choose auto, fp32, fp16 or bf16")
        if block_size < 1 or query_batch < 1:
            raise ConfigError("block_size and query_batch must be positive")
        super().__init__(path, dim)
        self.device = torch.device(device)
        if dtype == "auto":
            free = torch.cuda.mem_get_info(self.device)[0] if self.device.type == "cuda" else 0
            dtype = auto_dtype(device, self.db.count(), dim, free)
        self.dtype = getattr(torch, DTYPES[dtype])
        self.block_size = block_size
        self.query_batch = query_batch
        self._x: Any = None  # (capacity, dim) tensor; rows [0, _n) hold vectors
        self._n = 0
        self._fids = np.zeros(0, dtype=np.int64)  # ascending; row i holds fid _fids[i]
        self._gen: int | None = None
        self._check_memory(self.db.count())  # before anything is moved, so callers can fall back

    # -- memory ---------------------------------------------------------------------------
    def _bytes_needed(self, rows: int) -> int:
        itemsize = int(self.torch.tensor([], dtype=self.dtype).element_size())
        scores = self.query_batch * min(self.block_size, max(rows, 1)) * 4 * 3
        return rows * self.dim * itemsize + scores + HEADROOM

    def _check_memory(self, rows: int) -> None:
        if self.device.type != "cuda":
            return
        free, _total = self.torch.cuda.mem_get_info(self.device)
        held = 0 if self._x is None else int(self._x.numel() * self._x.element_size())
        need = self._bytes_needed(rows)
        if need > free + held:
            raise BackendUnavailable(
                f"the torch store needs about {need / 2**30:.1f} GiB on {self.device} for "
                f"{rows} vectors but {(free + held) / 2**30:.1f} GiB are free; use 'faiss'"
            )

    # -- the derived tensor ---------------------------------------------------------------
    def _current_generation(self) -> int | None:
        return self._gen

    def _drop(self) -> None:
        self._x = None
        self._n = 0
        self._fids = np.zeros(0, dtype=np.int64)
        self._gen = None

    def _load(self) -> None:
        self._drop()
        with self.db.snapshot():
            generation = self.db.generation()
            n = self.db.count()
            self._check_memory(n)
            self._x = self.torch.empty((max(n, 16), self.dim), dtype=self.dtype, device=self.device)
            parts: list[np.ndarray] = []
            for fids, vectors in self.db.iter_vectors():
                self._x[self._n : self._n + len(fids)] = self._tensor(vectors)
                self._n += len(fids)
                parts.append(fids)
        self._fids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        self._gen = generation
        log.info("loaded %d vectors onto %s (%s)", self._n, self.device, self.dtype)

    def _tensor(self, array: np.ndarray) -> Any:
        return self.torch.from_numpy(np.array(array, dtype=np.float32)).to(self.device, self.dtype)

    def _rows(self, fids: list[int] | np.ndarray) -> np.ndarray:
        """Rows holding ``fids`` (fids not loaded are left out)."""
        wanted = np.asarray(fids, dtype=np.int64)
        if self._n == 0 or wanted.size == 0:
            return np.zeros(0, dtype=np.int64)
        rows: np.ndarray = np.searchsorted(self._fids, wanted)
        found = (rows < self._n) & (self._fids[np.minimum(rows, self._n - 1)] == wanted)
        return np.asarray(rows[found], dtype=np.int64)

    def _apply(self, change: Change) -> None:
        if change.replaced and change.replaced_vectors is not None:
            rows = self._rows(change.replaced)
            self._x[self.torch.from_numpy(rows).to(self.device)] = self._tensor(
                change.replaced_vectors
            )
        if change.removed:
            keep = np.ones(self._n, dtype=bool)
            keep[self._rows(change.removed)] = False
            index = self.torch.from_numpy(np.flatnonzero(keep)).to(self.device)
            m = int(index.numel())
            self._x[:m] = self._x[index]
            self._fids = self._fids[keep]
            self._n = m
        if change.added and change.added_vectors is not None:
            added = np.asarray(change.added, dtype=np.int64)
            if self._n and added.min() <= self._fids[-1]:
                self._drop()  # not appended in order (cannot happen with one writer): reload
                return
            self._reserve(self._n + len(added))
            self._x[self._n : self._n + len(added)] = self._tensor(change.added_vectors)
            self._fids = np.concatenate([self._fids, added])
            self._n += len(added)
        self._gen = change.after

    def _reserve(self, rows: int) -> None:
        capacity = int(self._x.shape[0])
        if rows <= capacity:
            return
        capacity = max(rows, capacity + capacity // 2)
        self._check_memory(capacity)
        grown = self.torch.empty((capacity, self.dim), dtype=self.dtype, device=self.device)
        grown[: self._n] = self._x[: self._n]
        self._x = grown

    # -- search ---------------------------------------------------------------------------
    def _size(self) -> int:
        return self._n if self._gen is not None else self.db.count()

    def _search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        torch = self.torch
        mask = None
        if allowed is not None:
            allowed_mask = np.zeros(self._n, dtype=bool)
            allowed_mask[self._rows(allowed)] = True
            mask = torch.from_numpy(allowed_mask).to(self.device)
        out_scores: list[np.ndarray] = []
        out_fids: list[np.ndarray] = []
        with torch.inference_mode():
            for start in range(0, queries.shape[0], self.query_batch):
                q = self._tensor(queries[start : start + self.query_batch])
                scores, rows = self._topk(q, k, mask)
                fids = np.where(rows >= 0, self._fids[np.maximum(rows, 0)], -1)
                out_scores.append(scores)
                out_fids.append(fids)
        return np.concatenate(out_scores), np.concatenate(out_fids)

    def _topk(self, q: Any, k: int, mask: Any) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, rows) of one query batch; -1 rows pad short results."""
        best_scores, best_rows = blockwise_topk(q, self._x, self._n, k, self.block_size, mask)
        scores_np = best_scores.cpu().numpy().astype(np.float32)
        rows_np = best_rows.cpu().numpy()
        rows_np[~np.isfinite(scores_np)] = -1
        if scores_np.shape[1] < k:
            extra = k - scores_np.shape[1]
            scores_np = np.pad(scores_np, ((0, 0), (0, extra)), constant_values=-np.inf)
            rows_np = np.pad(rows_np, ((0, 0), (0, extra)), constant_values=-1)
        return scores_np, rows_np


def blockwise_topk(
    q: Any, x: Any, n: int, k: int, block_size: int, mask: Any = None
) -> tuple[Any, Any]:
    """Exact top-k of ``q @ x[:n].T`` per row, one block of ``x`` at a time.

    ``q`` (b, dim) and ``x`` (>= n, dim) are tensors of one dtype on one device; ``mask``
    (n,) bool marks the rows that may be returned. Returns fp32 scores and int64 rows, both
    (b, min(k, n)), best first; masked rows come back only as -inf where too few remain.
    Scores for one block at a time: memory is ``b x block_size`` whatever ``n`` is.
    """
    import torch

    best_scores = torch.full((q.shape[0], 0), -torch.inf, device=q.device)
    best_rows = torch.zeros((q.shape[0], 0), dtype=torch.int64, device=q.device)
    for start in range(0, n, block_size):
        end = min(start + block_size, n)
        block = (q @ x[start:end].T).float()
        if mask is not None:
            block.masked_fill_(~mask[start:end], -torch.inf)
        scores, rows = torch.topk(block, min(k, end - start), dim=1)
        scores = torch.cat([best_scores, scores], dim=1)
        rows = torch.cat([best_rows, rows + start], dim=1)
        best_scores, order = torch.topk(scores, min(k, scores.shape[1]), dim=1)
        best_rows = torch.gather(rows, 1, order)
    return best_scores, best_rows
