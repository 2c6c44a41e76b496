"""One tidy DataFrame per report panel: every aggregate a page shows is computed here, nowhere else.

Inputs are the study's tables (``tables.py``, README: outputs); the templates only format what these
return. A view of a table that was not produced (None or empty) is an empty frame with its columns,
and the page says "not computed".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mvlm_distill.definitions import CONSISTENCY_METRICS, IMAGE_CONSISTENCY_METRICS, METRICS, REFERENCES, TASKS
from mvlm_distill.report.tables import method_order, sort_rows

# the metric that names a task's best method, and the one the stability panel follows
HEADLINE_METRICS = {"t2i": "R@10", "i2t": "R@10", "vqa": "acc@1"}
MEANS_PANEL = (("t2i", "R@1"), ("t2i", "R@10"), ("i2t", "R@10"), ("vqa", "acc@1"))
CONSISTENCY_ORDER = CONSISTENCY_METRICS + IMAGE_CONSISTENCY_METRICS
CLUSTERING_ORDER = ("nmi_image", "nmi_language", "ami_image", "ami_language", "silhouette_image")

SCORE_VIEW_COLUMNS = [
    "benchmark", "task", "model", "method", "metric", "mean", "std", "n_seeds", "ci_low", "ci_high",
    "n_queries", "teacher", "teacher_diff", "retention", "teacher_p", "teacher_p_adjusted", "teacher_significant",
    "init_diff", "init_p", "init_p_adjusted", "init_significant", "chance", "ceiling",
]
BEST_VIEW_COLUMNS = [
    "model", "benchmark", "task", "metric", "best", "best_mean", "runner_up", "runner_up_mean",
    "diff", "diff_low", "diff_high", "p_adjusted", "significant", "tied",
]
SEED_MEAN_COLUMNS = ["model", "benchmark", "method", "metric", "mean", "std", "n_seeds"]
CLUSTERING_REFERENCE_COLUMNS = ["benchmark", "metric", "random_baseline", "perfect_reference"]
MEANS_VIEW_COLUMNS = ["model", "benchmark", "method", "task", "metric", "mean", "std", "n_seeds", "teacher",
                      "retention"]
STABILITY_PARTS = ("teacher", "student", "change", "retention", "worst_language", "worst_retention",
                   "retention_std")
STABILITY_COLUMNS = ["model", "method", "benchmark", "n_languages"] + [
    f"{prefix}_{part}" for prefix in ("retrieval", "vqa") for part in STABILITY_PARTS]
SIGNIFICANCE_VIEW_COLUMNS = ["model", "benchmark", "method", "reference", "task", "metric", "gains", "losses"]
PARAMETER_VIEW_COLUMNS = ["model", "role", "text_layers", "text_parameters", "total_parameters",
                          "text_share", "total_share"]
RETENTION_PANELS = (("t2i", "R@10"), ("i2t", "R@10"), ("vqa", "acc@1"))


def _empty(frame: pd.DataFrame | None) -> bool:
    return frame is None or frame.empty


def ordered(values, order) -> list[str]:
    """``values`` in ``order`` first, the rest by name."""
    present = set(values)
    return [v for v in order if v in present] + sorted(present - set(order))


# ----------------------------------------------------------------------------- language page


def scores(summary: pd.DataFrame, metrics: pd.DataFrame | None, significance: pd.DataFrame | None,
           bounds: pd.DataFrame | None, language: str) -> pd.DataFrame:
    """Every model, method and metric in ``language``: mean over seeds, CI, change from the references.

    ``ci_low``/``ci_high`` are the per-seed bootstrap intervals averaged over seeds; ``teacher_diff``
    and ``init_diff`` are ``mean - reference`` with the paired test of ``significance.csv`` beside
    them (NA for the reference itself); ``chance``/``ceiling`` come from ``bounds.csv``.
    """
    s = summary[summary["language"] == language]
    if s.empty:
        return pd.DataFrame(columns=SCORE_VIEW_COLUMNS)
    keys = ["model", "method", "benchmark", "task", "metric"]
    out = s.copy()
    if not _empty(metrics):
        m = metrics[metrics["language"] == language]
        ci = m.groupby(keys, dropna=False).agg(ci_low=("ci_low", "mean"), ci_high=("ci_high", "mean"),
                                               n_queries=("n_queries", "max")).reset_index()
        out = out.merge(ci, on=keys, how="left")
    out["teacher_diff"] = np.where(out["method"] == "teacher", np.nan, out["mean"] - out["teacher"])
    out["init_diff"] = np.where(out["method"].isin(REFERENCES), np.nan, out["mean"] - out["init"])
    for reference in REFERENCES:
        columns = {"p_value": f"{reference}_p", "p_adjusted": f"{reference}_p_adjusted",
                   "significant": f"{reference}_significant"}
        if _empty(significance):
            out[list(columns.values())] = np.nan
            out[columns["significant"]] = False
            continue
        sig = significance[(significance["language"] == language) & (significance["reference"] == reference)]
        sig = sig[keys + list(columns)].rename(columns=columns)
        out = out.merge(sig, on=keys, how="left")
        out[columns["significant"]] = out[columns["significant"]].eq(True)  # untested: not significant
    if not _empty(bounds):
        b = bounds[bounds["language"] == language][["benchmark", "task", "metric", "chance", "ceiling"]]
        out = out.merge(b, on=["benchmark", "task", "metric"], how="left")
    out = out.reindex(columns=SCORE_VIEW_COLUMNS)
    return sort_rows(out, ["benchmark", "task", "model", "method", "metric"])


def best_method(comparisons: pd.DataFrame | None, language: str) -> pd.DataFrame:
    """Per model, benchmark and task: the KD method with the highest headline metric and its runner-up.

    ``diff`` (best minus runner-up), its paired-bootstrap interval and the Holm-adjusted p-value are
    those of the pair's row in ``comparisons.csv`` (the signs turned when the pair is stored b - a);
    ``tied`` when both have the same mean (then "best" is the first by name). ``language`` may be
    ``"pooled"`` (all languages' queries together).
    """
    if _empty(comparisons):
        return pd.DataFrame(columns=BEST_VIEW_COLUMNS)
    c = comparisons[comparisons["language"] == language]
    records = []
    for (model, benchmark, task), g in c.groupby(["model", "benchmark", "task"], sort=False):
        metric = HEADLINE_METRICS.get(task)
        g = g[g["metric"] == metric]
        if g.empty:
            continue
        means = dict(zip(g["method_a"], g["mean_a"])) | dict(zip(g["method_b"], g["mean_b"]))
        best, runner = sorted(means, key=lambda m: (-means[m], m))[:2]
        pair = g[((g["method_a"] == best) & (g["method_b"] == runner))
                 | ((g["method_a"] == runner) & (g["method_b"] == best))].iloc[0]
        sign = 1.0 if pair["method_a"] == best else -1.0
        low, high = sorted((sign * pair["diff_low"], sign * pair["diff_high"]))
        records.append(dict(model=model, benchmark=benchmark, task=task, metric=metric, best=best,
                            best_mean=means[best], runner_up=runner, runner_up_mean=means[runner],
                            diff=sign * pair["diff"], diff_low=low, diff_high=high,
                            p_adjusted=pair["p_adjusted"], significant=bool(pair["significant"]),
                            tied=bool(means[best] == means[runner])))
    return sort_rows(pd.DataFrame(records, columns=BEST_VIEW_COLUMNS), ["model", "benchmark", "task"])


def seed_means(frame: pd.DataFrame | None, order: tuple[str, ...] = ()) -> pd.DataFrame:
    """Mean and std over seeds per model, benchmark, method and metric (consistency, clustering).

    A frame with several languages is first averaged over its languages per seed. Metrics follow
    ``order``, then by name.
    """
    if _empty(frame):
        return pd.DataFrame(columns=SEED_MEAN_COLUMNS)
    keys = ["model", "benchmark", "method"]
    per_seed = frame.groupby(keys + ["seed", "metric"], dropna=False)["value"].mean().reset_index()
    out = per_seed.groupby(keys + ["metric"], dropna=False)["value"].agg(
        mean="mean", std="std", n_seeds="count").reset_index()
    return _by_metric(out, ["model", "benchmark", "method"], order)[SEED_MEAN_COLUMNS]


def _by_metric(frame: pd.DataFrame, keys: list[str], order: tuple[str, ...]) -> pd.DataFrame:
    """``frame`` sorted by ``keys`` (methods in method order), then metrics in ``order``."""
    rank = {m: i for i, m in enumerate(ordered(frame["metric"], order))}
    frame = frame.iloc[np.argsort(frame["metric"].map(rank).to_numpy(), kind="stable")]
    return sort_rows(frame, keys)


def consistency(consistency_table: pd.DataFrame | None, language: str | None) -> pd.DataFrame:
    """Consistency with English in ``language`` (None: mean over languages), over seeds."""
    frame = consistency_table
    if not _empty(frame) and language is not None:
        frame = frame[frame["language"] == language]
    return seed_means(frame, CONSISTENCY_ORDER)


def consistency_by_language(consistency_table: pd.DataFrame | None) -> pd.DataFrame:
    """Consistency with English per model, method, language and metric, mean over seeds."""
    if _empty(consistency_table):
        return pd.DataFrame(columns=["model", "method", "language", "metric", "value"])
    keys = ["model", "method", "language", "metric"]
    return consistency_table.groupby(keys, as_index=False, sort=False)["value"].mean()


def clustering(clustering_table: pd.DataFrame | None) -> pd.DataFrame:
    return seed_means(clustering_table, CLUSTERING_ORDER)


def clustering_references(clustering_table: pd.DataFrame | None) -> pd.DataFrame:
    """The random-clustering baseline and the perfect-clustering reference of each metric."""
    if _empty(clustering_table):
        return pd.DataFrame(columns=CLUSTERING_REFERENCE_COLUMNS)
    refs = clustering_table.dropna(subset=["random_baseline", "perfect_reference"], how="all")
    out = refs.groupby(["benchmark", "metric"])[["random_baseline", "perfect_reference"]].mean().reset_index()
    return _by_metric(out, ["benchmark"], CLUSTERING_ORDER)[CLUSTERING_REFERENCE_COLUMNS]


def retention(summary: pd.DataFrame, language: str) -> pd.DataFrame:
    """Retention of the non-teacher rows in ``language`` for the ``RETENTION_PANELS`` metrics."""
    s = summary[(summary["language"] == language) & (summary["method"] != "teacher")]
    s = s[[(t, m) in RETENTION_PANELS for t, m in zip(s["task"], s["metric"])]]
    return s.groupby(["model", "method", "task", "metric"], as_index=False, sort=False)["retention"].mean()


# ----------------------------------------------------------------------------- index page


def language_means(metrics: pd.DataFrame | None) -> pd.DataFrame:
    """Mean over languages, taken per seed, then mean/std over seeds; retention = ratio of the means.

    ``teacher`` is the teacher's mean over the same languages.
    """
    if _empty(metrics):
        return pd.DataFrame(columns=MEANS_VIEW_COLUMNS)
    keys = ["model", "benchmark", "method", "task", "metric"]
    per_seed = metrics.groupby(keys + ["seed"], dropna=False)["value"].mean().reset_index()
    out = per_seed.groupby(keys, dropna=False)["value"].agg(mean="mean", std="std", n_seeds="count").reset_index()
    teacher = out.loc[out["method"] == "teacher", ["model", "benchmark", "task", "metric", "mean"]]
    out = out.merge(teacher.rename(columns={"mean": "teacher"}), on=["model", "benchmark", "task", "metric"],
                    how="left")
    out["retention"] = out["mean"] / out["teacher"].where(out["teacher"] > 0)
    return sort_rows(out[MEANS_VIEW_COLUMNS], ["model", "benchmark", "method", "task", "metric"])


def headline_means(metrics: pd.DataFrame | None) -> pd.DataFrame:
    """The ``MEANS_PANEL`` metrics of ``language_means``, each labelled ``panel = "task metric"``."""
    means = language_means(metrics)
    keep = [(t, m) in MEANS_PANEL for t, m in zip(means["task"], means["metric"])]
    return means[keep].assign(panel=means["task"] + " " + means["metric"])


def _task_stability(summary: pd.DataFrame, task: str, metric: str, prefix: str) -> pd.DataFrame:
    rows = summary[(summary["task"] == task) & (summary["metric"] == metric)]
    records = []
    for (model, method, benchmark), g in rows.groupby(["model", "method", "benchmark"], sort=False):
        g = g.dropna(subset=["mean"])
        if g.empty:
            continue
        teacher, student = g["teacher"].astype(float).mean(), g["mean"].astype(float).mean()
        ret = g["retention"].astype(float)
        worst = g.loc[ret.idxmin()] if ret.notna().any() else None
        values = (teacher, student, student - teacher, student / teacher if teacher > 0 else np.nan,
                  None if worst is None else worst["language"],
                  np.nan if worst is None else float(worst["retention"]),
                  float(ret.std()) if ret.notna().sum() > 1 else np.nan)
        records.append({"model": model, "method": method, "benchmark": benchmark,
                        f"{prefix}_n": g["language"].nunique(),
                        **{f"{prefix}_{part}": v for part, v in zip(STABILITY_PARTS, values)}})
    return pd.DataFrame(records, columns=["model", "method", "benchmark", f"{prefix}_n"]
                        + [f"{prefix}_{part}" for part in STABILITY_PARTS])


def stability(summary: pd.DataFrame | None, retrieval: tuple[str, str] = ("t2i", "R@10"),
              vqa: tuple[str, str] = ("vqa", "acc@1")) -> pd.DataFrame:
    """Per model, method and benchmark: the change from the teacher in retrieval and VQA side by side.

    Each averaged over languages: ``*_teacher``/``*_student`` the means, ``*_change = student -
    teacher``, ``*_retention = student / teacher``, ``*_worst_language`` the language of lowest
    retention, ``*_retention_std`` the std (ddof=1) of the per-language retention. The teacher row
    is left out; VQA columns are NA when the benchmark has no VQA.
    """
    if _empty(summary):
        return pd.DataFrame(columns=STABILITY_COLUMNS)
    s = summary[summary["method"] != "teacher"]
    out = _task_stability(s, *retrieval, "retrieval").merge(
        _task_stability(s, *vqa, "vqa"), on=["model", "method", "benchmark"], how="outer")
    out["n_languages"] = out[["retrieval_n", "vqa_n"]].max(axis=1).fillna(0).astype(int)
    return sort_rows(out[STABILITY_COLUMNS], ["model", "benchmark", "method"])


def significance_overview(significance: pd.DataFrame | None,
                          picks: tuple[tuple[str, str], ...] = RETENTION_PANELS) -> pd.DataFrame:
    """Per model, benchmark, method, reference and headline metric: the languages of significant gains
    and losses (comma-separated codes; "none" when there is none, NA when the metric was not tested)."""
    if _empty(significance):
        return pd.DataFrame(columns=SIGNIFICANCE_VIEW_COLUMNS)
    records = []
    keys = ["model", "benchmark", "method", "reference"]
    for key, g in significance.groupby(keys, sort=False):
        for task, metric in picks:
            sub = g[(g["task"] == task) & (g["metric"] == metric)]
            if sub.empty:
                continue
            sig = sub[sub["significant"]]
            records.append(dict(zip(keys, key), task=task, metric=metric,
                                gains=", ".join(sorted(sig.loc[sig["diff"] > 0, "language"])) or "none",
                                losses=", ".join(sorted(sig.loc[sig["diff"] < 0, "language"])) or "none"))
    out = pd.DataFrame(records, columns=SIGNIFICANCE_VIEW_COLUMNS)
    return sort_rows(out, ["model", "benchmark", "method", "reference", "task", "metric"])


def parameters(parameters_table: pd.DataFrame | None) -> pd.DataFrame:
    """Parameter counts with each row's share of its model's teacher."""
    if _empty(parameters_table):
        return pd.DataFrame(columns=PARAMETER_VIEW_COLUMNS)
    p = parameters_table.copy()
    teacher = p[p["role"] == "teacher"].drop_duplicates("model").set_index("model")
    for part in ("text", "total"):
        ref = p["model"].map(teacher[f"{part}_parameters"]).astype(float)
        p[f"{part}_share"] = p[f"{part}_parameters"].astype(float) / ref.where(ref > 0)
    p["_role"] = (p["role"] != "teacher").astype(int)
    p = p.sort_values(["model", "_role", "role"], kind="mergesort")
    return p[PARAMETER_VIEW_COLUMNS].reset_index(drop=True)


def bounds(bounds_table: pd.DataFrame | None, language: str | None = None) -> pd.DataFrame:
    """Chance and ceiling per benchmark, task and metric (in ``language``; None: mean over languages)."""
    if _empty(bounds_table):
        return pd.DataFrame(columns=["benchmark", "task", "metric", "chance", "ceiling"])
    b = bounds_table if language is None else bounds_table[bounds_table["language"] == language]
    out = b.groupby(["benchmark", "task", "metric"], sort=False)[["chance", "ceiling"]].mean().reset_index()
    return sort_rows(out, ["benchmark", "task", "metric"])


def best_and_worst(summary: pd.DataFrame, task: str = "t2i", metric: str = "R@10") -> dict[str, tuple[str, str]]:
    """Per model: the KD methods with the highest and lowest retention of ``task metric`` over languages."""
    s = summary[(summary["task"] == task) & (summary["metric"] == metric) & (~summary["method"].isin(REFERENCES))]
    out = {}
    for model, g in s.groupby("model"):
        per_method = (g.groupby("method")["mean"].mean() / g.groupby("method")["teacher"].mean()).dropna()
        if not per_method.empty:
            per_method = per_method.sort_index()
            out[model] = (str(per_method.idxmax()), str(per_method.idxmin()))
    return out


def task_metrics(frame: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """The (task, metrics) present in ``frame``, in the contract's order."""
    out = []
    for task in ordered(frame["task"], TASKS):
        present = frame.loc[frame["task"] == task, "metric"]
        out.append((task, ordered(present, METRICS.get(task, ()))))
    return out


def methods(frame: pd.DataFrame) -> list[str]:
    return method_order(frame["method"])

