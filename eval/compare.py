"""Differences between two reports (``ragline eval compare A.json B.json``).

For every configuration name in both: each metric's mean in A and B, the change (B − A), and,
when both reports scored the same queries, a paired randomisation test on the per-query
values; latency p50/p95 and index build time too. Differing datasets, commits or settings are
listed first.

Answer metrics (the reports' "answers" section, QA datasets): when both reports have one, each
answer metric's mean in A and B and the change, with the paired test over the questions both
scored on that metric (when both answered the same questions), and the answer latency
p50/p95. When only one report has answer metrics, the comparison says which.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ragline.eval import stats
from ragline.eval.answer_metrics import ANSWER_METRICS, record_scores
from ragline.eval.metrics import mean


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
    return {
        **context,
        "settings_changed": changed,
        "rows": rows,
        **only,
        "answers": compare_answers(a.get("answers"), b.get("answers")),
    }


def compare_answers(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> dict[str, Any]:
    """The answer sections of two reports: rows as for retrieval when both have one."""
    out: dict[str, Any] = {"in_a": bool(a), "in_b": bool(b), "rows": []}
    if not a or not b:
        return out
    out["config"] = [a["config"], b["config"]]
    out["model"] = [a["llm"].get("model_id"), b["llm"].get("model_id")]
    out["questions"] = [a["questions"], b["questions"]]
    scores_a, scores_b = _record_scores(a), _record_scores(b)
    same_questions = set(scores_a) == set(scores_b)
    rows = []
    for metric in [m for m in ANSWER_METRICS if m in a["summary"] and m in b["summary"]]:
        ma, mb = a["summary"][metric]["mean"], b["summary"][metric]["mean"]
        row: dict[str, Any] = {
            "metric": metric,
            "a": ma,
            "b": mb,
            "diff": None if ma is None or mb is None else mb - ma,
            "p_value": None,
        }
        pairs = [
            (vb, va)
            for q, sa in scores_a.items()
            if (va := sa.get(metric)) is not None
            and (vb := scores_b.get(q, {}).get(metric)) is not None
        ]
        if same_questions and pairs:
            row["p_value"] = stats.randomisation_test([p[0] for p in pairs], [p[1] for p in pairs])
        rows.append(row)
    for field in ("p50_ms", "p95_ms"):
        la, lb = a["latency"][field], b["latency"][field]
        rows.append({"metric": field, "a": la, "b": lb, "diff": lb - la, "p_value": None})
    out["rows"] = rows
    return out


def _record_scores(answers: Mapping[str, Any]) -> dict[str, Mapping[str, float | None]]:
    """Question id → its answer scores (as written in the report, else recomputed)."""
    return {
        str(r["id"]): r["scores"] if "scores" in r else record_scores(r)
        for r in answers.get("records", [])
    }


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
    lines += [f"{r['config']:<{width}}  {_row(r, 14)}" for r in diff["rows"]]
    lines += _format_answers(diff.get("answers"))
    return "\n".join(lines)


def _format_answers(answers: Mapping[str, Any] | None) -> list[str]:
    if not answers or not (answers["in_a"] or answers["in_b"]):
        return []
    if not (answers["in_a"] and answers["in_b"]):
        side, other = ("A", "B") if answers["in_a"] else ("B", "A")
        return ["", f"answer metrics: only report {side} has them ({other} has none to compare)"]
    (ca, cb), (qa, qb) = answers["config"], answers["questions"]
    configs = ca if ca == cb else f"{ca} -> {cb}"
    lines = ["", f"answer metrics ({configs}; questions {qa} vs {qb})"]
    ma, mb = answers["model"]
    if ma != mb:
        lines.append(f"answer model: {ma!r} -> {mb!r}")
    width = max([len(r["metric"]) for r in answers["rows"]] + [14])
    lines.append(f"{'metric':<{width}} {'A':>9} {'B':>9} {'B-A':>9}  p")
    lines += [_row(r, width) for r in answers["rows"]]
    return lines


def _row(r: Mapping[str, Any], width: int) -> str:
    """Metric, A, B, B − A and p of one row (``-`` for a value that is missing)."""
    p = "" if r["p_value"] is None else f"{r['p_value']:.3f}"
    if r["p_value"] is not None and r["p_value"] < 0.05:
        p += " *"
    digits = 1 if r["metric"].endswith("_ms") else 4

    def num(value: float | None, sign: str = "") -> str:
        return f"{'-':>9}" if value is None else f"{value:>{sign}9.{digits}f}"

    return f"{r['metric']:<{width}} {num(r['a'])} {num(r['b'])} {num(r['diff'], '+')}  {p}"
