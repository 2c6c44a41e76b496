"""Bootstrap intervals, the paired sign-flip test and the multiple-testing corrections, over queries,
images (clusters) and seeds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mvlm_distill.evaluate.stats import (
    benjamini_hochberg, bootstrap_ci, holm, holm_levels, paired_test, percentile_interval, resampled_means,
    sign_flip_interval,
)


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


# ----------------------------------------------------------------------------- images as the unit


def _clustered_null(rng, n_images, size, binary=True):
    """Two systems equally good in expectation, but each image favours one of them: the captions of
    an image share the image's (symmetric, random) advantage, so their differences are correlated."""
    sizes = size if np.ndim(size) else np.full(n_images, size)
    clusters = np.repeat(np.arange(n_images), sizes)
    base = rng.random(n_images)[clusters]
    lean = rng.normal(0, 0.35, n_images)[clusters]  # the image's advantage, symmetric about 0
    if binary:
        a = (rng.random(clusters.size) < np.clip(base + lean, 0, 1)).astype(float)
        b = (rng.random(clusters.size) < np.clip(base - lean, 0, 1)).astype(float)
    else:  # MRR-like values: 1/rank, ranks shifted by the image's lean
        a = 1.0 / rng.integers(1, 12, clusters.size) * np.exp(lean)
        b = 1.0 / rng.integers(1, 12, clusters.size) * np.exp(-lean)
    return a, b, clusters


def test_clusters_of_one_query_give_the_unclustered_test_and_interval():
    rng = np.random.default_rng(10)
    a, b = (rng.random(300) < 0.5).astype(float), (rng.random(300) < 0.45).astype(float)
    singles = np.arange(300)
    assert paired_test(a, b, clusters=singles) == paired_test(a, b)
    c, d = rng.random(40), rng.random(40)  # the normal form too
    assert paired_test(c, d, clusters=singles[:40][::-1]) == pytest.approx(paired_test(c, d), rel=1e-12)
    assert bootstrap_ci(a, n_boot=300, seed=2, clusters=singles) == pytest.approx(bootstrap_ci(a, n_boot=300, seed=2))


def test_clustered_paired_test_is_calibrated_under_a_clustered_null():
    """2 captions per image (a language) and 18 (pooled): the caption-level test rejects far too
    often, the image-level one at most alpha, on every path (exact lattice, enumeration, normal form)."""
    rng = np.random.default_rng(11)
    cases = {"binary, 2 per image": (300, 2, True), "binary, 18 per image": (100, 18, True),
             "MRR, 2 per image": (300, 2, False), "MRR, 12 images (enumerated)": (12, 3, False),
             "MRR, 40 images of 1-30 captions": (40, rng.integers(1, 31, 40), False)}
    for name, (n_images, size, binary) in cases.items():
        clustered, naive = [], []
        for _ in range(300):
            a, b, clusters = _clustered_null(rng, n_images, size, binary)
            clustered.append(paired_test(a, b, clusters=clusters)[1])
            naive.append(paired_test(a, b)[1])
        rate = np.mean(np.array(clustered) < 0.05)
        assert 0.01 <= rate <= 0.085, (name, rate)
        if binary:  # the correlation the caption-level test ignores
            assert np.mean(np.array(naive) < 0.05) > 1.5 * max(rate, 0.05), name


def test_image_bootstrap_covers_where_the_caption_bootstrap_does_not():
    rng = np.random.default_rng(12)
    covered = {"images": 0, "captions": 0}
    truth = np.clip(0.4 + np.random.default_rng(0).normal(0, 0.3, 2_000_000), 0, 1).mean()
    trials = 150
    for t in range(trials):
        clusters = np.repeat(np.arange(150), 6)
        p = np.clip(0.4 + rng.normal(0, 0.3, 150), 0, 1)[clusters]
        v = (rng.random(clusters.size) < p).astype(float)
        low, high = bootstrap_ci(v, n_boot=300, seed=t, clusters=clusters)
        covered["images"] += low <= truth <= high
        low, high = bootstrap_ci(v, n_boot=300, seed=t)
        covered["captions"] += low <= truth <= high
    assert covered["images"] / trials >= 0.88
    assert covered["captions"] / trials < covered["images"] / trials - 0.1


