"""Embedding speed by precision on this CPU, and how far each precision's vectors are from fp32.

MiniLM (the English default) over passages of up to 1,000 characters from
../shared/eval-data/python-faq when present (else a generated English text), each precision
in turn in this process, after one warm-up batch:

    .venv/bin/python bench/embed_precision.py [--texts 192] [--precisions fp32 bf16]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import EVAL_DATA, machine, table


def passages(n: int) -> list[str]:
    corpus = EVAL_DATA / "python-faq" / "corpus.jsonl"
    if corpus.is_file():
        with corpus.open(encoding="utf-8") as f:
            texts = [json.loads(line)["text"][:1000] for line in f]
        texts = [t for t in texts if len(t) > 300]
    else:
        words = [
            "the",
            "index",
            "keeps",
            "every",
            "chunk",
            "of",
            "text",
            "with",
            "its",
            "vector",
            "and",
            "metadata",
        ]
        rng = np.random.default_rng(0)
        texts = [" ".join(rng.choice(words, 180)) for _ in range(n)]
    return texts[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=192)
    parser.add_argument("--precisions", nargs="*", default=["fp32", "bf16"])
    args = parser.parse_args()
    from ragline.retrieval.embedders.sentence import (
        MINILM_ID,
        SentenceTransformerEmbedder,
        auto_precision,
        minilm_path,
    )

    texts = passages(args.texts)
    rows, reference = [], None
    for precision in args.precisions:
        embedder = SentenceTransformerEmbedder(
            minilm_path(), MINILM_ID, device="cpu", precision=precision
        )
        embedder.embed_documents(texts[:16])
        started = time.perf_counter()
        vectors = embedder.embed_documents(texts)
        seconds = time.perf_counter() - started
        if reference is None:
            reference = vectors
        cosine = (vectors * reference).sum(axis=1)
        rows.append(
            {
                "precision": precision,
                "texts/s": round(len(texts) / seconds, 1),
                "speed-up": round(rows[0]["seconds"] / seconds, 2) if rows else 1.0,
                "min cosine to first": round(float(cosine.min()), 4),
                "mean cosine to first": round(float(cosine.mean()), 5),
                "seconds": round(seconds, 2),
            }
        )
    print(f"machine: {machine()}; {len(texts)} texts; auto = {auto_precision('cpu')}")
    columns = ["precision", "texts/s", "speed-up", "min cosine to first", "mean cosine to first"]
    print(table(rows, columns))


if __name__ == "__main__":
    main()
