"""The result tables' contracts and the aggregation of score files into them.

The contracts: each table's column list (``*_COLUMNS``, described in docs/formats.md, "Result
tables", and checked against it by tests/test_docs.py), the row order (``sort_rows``) and how the
CSVs are read back (``read_table``). The aggregation: metrics, summaries over seeds with their
intervals, resource groups, chance and ceiling, from the per-query values of the rank tables
(``per_query_values``). The paired tests of ``significance.csv`` and ``comparisons.csv`` are in
``significance.py``.

Pure pandas/numpy (no torch): these functions run in light aggregation jobs.
"""

from __future__ import annotations

import os
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from mvlm_distill.definitions import (
    DEFAULT_PROTOCOL, METRIC_ORDER, METRICS, RANK_COLUMNS, REFERENCES, TASKS, expected_metric_values, metric_values,
)

KEY_COLUMNS = ["model", "family", "method", "seed", "benchmark", "language"]
# queries, ties: the retrieval protocol of the value (definitions.DEFAULT_PROTOCOL for score files without them)
SCORE_COLUMNS = ["task", "metric", "value", "ci_low", "ci_high", "n_queries", "queries", "ties"]
METRICS_COLUMNS = KEY_COLUMNS + SCORE_COLUMNS
SUMMARY_KEYS = ["model", "method", "benchmark", "language", "task", "metric"]
# ci_low/ci_high: 95% interval of the mean over seeds and images (ci_over says which); retention = mean /
# teacher over the same queries with its interval; retention_above_chance = (mean - chance) / (teacher - chance)
SUMMARY_COLUMNS = SUMMARY_KEYS + [
    "mean", "std", "n_seeds", "ci_low", "ci_high", "ci_over", "teacher", "init", "chance",
    "retention", "retention_low", "retention_high",
    "retention_above_chance", "retention_above_chance_low", "retention_above_chance_high",
]
# holm_level: the confidence level of the Holm step that judged the row; diff_holm_low/high: the interval of
# diff at that level, inverting the same test (it excludes 0 exactly where the row is significant)
HOLM_INTERVAL_COLUMNS = ["holm_level", "diff_holm_low", "diff_holm_high"]
SIGNIFICANCE_COLUMNS = [
    "model", "benchmark", "language", "task", "metric", "method", "reference",
    "diff", "p_value", "p_adjusted", "significant", "correction", *HOLM_INTERVAL_COLUMNS,
]
COMPARISON_COLUMNS = [
    "model", "benchmark", "language", "task", "metric", "method_a", "method_b", "n_queries",
    "mean_a", "mean_b", "diff", "diff_low", "diff_high", "retention_a", "retention_b",
    "retention_diff", "retention_diff_low", "retention_diff_high",
    "p_value", "p_adjusted", "significant", "correction", "ci_over", *HOLM_INTERVAL_COLUMNS,
]
OVER_IMAGES, OVER_SEEDS = "images", "seeds and images"  # what a 95% interval resamples
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


