"""Answer path: the embedded model's speed at the default context budget, and the cache.

Part 1 (this script): time-to-first-token and generation tokens/s of the embedded llama.cpp
model on prompts built by ragline's own prompt builder from the project's docs, at the
default settings, with the prompt's shared opening evaluated again for every question
(before) and kept in the KV cache (``llm.reuse_prefix``, the default) — plus a cached
answer's latency through the same Answerer, so the ratio cached/uncached comes from one run.
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, machine, table

QUESTIONS = [
    "How do I resume an interrupted ingest?",
    "What happens to a file that cannot be parsed?",
    "How are chunk sizes measured?",
    "Which vector stores can hold a collection?",
    "How does the answer cache avoid stale answers?",
]


def measure(answerer: Any, question: str, ask: Any) -> dict[str, Any]:
    """One streamed, uncached answer (time to first token, generation speed), then the same
    question again from the cache."""
    started = time.perf_counter()
    first: float | None = None
    last = 0.0
    final = None
    for event in answerer.stream(ask(question, "docs")):
        if getattr(event, "text", "") and not hasattr(event, "citations"):
            last = time.perf_counter() - started
            first = last if first is None else first
        final = event
    total = time.perf_counter() - started
    assert final is not None and hasattr(final, "tokens")
    generated = final.tokens.get("completion", 0)
    streaming_s = last - (first or last)
    hit_started = time.perf_counter()
    cached = answerer.ask(ask(question, "docs"))
    hit_ms = (time.perf_counter() - hit_started) * 1000
    return {
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
    from ragline.cache.settings import CacheSettings
    from ragline.ingest.pipeline import Ingestor
    from ragline.llm.settings import LLMSettings
    from ragline.settings import Settings

    with tempfile.TemporaryDirectory(prefix="bench-answer-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            llm=LLMSettings(max_new_tokens=args.max_tokens),
            cache=CacheSettings(redis_url=""),
        )
        Ingestor(settings, "docs", embedder="minilm", workers=1).run(
            [ROOT / "README.md", ROOT / "docs"]
        )
        questions = QUESTIONS[: args.questions]
        for reuse in (False, True):
            llm_settings = settings.llm.model_copy(update={"reuse_prefix": reuse})
            local = settings.model_copy(update={"llm": llm_settings})
            stack = build_answerer(local)
            stack.answerer.ask(AskRequest("What is ragline?", "docs"))  # load, warm up
            rows = [measure(stack.answerer, q, AskRequest) for q in questions]
            label = "reused" if reuse else "evaluated again (before)"
            print(f"\n### Prompt prefix {label}\n")
            print(f"machine: {machine()}; model: {stack.llm.model_id}; {time.strftime('%Y-%m-%d')}")
            print(table(rows, list(rows[0])))
            steady = [r["gen tok/s"] for r in rows if r["generated"] >= 8] or [0.0]
            print(
                f"median TTFT {statistics.median(r['TTFT s'] for r in rows)} s, "
                f"median generation {statistics.median(steady)} tok/s (answers of 8+ tokens)"
            )
            stack.close()
    if args.cache:
        subprocess.run(
            [sys.executable, str(Path(__file__).with_name("answer_cache.py"))], check=True
        )


if __name__ == "__main__":
    main()
