"""Bootstrap intervals, paired tests between systems, multiple-testing corrections.

The unit of resampling and of the paired test is the **cluster** a query belongs to: the image
of a caption, of an i2t query, of a VQA question (``clusters``; None: every query its own
cluster). The captions of one image are correlated, so a bootstrap over captions is too narrow
and a test over captions too confident. A study's training seeds are a second level: with values
of several seeds the bootstrap draws seeds, then images (``resampled_means``). Everything is
seeded and vectorised; the paired test is exact where feasible (no resampling). numpy and scipy:
no torch here. Reference: Field & Welsh (2007), "Bootstrapping clustered data", JRSS-B 69(3).
"""

from __future__ import annotations

import functools

import numpy as np

# cells per resampling block (n_resamples x n_clusters)
_BLOCK_CELLS = 1 << 22


def _values(x, what: str) -> np.ndarray:
    v = np.asarray(x, dtype=np.float64).ravel()
    if np.isnan(v).any():
        raise ValueError(f"{what} contains NaN")
    return v


def cluster_codes(clusters, n: int) -> tuple[np.ndarray, int]:
    """``(code of each query in 0..G-1, G)``; None: every query its own cluster (code = position)."""
    if clusters is None:
        return np.arange(n), n
    labels = np.asarray(clusters).ravel()
    if labels.size != n:
        raise ValueError(f"{labels.size} cluster labels for {n} queries")
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(-1)
    return codes, int(codes.max()) + 1 if n else 0


def _cluster_sums(values: np.ndarray, codes: np.ndarray, g: int) -> np.ndarray:
    """(rows, G) sums of each row's values per cluster."""
    rows = np.atleast_2d(values)
    offsets = (np.arange(rows.shape[0]) * g)[:, None]
    return np.bincount((codes[None, :] + offsets).ravel(), weights=rows.ravel(),
                       minlength=rows.shape[0] * g).reshape(rows.shape[0], g)


def _check_resampling(n_boot: int, level: float | None = None) -> None:
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot!r}")
    if level is not None and not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")


