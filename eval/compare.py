"""Differences between two reports (``ragline eval compare A.json B.json``).

For every configuration name in both: each metric's mean in A and B, the change (B − A), and,
when both reports scored the same queries, a paired randomisation test on the per-query
values; latency p50/p95 and index build time too. Differing datasets, commits or settings are
listed first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eval import stats
from eval.metrics import mean


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out |= _flat(v, f"{prefix}{k}.")
        return out
    return {prefix.rstrip("."): data}


def compare_reports(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    context = {
        "dataset": [a["dataset"]["name"], b["dataset"]["name"]],
        "same_dataset": a["dataset"]["hash"] == b["dataset"]["hash"],
        "commit": [a["meta"]["git"]["commit"], b["meta"]["git"]["commit"]],
        "date": [a["meta"]["date"], b["meta"]["date"]],
    }
    fa, fb = _flat(a["settings"]), _flat(b["settings"])
    changed = {
        k: [fa.get(k), fb.get(k)] for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)
    }
    by_name = {c["name"]: c for c in b["configs"]}
    rows = []
    for ca in a["configs"]:
        cb = by_name.get(ca["name"])
        if cb is None:
            continue
        for metric in [m for m in ca["per_query"] if m in cb["per_query"]]:
            va, vb = ca["per_query"][metric], cb["per_query"][metric]
            row: dict[str, Any] = {
                "config": ca["name"],
                "metric": metric,
                "a": mean(va),
                "b": mean(vb),
                "diff": mean(vb) - mean(va),
                "p_value": None,
            }
            if set(va) == set(vb) and va:
                qs = sorted(va)
                row["p_value"] = stats.randomisation_test([vb[q] for q in qs], [va[q] for q in qs])
            rows.append(row)
        for field in ("p50_ms", "p95_ms"):
            la, lb = ca["latency"][field], cb["latency"][field]
            rows.append(
                {
                    "config": ca["name"],
                    "metric": field,
                    "a": la,
                    "b": lb,
                    "diff": lb - la,
                    "p_value": None,
                }
            )
    only = {
        "only_in_a": [c["name"] for c in a["configs"] if c["name"] not in by_name],
        "only_in_b": sorted(set(by_name) - {c["name"] for c in a["configs"]}),
    }
    return {**context, "settings_changed": changed, "rows": rows, **only}


def format_comparison(diff: Mapping[str, Any]) -> str:
    lines = [f"A: {diff['dataset'][0]} @ {diff['commit'][0]} ({diff['date'][0]})"]
    lines.append(f"B: {diff['dataset'][1]} @ {diff['commit'][1]} ({diff['date'][1]})")
    if not diff["same_dataset"]:
        lines.append("warning: the reports were made on different datasets (hashes differ)")
    for key, (va, vb) in diff["settings_changed"].items():
        lines.append(f"setting {key}: {va!r} -> {vb!r}")
    for side in ("only_in_a", "only_in_b"):
        if diff[side]:
            lines.append(f"{side.replace('_', ' ')}: {', '.join(diff[side])}")
    lines.append("")
    width = max([len(r["config"]) for r in diff["rows"]] + [13])
    lines.append(f"{'configuration':<{width}}  {'metric':<14} {'A':>9} {'B':>9} {'B-A':>9}  p")
    for r in diff["rows"]:
        p = "" if r["p_value"] is None else f"{r['p_value']:.3f}"
        if r["p_value"] is not None and r["p_value"] < 0.05:
            p += " *"
        digits = 1 if r["metric"].endswith("_ms") else 4
        lines.append(
            f"{r['config']:<{width}}  {r['metric']:<14} {r['a']:>9.{digits}f} {r['b']:>9.{digits}f} "
            f"{r['diff']:>+9.{digits}f}  {p}"
        )
    return "\n".join(lines)
