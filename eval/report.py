"""Reports: one JSON document per run (the data), rendered to Markdown and HTML.

The JSON carries everything that produced the numbers (dataset name and hash, every setting,
ragline version and git commit, machine, date, timings) and everything measured: per-query
metric values, means with bootstrap 95% intervals, paired tests against the baselines, the
latency distribution, index build time and size, peak memory, and the failures.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragline.answer.settings import AnswerConfig
from ragline.eval import stats
from ragline.eval.answer_metrics import GATES
from ragline.eval.metrics import mean, parse_metric
from ragline.eval.runner import ConfigResult, EvalRun
from ragline.retrieval.errors import UsageError

SCHEMA = "ragline-eval-report/1"
ROOT = Path(__file__).resolve().parents[1]
MAX_FAILURES = 200


@dataclass(frozen=True)
class Gate:
    metric: str
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Gate:
        """``METRIC=VALUE``: a retrieval metric (``ndcg@10``) or an answer metric (a name in
        :data:`ragline.eval.answer_metrics.GATES`, e.g. ``answer_f1``); 0 ≤ VALUE ≤ 1."""
        name, sep, value = text.partition("=")
        try:
            threshold = float(value)
        except ValueError:
            threshold = float("nan")
        if not sep or not 0.0 <= threshold <= 1.0:
            raise UsageError(
                f"invalid --fail-under {text!r}: use METRIC=VALUE with 0 ≤ VALUE ≤ 1, "
                "e.g. ndcg@10=0.6 or answer_f1=0.3"
            )
        if name.strip().lower() in GATES:
            return cls(name.strip().lower(), threshold)
        try:
            return cls(parse_metric(name).name, threshold)
        except UsageError as exc:
            raise UsageError(f"{exc}; answer metrics: {', '.join(GATES)}") from None

    @property
    def on_answers(self) -> bool:
        """Whether the gate applies to the answer metrics (QA datasets, ``--answers``)."""
        return self.metric in GATES


# -- provenance -------------------------------------------------------------------------------
def ragline_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ragline")
    except PackageNotFoundError:
        return "unknown"


def git_info(root: Path = ROOT) -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory_gb = round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1)
    except (ValueError, OSError):
        memory_gb = None
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
    }
    torch = sys.modules.get("torch")  # only if a model already loaded it
    if torch is not None and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


# -- building ---------------------------------------------------------------------------------
def summarise(result: ConfigResult, seed: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric, values in result.per_query.items():
        low, high = stats.bootstrap_ci(list(values.values()), seed=seed)
        out[metric] = {"mean": mean(values), "low": low, "high": high}
    return out


def build_report(
    run: EvalRun,
    settings: AnswerConfig,
    gates: Sequence[Gate] = (),
    *,
    command: Sequence[str] = (),
    started: dt.datetime | None = None,
    seed: int = 0,
    answers: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report document; ``answers`` is :meth:`ragline.eval.answers.AnswerRun.to_dict` when the
    answer pipeline ran (QA datasets), else the report's "answers" is None."""
    results = run.results
    primary = results[0]
    configs = []
    for r in results:
        configs.append(
            {
                **r.to_dict(),
                "summary": summarise(r, seed),
                "latency": stats.latency_summary(r.latencies),
            }
        )
    comparisons = []
    for other in results[1:]:
        if other.role != "baseline":
            continue
        for metric in run.metrics:
            a, b = _aligned(primary, other, metric)
            c = stats.compare(metric, a, b, seed=seed)
            comparisons.append({"config": primary.name, "baseline": other.name, **c.to_dict()})
    means = {r.name: {k: mean(v) for k, v in r.per_query.items()} for r in results}
    gate_rows = [_gate_row(g, primary.name, means[primary.name], answers) for g in gates]
    candidates = [r for r in results if r.role != "baseline"]
    best = {
        metric: max(candidates, key=lambda r: means[r.name][metric]).name for metric in run.metrics
    }
    when = started or dt.datetime.now(dt.UTC)
    return {
        "schema": SCHEMA,
        "dataset": run.dataset.describe(),
        "meta": {
            "ragline_version": ragline_version(),
            "git": git_info(),
            "machine": machine(),
            "date": when.isoformat(timespec="seconds"),
            "command": list(command),
            "seconds": run.seconds,
            "seed": seed,
            "ci": "percentile bootstrap over queries, 95%, 2000 resamples",
            "test": stats.TEST_NAME,
            "peak_rss_mb": max((r.peak_rss_mb for r in results), default=0.0),
        },
        "settings": settings.dump(),
        "metrics": list(run.metrics),
        "primary": primary.name,
        "configs": configs,
        "comparisons": comparisons,
        "best": best,
        "gates": gate_rows,
        "failures": failures(run, primary),
        "answers": dict(answers) if answers is not None else None,
    }