def summarize(metrics: pd.DataFrame, rank_tables=None, *, n_boot: int = 1000, seed: int = 0,
              level: float = 0.95) -> pd.DataFrame:
    """``summary.csv``: mean, std (ddof=1; empty with one seed) and n_seeds over seeds, with intervals.

    One row per model, method, benchmark, language, task, metric; ``teacher``, ``init`` are the
    reference values for the same model/benchmark/language/metric and ``retention = mean / teacher``,
    the ratio of the means over the same queries (NA where the teacher scores 0): the study's one
    retention. Reference rows themselves have ``n_seeds = 1``.

    With ``rank_tables`` (as ``concat_ranks`` takes them) it adds ``language = "pooled"`` rows (all
    languages' queries, each once) and the intervals: ``ci_low``/``ci_high`` of the mean, over
    seeds and images when the row has 2+ seeds (``ci_over``; ``stats.resampled_means``: seeds, then
    images), over images otherwise; ``retention_low``/``_high`` from the same resamples (the
    teacher's values drawn with the same images); ``chance`` (``chance_values``, the same queries)
    and ``retention_above_chance = (mean - chance) / (teacher - chance)`` with its interval.
    """
    if metrics.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    grouped = metrics.groupby(SUMMARY_KEYS, sort=False, dropna=False)["value"]
    out = grouped.agg(mean="mean", std="std", n_seeds="count").reset_index()
    if rank_tables is not None:
        intervals = _summary_intervals(concat_ranks(rank_tables), n_boot=n_boot, seed=seed, level=level)
        pooled = intervals[intervals["language"] == POOLED]
        out = pd.concat([out, pooled[SUMMARY_KEYS + ["mean", "std", "n_seeds"]]], ignore_index=True)
        out = out.merge(intervals.drop(columns=["mean", "std", "n_seeds"]), on=SUMMARY_KEYS, how="left")
    out["n_seeds"] = out["n_seeds"].astype(int)
    join = ["model", "benchmark", "language", "task", "metric"]
    for ref in REFERENCES:
        ref_rows = out.loc[out["method"] == ref, join + ["mean"]].rename(columns={"mean": ref})
        ref_rows = ref_rows.drop_duplicates(join)
        out = out.merge(ref_rows, on=join, how="left")
    teacher = out["teacher"].astype(float)
    out["retention"] = np.where(teacher > 0, out["mean"].astype(float) / teacher.where(teacher > 0, 1.0), np.nan)
    if "chance" in out.columns:
        above = teacher - out["chance"].astype(float)
        out["retention_above_chance"] = (out["mean"].astype(float) - out["chance"]) / above.where(above > 0)
    return sort_rows(out.reindex(columns=SUMMARY_COLUMNS), SUMMARY_KEYS)


RESOURCE_GROUP_COLUMNS = ["model", "method", "benchmark", "group", "languages", "task", "metric", "mean", "std",
                          "n_seeds", "ci_low", "ci_high", "ci_over", "teacher", "retention", "retention_low",
                          "retention_high"]


def resource_group_table(rank_tables, groups: Mapping[str, Sequence[str]], *, n_boot: int = 1000, seed: int = 0,
                         level: float = 0.95) -> pd.DataFrame:
    """``resource_groups.csv``: each resource level's languages together, as ``summarize``'s pooled rows.

    ``groups`` maps each level (highest first) to its languages. Per model, method, benchmark, group,
    task and metric: the mean over the group's queries that the benchmark has (each once; ``languages``
    names them), the std over seeds, the interval over seeds and images (an image's queries in the
    group's languages one cluster), the teacher's mean on the same queries and the retention ``mean /
    teacher`` with its interval. Rows follow the levels' order.
    """
    ranks = concat_ranks(rank_tables)
    of = {code: group for group, codes in groups.items() for code in codes}
    if ranks.empty or not ranks["language"].isin(of).any():
        return pd.DataFrame(columns=RESOURCE_GROUP_COLUMNS)
    out = _summary_intervals(ranks, n_boot=n_boot, seed=seed, level=level, groups=of)
    out = out.rename(columns={"language": "group"})
    scored = ranks.drop_duplicates(["benchmark", "language"])
    names = {(b, g): " ".join(code for code in groups[g] if code in set(scored.loc[scored["benchmark"] == b, "language"]))
             for b in scored["benchmark"].unique() for g in groups}
    out["languages"] = [names.get((b, g), "") for b, g in zip(out["benchmark"], out["group"])]
    join = ["model", "benchmark", "group", "task", "metric"]
    teacher = out.loc[out["method"] == "teacher", join + ["mean"]].rename(columns={"mean": "teacher"})
    out = out.merge(teacher.drop_duplicates(join), on=join, how="left")
    t = out["teacher"].astype(float)
    out["retention"] = np.where(t > 0, out["mean"].astype(float) / t.where(t > 0, 1.0), np.nan)
    out["level"] = out["group"].map({g: f"{i:04d}" for i, g in enumerate(groups)})
    out = sort_rows(out, ["model", "benchmark", "method", "level", "task", "metric"])
    return out[RESOURCE_GROUP_COLUMNS]


_CHANCE = "\0chance"  # the pseudo-method that carries each query's chance value through the blocks


