"""Config files and sweeps: a grid over retriever mode, embedder, chunking, k, fusion weights.

A config file (TOML, YAML or JSON) sets any :class:`ragline.eval.config.RunConfig` field at top
level, plus an optional ``sweep`` table mapping fields to lists of values; the file stands
for every combination (combinations with ``chunk_overlap >= chunk_size`` are left out)::

    name = "hybrid"
    mode = "hybrid"
    embedder = "minilm"
    [sweep]
    chunk_size = [128, 256]
    k = [20, 100]
    weights = [[1.0, 0.5], [1.0, 1.0]]   # (dense_weight, bm25_weight) pairs

The report then has one row per combination, a quality-vs-latency plot and the best
configuration per metric.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ragline.answer.settings import AnswerConfig
from ragline.eval.config import FIELDS, RunConfig, load_file
from ragline.retrieval.errors import UsageError


def expand(data: Mapping[str, Any], base: RunConfig, label: str) -> list[RunConfig]:
    """The configurations one config file stands for (one, or the sweep's grid)."""
    values = {k: v for k, v in data.items() if k != "sweep"}
    sweep = data.get("sweep") or {}
    if not isinstance(sweep, Mapping):
        raise UsageError(f"{label}: 'sweep' must be a table of lists")
    unknown = (set(values) | set(sweep)) - FIELDS - {"weights"}
    if unknown:
        raise UsageError(
            f"{label}: unknown setting(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(FIELDS | {'weights'}))}"
        )
    name = str(values.pop("name", label))
    start = _apply(base, {**values, "name": name}, label)
    axes = {k: v if isinstance(v, list) else [v] for k, v in sweep.items()}
    if not axes:
        return [start]
    out = []
    for combo in itertools.product(*axes.values()):
        chosen = dict(zip(axes, combo, strict=True))
        suffix = ",".join(f"{k}={_short(v)}" for k, v in chosen.items())
        changes = {**chosen, "name": f"{name}[{suffix}]"}
        if _possible(start, changes):
            out.append(_apply(start, changes, label))
    if not out:
        raise UsageError(f"{label}: no combination has chunk_overlap < chunk_size")
    return out


def _possible(config: RunConfig, changes: Mapping[str, Any]) -> bool:
    size = changes.get("chunk_size", config.chunking.size)
    overlap = changes.get("chunk_overlap", config.chunking.overlap)
    return not (isinstance(size, int) and isinstance(overlap, int) and overlap >= size)


def _apply(config: RunConfig, values: Mapping[str, Any], label: str) -> RunConfig:
    changes = dict(values)
    if "weights" in changes:
        pair = changes.pop("weights")
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise UsageError(f"{label}: weights must be [dense_weight, bm25_weight]")
        changes["dense_weight"], changes["bm25_weight"] = pair
    try:
        return config.with_(**changes)
    except UsageError as exc:
        raise UsageError(f"{label}: {exc}") from None


def _short(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def load_configs(paths: Sequence[Path], settings: AnswerConfig) -> list[RunConfig]:
    """Every configuration of every file, in order; the first is the primary one. Without
    files: one configuration from the settings (``retrieval``, embedder, chunking)."""
    base = RunConfig.from_settings(settings)
    if not paths:
        return [base.with_(name=f"ragline {base.retrieval.mode}", role="primary")]
    configs: list[RunConfig] = []
    for path in paths:
        configs += expand(load_file(path), base, path.stem)
    names = [c.name for c in configs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"configuration names must be unique; repeated: {', '.join(dupes)}")
    return [configs[0].with_(role="primary"), *configs[1:]]
