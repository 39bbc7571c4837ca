"""A report as Markdown (plots linked as PNG files written beside it)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ragline.eval.answer_metrics import ANSWER_METRICS, GATES, worst

WORST_ANSWERS = 20  # answers listed in the drill-down


def num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def ci(summary: Mapping[str, float]) -> str:
    return f"{summary['mean']:.3f} [{summary['low']:.3f}, {summary['high']:.3f}]"


def p_text(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def mb(size: int | None) -> str:
    return "–" if size is None else f"{size / 2**20:.1f}"


def provenance(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    ds, meta = report["dataset"], report["meta"]
    git = meta["git"]
    commit = git["commit"] or "unknown"
    if git.get("dirty"):
        commit += " (uncommitted changes)"
    m = meta["machine"]
    machine = (
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, {m['os']}, Python {m['python']}"
    )
    if m.get("gpu"):
        machine += f", GPU {m['gpu']}"
    return [
        ("dataset", f"{ds['name']} ({ds['format']}, split {ds['split']})"),
        ("dataset hash", ds["hash"]),
        ("size", f"{ds['documents']} documents, {ds['queries']} scored queries"),
        ("ragline", f"{meta['ragline_version']}, commit {commit}"),
        ("machine", machine),
        ("date", meta["date"]),
        ("run time", f"{meta['seconds']:.1f} s; peak memory {meta['peak_rss_mb']} MB"),
        ("intervals", meta["ci"]),
        ("paired test", meta["test"]),
    ]


def summary_rows(report: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    head = ["configuration", "role", *report["metrics"], "p50 ms", "p95 ms"]
    head += ["index build s", "index MB", "peak MB"]
    rows = []
    for c in report["configs"]:
        index = c.get("index") or {}
        build = num(index.get("seconds"), 1) + (" (cached)" if index.get("cached") else "")
        if index.get("shared_with"):
            build = "same index"
        rows.append(
            [
                c["name"],
                c["role"],
                *[ci(c["summary"][m]) for m in report["metrics"]],
                num(c["latency"]["p50_ms"], 1),
                num(c["latency"]["p95_ms"], 1),
                build,
                mb(index.get("size_bytes")),
                num(c.get("peak_rss_mb"), 0),
            ]
        )
    return head, rows


def comparison_rows(report: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    head = ["baseline", "metric", report["primary"], "baseline value", "Δ", "95% CI of Δ", "p"]
    rows = [
        [
            c["baseline"],
            c["metric"],
            num(c["mean_a"]),
            num(c["mean_b"]),
            f"{c['diff']:+.3f}",
            f"[{c['low']:+.3f}, {c['high']:+.3f}]",
            p_text(c["p_value"]) + (" *" if c["significant"] else ""),
        ]
        for c in report["comparisons"]
    ]
    return head, rows


def params_rows(report: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    keys: list[str] = []
    for c in report["configs"]:
        keys += [k for k in c["params"] if k not in keys]
    rows = [[c["name"], *[_plain(c["params"].get(k)) for k in keys]] for c in report["configs"]]
    return ["configuration", *keys], rows


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def render(report: Mapping[str, Any], images: Mapping[str, str] | None = None) -> str:
    images = images or {}
    out = [f"# Retrieval evaluation: {report['dataset']['name']}", ""]
    out += [f"- **{k}**: {v}" for k, v in provenance(report)]
    out += ["", "## Summary", "", table(*summary_rows(report)), ""]
    out += ["Means over queries with 95% bootstrap intervals; latency excludes a warm-up query."]
    if report["comparisons"]:
        out += ["", f"## {report['primary']} compared with the baselines", ""]
        out += [table(*comparison_rows(report)), "", "`*` p < 0.05 (paired randomisation test)."]
    if report["gates"]:
        out += ["", "## Gates", ""]
        out += [
            f"- {'PASS' if g['passed'] else 'FAIL'} {g['metric']} = {num(g['value'])} "
            f"(needs ≥ {g['threshold']}) on {g['config']}"
            for g in report["gates"]
        ]
    ragline = [c for c in report["configs"] if c["role"] != "baseline"]
    if len(ragline) > 1:
        out += ["", "## Best configuration per metric", ""]
        out += [f"- {m}: {name}" for m, name in report["best"].items()]
    out += ["", "## Configurations", "", table(*params_rows(report))]
    if images:
        out += ["", "## Plots", ""]
        out += [f"![{name}]({file})" for name, file in images.items()]
    out += ["", *failures_md(report)]
    if report.get("answers"):
        out += ["", *answers_md(report)]
    out += ["", "## Settings", "", "```json", json.dumps(report["settings"], indent=1), "```", ""]
    return "\n".join(out)


def failures_md(report: Mapping[str, Any]) -> list[str]:
    f = report["failures"]
    out = [f"## Failures of {f['config']}: no relevant document in the top {f['k']} ({f['count']})"]
    for row in f["queries"]:
        rank = row["first_relevant_rank"]
        found = f"first relevant at rank {rank}" if rank else "no relevant document retrieved"
        expected = ", ".join(f"{e['id']} (grade {e['grade']})" for e in row["expected"])
        got = "; ".join(f"{g['id']} {g['score']:.3f}" for g in row["got"][:5])
        out += ["", f"- **{row['query']}** (`{row['id']}`, {found})"]
        out += [f"  - expected: {expected}", f"  - got: {got}"]
    return out


# -- answers (QA datasets) ---------------------------------------------------------------------
def answer_rows(report: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    summary = report["answers"]["summary"]
    gate_of = {metric: gate for gate, metric in GATES.items()}
    rows = []
    for metric, label in ANSWER_METRICS.items():
        gate = gate_of.get(metric, "–") + (" (1 − value)" if metric == "unsupported" else "")
        s = summary[metric]
        rows.append([label, gate, num(s["mean"]), str(s["n"])])
    return ["metric", "--fail-under name", "value", "questions"], rows


def answer_notes(report: Mapping[str, Any]) -> list[str]:
    """The sentences that say how the answer metrics were measured."""
    a = report["answers"]
    llm, cache = a["llm"], a["cache"]
    asked = (
        f"{a['questions']} questions ({a['answerable']} answerable, "
        f"{a['unanswerable']} unanswerable) answered by {llm['model_id']} "
        f"({llm['backend']} backend) through the answer pipeline, on the collection of "
        f"{a['config']}, in {a['seconds']:.1f} s (per answer p50 "
        f"{a['latency']['p50_ms'] / 1000:.2f} s, p95 {a['latency']['p95_ms'] / 1000:.2f} s{_ttft(a)})."
    )
    if a["skipped"]:
        asked += " Left out: " + ", ".join(f"{k} {v}" for k, v in a["skipped"].items()) + "."
    if a["errors"]:
        asked += f" The model failed {a['errors']} request(s); those answers score 0."
    notes = [
        asked,
        "Each value is a mean over the questions it applies to: exact match and token F1 "
        "over answerable questions with expected answers (citation markers removed, SQuAD "
        "normalisation); citation precision over answerable questions answered with "
        "citations; citation recall over answerable questions with expected sources; "
        'unsupported sentences over all answers; the "not found" rate over unanswerable '
        "questions.",
    ]
    if cache.get("enabled"):
        first = sum(1 for r in a["records"] if r.get("first_pass_cache"))
        notes.append(
            "Cache hit rate: after the first pass every question was asked a second time; "
            "the rate is the share of those repeated questions served from the answer cache "
            f"({cache.get('backend', '?')}, under a key prefix of this run's own: empty at "
            f"the start, cleared at the end). {first} first-pass answer(s) came from the "
            "cache (repeated or paraphrased questions in the set)."
        )
    else:
        notes.append("The answer cache is disabled: no repeated pass, no cache hit rate.")
    return notes


def answer_drill(row: Mapping[str, Any]) -> dict[str, str]:
    """One answer of the drill-down as labelled plain-text fields."""
    expected = " | ".join(row["expected_answers"]) or "–"
    if not row["answerable"]:
        expected = "none: the corpus does not answer it"
    scores = ", ".join(
        f"{m} {v:.2f}" for m, v in row["scores"].items() if v is not None and m != "cache_hit"
    )
    fields = {
        "expected answer": expected,
        "answer": row["text"] or "–",
        "cited": ", ".join(row["cited"]) or "–",
        "expected sources": ", ".join(row["expected_sources"]) or "–",
        "scores": scores or "–",
    }
    if row["unsupported"]:
        fields["unsupported"] = " / ".join(row["unsupported"])
    if row.get("error"):
        fields["error"] = row["error"]
    return fields


def answers_md(report: Mapping[str, Any]) -> list[str]:
    a = report["answers"]
    out = [f"## Answers of {a['config']} ({a['questions']} questions)", ""]
    out += [table(*answer_rows(report)), ""]
    out += [f"- {note}" for note in answer_notes(report)]
    rows = worst(a["records"], WORST_ANSWERS)
    out += ["", f"### Worst answers ({len(rows)} listed, lowest quality first)", ""]
    out += [
        "Quality: the mean of token F1, citation precision and recall, 1 − unsupported and "
        '"not found", over those that apply to the question.'
    ]
    for row in rows:
        out += ["", f"- **{row['question']}** (`{row['id']}`, quality {row['quality']:.2f})"]
        out += [f"  - {k}: {v}" for k, v in answer_drill(row).items()]
    return out


def _ttft(answers: dict[str, Any]) -> str:
    first = answers.get("time_to_first_token")
    if not first or not first.get("p50_ms"):
        return ""
    return f"; first token p50 {first['p50_ms'] / 1000:.2f} s, p95 {first['p95_ms'] / 1000:.2f} s"
