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


def _enumerated_p(d):
    """The sign-flip p-value by brute force over all 2^n sign patterns (small n only)."""
    d = np.asarray(d, float)
    signs = 1.0 - 2.0 * ((np.arange(2 ** d.size)[:, None] >> np.arange(d.size)[None, :]) & 1)
    return float((np.abs(signs @ d) >= abs(d.sum()) - 1e-9).mean())


def test_paired_test_identical_systems_not_significant():
    a = np.random.default_rng(2).random(500)
    diff, p = paired_test(a, a.copy())
    assert diff == 0.0 and p == 1.0
    assert paired_test((a > 0.5).astype(float), (a > 0.5).astype(float)) == (0.0, 1.0)


def test_paired_test_binary_values_is_mcnemars_exact_test():
    rng = np.random.default_rng(3)
    b = (rng.random(400) < 0.5).astype(float)
    a = np.maximum(b, (rng.random(400) < 0.3).astype(float))  # a solves everything b does, and more
    diff, p = paired_test(a, b)
    assert diff == pytest.approx(a.mean() - b.mean()) and diff > 0
    d = a - b
    assert p == pytest.approx(stats.binomtest(int((d > 0).sum()), int((d != 0).sum())).pvalue, rel=1e-9)
    assert p < 1e-20  # no resampling floor
    d2, p2 = paired_test(b, a)  # two-sided
    assert d2 == pytest.approx(-diff) and p2 == pytest.approx(p, rel=1e-12)
    # a mixed case: 30 wins, 18 losses
    a, b = np.r_[np.ones(30), np.zeros(18), np.ones(50)], np.r_[np.zeros(30), np.ones(18), np.ones(50)]
    assert paired_test(a, b)[1] == pytest.approx(stats.binomtest(30, 48).pvalue, rel=1e-9)


def test_paired_test_is_exact_on_seed_averaged_values():
    """R@K averaged over two seeds (0, 0.5, 1): the lattice path equals full enumeration."""
    rng = np.random.default_rng(5)
    for trial in range(20):
        a = rng.integers(0, 3, 14) / 2
        b = rng.integers(0, 3, 14) / 2
        d = (a - b)[a != b]
        assert paired_test(a, b)[1] == pytest.approx(_enumerated_p(d) if d.size else 1.0, abs=1e-12)
    # thirds (three seeds) too
    a, b = rng.integers(0, 4, 16) / 3, rng.integers(0, 4, 16) / 3
    assert paired_test(a, b)[1] == pytest.approx(_enumerated_p((a - b)[a != b]), abs=1e-12)


def test_paired_test_small_continuous_case_is_enumerated():
    rng = np.random.default_rng(6)
    a, b = rng.random(12), rng.random(12)
    assert paired_test(a, b)[1] == pytest.approx(_enumerated_p(a - b), abs=1e-12)
    # n = 3, differences (1, 1, 1): of the 8 sign patterns only +++ and --- reach |mean| 1 -> p = 2/8
    assert paired_test([1, 1, 1], [0, 0, 0]) == (1.0, 0.25)
    with pytest.raises(ValueError):
        paired_test([1, 2], [1])


def test_paired_test_is_calibrated_under_the_null_and_agrees_with_a_t_test():
    rng = np.random.default_rng(4)
    # continuous values (the normal approximation) and binary ones (the exact path)
    continuous = [paired_test(rng.random(100), rng.random(100))[1] for _ in range(400)]
    binary = [paired_test(rng.random(300) < 0.4, rng.random(300) < 0.4)[1] for _ in range(400)]
    assert 0.02 <= np.mean(np.array(continuous) < 0.05) <= 0.09
    assert 0.01 <= np.mean(np.array(binary) < 0.05) <= 0.08  # exact tests are at most alpha, up to noise
    a, b = rng.random(300), rng.random(300) - 0.05
    _, p = paired_test(a, b)
    assert p == pytest.approx(stats.ttest_rel(a, b).pvalue, abs=0.01)


def test_a_large_tight_difference_survives_holm_over_the_comparisons_family():
    """The study's family (15 method pairs x 10 languages) must not make every difference insignificant.

    A pooled table of 4,500 queries where method A beats B by ~0.3 in R@10 (seed-averaged values),
    like ED against SD in the default study: significant after Holm over 150 tests; a null pair
    stays insignificant.
    """
    rng = np.random.default_rng(7)
    b = ((rng.random((2, 4500)) < 0.6).mean(axis=0))
    a = np.clip(b + (rng.random((2, 4500)) < 0.3).mean(axis=0), 0, 1)
    p_big = paired_test(a, b)[1]
    p_null = [paired_test((rng.random((2, 500)) < 0.6).mean(axis=0), (rng.random((2, 500)) < 0.6).mean(axis=0))[1]
              for _ in range(149)]
    adjusted = holm([p_big, *p_null])
    assert adjusted[0] < 1e-10
    assert (adjusted[1:] > 0.05).mean() > 0.9


def test_paired_test_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        paired_test([1.0, np.nan], [0.0, 0.0])


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
