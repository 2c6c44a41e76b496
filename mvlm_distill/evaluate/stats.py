"""Bootstrap intervals, paired tests between systems, multiple-testing corrections.

All resampling is over queries (captions, images or questions of one language),
seeded and vectorised. Pure numpy: no torch import here.
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


def paired_test(a_values, b_values, n_perm: int = 10000, seed: int = 0) -> tuple[float, float]:
    """Two-sided paired sign-flip permutation test of mean(a) == mean(b) on the same queries.

    ``diff = mean(a - b)``. Under the null the per-query differences are
    symmetric about 0, so each difference's sign is flipped at random; the
    p-value is (1 + #{|permuted mean| >= |diff|}) / (1 + n_perm). When
    2**n <= n_perm every sign pattern is enumerated instead and the p-value is
    exact (#{|mean| >= |diff|} / 2**n). Identical systems give diff 0, p 1.
    """
    a = _values(a_values, "a_values")
    b = _values(b_values, "b_values")
    if a.shape != b.shape:
        raise ValueError(f"paired values must have the same length ({a.size} vs {b.size})")
    if n_perm < 1:
        raise ValueError(f"n_perm must be >= 1, got {n_perm!r}")
    d = a - b
    n = d.size
    if n == 0:
        return float("nan"), float("nan")
    observed = d.mean()
    # tolerance for floating-point equality of permuted and observed means
    threshold = abs(observed) - 1e-12 * max(1.0, np.abs(d).max())
    if n <= 20 and 2**n <= n_perm:
        patterns = (np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1
        signs = 1.0 - 2.0 * patterns
        hits = int((np.abs(signs @ d / n) >= threshold).sum())
        return float(observed), hits / float(2**n)
    rng = np.random.default_rng(seed)
    hits = 0
    step = max(1, _BLOCK_CELLS // n)
    for start in range(0, n_perm, step):
        stop = min(n_perm, start + step)
        signs = rng.integers(0, 2, size=(stop - start, n)) * 2.0 - 1.0
        hits += int((np.abs(signs @ d / n) >= threshold).sum())
    return float(observed), (1.0 + hits) / (1.0 + n_perm)


def paired_bootstrap_cis(a_values, b_values, reference_values=None, n_boot: int = 1000, seed: int = 0,
                         level: float = 0.95) -> tuple[tuple[float, float], tuple[float, float]]:
    """Percentile intervals of ``mean(a) - mean(b)`` and of the retention difference
    ``(mean(a) - mean(b)) / mean(reference)``, resampling the shared queries (the same resample
    for all three vectors, so the pairing is kept). The second interval is NaN without
    ``reference_values`` or when a resample's reference mean is 0."""
    a = _values(a_values, "a_values")
    b = _values(b_values, "b_values")
    ref = None if reference_values is None else _values(reference_values, "reference_values")
    if a.shape != b.shape or (ref is not None and ref.shape != a.shape):
        raise ValueError("paired values must have one value per shared query")
    if not 0 < level < 1 or n_boot < 1:
        raise ValueError(f"need 0 < level < 1 and n_boot >= 1, got {level!r}, {n_boot!r}")
    nan = (float("nan"), float("nan"))
    n = a.size
    if n == 0:
        return nan, nan
    rng = np.random.default_rng(seed)
    diffs, ret = np.empty(n_boot), np.full(n_boot, np.nan)
    d = a - b
    step = max(1, _BLOCK_CELLS // n)
    for start in range(0, n_boot, step):
        stop = min(n_boot, start + step)
        idx = rng.integers(0, n, size=(stop - start, n))
        diffs[start:stop] = d[idx].mean(axis=1)
        if ref is not None:
            denominator = ref[idx].mean(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                ret[start:stop] = np.where(denominator > 0, diffs[start:stop] / denominator, np.nan)
    alpha = (1.0 - level) / 2.0
    diff_ci = tuple(float(q) for q in np.quantile(diffs, [alpha, 1.0 - alpha]))
    ret_ci = nan if np.isnan(ret).any() else tuple(float(q) for q in np.quantile(ret, [alpha, 1.0 - alpha]))
    return diff_ci, ret_ci


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


__all__ = ["bootstrap_ci", "bootstrap_cis", "paired_bootstrap_cis", "paired_test", "holm", "benjamini_hochberg", "CORRECTIONS"]