def test_seeds_are_a_second_level_of_the_bootstrap():
    rng = np.random.default_rng(13)
    clusters = np.repeat(np.arange(200), 2)
    v = (rng.random(400) < 0.5).astype(float)
    # two identical seeds: the seed level adds nothing, the draws equal the one-seed draws
    one, two = resampled_means([v, np.stack([v, v])], clusters, n_boot=200, seed=1)
    assert one == pytest.approx(two, abs=1e-12)
    # seeds that differ widen the interval by about their spread; coverage of the mean over
    # seeds and images in simulation (5 seeds, seed effect sd 0.05, 200 images of 2 captions)
    covered = {"seeds": 0, "images": 0}
    trials = 120
    for t in range(trials):
        shifts = rng.normal(0, 0.05, 5)
        p = np.clip(0.5 + rng.normal(0, 0.1, 200), 0, 1)[clusters]
        values = np.stack([(rng.random(400) < np.clip(p + s, 0, 1)).astype(float) for s in shifts])
        both = percentile_interval(resampled_means([values], clusters, n_boot=300, seed=t)[0])
        images = bootstrap_ci(values.mean(axis=0), n_boot=300, seed=t, clusters=clusters)
        covered["seeds"] += both[0] <= 0.5 <= both[1]
        covered["images"] += images[0] <= 0.5 <= images[1]
    assert covered["seeds"] / trials >= 0.85
    assert covered["images"] / trials < covered["seeds"] / trials - 0.15


def test_sign_flip_interval_inverts_the_test():
    rng = np.random.default_rng(14)
    for _ in range(50):
        a, b, clusters = _clustered_null(rng, 60, 3, binary=False)
        b = b - rng.normal(0, 0.05)
        low, high = sign_flip_interval(a, b, clusters, level=0.99)
        diff, p = paired_test(a, b, clusters)  # the normal form here (continuous, 60 clusters)
        assert low <= diff <= high
        assert (low > 0 or high < 0) == (p < 0.01)
    for _ in range(200):  # small binary samples: the exact test, and its interval agrees with it too
        a, b = (rng.random(30) < 0.6).astype(float), (rng.random(30) < 0.4).astype(float)
        clusters = np.repeat(np.arange(15), 2)
        p = paired_test(a, b, clusters)[1]
        low, high = sign_flip_interval(a, b, clusters, level=0.95)
        assert (low > 0 or high < 0) == (p < 0.05), p
    assert sign_flip_interval(np.ones(10), np.ones(10)) == (0.0, 0.0)
    assert sign_flip_interval(np.full(50, 0.3), np.full(50, 0.2)) == pytest.approx((0.1, 0.1))


def test_holm_levels_match_the_holm_verdicts():
    rng = np.random.default_rng(15)
    for _ in range(200):
        p = np.concatenate([rng.random(rng.integers(1, 20)) ** 3, rng.random(rng.integers(0, 5)) * 1e-4])
        levels = holm_levels(p, alpha=0.05)
        assert ((holm(p) < 0.05) == (p < 1 - levels)).all()
        assert (levels >= 0.95).all() and (levels <= 1 - 0.05 / p.size + 1e-12).all()
    assert np.isnan(holm_levels([0.01, np.nan])[1])


def test_a_difference_that_is_zero_only_up_to_rounding_carries_no_evidence():
    """Seed means can differ by 1e-17 where they are equal (0.1 + 0.2 vs 0.3): on the exact lattice that is a
    zero, dropped as an exact zero is (the 3-seed default study's aggregate_tables failed on it)."""
    from mvlm_distill.evaluate.stats import paired_test

    assert paired_test([0.1 + 0.2, 0.5], [0.3, 0.0]) == paired_test([0.3, 0.5], [0.3, 0.0]) == (0.25, 1.0)
    assert paired_test([0.1 + 0.2] * 3, [0.3] * 3)[1] == 1.0


def test_resampling_shares_cluster_draws_without_sharing_state():
    """The cluster draws are cached per (seed, clusters, resamples): a call's result is the one a
    fresh computation gives, whatever was resampled before, and integer image codes in the order
    of the image ids (tables.query_blocks) resample exactly as the ids do."""
    from mvlm_distill.evaluate import stats as module

    rng = np.random.default_rng(3)
    images = np.repeat([f"img-{k:03d}" for k in rng.permutation(40)], 3)
    a, b = rng.random((2, images.size)), rng.random((3, images.size))
    module._cluster_draws.cache_clear()
    fresh = resampled_means([a, b], images, n_boot=300, seed=5)
    resampled_means([rng.random(images.size)], images, n_boot=300, seed=5)  # fills the cache
    assert np.array_equal(resampled_means([a, b], images, n_boot=300, seed=5), fresh)
    codes = np.unique(images, return_inverse=True)[1]
    assert np.array_equal(resampled_means([a, b], codes, n_boot=300, seed=5), fresh)
    assert not np.array_equal(resampled_means([a, b], images, n_boot=300, seed=6), fresh)
    start, stop, counts = module._cluster_draws(5, 40, 300)[0]
    assert (start, stop, counts.shape, counts.sum(axis=1).tolist()) == (0, 300, (300, 40), [40.0] * 300)
    with pytest.raises(ValueError):
        counts[0, 0] = 1.0  # shared between calls: read-only
