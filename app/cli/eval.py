"""`ragline eval …`: run an evaluation, make a labelled set from a collection, compare reports."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ragline.retrieval.errors import UsageError

if TYPE_CHECKING:
    from ragline.eval.config import RunConfig
    from ragline.eval.datasets import Dataset
    from ragline.eval.report import Gate
    from ragline.settings import Settings

eval_app = typer.Typer(
    help="Evaluate retrieval on labelled datasets (BEIR or QA format) and compare reports.",
    no_args_is_help=True,
)


def _say(quiet: bool) -> Callable[[str], None]:
    def say(message: str) -> None:
        if not quiet:
            typer.echo(message, err=True)

    return say


@eval_app.command("run")
def run(
    dataset: Annotated[Path, typer.Option("--dataset", "-d", help="BEIR or QA directory.")],
    report: Annotated[
        Path,
        typer.Option(
            "--report", "-o", help="Directory, or a file name whose stem names the reports."
        ),
    ],
    config: Annotated[
        list[Path] | None,
        typer.Option("--config", "-c", help="TOML/YAML configuration (repeatable; may sweep)."),
    ] = None,
    fail_under: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-under",
            help="METRIC=VALUE gate (repeatable): a retrieval metric of the first "
            "configuration, e.g. ndcg@10=0.6, or an answer metric (QA datasets): "
            "answer_correct (gold match), cites_relevant, answer_em, "
            "answer_f1, citation_precision, citation_recall, supported_rate (1 − share of "
            "answers with unsupported sentences), not_found_rate, cache_hit_rate.",
        ),
    ] = None,
    baselines: Annotated[
        bool, typer.Option("--baselines/--no-baselines", help="BM25, dense and LangChain.")
    ] = True,
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", "-m", help="Metric to report, e.g. ndcg@10 (repeatable)."),
    ] = None,
    split: Annotated[str, typer.Option(help="BEIR qrels split.")] = "test",
    limit: Annotated[
        int | None, typer.Option(min=1, help="Score only the first N queries (quick runs).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and the paired test.")] = 0,
    answers: Annotated[
        bool | None,
        typer.Option(
            "--answers/--no-answers",
            help="Also answer every question with the answer pipeline and score the answers "
            "(default: on for QA datasets; BEIR sets have no expected answers).",
        ),
    ] = None,
    llm: Annotated[
        str | None,
        typer.Option(
            help="LLM backend for the answers: llama-cpp, openai or fake "
            "(default: the llm.backend setting)."
        ),
    ] = None,
    answer_limit: Annotated[
        int | None,
        typer.Option(
            "--answer-limit",
            min=1,
            help="Answer only the first N questions (the embedded model is slow on a CPU).",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Ingest the dataset's corpus (cached), run every query, write JSON + Markdown + HTML;
    on QA datasets also answer every question and score the answers."""
    from ragline.eval.datasets import load_dataset
    from ragline.eval.metrics import DEFAULT_METRICS, parse_metric
    from ragline.eval.report import Gate, build_report, write_reports
    from ragline.eval.runner import run_eval
    from ragline.eval.sweep import load_configs
    from ragline.retrieval.logs import setup_logging
    from ragline.settings import load_settings

    started = dt.datetime.now(dt.UTC)
    gates = [Gate.parse(g) for g in fail_under or []]
    names = [parse_metric(x).name for x in (metric or DEFAULT_METRICS)]
    names += [g.metric for g in gates if not g.on_answers and g.metric not in names]
    settings = _with_llm(load_settings(), llm)
    setup_logging(settings.log_level, settings.log_json)
    configs = load_configs(config or [], settings)
    data = load_dataset(dataset, split)
    if not data.queries:
        raise UsageError(f"dataset {data.name!r} has no scored queries")
    with_answers = _answers_wanted(data.format, data.name, answers, gates)
    full = data
    if limit is not None and limit < len(data.queries):
        keep = list(data.queries)[:limit]
        skipped = {**data.skipped, "queries_over_limit": len(data.queries) - limit}
        data = replace(
            data,
            queries={q: data.queries[q] for q in keep},
            qrels={q: data.qrels[q] for q in keep},
            skipped=skipped,
        )
    say = _say(quiet)
    result = run_eval(data, configs, settings, names, baselines=baselines, log=say)
    answer_doc = None
    if with_answers:
        answer_doc = _answer_pass(full, configs[0], settings, answer_limit, say)
    doc = build_report(
        result, settings, gates, command=sys.argv, started=started, seed=seed, answers=answer_doc
    )
    paths = write_reports(doc, report)
    first = names[0]
    for c in doc["configs"]:
        s = c["summary"][first]
        typer.echo(
            f"{c['name']}: {first} {s['mean']:.4f} [{s['low']:.4f}, {s['high']:.4f}], "
            f"p50 {c['latency']['p50_ms']:.1f} ms"
        )
    if answer_doc is not None:
        values = ", ".join(f"{g} {_value(v)}" for g, v in answer_doc["gates"].items())
        typer.echo(f"answers ({answer_doc['questions']} questions): {values}")
    typer.echo(f"report: {paths['html']} (also {paths['md'].name}, {paths['json'].name})")
    failed = [g for g in doc["gates"] if not g["passed"]]
    for g in doc["gates"]:
        verdict = "FAIL" if not g["passed"] else "pass"
        typer.echo(
            f"gate {verdict}: {g['metric']} = {_value(g['value'])} (needs ≥ {g['threshold']})",
            err=bool(failed),
        )
    if failed:
        raise typer.Exit(1)