def _summary_intervals(ranks: pd.DataFrame, *, n_boot: int, seed: int, level: float,
                       groups: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The interval columns of ``summarize`` per row (pooled rows with their mean, std, n_seeds).

    With ``groups`` (language -> group), one row per group instead of per language: the group's
    languages' queries together, an image's queries in all of them one cluster."""
    from mvlm_distill.evaluate import stats

    values = per_query_values(ranks)
    reference = ranks[ranks["method"] == "teacher"]
    chance = chance_values(reference if len(reference) else ranks).assign(method=_CHANCE, seed=pd.NA)
    chance = chance.drop_duplicates(["model", "benchmark", "language", "task", "query_id", "metric"])
    both = pd.concat([values, chance], ignore_index=True)
    if groups is not None:
        both = both[both["language"].isin(groups)]
        both = both.assign(query_id=both["language"].astype(str) + "/" + both["query_id"].astype(str),
                           language=both["language"].map(groups))
    records = []
    for key, images, systems in query_blocks(both, pooled=groups is None):
        teacher, chance_row = systems.get("teacher"), systems.pop(_CHANCE, None)
        for method, matrix in systems.items():
            parts = [matrix] + [x for x in (teacher, chance_row) if x is not None]
            mask = ~np.isnan(np.vstack(parts)).any(axis=0)
            seed_means = matrix[:, mask].mean(axis=1)
            row = dict(key, method=method, mean=seed_means.mean(), n_seeds=matrix.shape[0],
                       std=seed_means.std(ddof=1) if matrix.shape[0] > 1 else np.nan,
                       ci_over=OVER_SEEDS if matrix.shape[0] > 1 else OVER_IMAGES,
                       chance=np.nan if chance_row is None else chance_row[0, mask].mean())
            if n_boot and mask.any():
                draws = stats.resampled_means([p[:, mask] for p in parts], images[mask], n_boot=n_boot, seed=seed)
                row["ci_low"], row["ci_high"] = stats.percentile_interval(draws[0], level)
                if teacher is not None and (draws[1] > 0).all():
                    row["retention_low"], row["retention_high"] = stats.percentile_interval(draws[0] / draws[1], level)
                    if chance_row is not None and (draws[1] > draws[2]).all():
                        row["retention_above_chance_low"], row["retention_above_chance_high"] = (
                            stats.percentile_interval((draws[0] - draws[2]) / (draws[1] - draws[2]), level))
            records.append(row)
    return pd.DataFrame(records).reindex(columns=SUMMARY_KEYS + [
        "mean", "std", "n_seeds", "ci_low", "ci_high", "ci_over", "chance", "retention_low", "retention_high",
        "retention_above_chance_low", "retention_above_chance_high"])


# ----------------------------------------------------------------------------- bounds


def chance_values(ranks: pd.DataFrame) -> pd.DataFrame:
    """Per query and metric, the expected value of a random ranking (``definitions.expected_metric_values``
    with every candidate tied): the right item's rank is uniform over 1..n_candidates for t2i and
    vqa; an i2t query has as many right captions as its image has t2i rows in the same table (the
    rank is that of the first of them among the other images' captions), so its chance is higher."""
    ranks = ranks.copy()
    ranks["own"] = 1
    if "image_id" in ranks.columns:
        keys = [c for c in ranks.columns if c not in ("task", "query_id", "rank", "n_candidates", "own")]
        captions = ranks[ranks["task"] == "t2i"].groupby(keys, dropna=False).size().rename("captions")
        i2t = ranks["task"] == "i2t"
        own = ranks.loc[i2t, keys].merge(captions.reset_index(), on=keys, how="left")["captions"]
        ranks.loc[i2t, "own"] = own.fillna(1).astype(int).to_numpy()

    def expected(sub: pd.DataFrame, metric: str) -> np.ndarray:
        own = sub["own"].to_numpy(dtype=int)
        wrong = sub["n_candidates"].to_numpy(dtype=int) - 1
        return expected_metric_values(metric, np.zeros_like(own), wrong, own)

    return _per_query(ranks, expected).drop(columns="own")


def bounds_table(rank_tables: Iterable[tuple[Mapping, pd.DataFrame]],
                 ceilings: Mapping[str, Mapping | None]) -> pd.DataFrame:
    """``bounds.csv``: what each value is read against, per benchmark, language, task and metric.

    ``chance`` is the mean over the queries of a random ranking's expected value (``chance_values``;
    the queries and candidate counts are the same for every row, the first row's are used; i2t
    counts an image's own captions);
    ``ceiling`` is the benchmark's ``meta.json`` ceiling (``by_language``), empty where it has none.
    """
    frames = []
    for keys, table in rank_tables:
        frames.append(table.reindex(columns=RANK_COLUMNS).assign(benchmark=keys["benchmark"], language=keys["language"]))
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


# ----------------------------------------------------------------------------- per-query values


def concat_ranks(rank_tables: Iterable[tuple[Mapping, pd.DataFrame]] | pd.DataFrame) -> pd.DataFrame:
    """One long ranks table with ``model, method, seed, benchmark, language, task, query_id, image_id,
    rank, n_candidates``.

    Accepts either such a frame or ``(keys, ranks)`` pairs like ``aggregate_metrics``
    (keys: model, method, seed, benchmark, language; ranks: a ``*.ranks.csv`` table).
    """
    columns = ["model", "method", "seed", "benchmark", "language", "task", "query_id", "image_id", "rank",
               "n_candidates"]
    if isinstance(rank_tables, pd.DataFrame):
        out = rank_tables.copy()
    else:
        frames = []
        for keys, table in rank_tables:
            if "image_id" not in table.columns:
                raise ValueError(f"the ranks of {dict(keys)} have no image_id column: they were scored before images "
                                 "became the unit of inference, so rerun their score_language jobs")
            t = table.reindex(columns=["task", "query_id", "image_id", "rank", "n_candidates"])
            for k in ("model", "method", "seed", "benchmark", "language"):
                if k not in keys and k != "seed":
                    raise ValueError(f"ranks keys lack {k}: {dict(keys)}")
                t[k] = keys.get(k)
            frames.append(t)
        if not frames:
            return pd.DataFrame(columns=columns)
        out = pd.concat(frames, ignore_index=True)
    if "image_id" not in out.columns:
        raise ValueError("the ranks table has no image_id column: rerun its score_language jobs")
    out["seed"] = _seed_series(out["seed"], out["method"])
    out["query_id"] = out["query_id"].astype(str)
    out["image_id"] = out["image_id"].astype(str)
    out["rank"] = pd.to_numeric(out["rank"]).astype(int)
    return out


BLOCK_KEYS = ["model", "benchmark", "language", "task", "metric"]


def query_blocks(values: pd.DataFrame, pooled: bool = True):
    """Per model, benchmark, language, task and metric: ``(keys, images, systems)``, where ``images``
    codes each query's image (integers in the order of the image ids: the resampling and tests only
    ask which queries share an image, and integers spare them sorting strings on every call) and
    ``systems[method]`` is a (seeds, queries) array of per-query values (NaN where a seed lacks the
    query). With ``pooled``, also ``language = "pooled"``: every language's queries together, an
    image's queries in all languages one cluster."""
    if pooled and len(values):
        extra = values.assign(query_id=values["language"].astype(str) + "/" + values["query_id"].astype(str),
                              language=POOLED)
        values = pd.concat([values, extra], ignore_index=True)
    seeds = pd.to_numeric(values["seed"], errors="coerce").fillna(-1).astype(int)
    wide = (values.assign(seed=seeds)
            .set_index(BLOCK_KEYS + ["image_id", "query_id", "method", "seed"])["value"]
            .unstack(["method", "seed"]))
    for key, block in wide.groupby(level=BLOCK_KEYS, sort=False):
        block = block.dropna(axis=1, how="all")
        systems = {}
        for method in dict.fromkeys(block.columns.get_level_values(0)):
            systems[method] = block[method].to_numpy(dtype=float).T
        _, images = np.unique(block.index.get_level_values("image_id").to_numpy(), return_inverse=True)
        yield dict(zip(BLOCK_KEYS, key)), images.reshape(-1), systems


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
