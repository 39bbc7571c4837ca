"""Bootstrap intervals, paired tests and percentiles."""

from __future__ import annotations

import random

import pytest

from ragline.eval import stats


def test_bootstrap_interval_of_a_constant_is_that_constant() -> None:
    assert stats.bootstrap_ci([0.4] * 30) == pytest.approx((0.4, 0.4))
    assert stats.bootstrap_ci([]) == (0.0, 0.0)


def test_bootstrap_interval_brackets_the_mean_and_matches_the_normal_width() -> None:
    rng = random.Random(1)
    values = [rng.gauss(0.5, 0.2) for _ in range(400)]
    low, high = stats.bootstrap_ci(values, seed=3)
    mean = sum(values) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    assert low < mean < high
    # ±1.96 standard errors, within bootstrap noise
    assert high - low == pytest.approx(2 * 1.96 * sd / len(values) ** 0.5, rel=0.15)
    assert stats.bootstrap_ci(values, seed=3) == (low, high)  # seeded: reproducible


def test_randomisation_test_exact_by_hand() -> None:
    # differences 1, 1, 1: of the 8 sign patterns only +++ and --- reach |mean| ≥ 1
    assert stats.randomisation_test([1, 1, 1], [0, 0, 0]) == pytest.approx(2 / 8)
    # differences 1, 0: patterns give |mean| 0.5 each way → p = 1
    assert stats.randomisation_test([1, 0], [0, 0]) == 1.0
    assert stats.randomisation_test([0.3, 0.2], [0.3, 0.2]) == 1.0


def test_randomisation_test_separates_real_differences_from_noise() -> None:
    rng = random.Random(7)
    a = [rng.random() for _ in range(200)]
    better = [min(1.0, x + 0.1) for x in a]
    noisy = [x + rng.choice([-0.01, 0.01]) for x in a]
    assert stats.randomisation_test(better, a) < 0.001
    assert stats.randomisation_test(noisy, a) > 0.05
    assert stats.paired_bootstrap(better, a) < 0.001
    assert stats.paired_bootstrap(noisy, a) > 0.05


def test_paired_samples_must_align() -> None:
    with pytest.raises(ValueError):
        stats.randomisation_test([1.0], [1.0, 2.0])


def test_compare_reports_difference_interval_and_p_value() -> None:
    c = stats.compare("ndcg@10", [1.0, 1.0, 1.0, 0.5], [0.5, 0.5, 0.5, 0.5])
    assert c.mean_a == 0.875 and c.mean_b == 0.5 and c.diff == pytest.approx(0.375)
    assert c.low <= c.diff <= c.high
    # exact: 16 patterns; |mean| ≥ 0.375 only with all three 0.5-differences the same sign
    # (the zero difference flips freely): 2 × 2 = 4 → p = 4/16
    assert c.p_value == pytest.approx(0.25)
    assert c.to_dict()["significant"] is False


def test_percentiles_by_hand() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert stats.percentile(values, 50) == 25.0
    assert stats.percentile(values, 95) == pytest.approx(38.5)  # 30 + 0.85 × 10
    assert stats.percentile([], 50) == 0.0
    summary = stats.latency_summary([0.010, 0.020, 0.030, 0.040])
    assert summary == {"p50_ms": 25.0, "p95_ms": 38.5, "mean_ms": 25.0, "max_ms": 40.0}
