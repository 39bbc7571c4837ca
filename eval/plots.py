"""Report plots as PNG bytes (matplotlib, Agg backend; imported only when plotting)."""

from __future__ import annotations

import io
from typing import Any

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    _pyplot().close(fig)
    return buf.getvalue()


def _label(name: str, width: int = 38) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def metric_bars(report: dict[str, Any], metrics: list[str] | None = None) -> bytes:
    """Horizontal bars: the first (up to) three metrics per configuration, with 95% CIs."""
    plt = _pyplot()
    configs = report["configs"]
    shown = (metrics or report["metrics"])[:3]
    height = 0.8 / max(len(shown), 1)
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.55 * len(configs) * max(len(shown), 1) ** 0.5))
    for j, metric in enumerate(shown):
        ys = [i + j * height for i in range(len(configs))]
        vals = [c["summary"][metric]["mean"] for c in configs]
        lows = [v - c["summary"][metric]["low"] for v, c in zip(vals, configs, strict=True)]
        highs = [c["summary"][metric]["high"] - v for v, c in zip(vals, configs, strict=True)]
        ax.barh(ys, vals, height, xerr=[lows, highs], label=metric, color=PALETTE[j], capsize=2)
    ax.set_yticks([i + height * (len(shown) - 1) / 2 for i in range(len(configs))])
    ax.set_yticklabels([_label(c["name"]) for c in configs])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("mean over queries (bars: 95% bootstrap interval)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(shown), fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def recall_curve(report: dict[str, Any]) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, c in enumerate(report["configs"]):
        ks = sorted(int(k) for k in c["recall_curve"])
        style = "--" if c["role"] == "baseline" else "-"
        ax.plot(
            ks,
            [c["recall_curve"][str(k)] for k in ks],
            style,
            marker="o",
            markersize=3,
            label=_label(c["name"], 30),
            color=PALETTE[i % len(PALETTE)],
        )
    ax.set_xscale("log")
    ax.set_xlabel("k (documents)")
    ax.set_ylabel("recall@k")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def latency(report: dict[str, Any]) -> bytes:
    plt = _pyplot()
    configs = report["configs"]
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.45 * len(configs)))
    data = [[s * 1000 for s in c["latencies"]] or [0.0] for c in configs]
    ax.boxplot(data, vert=False, showfliers=True, flierprops={"markersize": 2})
    ax.set_yticks(range(1, len(configs) + 1))
    ax.set_yticklabels([_label(c["name"]) for c in configs])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("latency per query (ms, log scale)")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def tradeoff(report: dict[str, Any], metric: str | None = None) -> bytes:
    """Quality vs p50 latency, one point per configuration (the sweep's trade-off)."""
    plt = _pyplot()
    recall = [m for m in report["metrics"] if m.startswith("recall@")]
    metric = metric or (recall[0] if recall else report["metrics"][0])
    configs = report["configs"]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for i, c in enumerate(configs):
        x, y = c["latency"]["p50_ms"], c["summary"][metric]["mean"]
        marker = "s" if c["role"] == "baseline" else "o"
        colour = PALETTE[i % len(PALETTE)]
        ax.scatter(
            [x], [y], color=colour, marker=marker, s=34, label=f"{i + 1}. {_label(c['name'])}"
        )
        ax.annotate(str(i + 1), (x, y), fontsize=8, xytext=(4, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("p50 latency (ms, log scale)")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(
        fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), ncol=1 + len(configs) // 16
    )
    return _png(fig)


def render_all(report: dict[str, Any]) -> dict[str, bytes]:
    """name → PNG, for every plot a report shows."""
    if not report["configs"]:
        return {}
    return {
        "metrics": metric_bars(report),
        "recall": recall_curve(report),
        "latency": latency(report),
        "tradeoff": tradeoff(report),
    }
