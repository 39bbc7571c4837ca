"""A report as one self-contained HTML page: inline CSS, plots as base64 PNG, no scripts,
nothing loaded from the network."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from ragline.eval.answer_metrics import worst
from ragline.eval.report_md import (
    WORST_ANSWERS,
    answer_drill,
    answer_notes,
    answer_rows,
    comparison_rows,
    num,
    params_rows,
    provenance,
    summary_rows,
)

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;
max-width:1200px;padding:0 16px;color:#222}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:10px 0}
dl.meta dt{font-weight:600;color:#555}dl.meta dd{margin:0}
.pass{color:#137333;font-weight:600}.fail{color:#b3261e;font-weight:600}
.sig{font-weight:600}.rel{background:#e6f4ea}.muted{color:#777}
.plots img{max-width:100%;border:1px solid #eee;margin:6px 0}
details{margin:4px 0}summary{cursor:pointer}pre{background:#f7f7f7;padding:8px;overflow:auto;
font-size:12px;max-height:480px}
.wide{overflow-x:auto;max-width:100%}.ci{color:#777;font-size:11px;white-space:nowrap}
td.n{white-space:nowrap}
"""


def _cell(value: str) -> str:
    """A "mean [low, high]" cell shows the interval small, under the mean."""
    text = escape(str(value))
    mean, sep, rest = text.partition(" [")
    if sep and rest.endswith("]"):
        return f'{mean}<br><span class="ci">[{rest}</span>'
    return text


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    out = ['<div class="wide"><table><tr>' + "".join(f"<th>{escape(h)}</th>" for h in head)]
    out[0] += "</tr>"
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            attr = ' class="n"' if i >= numeric_from else ""
            cells.append(f"<td{attr}>{_cell(value)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table></div>")
    return "\n".join(out)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def render(report: Mapping[str, Any], images: Mapping[str, bytes] | None = None) -> str:
    images = images or {}
    ds = report["dataset"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>ragline eval: {escape(ds['name'])}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Retrieval evaluation: {escape(ds['name'])}</h1>",
        '<dl class="meta">',
        *[f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in provenance(report)],
        "</dl>",
        "<h2>Summary</h2>",
        _table(*summary_rows(report), numeric_from=2),
        '<p class="muted">Means over queries with 95% bootstrap intervals in brackets; '
        "latency per query excludes one warm-up query; “same index”: the index of an earlier "
        "row; peak memory is the process's high-water mark when the configuration finished.</p>",
    ]
    parts += _gates(report) + _comparisons(report) + _best(report)
    parts += ["<h2>Configurations</h2>", _table(*params_rows(report), numeric_from=99)]
    if images:
        titles = {
            "metrics": "Metrics by configuration",
            "recall": "Recall@k",
            "latency": "Latency distribution",
            "tradeoff": "Quality vs latency",
        }
        parts += ['<h2>Plots</h2><div class="plots">']
        for name, png in images.items():
            parts += [f"<h3>{escape(titles.get(name, name))}</h3>", _img(png, name)]
        parts += ["</div>"]
    parts += _failures(report) + _answers(report)
    settings = json.dumps(report["settings"], indent=1, ensure_ascii=False)
    parts += [
        "<h2>Settings</h2>",
        f"<details><summary>all settings</summary><pre>{escape(settings)}</pre></details>",
        f"<details><summary>dataset</summary><pre>{escape(json.dumps(ds, indent=1))}</pre>"
        "</details>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _gates(report: Mapping[str, Any]) -> list[str]:
    if not report["gates"]:
        return []
    out = ["<h2>Gates</h2><ul>"]
    for g in report["gates"]:
        mark = '<span class="pass">PASS</span>' if g["passed"] else '<span class="fail">FAIL</span>'
        out.append(
            f"<li>{mark} {escape(g['metric'])} = {num(g['value'])} "
            f"(needs ≥ {g['threshold']}) on {escape(g['config'])}</li>"
        )
    return [*out, "</ul>"]


def _comparisons(report: Mapping[str, Any]) -> list[str]:
    if not report["comparisons"]:
        return []
    head, rows = comparison_rows(report)
    return [
        f"<h2>{escape(report['primary'])} compared with the baselines</h2>",
        _table(head, rows, numeric_from=2),
        '<p class="muted">Δ = configuration − baseline over the same queries; * p &lt; 0.05, '
        f"{escape(report['meta']['test'])}.</p>",
    ]


def _best(report: Mapping[str, Any]) -> list[str]:
    ragline = [c for c in report["configs"] if c["role"] != "baseline"]
    if len(ragline) < 2:
        return []
    rows = [[m, name] for m, name in report["best"].items()]
    return ["<h2>Best configuration per metric</h2>", _table(["metric", "configuration"], rows)]


def _failures(report: Mapping[str, Any]) -> list[str]:
    f = report["failures"]
    out = [
        f"<h2>Failures of {escape(f['config'])}: no relevant document in the top {f['k']} "
        f"({f['count']} queries)</h2>"
    ]
    if not f["count"]:
        out.append(f"<p>None: every query has a relevant document in the top {f['k']}.</p>")
    if f["count"] > len(f["queries"]):
        out.append(f'<p class="muted">The first {len(f["queries"])} are listed.</p>')
    for n, row in enumerate(f["queries"]):
        rank = row["first_relevant_rank"]
        found = f"first relevant at rank {rank}" if rank else "no relevant document retrieved"
        expected = ", ".join(
            f"{escape(e['id'])} (grade {e['grade']}) {escape(e['title'])}" for e in row["expected"]
        )
        lines = [
            f'<tr class="{"rel" if g["grade"] > 0 else ""}"><td class="n">{i}</td>'
            f'<td>{escape(g["id"])}</td><td class="n">{g["score"]:.4f}</td>'
            f'<td class="n">{g["grade"]}</td><td>{escape(g["title"])}</td></tr>'
            for i, g in enumerate(row["got"], 1)
        ]
        scores = ", ".join(f"{escape(m)} {v:.3f}" for m, v in row["metrics"].items())
        out += [
            f"<details{' open' if n < 3 else ''}><summary>{escape(row['query'])} "
            '<span class="muted">'
            f"({escape(row['id'])}; {found})</span></summary>",
            f'<p>Expected: {expected}<br><span class="muted">{scores}</span></p>',
            "<table><tr><th>rank</th><th>document</th><th>score</th><th>grade</th>"
            "<th>title</th></tr>",
            *lines,
            "</table></details>",
        ]
    return out


def _answers(report: Mapping[str, Any]) -> list[str]:
    a = report.get("answers")
    if not a:
        return []
    out = [
        f"<h2>Answers of {escape(a['config'])} ({a['questions']} questions)</h2>",
        _table(*answer_rows(report), numeric_from=2),
        *[f'<p class="muted">{escape(note)}</p>' for note in answer_notes(report)],
    ]
    rows = worst(a["records"], WORST_ANSWERS)
    out.append(
        f"<h3>Worst answers ({len(rows)} listed, lowest quality first)</h3>"
        '<p class="muted">Quality: the mean of token F1, citation precision and recall, '
        "1 − unsupported and “not found”, over those that apply to the question.</p>"
    )
    for n, row in enumerate(rows):
        fields = "".join(
            f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in answer_drill(row).items()
        )
        out += [
            f"<details{' open' if n < 3 else ''}><summary>{escape(row['question'])} "
            f'<span class="muted">({escape(row["id"])}; quality {row["quality"]:.2f})</span>'
            "</summary>",
            f'<dl class="meta">{fields}</dl></details>',
        ]
    return out
