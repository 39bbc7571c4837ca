"""The search methods bench/gpu_search.py compares: each builds an index over one set of
vectors and answers query batches (torch exact top-k, FAISS GPU/CPU, Chroma)."""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from typing import Any

import numpy as np


class Method:
    """Build an index over ``base``; ``search`` returns int64 ids (nq, k)."""

    gpu = False

    def __init__(self, name: str, args: argparse.Namespace) -> None:
        self.name = name
        self.args = args

    def build(self, base: np.ndarray) -> None:
        raise NotImplementedError

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        pass


class TorchExact(Method):
    def __init__(self, name: str, args: argparse.Namespace) -> None:
        super().__init__(name, args)
        import torch

        self.torch = torch
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if self.device.type == "cpu":
            torch.set_num_threads(args.threads)
        self.gpu = self.device.type == "cuda"
        self.dtype = getattr(
            torch, {"fp16": "float16", "bf16": "bfloat16"}.get(name[6:], "float32")
        )

    def build(self, base: np.ndarray) -> None:
        torch = self.torch
        self.n = base.shape[0]
        self.x = torch.empty(base.shape, dtype=self.dtype, device=self.device)
        for s in range(0, self.n, 1_000_000):
            self.x[s : s + 1_000_000] = torch.from_numpy(base[s : s + 1_000_000]).to(
                self.device, self.dtype
            )

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        from ragline.retrieval.stores.torch_store import blockwise_topk

        with self.torch.inference_mode():
            q = self.torch.from_numpy(queries).to(self.device, self.dtype)
            rows = blockwise_topk(q, self.x, self.n, k, self.args.block_size)[1]
            return np.asarray(rows.cpu().numpy())

    def close(self) -> None:
        self.x = None
        if self.gpu:
            self.torch.cuda.empty_cache()


class FaissMethod(Method):
    def __init__(self, name: str, args: argparse.Namespace) -> None:
        super().__init__(name, args)
        import faiss

        self.faiss = faiss
        self.gpu = name.startswith("faiss-gpu")
        faiss.omp_set_num_threads(args.threads)
        self.index: Any = None

    def build(self, base: np.ndarray) -> None:
        faiss, n, d = self.faiss, base.shape[0], base.shape[1]
        if self.gpu:
            self.res = faiss.StandardGpuResources()
        if self.name.startswith("faiss-gpu-flat"):
            config = faiss.GpuIndexFlatConfig()
            config.useFloat16 = self.name.endswith("fp16")
            self.index = faiss.GpuIndexFlatIP(self.res, d, config)
        elif self.name == "faiss-gpu-ivf":
            nlist = self.args.nlist or ivf_lists(n)
            self.index = faiss.GpuIndexIVFFlat(self.res, d, nlist, faiss.METRIC_INNER_PRODUCT)
            sample = base[np.random.default_rng(0).choice(n, min(n, nlist * 64), replace=False)]
            self.index.train(np.ascontiguousarray(sample))
            self.index.nprobe = self.args.nprobe
            self.name = f"faiss-gpu-ivf{nlist}-p{self.args.nprobe}"
        elif self.name == "faiss-cpu-flat":
            self.index = faiss.IndexFlatIP(d)
        else:
            self.index = faiss.IndexHNSWFlat(d, self.args.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efSearch = self.args.ef_search
        for s in range(0, n, 1_000_000):
            self.index.add(base[s : s + 1_000_000])

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        return np.asarray(self.index.search(queries, k)[1])

    def close(self) -> None:
        self.index = None
        self.res = None


class ChromaMethod(Method):
    def build(self, base: np.ndarray) -> None:
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        import chromadb
        from chromadb.config import Settings

        self.tmp = tempfile.TemporaryDirectory(prefix="bench-chroma-")
        self.client: Any = chromadb.PersistentClient(
            path=self.tmp.name, settings=Settings(anonymized_telemetry=False)
        )
        self.col = self.client.get_or_create_collection(
            "bench", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        step = self.client.get_max_batch_size()
        for s in range(0, base.shape[0], step):
            rows = base[s : s + step]
            self.col.add(ids=[str(i) for i in range(s, s + len(rows))], embeddings=rows)

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        res = self.col.query(query_embeddings=queries, n_results=k, include=[])
        out = np.full((queries.shape[0], k), -1, dtype=np.int64)
        for row, ids in enumerate(res["ids"]):
            out[row, : len(ids)] = [int(i) for i in ids]
        return out

    def close(self) -> None:
        self.client.close()
        self.tmp.cleanup()


def ivf_lists(n: int) -> int:
    """About 4 sqrt(n) lists, a power of two, at least 39 training points each."""
    lists = 2 ** round(math.log2(max(16.0, 4 * math.sqrt(n))))
    return int(max(1, min(lists, n // 39, 65536)))