def _value(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _with_llm(settings: Settings, backend: str | None) -> Settings:
    """``settings`` with ``--llm`` as the LLM backend."""
    if backend is None:
        return settings
    from ragline.llm import BACKENDS

    if backend not in BACKENDS:
        raise UsageError(f"unknown --llm {backend!r}; choose one of {', '.join(BACKENDS)}")
    return settings.model_copy(update={"llm": settings.llm.model_copy(update={"backend": backend})})


def _answers_wanted(fmt: str, name: str, asked: bool | None, gates: Sequence[Gate]) -> bool:
    """Whether to run the answer pass: on for QA datasets unless ``--no-answers``."""
    if asked and fmt != "qa":
        raise UsageError(
            f"--answers needs a QA-format dataset (qa.jsonl with expected answers); "
            f"{name!r} is {fmt.upper()}"
        )
    wanted = fmt == "qa" if asked is None else asked
    on_answers = [g.metric for g in gates if g.on_answers]
    if on_answers and not wanted:
        raise UsageError(
            f"--fail-under {on_answers[0]} gates an answer metric: it needs a QA-format "
            "dataset with answers on"
        )
    return wanted


def _answer_pass(
    data: Dataset,
    config: RunConfig,
    settings: Settings,
    limit: int | None,
    say: Callable[[str], None],
) -> dict[str, Any]:
    from ragline.eval.answers import run_answers
    from ragline.llm import load_llm

    model = load_llm(settings)
    try:
        return run_answers(data, config, settings, model, limit=limit, log=say).to_dict()
    finally:
        model.close()


@eval_app.command("synth")
def synth(
    collection: Annotated[str, typer.Option("--collection", "-c")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the BEIR dataset.")],
    n: Annotated[int, typer.Option("--n", min=1, max=100000, help="Questions wanted.")] = 100,
    seed: Annotated[int, typer.Option(help="Which chunks are sampled.")] = 0,
    dedupe: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Drop questions this similar (cosine).")
    ] = 0.9,
    min_chars: Annotated[int, typer.Option(min=1, help="Skip shorter chunks.")] = 200,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Write a labelled question set from a collection with the configured LLM."""
    from ragline.eval.synth import synthesize, write_synth
    from ragline.llm import GenerationParams, load_llm
    from ragline.retrieval.collection import Collection
    from ragline.retrieval.logs import setup_logging
    from ragline.settings import load_settings

    settings = load_settings()
    setup_logging(settings.log_level, settings.log_json)
    say = _say(quiet)

    def progress(kept: int, tried: int) -> None:
        if tried % 10 == 0:
            say(f"{kept}/{n} kept, {tried} chunks tried")

    params = GenerationParams.from_settings(settings.llm).merged({"max_new_tokens": 200})
    llm = load_llm(settings)
    try:
        with Collection.open(collection, settings) as coll:
            result = synthesize(
                coll,
                llm,
                n=n,
                seed=seed,
                dedupe_threshold=dedupe,
                min_chars=min_chars,
                params=params,
                progress=progress,
            )
    finally:
        llm.close()
    write_synth(result, out)
    c = result.counts
    typer.echo(
        f"{c['kept']} questions written to {out} ({c['tried']} chunks tried; dropped: "
        f"{c['unanswered']} not answered by their chunk, {c['duplicate']} near-duplicates, "
        f"{c['malformed']} malformed)"
    )
    if c["kept"] < n:
        typer.echo(f"note: fewer than the {n} questions asked for", err=True)


@eval_app.command("compare")
def compare(
    a: Annotated[Path, typer.Argument(help="Report A (JSON).")],
    b: Annotated[Path, typer.Argument(help="Report B (JSON).")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print how report B differs from report A (B − A, with paired tests per metric)."""
    from ragline.eval.compare import compare_reports, format_comparison
    from ragline.eval.report import load_report

    diff = compare_reports(load_report(a), load_report(b))
    if as_json:
        typer.echo(json.dumps(diff, indent=2, ensure_ascii=False))
    else:
        typer.echo(format_comparison(diff))
