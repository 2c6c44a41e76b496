"""Bootstrap intervals, paired tests between systems, multiple-testing corrections.

All resampling is over queries (captions, images or questions of one language),
seeded and vectorised; the paired test is exact (no resampling). numpy and scipy: no torch here.
"""

from __future__ import annotations

import numpy as np

# cells per resampling block (n_resamples x n_queries)
_BLOCK_CELLS = 1 << 22


def _values(x, what: str) -> np.ndarray:
    v = np.asarray(x, dtype=np.float64).ravel()
    if np.isnan(v).any():
        raise ValueError(f"{what} contains NaN")
    return v


def bootstrap_ci(per_query_values, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean over queries.

    Resamples the queries with replacement ``n_boot`` times (seeded) and returns
    the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the resampled
    means. ``(nan, nan)`` without queries.
    """
    return bootstrap_cis([per_query_values], n_boot=n_boot, seed=seed, level=level)[0]


def bootstrap_cis(per_query_values: list, n_boot: int = 1000, seed: int = 0,
                  level: float = 0.95) -> list[tuple[float, float]]:
    """``bootstrap_ci`` of several per-query value vectors over the same queries, sharing the resamples.

    Each vector's interval equals ``bootstrap_ci(vector, n_boot, seed, level)`` exactly (the
    same seeded resamples of the queries); drawing them once serves every vector (e.g. all
    metrics of one task).
    """
    vs = [_values(v, "per_query_values") for v in per_query_values]
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot!r}")
    if not vs:
        return []
    n = vs[0].size
    if any(v.size != n for v in vs):
        raise ValueError("per_query_values must all have one value per query")
    if n == 0:
        return [(float("nan"), float("nan"))] * len(vs)
    rng = np.random.default_rng(seed)
    means = np.empty((len(vs), n_boot))
    step = max(1, _BLOCK_CELLS // n)
    for start in range(0, n_boot, step):
        stop = min(n_boot, start + step)
        idx = rng.integers(0, n, size=(stop - start, n))
        for k, v in enumerate(vs):
            means[k, start:stop] = v[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    out = []
    for k in range(len(vs)):
        low, high = np.quantile(means[k], [alpha, 1.0 - alpha])
        out.append((float(low), float(high)))
    return out


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


def paired_test(a_values, b_values) -> tuple[float, float]:
    """Two-sided paired sign-flip test of mean(a) == mean(b) on the same queries.

    ``diff = mean(a - b)``. Under the null the per-query differences are symmetric about 0, so
    each difference's sign is as likely to be flipped; the p-value is the probability, over the
    2^n sign patterns, of a mean difference at least as large in absolute value as the observed
    one. Zero differences carry no evidence and are dropped.

    - **Exact** when the differences are multiples of 1/L for a small L (every R@K and acc@1
      value, also averaged over a few seeds): the sign-flip distribution is a convolution of
      binomials (for 0/1 values this is McNemar's exact test). No resampling floor: a large,
      consistent difference gets a p-value small enough to survive a correction over hundreds
      of tests.
    - **n <= 20** non-zero differences otherwise: all 2^n patterns are enumerated (exact).
    - Otherwise (MRR@K values): the normal approximation of the same distribution,
      z = |sum d| / sqrt(sum d^2) (its variance under the null is sum d^2), p = erfc(z / sqrt 2);
      accurate for the hundreds of queries of one language.

    Identical systems give ``(0.0, 1.0)``. Example::

        >>> paired_test([1, 1, 1], [0, 0, 0])  # 2 of the 8 sign patterns reach |mean| 1
        (1.0, 0.25)
    """
    a = _values(a_values, "a_values")
    b = _values(b_values, "b_values")
    if a.shape != b.shape:
        raise ValueError(f"paired values must have the same length ({a.size} vs {b.size})")
    if a.size == 0:
        return float("nan"), float("nan")
    d = a - b
    observed = float(d.mean())
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


def paired_bootstrap_cis(a_values, b_values, reference_values=None, n_boot: int = 1000, seed: int = 0,
                         level: float = 0.95) -> tuple[tuple[float, float], tuple[float, float]]:
    """Percentile intervals of ``mean(a) - mean(b)`` and of the retention difference
    ``(mean(a) - mean(b)) / mean(reference)``, resampling the shared queries (the same resample
    for all three vectors, so the pairing is kept). The second interval is NaN without
    ``reference_values`` or when a resample's reference mean is 0."""
    a = _values(a_values, "a_values")
    b = _values(b_values, "b_values")
    if a.shape != b.shape:
        raise ValueError("paired values must have one value per shared query")
    return paired_bootstrap_cis_many([a - b], reference_values, n_boot=n_boot, seed=seed, level=level)[0]


def paired_bootstrap_cis_many(differences: list, reference_values=None, n_boot: int = 1000, seed: int = 0,
                              level: float = 0.95) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """``paired_bootstrap_cis`` of several pairs on the same queries (``differences``: one ``a - b``
    vector per pair, ``reference_values`` shared), drawing the seeded resamples once for all of them.

    Each pair's intervals equal ``paired_bootstrap_cis(a, b, reference_values, n_boot, seed, level)``
    exactly: the same resamples, and each pair's means are taken as there, one pair at a time.
    """
    ds = [_values(d, "differences") for d in differences]
    ref = None if reference_values is None else _values(reference_values, "reference_values")
    if not ds:
        return []
    n = ds[0].size
    if any(d.size != n for d in ds) or (ref is not None and ref.size != n):
        raise ValueError("paired values must have one value per shared query")
    if not 0 < level < 1 or n_boot < 1:
        raise ValueError(f"need 0 < level < 1 and n_boot >= 1, got {level!r}, {n_boot!r}")
    nan = (float("nan"), float("nan"))
    if n == 0:
        return [(nan, nan)] * len(ds)
    rng = np.random.default_rng(seed)
    diffs = np.empty((len(ds), n_boot))
    denominator = np.empty(n_boot)
    step = max(1, _BLOCK_CELLS // n)
    for start in range(0, n_boot, step):
        stop = min(n_boot, start + step)
        idx = rng.integers(0, n, size=(stop - start, n))
        for k, d in enumerate(ds):
            diffs[k, start:stop] = d[idx].mean(axis=1)
        if ref is not None:
            denominator[start:stop] = ref[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    out = []
    for k in range(len(ds)):
        diff_ci = tuple(float(q) for q in np.quantile(diffs[k], [alpha, 1.0 - alpha]))
        ret_ci = nan
        if ref is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                ret = np.where(denominator > 0, diffs[k] / denominator, np.nan)
            if not np.isnan(ret).any():
                ret_ci = tuple(float(q) for q in np.quantile(ret, [alpha, 1.0 - alpha]))
        out.append((diff_ci, ret_ci))
    return out


def _prepare(p_values) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        p = p.ravel()
    ok = ~np.isnan(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise ValueError("p-values must lie in [0, 1]")
    return p, ok


def holm(p_values) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (family-wise error), in the input order.

    Sorted ascending p_(1) <= ... <= p_(m): adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)).
    NaN entries stay NaN and do not count in m.
    """
    p, ok = _prepare(p_values)
    out = np.full(p.shape, np.nan)
    q = p[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * q[order])
    adj = np.empty(m)
    adj[order] = np.maximum.accumulate(scaled)
    out[ok] = adj
    return out


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input order.

    Sorted ascending: adj_(i) = min_{j >= i} min(1, m p_(j) / j). NaN entries stay NaN.
    """
    p, ok = _prepare(p_values)
    out = np.full(p.shape, np.nan)
    q = p[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    scaled = q[order] * m / np.arange(1, m + 1)
    adj_sorted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    adj = np.empty(m)
    adj[order] = adj_sorted
    out[ok] = adj
    return out


CORRECTIONS = {"holm": holm, "bh": benjamini_hochberg}


__all__ = ["bootstrap_ci", "bootstrap_cis", "paired_bootstrap_cis", "paired_bootstrap_cis_many", "paired_test", "holm", "benjamini_hochberg", "CORRECTIONS"]
