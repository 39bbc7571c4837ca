"""Retrieval quality (nDCG@10, document level): ragline's default configuration against the
strongest simple baselines, on the held-out half of every set, in one run.

Sets: python-faq, debian-reference-en, debian-reference-zh (../shared/eval-data) and the
cross-lingual sets bench/data/cross/debian-zh-to-en (Chinese questions, English corpus) and
debian-en-to-zh. Queries are split by a hash of their id (``ragline.eval.splits``): settings
were tuned on ``tune``; every number reported is on ``report``.

Per set, measured in the same run:

- **ragline default**: the corpus ingested with the real pipeline and default settings
  (embedder by language, chunk size/overlap, contextual headers), searched with
  ``ragline.retrieval.retrievers.search`` and the default ``RetrievalSettings`` (hybrid);
  a document ranks by its best chunk among the top 100;
- dense alone and BM25 alone on the same index;
- **whole-document baselines**: MiniLM over each whole document (title + text, the model
  truncates at 256 tokens) with exact search; BM25 over whole documents with ragline's
  tokeniser (jieba for Chinese); equal-weight RRF (k = 60) of the two.

``--embedder NAME`` measures another embedder instead of the default (same chunking);
``--grid`` prints nDCG@10 on the tune half over RRF k, BM25 weight and the cue boost.

    .venv/bin/python bench/retrieval_quality.py --data-dir /tmp/rq [--sets ...] [--grid]

Reuse one --data-dir: ingestion is incremental and embeddings are cached by text hash.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import EVAL_DATA, ROOT, machine, materialise, table
from ragline.eval.splits import Half, select

CROSS = ROOT / "bench" / "data" / "cross"
SETS: dict[str, Path] = {
    "python-faq": EVAL_DATA / "python-faq",
    "debian-reference-en": EVAL_DATA / "debian-reference-en",
    "debian-reference-zh": EVAL_DATA / "debian-reference-zh",
    "debian-zh-to-en": CROSS / "debian-zh-to-en",
    "debian-en-to-zh": CROSS / "debian-en-to-zh",
}
DEPTH = 100
Ranked = list[str]
Qrels = Mapping[str, Mapping[str, int]]


# -- data -----------------------------------------------------------------------------------
def load_set(path: Path) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """Every query of a set with its qrels (both halves: a cross set keeps them apart)."""
    queries = {
        str(q["_id"]): str(q["text"])
        for q in map(json.loads, (path / "queries.jsonl").read_text("utf-8").splitlines())
    }
    qrels: dict[str, dict[str, int]] = {}
    for file in sorted((path / "qrels").glob("*.tsv")):
        for line in file.read_text("utf-8").splitlines()[1:]:
            qid, did, grade = line.split("\t")
            if int(grade) > 0:
                qrels.setdefault(qid, {})[did] = int(grade)
    return {q: t for q, t in queries.items() if q in qrels}, qrels


def ndcg(ranking: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    return dcg / sum(r / math.log2(i + 2) for i, r in enumerate(ideal))


def score(runs: Mapping[str, Ranked], qrels: Qrels, half: Half) -> float:
    chosen = select(runs, half)
    return round(statistics.fmean(ndcg(chosen[q], qrels[q]) for q in chosen), 4)


def doc_order(ids: Sequence[str], doc_of: Mapping[str, str]) -> Ranked:
    """Documents in the order of their best chunk."""
    return list(dict.fromkeys(doc_of[i] for i in ids if i in doc_of))


# -- ragline --------------------------------------------------------------------------------
def settings_for(data: Path, size: int | None, overlap: int | None) -> Any:
    from ragline.retrieval.settings import ChunkingSettings
    from ragline.settings import Settings

    chunking = ChunkingSettings()
    if size is not None:
        chunking = ChunkingSettings(size=size, overlap=overlap or chunking.overlap)
    return Settings(data_dir=data, chunking=chunking)


def build(corpus: Path, settings: Any, embedder: str) -> tuple[Any, dict[str, Any]]:
    """The corpus ingested with the real pipeline (reused when already there)."""
    from ragline.ingest.chunking import CONTEXT_HEADERS
    from ragline.ingest.pipeline import Ingestor
    from ragline.retrieval.collection import Collection

    c = settings.chunking
    name = f"{corpus.name}-{embedder}-{c.size}-{c.overlap}-{'h' if CONTEXT_HEADERS else 'n'}"
    started = time.perf_counter()
    report = Ingestor(settings, name, embedder=embedder).run([corpus])
    info = {"ingest_s": round(time.perf_counter() - started, 1), "new_chunks": report.chunks_added}
    return Collection.open(name, settings), info


def chunk_docs(collection: Any) -> dict[str, str]:
    """chunk id → corpus document id (the file name without .txt)."""
    keyword = collection.keyword
    chunks = keyword.get(sorted(keyword.ids()))
    return {c.id: str(c.metadata["file_name"]).removesuffix(".txt") for c in chunks}


def ragline_runs(
    collection: Any, queries: Mapping[str, str], doc_of: Mapping[str, str]
) -> dict[str, Any]:
    """Default search, and the per-retriever chunk rankings (for tuning fusion offline)."""
    from ragline.retrieval.embedders.base import embed_queries
    from ragline.retrieval.retrievers import search
    from ragline.retrieval.settings import RetrievalSettings

    options = RetrievalSettings().model_copy(update={"k": DEPTH})
    ids = list(queries)
    texts = [queries[q] for q in ids]
    default = {
        q: doc_order([h.chunk_id for h in search(collection, queries[q], options).hits], doc_of)
        for q in ids
    }
    vectors = embed_queries(collection.embedder, texts)
    dense = dict(zip(ids, collection.store.search_ids(vectors, DEPTH, None), strict=True))
    bm25 = {q: collection.keyword.search_ids(queries[q], DEPTH, None) for q in ids}
    documents = {q: collection.keyword.search_documents(queries[q], DEPTH) for q in ids}
    places = collection.keyword.places(doc_of)
    latency = []
    for text in texts[:60]:
        t0 = time.perf_counter()
        collection.embedder.embed_query(text)
        latency.append(time.perf_counter() - t0)
    return {
        "default": default,
        "dense": dense,
        "bm25": bm25,
        "documents": documents,
        "places": places,
        "query_p50_ms": round(statistics.median(latency) * 1000, 1),
    }


def fused(
    runs: dict[str, Any], queries: Mapping[str, str], doc_of: Mapping[str, str], **opts: float
) -> dict[str, Ranked]:
    """Fusion recomputed from the per-retriever rankings, as ``retrievers._rank`` does it
    (document-level evidence included)."""
    from ragline.retrieval.fusion import fuse_ids, query_weights
    from ragline.retrieval.retrievers import add_document_evidence

    k = int(opts["rrf_k"])
    doc_weights = {"document_bm25": opts["document_bm25"], "opening": opts["opening"]}
    used = {name: w for name, w in doc_weights.items() if w > 0}
    out = {}
    for q, text in queries.items():
        weights = query_weights(text, 1.0, opts["bm25_weight"], opts["boost"])
        dense = runs["dense"][q]
        ranked = fuse_ids({"dense": dense, "bm25": runs["bm25"][q]}, weights, k)
        if used:
            ranked = add_document_evidence(
                ranked, dense, runs["documents"][q], runs["places"], used, k, weights
            )
        out[q] = doc_order([i for i, _, _ in ranked], doc_of)
    return out


# -- whole-document baselines ---------------------------------------------------------------
def baselines(
    corpus: Path, data: Path, language: str, queries: Mapping[str, str]
) -> dict[str, dict[str, Ranked]]:
    import numpy as np

    from ragline.retrieval.embedders import load_embedder
    from ragline.retrieval.embedders.base import embed_queries
    from ragline.retrieval.embedders.cache import CachedEmbedder, EmbeddingCache
    from ragline.retrieval.fusion import rrf_scores
    from ragline.retrieval.keyword import KeywordIndex, config_for
    from ragline.retrieval.settings import RetrievalSettings
    from ragline.retrieval.types import Chunk

    files = sorted(corpus.glob("*.txt"))
    ids = [f.stem for f in files]
    texts = [f.read_text("utf-8") for f in files]
    cache = EmbeddingCache(data / "cache" / "embeddings.sqlite")
    minilm = CachedEmbedder(load_embedder("minilm"), cache)
    docs = minilm.embed_documents(texts)
    qids = list(queries)
    sims = embed_queries(minilm, [queries[q] for q in qids]) @ docs.T
    dense = {
        q: [ids[i] for i in np.argsort(-sims[n], kind="stable")[:DEPTH]] for n, q in enumerate(qids)
    }
    cache.close()
    index = KeywordIndex(
        data / "whole-docs" / corpus.name, config_for(language, RetrievalSettings())
    )
    if index.count() != len(ids):
        index.upsert([Chunk.create(i, t, 0, {}) for i, t in zip(ids, texts, strict=True)])
    bm25 = {q: [h.doc_id for h in index.search(queries[q], DEPTH)] for q in qids}
    index.close()
    rrf = {}
    for q in qids:
        s = rrf_scores({"dense": dense[q], "bm25": bm25[q]}, {}, 60)
        rrf[q] = sorted(s, key=lambda d: -s[d])
    return {
        "whole-doc MiniLM (exact)": dense,
        "whole-doc BM25": bm25,
        "whole-doc RRF(MiniLM, BM25)": rrf,
    }


# -- one set --------------------------------------------------------------------------------
def bench_set(
    name: str, args: argparse.Namespace
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from ragline.ingest.language import detect_language
    from ragline.retrieval import embedders

    path = SETS[name]
    queries, qrels = load_set(path)
    corpus_src = path / "corpus.jsonl"
    corpus = args.data_dir / "corpus" / corpus_src.resolve().parent.name
    if not corpus.is_dir():
        materialise(corpus_src.resolve().parent, corpus)
    sample = "".join(p.read_text("utf-8") for p in sorted(corpus.glob("*.txt"))[:16])
    language = detect_language(sample)
    embedder = args.embedder or embedders.for_language(language)
    settings = settings_for(args.data_dir, args.chunk_size, args.chunk_overlap)
    collection, info = build(corpus, settings, embedder)
    with collection:
        doc_of = chunk_docs(collection)
        runs = ragline_runs(collection, queries, doc_of)
    label = f"ragline default ({embedder}, {settings.chunking.size}/{settings.chunking.overlap})"
    systems: dict[str, dict[str, Ranked]] = {
        label: runs["default"],
        f"dense alone ({embedder})": {
            q: doc_order([i for i, _ in r], doc_of) for q, r in runs["dense"].items()
        },
        "BM25 alone": {q: doc_order([i for i, _ in r], doc_of) for q, r in runs["bm25"].items()},
    }
    if not args.no_baselines:
        systems |= baselines(corpus, args.data_dir, language, queries)
    n = len(select(queries, "report"))
    rows = [
        {
            "set": name,
            "system": system,
            "nDCG@10 report": score(ranked, qrels, "report"),
            "nDCG@10 tune": score(ranked, qrels, "tune"),
            "queries (report)": n,
        }
        for system, ranked in systems.items()
    ]
    rows[0] |= {"chunks": len(doc_of), "query p50 ms": runs["query_p50_ms"], **info}
    grid = []
    if args.grid:
        from ragline.retrieval.retrievers import document_weights
        from ragline.retrieval.settings import RetrievalSettings

        chosen = document_weights(RetrievalSettings(), embedder, language)
        doc_default = (chosen.get("document_bm25", 0.0), chosen.get("opening", 0.0))
        points = [
            (rrf_k, weight, boost, *doc_default)
            for rrf_k in (5, 10, 20, 60)
            for weight in (0.25, 0.5, 1.0, 2.0)
            for boost in (0.0, 1.0)
        ] + [
            (10, 0.5, 0.0, doc_bm25, opening)
            for doc_bm25 in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)
            for opening in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
        ]
        for rrf_k, weight, boost, doc_bm25, opening in dict.fromkeys(points):
            ranked = fused(
                runs,
                queries,
                doc_of,
                rrf_k=rrf_k,
                bm25_weight=weight,
                boost=boost,
                document_bm25=doc_bm25,
                opening=opening,
            )
            grid.append(
                {
                    "set": name,
                    "embedder": embedder,
                    "rrf_k": rrf_k,
                    "bm25_weight": weight,
                    "boost": boost,
                    "document_bm25": doc_bm25,
                    "opening": opening,
                    "tune": score(ranked, qrels, "tune"),
                    "report": score(ranked, qrels, "report"),
                }
            )
    return rows, grid


SUMMED = ["rrf_k", "bm25_weight", "boost", "document_bm25", "opening", "sets", "tune sum"]


def best_overall(grid: Sequence[Mapping[str, Any]], top: int = 5) -> list[dict[str, Any]]:
    """The grid points with the best sum of tune-half scores over every set measured."""
    sums: dict[tuple[Any, ...], list[float]] = {}
    for row in grid:
        sums.setdefault(tuple(row[c] for c in SUMMED[:5]), []).append(row["tune"])
    ranked = sorted(sums.items(), key=lambda kv: -sum(kv[1]))[:top]
    return [
        dict(zip(SUMMED, (*key, len(scores), round(sum(scores), 4)), strict=True))
        for key, scores in ranked
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/ragline-retrieval-quality"))
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    parser.add_argument("--embedder", default=None, help="instead of the default by language")
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--chunk-overlap", type=int, default=None)
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--grid", action="store_true", help="fusion grid on the tune half")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    present = [s for s in args.sets if (SETS[s] / "corpus.jsonl").is_file()]
    if not present:
        print(f"no datasets found under {EVAL_DATA}; nothing to measure")
        return
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    grid: list[dict[str, Any]] = []
    columns = [
        "set",
        "system",
        "nDCG@10 report",
        "nDCG@10 tune",
        "queries (report)",
        "chunks",
        "query p50 ms",
        "ingest_s",
    ]
    for name in present:
        r, g = bench_set(name, args)
        rows += r
        grid += g
        print(table(r, columns), flush=True)
    print(f"\n{table(rows, columns)}\n\n{machine()}, {round(time.perf_counter() - started, 1)} s")
    if grid:
        best: dict[str, Any] = {}
        for row in grid:
            key = row["set"]
            if key not in best or row["tune"] > best[key]["tune"]:
                best[key] = row
        print("\nbest on tune, per set:\n" + table(list(best.values()), list(grid[0])))
        print("\nbest sum over the sets' tune halves:\n" + table(best_overall(grid), SUMMED))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "grid": grid}, indent=2))


if __name__ == "__main__":
    main()
