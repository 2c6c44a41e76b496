"""Tidy result tables: metrics, summaries over seeds, chance and ceiling, significance, comparisons.

Pure pandas/numpy (no torch): these functions run in light aggregation jobs.
Column layouts follow the table contracts in ``docs/internals.md``.
"""

from __future__ import annotations

import os
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from mvlm_distill.definitions import (
    DEFAULT_PROTOCOL, METRIC_ORDER, METRICS, RANK_COLUMNS, REFERENCES, TASKS, metric_values,
)

KEY_COLUMNS = ["model", "family", "method", "seed", "benchmark", "language"]
# queries, ties: the retrieval protocol of the value (definitions.DEFAULT_PROTOCOL for score files without them)
SCORE_COLUMNS = ["task", "metric", "value", "ci_low", "ci_high", "n_queries", "queries", "ties"]
METRICS_COLUMNS = KEY_COLUMNS + SCORE_COLUMNS
SUMMARY_KEYS = ["model", "method", "benchmark", "language", "task", "metric"]
SUMMARY_COLUMNS = SUMMARY_KEYS + ["mean", "std", "n_seeds", "teacher", "init", "retention"]
SIGNIFICANCE_COLUMNS = [
    "model", "benchmark", "language", "task", "metric", "method", "reference",
    "diff", "p_value", "p_adjusted", "significant", "correction",
]
COMPARISON_COLUMNS = [
    "model", "benchmark", "language", "task", "metric", "method_a", "method_b", "n_queries",
    "mean_a", "mean_b", "diff", "diff_low", "diff_high", "retention_a", "retention_b",
    "retention_diff", "retention_diff_low", "retention_diff_high",
    "p_value", "p_adjusted", "significant", "correction",
]
POOLED = "pooled"  # the language of comparisons over all languages' queries together
CONSISTENCY_COLUMNS = ["model", "method", "seed", "benchmark", "language", "metric", "value"]
CLUSTERING_COLUMNS = ["model", "method", "seed", "benchmark", "metric", "value", "random_baseline", "perfect_reference"]
PARAMETERS_COLUMNS = ["model", "role", "text_layers", "text_parameters", "total_parameters"]
PROJECTION_COLUMNS = ["model", "method", "language", "parallel_id", "x", "y"]
BOUNDS_COLUMNS = ["benchmark", "language", "task", "metric", "chance", "ceiling"]
# columns read as text (ids keep leading zeros, language codes such as "no" stay codes)
TEXT_COLUMNS = (
    "model", "family", "method", "benchmark", "language", "task", "metric", "role", "reference", "correction",
    "queries", "ties",
    "query_id", "caption_id", "image_id", "question_id", "parallel_id",
)


# ----------------------------------------------------------------------------- ordering


def method_rank(method: str) -> tuple[int, str]:
    """Sort key for methods: ``teacher``, ``init``, then KD methods by name."""
    if method == "teacher":
        return (0, "")
    if method == "init":
        return (1, "")
    return (2, str(method))


def method_order(methods: Iterable[str]) -> list[str]:
    return sorted(set(methods), key=method_rank)


