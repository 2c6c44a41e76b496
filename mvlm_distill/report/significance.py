"""Significance: the paired tests of ``significance.csv`` and ``comparisons.csv``, Holm-adjusted,
with each row's interval at its Holm level (docs/analysis.md).

Pure pandas/numpy (no torch), run by the table job. The tables' columns are the contracts of
``tables.py`` (described in docs/formats.md, "Result tables"); the per-query values the tests
compare come from there too (``tables.per_query_values``, ``tables.query_blocks``), as the
summary's intervals do.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from mvlm_distill.definitions import REFERENCES
from mvlm_distill.evaluate import stats
from mvlm_distill.report.tables import (
    BLOCK_KEYS, COMPARISON_COLUMNS, HOLM_INTERVAL_COLUMNS, OVER_IMAGES, OVER_SEEDS, SIGNIFICANCE_COLUMNS,
    concat_ranks, method_order, per_query_values, query_blocks, sort_rows,
)


def _holm_intervals(out: pd.DataFrame, family: list[str], alpha: float, interval) -> pd.DataFrame:
    """Holm-adjusted p-values over each ``family`` of rows, the verdicts, and each row's interval at
    the level of its Holm step (``interval(row position, level) -> (low, high)``)."""
    for column in ("p_adjusted", *HOLM_INTERVAL_COLUMNS):
        out[column] = np.nan
    for _, idx in out.groupby(family, sort=False).groups.items():
        p = out.loc[idx, "p_value"]
        ok = p[p.notna()].index
        if len(ok):
            out.loc[ok, "p_adjusted"] = stats.holm(p[ok].to_numpy(dtype=float))
            out.loc[ok, "holm_level"] = stats.holm_levels(p[ok].to_numpy(dtype=float), alpha)
    for position in np.flatnonzero(out["holm_level"].notna().to_numpy()):
        low, high = interval(position, float(out["holm_level"].iat[position]))
        out.iat[position, out.columns.get_loc("diff_holm_low")] = low
        out.iat[position, out.columns.get_loc("diff_holm_high")] = high
    out["significant"] = (out["p_adjusted"] < alpha).fillna(False).astype(bool)
    out["correction"] = "holm"
    return out


def _seed_mean(matrix: np.ndarray) -> np.ndarray:
    """Per-query values averaged over seeds (NaN where a seed lacks the query)."""
    return matrix.mean(axis=0)


def significance_table(
    rank_tables: Iterable[tuple[Mapping, pd.DataFrame]] | pd.DataFrame,
    *,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """``significance.csv``: every method against ``teacher`` and against ``init`` on the same queries.

    Per-query values come from ranks (``per_query_values``) and are averaged over a method's seeds.
    For each model, benchmark, language, task and metric, each method (``init`` and the KD methods)
    is compared with ``teacher`` and each KD method with ``init`` on the queries both have, with the
    image-level paired sign-flip test ``stats.paired_test`` (``clusters`` = the queries' images;
    ``diff = mean(a) - mean(b)``, method minus reference). p-values are Holm-adjusted across
    languages (the family: one model, benchmark, task, metric, method and reference);
    ``significant = p_adjusted < alpha``; ``correction = "holm"``; ``diff_holm_low``/``_high``: the
    interval of ``diff`` at the row's Holm level (``holm_level``, ``stats.sign_flip_interval``).
    """
    values = per_query_values(concat_ranks(rank_tables))
    if values.empty:
        return pd.DataFrame(columns=SIGNIFICANCE_COLUMNS)
    records, pairs = [], []
    for key, images, systems in query_blocks(values, pooled=False):
        column = {m: _seed_mean(x) for m, x in systems.items()}
        for reference in REFERENCES:
            if reference not in column:
                continue
            for method in method_order(column):
                if method == reference or method == "teacher" or (reference == "init" and method in REFERENCES):
                    continue
                both = ~(np.isnan(column[method]) | np.isnan(column[reference]))
                pair = (column[method][both], column[reference][both], images[both])
                diff, p = stats.paired_test(*pair) if both.any() else (np.nan, np.nan)
                pairs.append(pair)
                records.append(dict(key, method=method, reference=reference, diff=float(diff), p_value=float(p)))
    out = pd.DataFrame(records, columns=BLOCK_KEYS + ["method", "reference", "diff", "p_value"])
    out = _holm_intervals(out, ["model", "benchmark", "task", "metric", "method", "reference"], alpha,
                          lambda k, level: stats.sign_flip_interval(*pairs[k][:2], pairs[k][2], level=level))
    return sort_rows(out[SIGNIFICANCE_COLUMNS], ["model", "benchmark", "language", "task", "metric", "method", "reference"])


def comparisons_table(
    rank_tables: Iterable[tuple[Mapping, pd.DataFrame]] | pd.DataFrame,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """``comparisons.csv``: every pair of KD methods on the same queries, per language and pooled.

    For each model, benchmark, task and metric, each pair ``method_a`` before ``method_b`` (method
    order) is compared in every language and over all languages' queries together (``language =
    "pooled"``, an image's queries in every language one cluster), on the queries both have:
    ``diff = mean_a - mean_b`` (per-query values averaged over seeds) with its 95% interval
    (``diff_low``/``_high``; over seeds and images when both methods have 2+ seeds, ``ci_over``;
    ``stats.resampled_means``), the retentions ``mean / teacher`` on those queries and the interval
    of their difference, the image-level paired sign-flip test, its Holm adjustment and the
    interval of ``diff`` at the row's Holm level (``diff_holm_low``/``_high``, over images: the
    test's own unit, so it excludes 0 exactly where the row is significant). The Holm family: all
    method pairs x languages (pooled included) of one model, benchmark, task and metric
    (docs/analysis.md).
    """
    values = per_query_values(concat_ranks(rank_tables))
    if values.empty:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    records, pairs = [], []
    nan2 = (np.nan, np.nan)
    for key, images, systems in query_blocks(values):
        methods = method_order(m for m in systems if m not in REFERENCES)
        teacher = systems.get("teacher")
        present = {m: ~np.isnan(systems[m]).any(axis=0) for m in methods}
        for i, a in enumerate(methods):
            for b in methods[i + 1:]:
                mask = present[a] & present[b]
                va, vb = _seed_mean(systems[a][:, mask]), _seed_mean(systems[b][:, mask])
                ref = None if teacher is None or np.isnan(teacher[:, mask]).any() else teacher[:, mask]
                diff, p = stats.paired_test(va, vb, images[mask])
                (low, high), (r_low, r_high) = nan2, nan2
                if n_boot and mask.any():
                    samples = [systems[a][:, mask], systems[b][:, mask]] + ([] if ref is None else [ref])
                    draws = stats.resampled_means(samples, images[mask], n_boot=n_boot, seed=seed)
                    low, high = stats.percentile_interval(draws[0] - draws[1])
                    if ref is not None and (draws[2] > 0).all():
                        r_low, r_high = stats.percentile_interval((draws[0] - draws[1]) / draws[2])
                t_mean = np.nan if ref is None or ref.mean() <= 0 else ref.mean()
                over = OVER_SEEDS if min(systems[a].shape[0], systems[b].shape[0]) > 1 else OVER_IMAGES
                pairs.append((va, vb, images[mask]))
                records.append(dict(key, method_a=a, method_b=b, n_queries=int(mask.sum()),
                                    mean_a=va.mean(), mean_b=vb.mean(), diff=diff, diff_low=low, diff_high=high,
                                    retention_a=va.mean() / t_mean, retention_b=vb.mean() / t_mean,
                                    retention_diff=diff / t_mean, retention_diff_low=r_low,
                                    retention_diff_high=r_high, p_value=p, ci_over=over))
    out = pd.DataFrame(records, columns=[c for c in COMPARISON_COLUMNS
                                         if c not in ("p_adjusted", "significant", "correction", *HOLM_INTERVAL_COLUMNS)])
    out = _holm_intervals(out, ["model", "benchmark", "task", "metric"], alpha,
                          lambda k, level: stats.sign_flip_interval(*pairs[k][:2], pairs[k][2], level=level))
    return sort_rows(out[COMPARISON_COLUMNS], ["model", "benchmark", "language", "task", "metric"])
