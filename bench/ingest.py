"""Ingestion throughput: `ragline ingest` vs the LangChain recipe users copy, in one run.

For each dataset in ../shared/eval-data (when present) the corpus is written out as text
files, then, each in a fresh process (so peak memory is per job):
  - ragline: Ingestor with its default settings (the embedder chosen by the corpus language,
    ``--embedder`` to force one; token-measured chunks with contextual headers, batched
    cached embeddings, Chroma) on a fresh data dir — and then the same run again on the
    unchanged tree (the no-change re-ingest); ``--fp32`` adds a run with
    ``embedding.precision = fp32`` on a fresh data dir;
  - LangChain: DirectoryLoader(TextLoader) + RecursiveCharacterTextSplitter(1000, 200) +
    HuggingFaceEmbeddings on MiniLM + FAISS.from_documents (the recipe users copy).
Prints a Markdown table; ratios are against LangChain measured in the same run.

    .venv/bin/python bench/ingest.py [--datasets python-faq ...] [--limit N] [--embedder auto]
        [--fp32] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import EVAL_DATA, machine, materialise, peak_rss_mb, run_worker, table

DATASETS = ["python-faq", "debian-reference-en", "debian-reference-zh"]


def worker_ragline(corpus: Path, data: Path, embedder: str, precision: str) -> dict[str, Any]:
    from ragline.ingest.pipeline import Ingestor
    from ragline.retrieval.embedders.sentence import auto_precision
    from ragline.retrieval.settings import EmbeddingSettings
    from ragline.settings import Settings

    settings = Settings(data_dir=data, embedding=EmbeddingSettings(precision=precision))
    started = time.perf_counter()
    report = Ingestor(settings, "bench", embedder=embedder).run([corpus])
    seconds = time.perf_counter() - started
    from ragline.retrieval.collection import Collection

    with Collection.open("bench", settings) as collection:
        chosen = collection.info.embedder
    return {
        "embedder": chosen,
        "seconds": round(seconds, 2),
        "docs": report.files_ok + report.files_skipped,
        "chunks": report.chunks_added,
        "embedded": report.chunks_embedded,
        "failed": len(report.files_failed),
        "precision": auto_precision("cpu") if precision == "auto" else precision,
        "peak_rss_mb": peak_rss_mb(),
    }


def worker_langchain(corpus: Path) -> dict[str, Any]:
    from ragline.retrieval.embedders.offline import force_offline

    force_offline()
    from langchain_community.document_loaders import DirectoryLoader, TextLoader
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from ragline.retrieval.embedders.sentence import minilm_path

    started = time.perf_counter()
    docs = DirectoryLoader(
        str(corpus), glob="**/*.txt", loader_cls=TextLoader, loader_kwargs={"encoding": "utf-8"}
    ).load()
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
        docs
    )
    embeddings = HuggingFaceEmbeddings(model_name=str(minilm_path()))
    FAISS.from_documents(chunks, embeddings)
    seconds = time.perf_counter() - started
    # What the recipe silently loses: MiniLM truncates inputs beyond its 256-token limit.
    from ragline.retrieval.embedders.sentence import HFTokenCounter

    counter = HFTokenCounter(minilm_path())
    lengths = [counter.count(c.page_content) for c in chunks]
    kept = sum(min(n, counter.max_tokens) for n in lengths)
    return {
        "seconds": round(seconds, 2),
        "docs": len(docs),
        "chunks": len(chunks),
        "chunks_truncated": sum(n > counter.max_tokens for n in lengths),
        "tokens_lost_share": round(1 - kept / max(1, sum(lengths)), 3),
        "peak_rss_mb": peak_rss_mb(),
    }


def bench_dataset(name: str, limit: int | None, embedder: str, with_fp32: bool) -> dict[str, Any]:
    script = Path(__file__)
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        corpus, data = Path(tmp) / "corpus", Path(tmp) / "data"
        n = materialise(EVAL_DATA / name, corpus, limit)
        lc = run_worker(script, ["langchain", str(corpus)])
        first = run_worker(script, ["ragline", str(corpus), str(data), embedder, "auto"])
        again = run_worker(script, ["ragline", str(corpus), str(data), embedder, "auto"])
        fp32 = None
        if with_fp32:
            fp32 = run_worker(
                script, ["ragline", str(corpus), str(data) + "-fp32", embedder, "fp32"]
            )
    return {
        "dataset": name,
        "docs": n,
        "embedder": first["embedder"],
        "ragline precision": first["precision"],
        "ragline docs/s": round(n / first["seconds"], 2),
        "ragline fp32 docs/s": round(n / fp32["seconds"], 2) if fp32 else "",
        "ragline chunks/s": round(first["chunks"] / first["seconds"], 2),
        "langchain docs/s": round(n / lc["seconds"], 2),
        "langchain chunks/s": round(lc["chunks"] / lc["seconds"], 2),
        "langchain text lost to truncation": f"{lc['chunks_truncated']} chunks, {lc['tokens_lost_share']:.0%} of tokens",
        "throughput ratio": round(lc["seconds"] / first["seconds"], 2),
        "fp32 ratio": round(lc["seconds"] / fp32["seconds"], 2) if fp32 else "",
        "ragline chunks": first["chunks"],
        "langchain chunks": lc["chunks"],
        "first ingest s": first["seconds"],
        "re-ingest s": again["seconds"],
        "re-ingest speed-up": round(first["seconds"] / max(again["seconds"], 1e-3), 1),
        "ragline peak MB": first["peak_rss_mb"],
        "langchain peak MB": lc["peak_rss_mb"],
        "raw": {"ragline": first, "reingest": again, "ragline_fp32": fp32, "langchain": lc},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="*", default=DATASETS)
    parser.add_argument("--limit", type=int, default=None, help="documents per dataset")
    parser.add_argument("--embedder", default="auto", help="ragline's embedder (auto: by language)")
    parser.add_argument("--fp32", action="store_true", help="also run ragline in fp32")
    parser.add_argument("--json", type=Path, default=None)
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, *rest = sys.argv[2:]
        result = (
            worker_ragline(Path(rest[0]), Path(rest[1]), rest[2], rest[3])
            if kind == "ragline"
            else worker_langchain(Path(rest[0]))
        )
        print(json.dumps(result))
        return
    args = parser.parse_args()
    present = [d for d in args.datasets if (EVAL_DATA / d / "corpus.jsonl").is_file()]
    if not present:
        raise SystemExit(f"no datasets found under {EVAL_DATA}")
    rows = [bench_dataset(d, args.limit, args.embedder, args.fp32) for d in present]
    columns = [
        "dataset",
        "docs",
        "embedder",
        "ragline precision",
        "ragline docs/s",
        "ragline fp32 docs/s",
        "langchain docs/s",
        "throughput ratio",
        "fp32 ratio",
        "ragline chunks",
        "langchain chunks",
        "ragline chunks/s",
        "langchain chunks/s",
        "first ingest s",
        "re-ingest s",
        "re-ingest speed-up",
        "ragline peak MB",
        "langchain peak MB",
    ]
    print(
        f"machine: {machine()}; ragline embedder: {args.embedder}, LangChain: MiniLM; "
        f"{time.strftime('%Y-%m-%d')}"
    )
    print(table(rows, columns))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