def _gate_row(
    gate: Gate, primary: str, means: Mapping[str, float], answers: Mapping[str, Any] | None
) -> dict[str, Any]:
    value: float | None
    if gate.on_answers:
        value = answers["gates"][gate.metric] if answers is not None else None
        config = answers["config"] if answers is not None else primary
    else:
        value, config = means.get(gate.metric), primary
    return {
        "config": config,
        "metric": gate.metric,
        "threshold": gate.threshold,
        "value": value,
        "passed": value is not None and value >= gate.threshold,
    }


def _aligned(a: ConfigResult, b: ConfigResult, metric: str) -> tuple[list[float], list[float]]:
    left, right = a.per_query[metric], b.per_query[metric]
    shared = [q for q in left if q in right]
    return [left[q] for q in shared], [right[q] for q in shared]


def failure_k(metrics: Sequence[str]) -> int:
    return parse_metric(metrics[0]).k if metrics else 10


def failures(run: EvalRun, result: ConfigResult) -> dict[str, Any]:
    """Queries of ``result`` with no relevant document in the top k (k of the first metric)."""
    k = failure_k(run.metrics)
    ds = run.dataset
    rows = []
    for qid in ds.queries:
        rank = result.first_relevant.get(qid)
        if rank is not None and rank <= k:
            continue
        judged = ds.qrels[qid]
        rows.append(
            {
                "id": qid,
                "query": ds.queries[qid],
                "first_relevant_rank": rank,
                "expected": [
                    {"id": d, "grade": g, "title": _title(ds, d)}
                    for d, g in sorted(judged.items(), key=lambda t: -t[1])
                    if g > 0
                ],
                "got": [
                    {"id": d, "score": s, "grade": judged.get(d, 0), "title": _title(ds, d)}
                    for d, s in result.runs.get(qid, [])[:k]
                ],
                "metrics": {m: v[qid] for m, v in result.per_query.items()},
            }
        )
    return {"config": result.name, "k": k, "count": len(rows), "queries": rows[:MAX_FAILURES]}


def _title(ds: Any, doc_id: str) -> str:
    doc = ds.corpus.get(doc_id)
    if doc is None:
        return ""
    return doc.title or " ".join(doc.text.split()[:12])


# -- writing ----------------------------------------------------------------------------------
def report_paths(out: Path) -> dict[str, Path]:
    """``out`` ending in .json/.md/.html names the files (same stem); else it is a directory."""
    if out.suffix.lower() in (".json", ".md", ".html"):
        return {ext: out.with_suffix(f".{ext}") for ext in ("json", "md", "html")}
    return {ext: out / f"report.{ext}" for ext in ("json", "md", "html")}


def write_reports(report: dict[str, Any], out: Path) -> dict[str, Path]:
    from ragline.eval import plots, report_html, report_md

    paths = report_paths(out)
    paths["json"].parent.mkdir(parents=True, exist_ok=True)
    images = plots.render_all(report)
    paths["json"].write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    stem = paths["md"].stem
    linked = {}
    for name, png in images.items():
        target = paths["md"].with_name(f"{stem}-{name}.png")
        target.write_bytes(png)
        linked[name] = target.name
    paths["md"].write_text(report_md.render(report, linked), encoding="utf-8")
    paths["html"].write_text(report_html.render(report, images), encoding="utf-8")
    return paths


def load_report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read report {str(path)!r}: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise UsageError(f"{path} is not a ragline eval report (JSON)")
    return data
