"""The statistics: Holm's step-down adjustment, the Diebold-Mariano test with Newey-West variance, the
paired block bootstrap (fixed seed: reproducible), Student t intervals over runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nofx.arena.stats import (
    block_bootstrap_p,
    diebold_mariano,
    holm,
    long_run_variance,
    mean_interval,
    newey_west_lag,
    pairwise,
)


def test_holm_matches_the_textbook_example() -> None:
    # p = 0.01, 0.04, 0.03, 0.005 -> sorted 0.005*4, 0.01*3, 0.03*2, 0.04*1 = .02, .03, .06, .06 (monotone)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, None, 0.9]) == [1.0, None, 1.0]


def test_newey_west_variance_of_white_noise_is_its_variance_and_grows_with_autocorrelation() -> None:
    rng = np.random.default_rng(0)
    e = rng.normal(0, 1, 5000)
    assert long_run_variance(e, newey_west_lag(5000)) == pytest.approx(1.0, abs=0.08)
    ar = np.zeros(5000)
    for t in range(1, 5000):
        ar[t] = 0.6 * ar[t - 1] + e[t]
    # AR(1) long-run variance: 1 / (1 - 0.6)^2 = 6.25 (Bartlett with a short lag underestimates it)
    assert long_run_variance(ar, 30) > 3 * float(ar.var())


def test_diebold_mariano_finds_a_real_difference_and_not_a_null_one() -> None:
    rng = np.random.default_rng(1)
    null = rng.normal(0, 0.01, 500)
    stat, p = diebold_mariano(null)
    assert p > 0.05 and abs(stat) < 2.5
    shifted = null + 0.004
    stat, p = diebold_mariano(shifted)
    assert p < 1e-6 and stat > 5
    assert diebold_mariano(np.zeros(50)) == (None, None)  # no variance: no test
    assert diebold_mariano(null[:5]) == (None, None)


def test_block_bootstrap_is_reproducible_with_its_seed() -> None:
    d = np.random.default_rng(2).normal(0.001, 0.01, 300)
    p1 = block_bootstrap_p(d, 500, 5, np.random.default_rng(7))
    p2 = block_bootstrap_p(d, 500, 5, np.random.default_rng(7))
    assert p1 == p2 and 0 < p1 <= 1
    assert block_bootstrap_p(d + 0.01, 500, 5, np.random.default_rng(7)) < 0.01


def test_student_t_interval_over_runs() -> None:
    iv = mean_interval([0.10, 0.12, 0.14])
    half = 4.302652729911275 * 0.02 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert iv.mean == pytest.approx(0.12) and iv.low == pytest.approx(0.12 - half) and iv.high == pytest.approx(0.12 + half)
    one = mean_interval([0.1])
    assert one.low is None and one.n == 1


def test_pairwise_marks_only_the_real_difference_after_holm() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(0, 0.01, 400)
    series = {"good": base + 0.003 + rng.normal(0, 0.002, 400), "a": base + rng.normal(0, 0.002, 400),
              "b": base + rng.normal(0, 0.002, 400)}
    pairs = {(p.a, p.b): p for p in pairwise(series, 500, 5, 11, 0.05)}
    assert pairs[("good", "a")].significant and pairs[("good", "a")].better == "good"
    assert pairs[("good", "b")].significant
    assert not pairs[("a", "b")].significant
    assert all(p.p_holm >= p.p_dm for p in pairs.values())