def resampled_means(samples: list, clusters=None, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Bootstrap means of several systems on the same queries: ``(len(samples), n_boot)``.

    Each sample is a ``(n_seeds, n_queries)`` array of per-query values (1-D: one seed). One
    resample draws the clusters with replacement, the same draw for every sample (so pairs keep
    their pairing), and, for a sample of several seeds, its seeds with replacement (each sample
    independently: another seed is another training run). A sample's resampled mean is the mean
    over its drawn seeds of the mean over the drawn clusters' queries (a cluster drawn twice
    counts twice). With one seed and ``clusters=None`` this is the ordinary bootstrap of the mean.

    The two-level (seeds, then images) bootstrap covers both sources of variation; with 2 seeds
    it is coarse (half the resamples hold one seed twice) and errs wide. Reference: Davison &
    Hinkley (1997), *Bootstrap Methods and their Application*, section 3.8. Example::

        >>> m = resampled_means([[1.0, 0.0, 1.0, 0.0]], clusters=["a", "a", "b", "b"], n_boot=4)
        >>> bool((m == 0.5).all())  # every image has mean 0.5: no resample moves the mean
        True
    """
    arrays = [np.atleast_2d(np.asarray(s, dtype=np.float64)) for s in samples]
    _check_resampling(n_boot)
    if not arrays:
        return np.empty((0, n_boot))
    n = arrays[0].shape[1]
    if any(a.shape[1] != n for a in arrays):
        raise ValueError("samples must all have one value per query")
    if any(np.isnan(a).any() for a in arrays):
        raise ValueError("samples contain NaN")
    out = np.full((len(arrays), n_boot), np.nan)
    if n == 0:
        return out
    codes, g = cluster_codes(clusters, n)
    sizes = np.bincount(codes, minlength=g).astype(np.float64)
    sums = [_cluster_sums(a, codes, g) for a in arrays]  # (n_seeds, G) each
    seeds_rng = np.random.default_rng([seed, 1])  # its own stream: cluster draws do not depend on it
    for start, stop, counts in _cluster_draws(seed, g, n_boot):
        b = stop - start
        total = counts @ sizes
        for k, s in enumerate(sums):
            per_seed = (counts @ s.T) / total[:, None]  # (b, n_seeds)
            if s.shape[0] == 1:
                out[k, start:stop] = per_seed[:, 0]
                continue
            draws = seeds_rng.integers(0, s.shape[0], size=(b, s.shape[0]))
            weights = np.bincount((draws + (np.arange(b) * s.shape[0])[:, None]).ravel(),
                                  minlength=b * s.shape[0]).reshape(b, s.shape[0])
            out[k, start:stop] = (per_seed * weights).sum(axis=1) / s.shape[0]
    return out


@functools.lru_cache(maxsize=4)
def _cluster_draws(seed: int, g: int, n_boot: int) -> tuple[tuple[int, int, np.ndarray], ...]:
    """``(start, stop, counts)`` blocks of the cluster draws of ``resampled_means``: how often each
    of ``g`` clusters is drawn in resamples ``start:stop``. They depend on the seed and ``g`` only, so
    the many tables of one study (every method, pair and language on the same images) share them."""
    rng = np.random.default_rng(seed)
    step, blocks = max(1, _BLOCK_CELLS // g), []
    for start in range(0, n_boot, step):
        stop = min(n_boot, start + step)
        b = stop - start
        idx = rng.integers(0, g, size=(b, g))
        counts = np.bincount((idx + (np.arange(b) * g)[:, None]).ravel(), minlength=b * g).reshape(b, g)
        counts = counts.astype(np.float64)
        counts.setflags(write=False)
        blocks.append((start, stop, counts))
    return tuple(blocks)


def percentile_interval(draws, level: float = 0.95) -> tuple[float, float]:
    """The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of bootstrap draws; NaN if any draw is."""
    draws = np.asarray(draws, dtype=np.float64)
    if draws.size == 0 or np.isnan(draws).any():
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(draws, [alpha, 1.0 - alpha])
    return float(low), float(high)


def bootstrap_ci(per_query_values, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                 clusters=None) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean over queries, resampling ``clusters`` (None: queries).

    ``(nan, nan)`` without queries. Example::

        >>> low, high = bootstrap_ci([1, 0, 1, 1, 0, 1], n_boot=200, clusters=[0, 0, 1, 1, 2, 2])
        >>> bool(low <= 4 / 6 <= high)
        True
    """
    return bootstrap_cis([per_query_values], n_boot=n_boot, seed=seed, level=level, clusters=clusters)[0]


def bootstrap_cis(per_query_values: list, n_boot: int = 1000, seed: int = 0,
                  level: float = 0.95, clusters=None) -> list[tuple[float, float]]:
    """``bootstrap_ci`` of several per-query value vectors over the same queries, sharing the resamples.

    Each vector's interval equals ``bootstrap_ci(vector, n_boot, seed, level, clusters)`` (the same
    seeded resamples); drawing them once serves every vector (e.g. all metrics of one task).
    """
    vs = [_values(v, "per_query_values") for v in per_query_values]
    _check_resampling(n_boot, level)
    if not vs:
        return []
    if any(v.size != vs[0].size for v in vs):
        raise ValueError("per_query_values must all have one value per query")
    draws = resampled_means(vs, clusters, n_boot=n_boot, seed=seed)
    return [percentile_interval(d, level) for d in draws]


# Differences that are multiples of 1/L for some L <= _MAX_LATTICE (R@K and acc@1 averaged over up
# to this many seeds) get the exact sign-flip distribution; the sum's support is capped so that
# the convolution stays cheap (a pooled table of ~5,000 queries averaged over 16 seeds fits).
_MAX_LATTICE = 16
_MAX_SUPPORT = 1 << 20


def _lattice(d: np.ndarray) -> tuple[np.ndarray, int] | None:
    """``(integer magnitudes, L)`` with ``|d| = magnitudes / L``, or None when no small L fits."""
    for scale in range(1, _MAX_LATTICE + 1):
        scaled = np.abs(d) * scale
        units = np.rint(scaled)
        if np.all(np.abs(scaled - units) <= 1e-9 * scale):
            return units.astype(np.int64), scale
    return None