def sort_rows(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Stable, deterministic sort: methods by ``method_rank``, tasks and metrics in contract order."""
    if frame.empty:
        return frame.reset_index(drop=True)
    keys = {}
    for col in columns:
        if col not in frame.columns:
            continue
        s = frame[col]
        if col == "method":
            keys[col] = s.map(lambda m: method_rank(m))
        elif col == "task":
            keys[col] = s.map(lambda t: (TASKS.index(t), "") if t in TASKS else (len(TASKS), str(t)))
        elif col == "metric":
            keys[col] = s.map(
                lambda m: (METRIC_ORDER.index(m), "") if m in METRIC_ORDER else (len(METRIC_ORDER), str(m))
            )
        elif col == "language":
            # the pseudo-language "pooled" goes last
            keys[col] = s.map(lambda lang: (1, "") if lang == POOLED else (0, str(lang)))
        elif col == "seed":
            keys[col] = s.map(lambda v: -1 if pd.isna(v) else int(v))
        else:
            keys[col] = s.astype(str)
    rows = list(zip(*(keys[c].tolist() for c in keys)))
    order = sorted(range(len(frame)), key=rows.__getitem__)
    return frame.iloc[order].reset_index(drop=True)


def _seed_series(values: pd.Series, methods: pd.Series) -> pd.Series:
    seeds = pd.to_numeric(values, errors="coerce").astype("Int64")
    seeds[methods.isin(REFERENCES).to_numpy()] = pd.NA
    return seeds


# ----------------------------------------------------------------------------- metrics


def aggregate_metrics(score_tables: Iterable[tuple[Mapping, pd.DataFrame]]) -> pd.DataFrame:
    """Stack per-language metric tables into the tidy ``metrics.csv``.

    Each item is ``(keys, table)``: ``keys`` has ``model, family, method, seed, benchmark, language``
    (``seed`` may be missing for the references), ``table`` has ``task, metric, value, ci_low, ci_high,
    n_queries``. ``seed`` is left empty (NA) for ``teacher`` and ``init``. Rows are sorted by model,
    method (teacher, init, then by name), seed, benchmark, language, task, metric.
    """
    frames = []
    for keys, table in score_tables:
        missing = [k for k in KEY_COLUMNS if k not in keys and k != "seed"]
        if missing:
            raise ValueError(f"score table keys lack {', '.join(missing)}: {dict(keys)}")
        table = table.assign(**{k: v for k, v in DEFAULT_PROTOCOL.items() if k not in table.columns})
        absent = [c for c in SCORE_COLUMNS if c not in table.columns]
        if absent:
            raise ValueError(f"score table for {dict(keys)} lacks columns {', '.join(absent)}")
        t = table.loc[:, SCORE_COLUMNS].copy()
        for k in KEY_COLUMNS:
            t[k] = keys.get(k)
        frames.append(t)
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="Int64" if c == "seed" else object) for c in METRICS_COLUMNS})
    out = pd.concat(frames, ignore_index=True)[METRICS_COLUMNS]
    out["seed"] = _seed_series(out["seed"], out["method"])
    for col in ("value", "ci_low", "ci_high"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    out["n_queries"] = pd.to_numeric(out["n_queries"], errors="coerce").astype("Int64")
    dup = out.duplicated(["model", "method", "seed", "benchmark", "language", "task", "metric"], keep=False)
    if dup.any():
        first = out[dup].iloc[0]
        raise ValueError(
            "metrics given twice for "
            f"model={first['model']} method={first['method']} seed={first['seed']} "
            f"benchmark={first['benchmark']} language={first['language']} {first['task']} {first['metric']}"
        )
    return sort_rows(out, ["model", "method", "seed", "benchmark", "language", "task", "metric"])


def paired(keys: Sequence[Mapping], paths: Sequence, what: str) -> list[tuple[Mapping, object]]:
    """``(keys, path)`` pairs of a rule's input list and the key table it gets beside it (a param)."""
    if len(keys) != len(paths):
        raise ValueError(f"{len(paths)} {what} given with {len(keys)} keys: the rule's key table and inputs disagree")
    return list(zip(keys, paths))


def read_table(path: str | os.PathLike, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read one of the result CSVs; only empty cells are NA (so language codes like ``no`` survive)."""
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={c: str for c in TEXT_COLUMNS})
    if "seed" in frame.columns:
        frame["seed"] = pd.to_numeric(frame["seed"], errors="coerce").astype("Int64")
    if columns is not None:
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            raise ValueError(f"{path}: missing columns {', '.join(absent)}")
    return frame


# ----------------------------------------------------------------------------- summary


def summarize(metrics: pd.DataFrame) -> pd.DataFrame:
    """``summary.csv``: mean, std (ddof=1; empty with one seed) and n_seeds over seeds.

    One row per model, method, benchmark, language, task, metric; ``teacher`` and ``init`` are the
    reference values for the same model/benchmark/language/metric and ``retention = mean / teacher``
    (NA where the teacher scores 0). Reference rows themselves have ``n_seeds = 1``.
    """
    if metrics.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    grouped = metrics.groupby(SUMMARY_KEYS, sort=False, dropna=False)["value"]
    out = grouped.agg(mean="mean", std="std", n_seeds="count").reset_index()
    out["n_seeds"] = out["n_seeds"].astype(int)
    join = ["model", "benchmark", "language", "task", "metric"]
    for ref in REFERENCES:
        ref_rows = out.loc[out["method"] == ref, join + ["mean"]].rename(columns={"mean": ref})
        ref_rows = ref_rows.drop_duplicates(join)
        out = out.merge(ref_rows, on=join, how="left")
    teacher = out["teacher"].astype(float)
    out["retention"] = np.where(teacher > 0, out["mean"].astype(float) / teacher.where(teacher > 0, 1.0), np.nan)
    return sort_rows(out[SUMMARY_COLUMNS], SUMMARY_KEYS)


# ----------------------------------------------------------------------------- bounds


def chance_values(ranks: pd.DataFrame) -> pd.DataFrame:
    """Per query and metric, the expected value of a random ranking: the metric's mean over every
    rank 1..n_candidates (a random scorer ranks the right item uniformly)."""

    def expected(sub: pd.DataFrame, metric: str) -> np.ndarray:
        n = sub["n_candidates"].to_numpy(dtype=int)
        means = {c: metric_values(np.arange(1, c + 1), metric).mean() for c in np.unique(n)}
        return np.array([means[c] for c in n], dtype=float)

    return _per_query(ranks, expected)


def bounds_table(rank_tables: Iterable[tuple[Mapping, pd.DataFrame]],
                 ceilings: Mapping[str, Mapping | None]) -> pd.DataFrame:
    """``bounds.csv``: what each value is read against, per benchmark, language, task and metric.

    ``chance`` is the mean over the queries of a random ranking's expected value (``chance_values``;
    the queries and candidate counts are the same for every row, the first row's are used);
    ``ceiling`` is the benchmark's ``meta.json`` ceiling (``by_language``), empty where it has none.
    """
    frames = []
    for keys, table in rank_tables:
        frames.append(table.loc[:, list(RANK_COLUMNS)].assign(benchmark=keys["benchmark"], language=keys["language"]))
    if not frames:
        return pd.DataFrame(columns=BOUNDS_COLUMNS)
    ranks = pd.concat(frames, ignore_index=True).drop_duplicates(["benchmark", "language", "task", "query_id"])
    chance = chance_values(ranks).groupby(["benchmark", "language", "task", "metric"], sort=False)["value"].mean()
    out = chance.rename("chance").reset_index()

    def ceiling(row):
        by_language = ((ceilings.get(row.benchmark) or {}).get("by_language") or {})
        return by_language.get(row.language, {}).get(row.task, {}).get(row.metric, np.nan)

    out["ceiling"] = [float(ceiling(r)) for r in out.itertuples(index=False)]
    return sort_rows(out[BOUNDS_COLUMNS], ["benchmark", "language", "task", "metric"])


# ----------------------------------------------------------------------------- significance


def concat_ranks(rank_tables: Iterable[tuple[Mapping, pd.DataFrame]] | pd.DataFrame) -> pd.DataFrame:
    """One long ranks table with ``model, method, seed, benchmark, language, task, query_id, rank``.

    Accepts either such a frame or ``(keys, ranks)`` pairs like ``aggregate_metrics``
    (keys: model, method, seed, benchmark, language; ranks: a ``*.ranks.csv`` table).
    """
    if isinstance(rank_tables, pd.DataFrame):
        out = rank_tables.copy()
    else:
        frames = []
        for keys, table in rank_tables:
            t = table.loc[:, ["task", "query_id", "rank"]].copy()
            for k in ("model", "method", "seed", "benchmark", "language"):
                if k not in keys and k != "seed":
                    raise ValueError(f"ranks keys lack {k}: {dict(keys)}")
                t[k] = keys.get(k)
            frames.append(t)
        if not frames:
            return pd.DataFrame(columns=["model", "method", "seed", "benchmark", "language", "task", "query_id", "rank"])
        out = pd.concat(frames, ignore_index=True)
    out["seed"] = _seed_series(out["seed"], out["method"])
    out["query_id"] = out["query_id"].astype(str)
    out["rank"] = pd.to_numeric(out["rank"]).astype(int)
    return out


def per_query_values(ranks: pd.DataFrame) -> pd.DataFrame:
    """Per-query metric values from ranks (``definitions.metric_values``) for every metric of each task.

    Input: a long ranks table (``concat_ranks``); output: the same keys plus ``metric`` and ``value``.
    """
    return _per_query(ranks, lambda sub, metric: metric_values(sub["rank"].to_numpy(), metric))


def _per_query(ranks: pd.DataFrame, value) -> pd.DataFrame:
    """The keys of ``ranks`` with ``metric`` and ``value(rows of one task, metric)`` for each metric."""
    keys = [c for c in ranks.columns if c not in ("rank", "n_candidates")]
    frames = [
        ranks.loc[ranks["task"] == task, keys].assign(metric=metric, value=value(ranks[ranks["task"] == task], metric))
        for task, metrics in METRICS.items() if (ranks["task"] == task).any() for metric in metrics
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=keys + ["metric", "value"])


def significance_table(
    rank_tables: Iterable[tuple[Mapping, pd.DataFrame]] | pd.DataFrame,
    *,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """``significance.csv``: every method against ``teacher`` and against ``init`` on the same queries.

    Per-query values come from ranks (``per_query_values``) and are averaged over a method's seeds.
    For each model, benchmark, language, task and metric, each method (``init`` and the KD methods)
    is compared with ``teacher`` and each KD method with ``init`` on the queries both have, with
    the exact paired sign-flip test ``stats.paired_test`` (``diff = mean(a) - mean(b)``, method minus
    reference). p-values are Holm-adjusted across languages (per model, benchmark, task, metric,
    method and reference); ``significant = p_adjusted < alpha``; ``correction = "holm"``.
    """
    from mvlm_distill.evaluate import stats

    ranks = concat_ranks(rank_tables)
    values = per_query_values(ranks)
    if values.empty:
        return pd.DataFrame(columns=SIGNIFICANCE_COLUMNS)
    group = ["model", "benchmark", "language", "task", "metric"]
    per_query = values.groupby(group + ["method", "query_id"], sort=False)["value"].mean()
    wide = per_query.unstack("method")
    records = []
    for key, block in wide.groupby(level=group, sort=False):
        present = [m for m in block.columns if block[m].notna().any()]
        column = {m: block[m].to_numpy(dtype=float) for m in present}
        for reference in REFERENCES:
            if reference not in present:
                continue
            for method in method_order(present):
                if method == reference or method == "teacher" or (reference == "init" and method in REFERENCES):
                    continue
                both = ~(np.isnan(column[method]) | np.isnan(column[reference]))
                if not both.any():
                    diff, p = np.nan, np.nan
                else:
                    diff, p = stats.paired_test(column[method][both], column[reference][both])
                records.append(dict(zip(group, key), method=method, reference=reference,
                                    diff=float(diff), p_value=float(p)))
    out = pd.DataFrame(records, columns=group + ["method", "reference", "diff", "p_value"])
    out["p_adjusted"] = np.nan
    family = ["model", "benchmark", "task", "metric", "method", "reference"]
    for _, idx in out.groupby(family, sort=False).groups.items():
        p = out.loc[idx, "p_value"]
        ok = p.notna()
        if ok.any():
            adjusted = np.asarray(stats.holm(p[ok].to_numpy(dtype=float)), dtype=float)
            out.loc[p[ok].index, "p_adjusted"] = adjusted
    out["significant"] = (out["p_adjusted"] < alpha).fillna(False).astype(bool)
    out["correction"] = "holm"
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
    "pooled"``), on the queries both have (per-query values averaged over seeds): ``diff = mean_a -
    mean_b`` with a paired-bootstrap interval (``stats.paired_bootstrap_cis``), the retentions
    ``mean / teacher`` on those queries and the interval of their difference, and the paired
    sign-flip test. The family of the Holm correction: all method pairs x languages (pooled
    included) of one model, benchmark, task and metric (docs/analysis.md).
    """
    from mvlm_distill.evaluate import stats

    values = per_query_values(concat_ranks(rank_tables))
    if values.empty:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    group = ["model", "benchmark", "language", "task", "metric"]
    per_query = values.groupby(group + ["method", "query_id"], sort=False)["value"].mean().unstack("method")
    pooled = per_query.reset_index()
    pooled["query_id"] = pooled["language"].astype(str) + "/" + pooled["query_id"].astype(str)
    pooled["language"] = POOLED
    per_query = pd.concat([per_query, pooled.set_index(group + ["query_id"])])
    records = []
    for key, block in per_query.groupby(level=group, sort=False):
        methods = method_order(m for m in block.columns if m not in REFERENCES and block[m].notna().any())
        column = {m: block[m].to_numpy(dtype=float) for m in methods}
        teacher = block["teacher"].to_numpy(dtype=float) if "teacher" in block.columns else None
        pairs = [(a, b) for i, a in enumerate(methods) for b in methods[i + 1:]]
        # pairs on the same queries share one set of bootstrap resamples (the draws depend only on
        # the query count and the seed, so each pair's interval is what it would be alone)
        shared: dict[bytes, list[int]] = {}
        masks = []
        for k, (a, b) in enumerate(pairs):
            mask = ~(np.isnan(column[a]) | np.isnan(column[b]))
            masks.append(mask)
            shared.setdefault(mask.tobytes(), []).append(k)
        intervals = {}
        for members in shared.values():
            mask = masks[members[0]]
            ref = None if teacher is None or np.isnan(teacher[mask]).any() else teacher[mask]
            cis = (stats.paired_bootstrap_cis_many([column[pairs[k][0]][mask] - column[pairs[k][1]][mask] for k in members],
                                                   ref, n_boot=n_boot, seed=seed)
                   if n_boot else [((np.nan, np.nan), (np.nan, np.nan))] * len(members))
            intervals.update(zip(members, cis))
        for k, (a, b) in enumerate(pairs):
            mask = masks[k]
            va, vb = column[a][mask], column[b][mask]
            ref = None if teacher is None or np.isnan(teacher[mask]).any() else teacher[mask]
            diff, p = stats.paired_test(va, vb)
            (low, high), (r_low, r_high) = intervals[k]
            t_mean = np.nan if ref is None or ref.mean() <= 0 else ref.mean()
            records.append(dict(zip(group, key), method_a=a, method_b=b, n_queries=int(mask.sum()),
                                mean_a=va.mean(), mean_b=vb.mean(), diff=diff, diff_low=low, diff_high=high,
                                retention_a=va.mean() / t_mean, retention_b=vb.mean() / t_mean,
                                retention_diff=diff / t_mean, retention_diff_low=r_low,
                                retention_diff_high=r_high, p_value=p))
    out = pd.DataFrame(records, columns=COMPARISON_COLUMNS[:-3])
    out["p_adjusted"] = np.nan
    for _, idx in out.groupby(["model", "benchmark", "task", "metric"], sort=False).groups.items():
        p = out.loc[idx, "p_value"]
        ok = p.notna()
        if ok.any():
            out.loc[p[ok].index, "p_adjusted"] = stats.holm(p[ok].to_numpy(dtype=float))
    out["significant"] = (out["p_adjusted"] < alpha).fillna(False).astype(bool)
    out["correction"] = "holm"
    return sort_rows(out[COMPARISON_COLUMNS], ["model", "benchmark", "language", "task", "metric"])
