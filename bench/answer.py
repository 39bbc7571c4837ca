"""Answer path: the embedded model's speed at the default context budget, and the cache.

Part 1 (this script): time-to-first-token and generation tokens/s of the embedded llama.cpp
model on prompts built by ragline's own prompt builder from the project's docs, at the
default retrieval k and context budget — plus a cached answer's latency through the same
Answerer, so the ratio cached/uncached comes from one run.
Part 2: cache lookup latency, paraphrase hit rate and near-miss false-hit rate are measured
by bench/answer_cache.py (run with --cache to include it here).

    .venv/bin/python bench/answer.py [--questions 3] [--max-tokens 128] [--cache]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, machine, table

QUESTIONS = [
    "How do I resume an interrupted ingest?",
    "What happens to a file that cannot be parsed?",
    "How are chunk sizes measured?",
    "Which vector stores can hold a collection?",
    "How does the answer cache avoid stale answers?",
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--cache", action="store_true", help="also run bench/answer_cache.py")
    args = parser.parse_args()

    from ragline.answer import AskRequest
    from ragline.answer.build import build_answerer
    from ragline.ingest.pipeline import Ingestor
    from ragline.retrieval.settings import CacheSettings, LLMSettings, Settings

    with tempfile.TemporaryDirectory(prefix="bench-answer-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            llm=LLMSettings(max_new_tokens=args.max_tokens),
            cache=CacheSettings(redis_url=""),
        )
        Ingestor(settings, "docs", embedder="minilm", workers=1).run(
            [ROOT / "README.md", ROOT / "docs"]
        )
        stack = build_answerer(settings)
        answerer, llm = stack.answerer, stack.llm
        rows = []
        for question in QUESTIONS[: args.questions]:
            started = time.perf_counter()
            first: float | None = None
            last = 0.0
            final = None
            for event in answerer.stream(AskRequest(question, "docs")):
                if getattr(event, "text", "") and not hasattr(event, "citations"):
                    last = time.perf_counter() - started
                    first = last if first is None else first
                final = event
            total = time.perf_counter() - started
            assert final is not None and hasattr(final, "tokens")
            generated = final.tokens.get("completion", 0)
            streaming_s = last - (first or last)
            hit_started = time.perf_counter()
            cached = answerer.ask(AskRequest(question, "docs"))
            hit_ms = (time.perf_counter() - hit_started) * 1000
            rows.append(
                {
                    "question": question[:40],
                    "prompt tokens": final.tokens.get("prompt", 0),
                    "generated": generated,
                    "TTFT s": round(first or total, 2),
                    "gen tok/s": round((generated - 1) / streaming_s, 1) if streaming_s > 0 else 0,
                    "uncached s": round(total, 2),
                    "cached ms": round(hit_ms, 2),
                    "speed-up": round(total * 1000 / max(hit_ms, 1e-3)),
                    "cache kind": cached.cache_kind,
                }
            )
        stack.close()
    print(f"machine: {machine()}; model: {llm.model_id}; {time.strftime('%Y-%m-%d')}")
    columns = list(rows[0])
    print(table(rows, columns))
    steady = [r["gen tok/s"] for r in rows if r["generated"] >= 8] or [0.0]
    print(
        f"median TTFT {statistics.median(r['TTFT s'] for r in rows)} s, "
        f"median generation {statistics.median(steady)} tok/s (answers of 8+ tokens)"
    )
    if args.cache:
        subprocess.run(
            [sys.executable, str(Path(__file__).with_name("answer_cache.py"))], check=True
        )


if __name__ == "__main__":
    main()