def _sign_flip_tail(units: np.ndarray, observed: int) -> float | None:
    """P(|sum of s_i u_i| >= observed) for independent fair signs s_i, exactly (None if too large).

    Magnitudes are grouped: ``c`` differences of magnitude ``m`` contribute ``m (2B - c)`` with
    B ~ Binomial(c, 1/2); the groups' distributions are convolved. All terms are non-negative, so
    the sum has full relative precision even far in the tail (it underflows to 0 only below
    ~1e-300).
    """
    from scipy.stats import binom

    # a difference that is 0 on the lattice but not in floating point (seed means such as
    # 0.1 + 0.2 - 0.3) carries no evidence, as an exact 0 does
    units = units[units > 0]
    magnitudes, counts = np.unique(units, return_counts=True)
    if int((magnitudes * counts).sum()) > _MAX_SUPPORT:
        return None
    # pmf over sum + total, total = sum m c (so the index is non-negative), step 1
    total = 0
    pmf = np.ones(1)
    for m, c in zip(magnitudes.tolist(), counts.tolist()):
        group = np.zeros(2 * m * c + 1)
        group[:: 2 * m] = binom.pmf(np.arange(c + 1), c, 0.5)
        pmf = np.convolve(pmf, group)
        total += m * c
    values = np.abs(np.arange(pmf.size) - total)
    return float(min(1.0, pmf[values >= observed].sum()))


def _paired(a_values, b_values) -> tuple[np.ndarray, np.ndarray]:
    a = _values(a_values, "a_values")
    b = _values(b_values, "b_values")
    if a.shape != b.shape:
        raise ValueError(f"paired values must have the same length ({a.size} vs {b.size})")
    return a, b


