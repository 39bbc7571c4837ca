"""Vector search side by side: torch on the GPU, FAISS GPU, FAISS CPU (flat, HNSW) and Chroma.

For each dimension and corpus size (synthetic L2-normalised vectors, iid or clustered, or a
real embedded corpus from a .npy file) every available method builds its index, then answers
query batches of each size: QPS, p50/p99 latency per batch call, recall@10 against exact
fp32 search, build time and peak memory (GPU: memory the index took; host: peak RSS while
the method ran). Everything runs in one process, one method at a time, on the same data.

    python bench/gpu_search.py --json artifacts/gpu_search.json
    python bench/gpu_search.py --dims 384 --sizes 100k,1M --batches 1,1024 --methods torch-fp16,faiss-gpu-flat
    python bench/gpu_search.py --corpus emb.npy [--queries q.npy] --json out.json
    python bench/gpu_search.py --smoke --json /tmp/smoke.json   # tiny, CPU, seconds

Methods: torch-fp16, torch-bf16, torch-fp32 (exact, blockwise top-k as TorchStore does it),
faiss-gpu-flat, faiss-gpu-flat-fp16, faiss-gpu-ivf, faiss-cpu-flat, faiss-cpu-hnsw, chroma.
Methods that cannot run here (no CUDA, no GPU FAISS, no chromadb) are listed as skipped.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, table
from bench.gpu_common import GpuMemory, HostPeak, git_sha, versions
from bench.gpu_methods import ChromaMethod, FaissMethod, Method, TorchExact

ALL_METHODS = [
    "torch-fp16",
    "torch-bf16",
    "torch-fp32",
    "faiss-gpu-flat",
    "faiss-gpu-flat-fp16",
    "faiss-gpu-ivf",
    "faiss-cpu-flat",
    "faiss-cpu-hnsw",
    "chroma",
]


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def faiss_gpu_available() -> bool:
    try:
        import faiss
    except ImportError:
        return False
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


# -- data -------------------------------------------------------------------------------
def normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return np.ascontiguousarray(x / norms, dtype=np.float32)


def synthetic(n: int, d: int, nq: int, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(base, queries), float32 and L2-normalised, drawn on the GPU when there is one.

    iid: uniform on the sphere (no neighbour structure: IVF recall is poor, see
    ../shared/faiss-gpu/README.md). clustered: about 100 points per cluster (at most 10k
    clusters), each point its unit centre plus Gaussian noise of norm about 1 (cosine to the
    centre about 0.7), closer to what sentence embeddings look like.
    """
    if cuda_available():
        import torch

        gen = torch.Generator(device="cuda").manual_seed(seed)

        def draw(rows: int) -> Any:
            return torch.randn(rows, d, device="cuda", generator=gen)

        def unit(x: Any) -> Any:
            return torch.nn.functional.normalize(x, dim=1)

        def pick(centres: Any, rows: int) -> Any:
            which = torch.randint(0, centres.shape[0], (rows,), device="cuda", generator=gen)
            return centres[which]

        def host(x: Any) -> np.ndarray:
            return np.asarray(x.cpu().numpy(), dtype=np.float32)
    else:
        rng = np.random.default_rng(seed)

        def draw(rows: int) -> Any:
            return rng.standard_normal((rows, d), dtype=np.float32)

        def unit(x: Any) -> Any:
            return normalise(x)

        def pick(centres: Any, rows: int) -> Any:
            return centres[rng.integers(0, centres.shape[0], rows)]

        def host(x: Any) -> np.ndarray:
            return np.asarray(x, dtype=np.float32)

    centres = unit(draw(max(1, min(10_000, n // 100)))) if kind == "clustered" else None

    def block(rows: int) -> np.ndarray:
        x = draw(rows)
        if centres is not None:
            x = pick(centres, rows) + x / math.sqrt(d)
        return host(unit(x))

    base = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 1_000_000):
        rows = min(1_000_000, n - start)
        base[start : start + rows] = block(rows)
    return base, block(nq)


def load_corpus(
    path: Path, queries: Path | None, nq: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    base = normalise(np.load(path, mmap_mode="r").astype(np.float32))
    if queries is not None:
        return base, normalise(np.load(queries).astype(np.float32))[:nq]
    pick = np.random.default_rng(seed).permutation(base.shape[0])
    held, rest = pick[:nq], np.sort(pick[nq:])
    return np.ascontiguousarray(base[rest]), np.ascontiguousarray(base[held])


def exact_topk(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Ground truth: exact fp32 inner-product top-k ids (torch on CUDA when there is one)."""
    if cuda_available():
        import torch

        from ragline.retrieval.stores.torch_store import blockwise_topk

        out = []
        with torch.inference_mode():
            x = torch.empty(base.shape, dtype=torch.float32, device="cuda")
            for s in range(0, base.shape[0], 1_000_000):
                x[s : s + 1_000_000] = torch.from_numpy(base[s : s + 1_000_000]).cuda()
            for s in range(0, queries.shape[0], 256):
                q = torch.from_numpy(queries[s : s + 256]).cuda()
                out.append(blockwise_topk(q, x, base.shape[0], k, 262_144)[1].cpu().numpy())
            del x
            torch.cuda.empty_cache()
        return np.concatenate(out)
    import faiss

    index = faiss.IndexFlatIP(base.shape[1])
    index.add(base)
    return np.asarray(index.search(queries, k)[1])


# -- methods ----------------------------------------------------------------------------
def why_not(name: str, n: int, args: argparse.Namespace) -> str | None:
    """Why method ``name`` is skipped for ``n`` vectors; None when it runs."""
    if name.startswith("torch"):
        try:
            import torch  # noqa: F401
        except ImportError:
            return "torch is not installed"
        if name != "torch-fp32" and not cuda_available():
            return "no CUDA (fp16/bf16 run on the GPU only)"
    elif name.startswith("faiss"):
        try:
            import faiss  # noqa: F401
        except ImportError:
            return "faiss is not installed"
        if name.startswith("faiss-gpu") and not faiss_gpu_available():
            return "no FAISS with GPU support and a visible GPU"
        if name == "faiss-cpu-flat" and n > args.cpu_max_n:
            return f"N > --cpu-max-n {args.cpu_max_n}"
        if name == "faiss-cpu-hnsw" and n > args.hnsw_max_n:
            return f"N > --hnsw-max-n {args.hnsw_max_n}"
    elif name == "chroma":
        try:
            import chromadb  # noqa: F401
        except ImportError:
            return "chromadb is not installed"
        if n > args.chroma_max_n:
            return f"N > --chroma-max-n {args.chroma_max_n}"
    return None


def make_method(name: str, args: argparse.Namespace) -> Method:
    if name.startswith("torch"):
        return TorchExact(name, args)
    if name == "chroma":
        return ChromaMethod(name, args)
    return FaissMethod(name, args)


# -- measuring --------------------------------------------------------------------------
def measure(
    search: Callable[[np.ndarray, int], np.ndarray],
    queries: np.ndarray,
    truth: np.ndarray,
    k: int,
    batch: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Batches of ``batch`` queries, cycling through ``queries``, until the time budget."""
    nq = queries.shape[0]
    starts = list(range(0, nq - batch + 1, batch)) or [0]
    for s in starts[: args.warmup]:
        search(queries[s : s + batch], k)
    latencies: list[float] = []
    found = 0
    checked = 0
    while True:
        s = starts[len(latencies) % len(starts)]
        q = queries[s : s + batch]
        t0 = time.perf_counter()
        ids = search(q, k)
        latencies.append(time.perf_counter() - t0)
        if len(latencies) <= len(starts):  # first pass over the queries: score recall
            for got, want in zip(ids, truth[s : s + len(q), :k], strict=True):
                found += len(set(got.tolist()) & set(want.tolist()))
                checked += k
        spent = sum(latencies)
        if len(latencies) >= args.max_reps or (spent > args.seconds and len(latencies) >= 3):
            break
    lat_ms = np.array(latencies) * 1e3
    return {
        "qps": round(len(q) * len(latencies) / sum(latencies), 1),
        "p50_ms": round(float(np.percentile(lat_ms, 50)), 3),
        "p99_ms": round(float(np.percentile(lat_ms, 99)), 3),
        "recall_at_k": round(found / checked, 4) if checked else None,
        "reps": len(latencies),
    }


def run_case(
    d: int, base: np.ndarray, queries: np.ndarray, args: argparse.Namespace, label: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    n = base.shape[0]
    t0 = time.perf_counter()
    truth = exact_topk(base, queries, args.k)
    print(f"[{label}] ground truth in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for name in args.methods:
        reason = why_not(name, n, args)
        if reason:
            skipped.append({"d": d, "n": n, "method": name, "reason": reason})
            continue
        gc.collect()
        host, gpu = HostPeak(), GpuMemory()
        method = make_method(name, args)
        try:
            t0 = time.perf_counter()
            method.build(base)
            build_s = time.perf_counter() - t0
            gpu_index = gpu.used_since()
            for batch in args.batches:
                result = measure(method.search, queries, truth, args.k, batch, args)
                row = {"data": label, "d": d, "n": n, "method": method.name, "batch": batch}
                row |= result | {"build_s": round(build_s, 2)}
                row |= {"gpu_index_gib": gpu_index, "gpu_peak_gib": gpu.peak()}
                row |= {"host_peak_gib": host.peak_gib()}
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
        except Exception as exc:  # a method failing (e.g. out of memory) must not end the run
            skipped.append({"d": d, "n": n, "method": name, "reason": f"failed: {exc!r}"[:300]})
        finally:
            method.close()
            del method
            gc.collect()
    return rows, skipped


def with_speedups(rows: list[dict[str, Any]]) -> None:
    """``x_cpu_flat``: QPS over FAISS CPU flat's in the same case and batch size."""
    base = {
        (r["data"], r["d"], r["n"], r["batch"]): r["qps"]
        for r in rows
        if r["method"] == "faiss-cpu-flat"
    }
    for r in rows:
        ref = base.get((r["data"], r["d"], r["n"], r["batch"]))
        r["x_cpu_flat"] = round(r["qps"] / ref, 2) if ref else ""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dims", default="384,768")
    p.add_argument("--sizes", default="100k,1M,10M")
    p.add_argument("--batches", default="1,64,1024")
    p.add_argument("--methods", default=",".join(ALL_METHODS))
    p.add_argument("--data", choices=["clustered", "iid"], default="clustered",
                   help="synthetic vectors: Gaussian clusters (IVF-friendly) or iid on the sphere")  # fmt: skip
    p.add_argument("--corpus", type=Path, help="real embeddings (N, d) .npy instead of synthetic")
    p.add_argument("--queries", type=Path, help="query embeddings .npy (default: held out)")
    p.add_argument("--nq", type=int, default=1024, help="distinct queries")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--seconds", type=float, default=2.0, help="time budget per measurement")
    p.add_argument("--max-reps", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--block-size", type=int, default=262_144, help="torch corpus block")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads")
    p.add_argument("--hnsw-m", type=int, default=32)
    p.add_argument("--ef-search", type=int, default=128)
    p.add_argument("--nlist", type=int, default=0, help="IVF lists (0: about 4 sqrt(N))")
    p.add_argument("--nprobe", type=int, default=32)
    p.add_argument("--cpu-max-n", type=parse_size, default=parse_size("1M"))
    p.add_argument("--hnsw-max-n", type=parse_size, default=parse_size("1M"))
    p.add_argument("--chroma-max-n", type=parse_size, default=parse_size("100k"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU: checks it runs")
    args = p.parse_args(argv)
    if args.smoke:
        args.dims, args.sizes, args.batches, args.nq = "32", "2000", "1,16", 64
        args.seconds, args.max_reps, args.warmup = 0.2, 20, 1
        args.block_size, args.hnsw_m = 512, 8
        args.chroma_max_n = args.hnsw_max_n = args.cpu_max_n = 2000
        args.threads = 1
    args.dims = [int(x) for x in str(args.dims).split(",")]
    args.sizes = [parse_size(x) for x in str(args.sizes).split(",")]
    args.batches = [int(x) for x in str(args.batches).split(",")]
    args.methods = [m.strip() for m in str(args.methods).split(",") if m.strip()]
    unknown = set(args.methods) - set(ALL_METHODS)
    if unknown:
        p.error(f"unknown methods: {', '.join(sorted(unknown))}")
    if max(args.batches) > args.nq:
        p.error("--nq must be at least the largest batch")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    cases: list[tuple[str, Callable[[], tuple[np.ndarray, np.ndarray]]]] = []
    if args.corpus:
        load = partial(load_corpus, args.corpus, args.queries, args.nq, args.seed)
        cases.append((args.corpus.name, load))
    else:
        for d in args.dims:
            for n in args.sizes:
                cases.append((args.data, partial(synthetic, n, d, args.nq, args.data, args.seed)))
    started = time.perf_counter()
    for label, make in cases:
        t0 = time.perf_counter()
        base, queries = make()
        d = base.shape[1]
        print(f"[{label}] d={d} N={base.shape[0]} data in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)  # fmt: skip
        case_rows, case_skipped = run_case(d, base, queries, args, label)
        rows += case_rows
        skipped += case_skipped
        del base, queries
        gc.collect()
    with_speedups(rows)
    columns = ["data", "d", "n", "method", "batch", "qps", "x_cpu_flat", "p50_ms", "p99_ms",
               "recall_at_k", "build_s", "gpu_index_gib", "gpu_peak_gib", "host_peak_gib"]  # fmt: skip
    print(f"\n## Vector search ({machine()})\n")
    print(table(rows, columns))
    if skipped:
        print("\nSkipped: " + "; ".join(f"{s['method']} (d={s['d']}, N={s['n']}): {s['reason']}"
                                        for s in skipped))  # fmt: skip
    report = {
        "bench": "gpu_search",
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": machine(),
        "versions": versions(),
        "git": git_sha(),
        "seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
        "skipped": skipped,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
