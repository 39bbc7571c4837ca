"""Config files and sweeps: a grid over retriever mode, embedder, chunking, k, fusion weights.

A config file (TOML, YAML or JSON) sets any :class:`eval.config.RunConfig` field at top
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
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from eval.config import FIELDS, RunConfig, load_file
from retrieval.errors import UsageError
from retrieval.settings import Settings


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
    start = _apply(base, values, label)
    axes = {k: v if isinstance(v, list) else [v] for k, v in sweep.items()}
    if not axes:
        return [replace(start, name=name).checked()]
    out = []
    for combo in itertools.product(*axes.values()):
        chosen = dict(zip(axes, combo, strict=True))
        config = _apply(start, chosen, label)
        suffix = ",".join(f"{k}={_short(v)}" for k, v in chosen.items())
        out.append(replace(config, name=f"{name}[{suffix}]"))
    valid = [c for c in out if c.chunk_overlap < c.chunk_size]
    if not valid:
        raise UsageError(f"{label}: no combination has chunk_overlap < chunk_size")
    return [c.checked() for c in valid]


def _apply(config: RunConfig, values: Mapping[str, Any], label: str) -> RunConfig:
    changes = dict(values)
    if "weights" in changes:
        pair = changes.pop("weights")
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise UsageError(f"{label}: weights must be [dense_weight, bm25_weight]")
        changes["dense_weight"], changes["bm25_weight"] = float(pair[0]), float(pair[1])
    if "filters" in changes:
        raw = changes["filters"]
        changes["filters"] = (raw,) if isinstance(raw, str) else tuple(str(f) for f in raw)
    types = {f.name: f.type for f in fields(RunConfig)}
    for key, value in changes.items():
        kind = types[key]
        if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise UsageError(f"{label}: {key} must be an integer, got {value!r}")
        if kind.startswith("float") and value is None and kind.endswith("None"):
            continue
        if kind.startswith("float") and (
            isinstance(value, bool) or not isinstance(value, (int, float))
        ):
            raise UsageError(f"{label}: {key} must be a number, got {value!r}")
        if kind.startswith("float"):
            changes[key] = float(value)
    return replace(config, **changes)


def _short(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def load_configs(paths: Sequence[Path], settings: Settings) -> list[RunConfig]:
    """Every configuration of every file, in order; the first is the primary one. Without
    files: one configuration from the settings (``retrieval.mode``, embedder, chunking)."""
    base = RunConfig.from_settings(settings)
    if not paths:
        return [replace(base, name=f"ragline {base.mode}", role="primary")]
    configs: list[RunConfig] = []
    for path in paths:
        configs += expand(load_file(path), base, path.stem)
    names = [c.name for c in configs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"configuration names must be unique; repeated: {', '.join(dupes)}")
    return [replace(configs[0], role="primary"), *configs[1:]]