def paired_test(a_values, b_values, clusters=None) -> tuple[float, float]:
    """Two-sided paired sign-flip test of mean(a) == mean(b) on the same queries, by cluster.

    ``diff = mean(a - b)`` over the queries. The unit is the cluster (``clusters``: one label per
    query, e.g. its image; None: every query alone): under the null the two systems are
    exchangeable on each cluster, so each cluster's summed difference is as likely to have either
    sign; the p-value is the probability, over the 2^G sign patterns of the G clusters, of a total
    difference at least as large in absolute value as the observed one. Clusters whose summed
    difference is 0 carry no evidence and are dropped. With clusters of size 1 this is the test
    over queries exactly.

    - **Exact** when the cluster sums are multiples of 1/L for a small L (R@K and acc@1 values,
      also averaged over a few seeds, summed over an image's captions): the sign-flip
      distribution is a convolution of binomials (for 0/1 values and single queries this is
      McNemar's exact test). No resampling floor: a large, consistent difference gets a p-value
      small enough to survive a correction over hundreds of tests.
    - **G <= 20** non-zero cluster sums otherwise: all 2^G patterns are enumerated (exact).
    - Otherwise (MRR@K values): the normal approximation of the same distribution,
      z = |sum D| / sqrt(sum D^2) over the cluster sums D, p = erfc(z / sqrt 2); its calibration
      under clustered nulls is tested (tests/test_stats.py).

    Identical systems give ``(0.0, 1.0)``. Reference: Good (2005), *Permutation, Parametric, and
    Bootstrap Tests of Hypotheses*, section 3.6.2 (paired data). Example::

        >>> paired_test([1, 1, 1], [0, 0, 0])  # 2 of the 8 sign patterns reach |mean| 1
        (1.0, 0.25)
        >>> round(paired_test([1, 1, 1], [0, 0, 0], clusters=["x", "x", "y"])[1], 9)  # 2 of 4 patterns
        0.5
    """
    a, b = _paired(a_values, b_values)
    if a.size == 0:
        return float("nan"), float("nan")
    d = a - b
    observed = float(d.mean())
    if clusters is not None:
        codes, g = cluster_codes(clusters, d.size)
        d = _cluster_sums(d, codes, g)[0]
    d = d[d != 0]
    if d.size == 0:
        return observed, 1.0
    lattice = _lattice(d)
    if lattice is not None:
        units, scale = lattice
        signed = np.rint(d * scale).astype(np.int64)
        p = _sign_flip_tail(units, abs(int(signed.sum())))
        if p is not None:
            return observed, p
    n = d.size
    # tolerance for floating-point equality of permuted and observed sums
    threshold = abs(d.sum()) - 1e-12 * max(1.0, np.abs(d).max()) * n
    if n <= 20:
        patterns = (np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1
        signs = 1.0 - 2.0 * patterns
        return observed, float((np.abs(signs @ d) >= threshold).mean())
    from scipy.special import erfc

    z = abs(d.sum()) / np.sqrt(np.square(d).sum())
    return observed, float(erfc(z / np.sqrt(2.0)))


def sign_flip_interval(a_values, b_values, clusters=None, level: float = 0.95) -> tuple[float, float]:
    """The interval of ``mean(a - b)`` that inverts ``paired_test``'s normal form at ``level``.

    The values of delta that the sign-flip test of "the cluster sums of ``a - b - delta`` are
    symmetric about 0" does not reject: ``|sum(D - delta n)| <= z sqrt(sum (D - delta n)^2)``
    over the clusters' summed differences D and sizes n; a quadratic in delta. The critical value
    z is the normal ``(1 + level) / 2`` quantile scaled by z0 / z_exact, the normal form's
    statistic at delta = 0 over the normal quantile of ``paired_test``'s exact p-value (1 for large
    samples, where the two agree): so the interval excludes 0 exactly when ``paired_test``'s p <
    1 - level, and at a Holm step's level (``holm_levels``) it agrees with the verdict.
    ``[0, 0]`` for identical systems. Example::

        >>> low, high = sign_flip_interval([1, 1, 0, 1] * 10, [0, 1, 0, 0] * 10)
        >>> bool(0 < low < 0.5 < high)
        True
    """
    from scipy.stats import norm

    a, b = _paired(a_values, b_values)
    if a.size == 0:
        return float("nan"), float("nan")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    codes, g = cluster_codes(clusters, a.size)
    d = _cluster_sums(a - b, codes, g)[0]
    sizes = np.bincount(codes, minlength=g).astype(np.float64)
    z = float(norm.ppf(0.5 + level / 2.0))
    z0 = abs(d.sum()) / np.sqrt(np.square(d).sum()) if d.any() else 0.0
    z_exact = float(norm.isf(paired_test(a, b, clusters)[1] / 2.0))
    if z0 > 0 and 0 < z_exact < np.inf:
        z *= z0 / z_exact
    z2 = z * z
    total, n = d.sum(), sizes.sum()
    qa = n * n - z2 * np.square(sizes).sum()
    qb = -2.0 * (total * n - z2 * (sizes * d).sum())
    qc = total * total - z2 * np.square(d).sum()
    if qa <= 0:  # too few clusters for this level: every delta is accepted
        return float("-inf"), float("inf")
    root = np.sqrt(max(0.0, qb * qb - 4.0 * qa * qc))
    return float((-qb - root) / (2.0 * qa)), float((-qb + root) / (2.0 * qa))


def paired_bootstrap_cis(a_values, b_values, reference_values=None, n_boot: int = 1000, seed: int = 0,
                         level: float = 0.95, clusters=None) -> tuple[tuple[float, float], tuple[float, float]]:
    """Percentile intervals of ``mean(a) - mean(b)`` and of the retention difference
    ``(mean(a) - mean(b)) / mean(reference)``, resampling the shared ``clusters`` (None: queries;
    the same resample for all three vectors, so the pairing is kept). The second interval is NaN
    without ``reference_values`` or when a resample's reference mean is 0."""
    a, b = _paired(a_values, b_values)
    return paired_bootstrap_cis_many([a - b], reference_values, n_boot=n_boot, seed=seed, level=level,
                                     clusters=clusters)[0]


def paired_bootstrap_cis_many(differences: list, reference_values=None, n_boot: int = 1000, seed: int = 0,
                              level: float = 0.95, clusters=None
                              ) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """``paired_bootstrap_cis`` of several pairs on the same queries (``differences``: one ``a - b``
    vector per pair, ``reference_values`` shared), drawing the seeded resamples once for all of them.

    Each pair's intervals equal ``paired_bootstrap_cis(a, b, reference_values, n_boot, seed, level,
    clusters)`` (the same resamples; equal to rounding).
    """
    ds = [_values(d, "differences") for d in differences]
    ref = None if reference_values is None else _values(reference_values, "reference_values")
    if not ds:
        return []
    n = ds[0].size
    if any(d.size != n for d in ds) or (ref is not None and ref.size != n):
        raise ValueError("paired values must have one value per shared query")
    _check_resampling(n_boot, level)
    draws = resampled_means(ds + ([] if ref is None else [ref]), clusters, n_boot=n_boot, seed=seed)
    out = []
    for k in range(len(ds)):
        ret_ci = (float("nan"), float("nan"))
        if ref is not None and n and (draws[-1] > 0).all():
            ret_ci = percentile_interval(draws[k] / draws[-1], level)
        out.append((percentile_interval(draws[k], level), ret_ci))
    return out


def _prepare(p_values) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        p = p.ravel()
    ok = ~np.isnan(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise ValueError("p-values must lie in [0, 1]")
    return p, ok


def _sorted_apply(p_values, fn) -> np.ndarray:
    """``fn(ascending non-NaN p-values, their number)`` put back in the input order; NaN stays NaN."""
    p, ok = _prepare(p_values)
    out = np.full(p.shape, np.nan)
    q = p[ok]
    if q.size:
        order = np.argsort(q, kind="stable")
        values = np.empty(q.size)
        values[order] = fn(q[order], q.size)
        out[ok] = values
    return out


def holm(p_values) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (family-wise error), in the input order.

    Sorted ascending p_(1) <= ... <= p_(m): adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)).
    NaN entries stay NaN and do not count in m.
    """
    return _sorted_apply(p_values, lambda q, m: np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * q)))


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input order.

    Sorted ascending: adj_(i) = min_{j >= i} min(1, m p_(j) / j). NaN entries stay NaN.
    """
    return _sorted_apply(p_values, lambda q, m: np.minimum(1.0, np.minimum.accumulate((q * m / np.arange(1, m + 1))[::-1])[::-1]))


