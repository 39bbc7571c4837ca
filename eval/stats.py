"""Uncertainty: bootstrap confidence intervals, paired tests, latency percentiles.

- ``bootstrap_ci``: percentile bootstrap of the mean over queries (resample queries with
  replacement), 95% by default.
- ``randomisation_test``: paired two-sided randomisation (sign-flip permutation) test of the
  mean per-query difference between two configurations; exact (every sign pattern) for up to
  ``EXACT_MAX`` queries, Monte Carlo otherwise with the (count + 1) / (resamples + 1) estimate.
  This is the test reports use (Smucker, Allan & Carterette, CIKM 2007).
- ``paired_bootstrap``: the same question answered with a bootstrap of the differences,
  shifted to mean zero under the null hypothesis.

All take a seed and are deterministic for a given input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

EXACT_MAX = 12
RESAMPLES = 10000
TEST_NAME = "paired randomisation test (sign flip), two-sided"


def _array(values: Sequence[float]) -> Any:
    import numpy as np

    return np.asarray(values, dtype=np.float64)


def bootstrap_ci(
    values: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean."""
    import numpy as np

    data = _array(values)
    if data.size == 0:
        return (0.0, 0.0)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, 500):  # bounded memory for big query sets
        stop = min(start + 500, resamples)
        picks = rng.integers(0, data.size, size=(stop - start, data.size))
        means[start:stop] = data[picks].mean(axis=1)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return (float(low), float(high))


def randomisation_test(
    a: Sequence[float], b: Sequence[float], *, resamples: int = RESAMPLES, seed: int = 0
) -> float:
    """Two-sided p-value for "mean(a − b) = 0" with paired sign flips."""
    import numpy as np

    diff = _paired(a, b)
    n = diff.size
    observed = abs(diff.mean()) if n else 0.0
    if n == 0 or np.all(diff == 0):
        return 1.0
    tolerance = 1e-12
    if n <= EXACT_MAX:
        signs = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2 - 1
        means = np.abs((signs * diff).mean(axis=1))
        return float(np.mean(means >= observed - tolerance))
    rng = np.random.default_rng(seed)
    count = 0
    for start in range(0, resamples, 1000):
        size = min(1000, resamples - start)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(size, n))
        count += int(np.sum(np.abs((signs * diff).mean(axis=1)) >= observed - tolerance))
    return (count + 1) / (resamples + 1)


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, resamples: int = RESAMPLES, seed: int = 0
) -> float:
    """Two-sided p-value for "mean(a − b) = 0" from a bootstrap of the centred differences."""
    import numpy as np

    diff = _paired(a, b)
    if diff.size == 0 or np.all(diff == 0):
        return 1.0
    observed = abs(diff.mean())
    centred = diff - diff.mean()
    rng = np.random.default_rng(seed)
    count = 0
    for start in range(0, resamples, 1000):
        size = min(1000, resamples - start)
        picks = rng.integers(0, diff.size, size=(size, diff.size))
        count += int(np.sum(np.abs(centred[picks].mean(axis=1)) >= observed - 1e-12))
    return (count + 1) / (resamples + 1)


def _paired(a: Sequence[float], b: Sequence[float]) -> Any:
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    return _array(a) - _array(b)


@dataclass(frozen=True)
class Comparison:
    """Configuration A against B on one metric, over the same queries."""

    metric: str
    mean_a: float
    mean_b: float
    diff: float
    """mean(A) − mean(B)"""
    low: float
    high: float
    """95% bootstrap interval of the mean difference."""
    p_value: float
    n: int
    test: str = TEST_NAME

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "significant": self.significant}


def compare(metric: str, a: Sequence[float], b: Sequence[float], *, seed: int = 0) -> Comparison:
    diffs = list(_paired(a, b))
    low, high = bootstrap_ci(diffs, seed=seed)
    mean_a = sum(a) / len(a) if a else 0.0
    mean_b = sum(b) / len(b) if b else 0.0
    return Comparison(
        metric=metric,
        mean_a=mean_a,
        mean_b=mean_b,
        diff=mean_a - mean_b,
        low=low,
        high=high,
        p_value=randomisation_test(a, b, seed=seed),
        n=len(diffs),
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between order statistics."""
    data = sorted(values)
    if not data:
        return 0.0
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean/max in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "mean_ms": round(sum(ms) / len(ms), 3) if ms else 0.0,
        "max_ms": round(max(ms), 3) if ms else 0.0,
    }
