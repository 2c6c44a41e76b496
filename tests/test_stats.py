"""Bootstrap intervals, the paired sign-flip test and the multiple-testing corrections."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mvlm_distill.evaluate.stats import benjamini_hochberg, bootstrap_ci, holm, paired_test


def test_bootstrap_ci_is_seeded_and_ordered():
    v = np.random.default_rng(0).random(200)
    a = bootstrap_ci(v, n_boot=500, seed=3)
    assert a == bootstrap_ci(v, n_boot=500, seed=3)
    assert a != bootstrap_ci(v, n_boot=500, seed=4)
    assert a[0] < v.mean() < a[1]
    assert bootstrap_ci(np.ones(10)) == (1.0, 1.0)
    assert all(np.isnan(bootstrap_ci([])))
    with pytest.raises(ValueError):
        bootstrap_ci(v, level=1.0)


def test_bootstrap_ci_covers_the_true_mean_in_simulation():
    """95% intervals of a Bernoulli(0.3) mean over 300 queries cover 0.3 about 95% of the time."""
    rng = np.random.default_rng(1)
    covered = 0
    trials = 100
    for t in range(trials):
        sample = (rng.random(300) < 0.3).astype(float)
        low, high = bootstrap_ci(sample, n_boot=400, seed=t)
        covered += low <= 0.3 <= high
    assert 0.85 <= covered / trials <= 1.0
    # width shrinks like 1/sqrt(n): about 2 * 1.96 * sqrt(0.21 / 300) = 0.104
    low, high = bootstrap_ci((rng.random(300) < 0.3).astype(float), n_boot=2000, seed=0)
    assert 0.08 < high - low < 0.13


def test_paired_test_identical_systems_not_significant():
    a = np.random.default_rng(2).random(500)
    diff, p = paired_test(a, a.copy(), n_perm=2000, seed=0)
    assert diff == 0.0 and p == 1.0


def test_paired_test_clearly_better_system_is_significant():
    rng = np.random.default_rng(3)
    b = (rng.random(400) < 0.5).astype(float)
    a = np.maximum(b, (rng.random(400) < 0.3).astype(float))  # a solves everything b does, and more
    diff, p = paired_test(a, b, n_perm=2000, seed=0)
    assert diff == pytest.approx(a.mean() - b.mean()) and diff > 0
    assert p == pytest.approx(1 / 2001)  # no sign pattern reaches the observed difference
    d2, p2 = paired_test(b, a, n_perm=2000, seed=0)  # two-sided
    assert d2 == pytest.approx(-diff) and p2 == p


def test_paired_test_is_calibrated_under_the_null_and_agrees_with_a_t_test():
    rng = np.random.default_rng(4)
    pvalues = [paired_test(rng.random(100), rng.random(100), n_perm=200, seed=t)[1] for t in range(200)]
    assert 0.01 <= np.mean(np.array(pvalues) < 0.05) <= 0.12
    a, b = rng.random(300), rng.random(300) - 0.05
    _, p = paired_test(a, b, n_perm=4000, seed=0)
    assert p == pytest.approx(stats.ttest_rel(a, b).pvalue, abs=0.02)


def test_paired_test_exact_small_case():
    # n = 3, differences (1, 1, 1): of the 8 sign patterns only +++ and --- reach |mean| 1 -> p = 2/8
    assert paired_test([1, 1, 1], [0, 0, 0], n_perm=1000) == (1.0, 0.25)
    with pytest.raises(ValueError):
        paired_test([1, 2], [1])


def test_holm_hand_computed():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.02, 0.03, 0.06, 0.06
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    out = holm([0.01, np.nan, 0.02])
    assert np.isnan(out[1]) and out[[0, 2]] == pytest.approx([0.02, 0.02])


def test_benjamini_hochberg_hand_computed():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4/1=0.02, 0.01*4/2=0.02, 0.03*4/3=0.04, 0.04*4/4=0.04 -> running min from the top
    assert benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert benjamini_hochberg([0.02, 0.9, 0.03]) == pytest.approx([0.045, 0.9, 0.045])
    with pytest.raises(ValueError):
        holm([1.5])
    assert holm([]).size == 0 and benjamini_hochberg([]).size == 0