def holm_levels(p_values, alpha: float = 0.05) -> np.ndarray:
    """The confidence level matching each hypothesis's Holm verdict, in the input order.

    Holm's step-down compares the r-th smallest of m p-values with alpha / (m - r + 1) and stops at
    the first that fails; every later one fails with it. The level of a hypothesis is 1 - the
    threshold it was judged at: 1 - alpha / (m - r + 1) up to the first failure, that failure's
    level after it. An interval at this level (``sign_flip_interval``) excludes 0 exactly where
    ``holm(p) < alpha``, up to the exact test's difference from its normal form. NaN stays NaN.
    Example (m = 3, alpha = 0.05: thresholds 0.0167, 0.025, 0.05; the second fails)::

        >>> [round(float(v), 4) for v in holm_levels([0.001, 0.04, 0.03])]
        [0.9833, 0.975, 0.975]
    """

    def levels(q, m):
        thresholds = alpha / (m - np.arange(m))
        failed = np.flatnonzero(q >= thresholds)
        if failed.size:
            thresholds[failed[0]:] = thresholds[failed[0]]
        return 1.0 - thresholds

    return _sorted_apply(p_values, levels)


CORRECTIONS = {"holm": holm, "bh": benjamini_hochberg}


__all__ = [
    "cluster_codes", "resampled_means", "percentile_interval", "bootstrap_ci", "bootstrap_cis",
    "paired_bootstrap_cis", "paired_bootstrap_cis_many", "paired_test", "sign_flip_interval", "holm",
    "holm_levels", "benjamini_hochberg", "CORRECTIONS",
]
