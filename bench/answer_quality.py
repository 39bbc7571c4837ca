"""Answer quality on gold-answer QA sets: is the embedded model's answer right?

Each set under bench/data/qa/ (python-faq, debian-reference-en, debian-reference-zh: QA format,
``corpus.jsonl`` a link to ../shared/eval-data) is ingested with the real pipeline (built
once, then reused from --data-dir) and every question is answered through the real answer
pipeline (``ragline.answer.build.build_answerer``, streamed so the first token is timed,
uncached on the first pass). Reported per set: answers correct (gold match), citing a
relevant document, empty or citations-only, repeating few-shot example text, unanswerable
questions answered "not found", how often the output guard's extractive fallback and the
"uncited" flag fired, and time to first token / to the full answer (p50, p95).

Questions are split in two halves by a hash of their id: tune prompts and settings on
``--half tune``, report on ``--half report`` (the default); ``--half all`` answers both.
Any setting can be varied with RAGLINE_* variables (e.g. RAGLINE_PROMPTS__EXAMPLES=none).

    .venv/bin/python bench/answer_quality.py --data-dir /tmp/aq [--sets python-faq]
        [--half report] [--limit 30] [--model qwen2.5-coder-0.5b] [--mode auto|plain|extractive]
        [--json out.json] [--write-doc]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, machine, table

QA = ROOT / "bench" / "data" / "qa"
SETS = ("python-faq", "debian-reference-en", "debian-reference-zh")
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- answer-quality:begin -->", "<!-- answer-quality:end -->"
COLUMNS = [
    "set",
    "half",
    "model",
    "questions",
    "correct",
    "cites relevant",
    "empty",
    "leaked example",
    "not found (unanswerable)",
    "extractive",
    "uncited",
    "TTFT p50 s",
    "TTFT p95 s",
    "total p50 s",
    "total p95 s",
]


def half_of(question_id: str) -> str:
    """The fixed split: "tune" or "report", by a hash of the question id."""
    return "tune" if hashlib.sha256(question_id.encode()).digest()[0] % 2 == 0 else "report"


def _share(summary: dict[str, Any], name: str) -> str:
    cell = summary.get(name, {})
    mean, n = cell.get("mean"), cell.get("n", 0)
    if mean is None:
        return "–"
    return f"{mean:.0%} ({round(mean * n)}/{n})"


def run_set(name: str, args: argparse.Namespace, settings: Any, llm: Any) -> dict[str, Any]:
    from dataclasses import replace

    from ragline.eval.answers import run_answers
    from ragline.eval.config import RunConfig
    from ragline.eval.datasets import load_dataset

    dataset = load_dataset(QA / name)
    if args.half != "all":
        keep = {q for q in dataset.answers if half_of(q) == args.half}
        dataset = replace(
            dataset,
            answers={q: a for q, a in dataset.answers.items() if q in keep},
            queries={q: t for q, t in dataset.queries.items() if q in keep},
            unanswerable={q: t for q, t in dataset.unanswerable.items() if q in keep},
        )
    config = RunConfig.from_settings(settings, name="ragline default")
    run = run_answers(
        dataset,
        config,
        settings,
        llm,
        limit=args.limit,
        log=lambda m: print(m, file=sys.stderr),
        mode=args.mode,
    )
    report = run.to_dict()
    summary = report["summary"]
    ttft, total = report["time_to_first_token"], report["latency"]
    row = {
        "set": name,
        "half": args.half,
        "model": report["llm"]["model_id"],
        "questions": report["questions"],
        "correct": _share(summary, "correct"),
        "cites relevant": _share(summary, "cites_relevant"),
        "empty": _share(summary, "empty"),
        "leaked example": _share(summary, "leaked_example"),
        "not found (unanswerable)": _share(summary, "not_found"),
        "extractive": _share(summary, "extractive"),
        "uncited": _share(summary, "uncited"),
        "TTFT p50 s": round(ttft["p50_ms"] / 1000, 2),
        "TTFT p95 s": round(ttft["p95_ms"] / 1000, 2),
        "total p50 s": round(total["p50_ms"] / 1000, 2),
        "total p95 s": round(total["p95_ms"] / 1000, 2),
    }
    return {"row": row, "report": report}


def context_only(name: str, args: argparse.Namespace, settings: Any, llm: Any) -> str:
    """Gold answers present in the prompt's sources, per set (no generation)."""
    import statistics

    from ragline.answer import AskRequest
    from ragline.answer.build import build_answerer
    from ragline.eval.answer_metrics import gold_match
    from ragline.eval.answers import answer_settings
    from ragline.eval.config import RunConfig
    from ragline.eval.datasets import load_dataset
    from ragline.eval.index import ensure_index

    dataset = load_dataset(QA / name)
    config = RunConfig.from_settings(settings, name="ragline default")
    built = ensure_index(dataset, config, settings)
    stack = build_answerer(answer_settings(settings, config, "ctx:"), llm=llm, cache=False)
    found, sizes = 0, []
    asked = [q for q in dataset.queries if args.half == "all" or half_of(q) == args.half]
    for qid in asked[: args.limit]:
        prompt = stack.answerer.prompt_for(AskRequest(dataset.queries[qid], built.name))
        if prompt is None:
            continue
        sizes.append(prompt.tokens.prompt)
        text = "\n".join(s.text for s in prompt.sources)
        found += bool(gold_match(text, dataset.answers.get(qid, ()), dataset.patterns.get(qid)))
    n = len(asked[: args.limit])
    return (
        f"{name}: gold answer in the prompt's sources {found}/{n} ({found / max(n, 1):.0%}); "
        f"prompt tokens p50 {statistics.median(sizes) if sizes else 0}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/ragline-answer-quality"))
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--half", choices=("tune", "report", "all"), default="report")
    parser.add_argument("--limit", type=int, default=None, help="answer the first N questions")
    parser.add_argument("--model", default=None, help="llm.model (a bundled model name)")
    parser.add_argument(
        "--mode",
        choices=("auto", "plain", "extractive"),
        default="auto",
        help="auto: the default (plain, extractive for answer.extractive_languages); plain: "
        "the LLM answers every question; extractive: the no-LLM baseline (quote the best "
        "source's matching sentences)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write every record here")
    parser.add_argument("--write-doc", action="store_true", help=f"update {DOC.name}")
    parser.add_argument(
        "--context-only",
        action="store_true",
        help="no generation: how often a gold answer is in the sources the prompt gives the "
        "model (the ceiling of what it can answer), and the prompt's size",
    )
    args = parser.parse_args()

    from ragline.llm import load_llm
    from ragline.retrieval.embedders.offline import force_offline
    from ragline.settings import load_settings

    force_offline()
    missing = [s for s in args.sets if not (QA / s / "corpus.jsonl").exists()]
    if missing:
        raise SystemExit(f"no corpus for {missing}: ../shared/eval-data is needed")
    settings = load_settings(data_dir=args.data_dir)
    if args.model:
        settings = settings.model_copy(
            update={"llm": settings.llm.model_copy(update={"model": args.model})}
        )
    llm = load_llm(settings)
    started = time.perf_counter()
    if args.context_only:
        for name in args.sets:
            print(context_only(name, args, settings, llm))
        return
    results = [run_set(name, args, settings, llm) for name in args.sets]
    llm.close()
    rows = [r["row"] for r in results]
    varied = {k: v for k, v in os.environ.items() if k.startswith("RAGLINE_")}
    header = (
        f"machine: {machine()}; {time.strftime('%Y-%m-%d')}; "
        f"{round(time.perf_counter() - started)} s; settings varied: {varied or 'none'}"
    )
    text = header + "\n\n" + table(rows, COLUMNS)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str))
    if args.write_doc:
        write_doc(text, rows[0]["model"] if args.mode == "plain" else args.mode)


def write_doc(text: str, tag: str) -> None:
    """Put ``text`` in docs/benchmarks.md between this run's markers (one block per model or
    mode, so the LLM and the extractive baseline sit side by side), with its command."""
    doc = DOC.read_text(encoding="utf-8")
    begin, end = f"<!-- answer-quality:{tag}:begin -->", f"<!-- answer-quality:{tag}:end -->"
    command = "`.venv/bin/python bench/answer_quality.py " + " ".join(sys.argv[1:]) + "`"
    block = f"{begin}\n{command}\n\n{text}\n{end}"
    if begin in doc:
        doc = doc[: doc.index(begin)] + block + doc[doc.index(end) + len(end) :]
    elif END in doc:
        doc = doc[: doc.index(END) + len(END)] + "\n\n" + block + doc[doc.index(END) + len(END) :]
    else:
        doc += f"\n## Answer quality (`bench/answer_quality.py`)\n\n{BEGIN}\n{END}\n\n{block}\n"
    DOC.write_text(doc, encoding="utf-8")


if __name__ == "__main__":
    main()
