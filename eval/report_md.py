"""A report as Markdown (plots linked as PNG files written beside it)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


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
