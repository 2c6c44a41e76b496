"""One tidy DataFrame per report panel: every aggregate a page shows is computed here, nowhere else.

Inputs are the study's tables (``tables.py``; columns in docs/formats.md, "Result tables") and, for
the projection of parallel captions, the caption samples the clustering jobs keep; the templates and
figures (``figures.py``) only format or draw what these return. A view of a table that was not produced (None or empty) is an empty frame with its columns,
and the page says "not computed".
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from mvlm_distill.definitions import CONSISTENCY_METRICS, IMAGE_CONSISTENCY_METRICS, METRICS, REFERENCES, TASKS
from mvlm_distill.report.tables import (
    POOLED, PROJECTION_COLUMNS, RESOURCE_GROUP_COLUMNS, SIGNIFICANCE_COLUMNS, method_order, sort_rows,
)

# the metric that names a task's best method, and the one the stability panel follows
HEADLINE_METRICS = {"t2i": "R@10", "i2t": "R@10", "vqa": "acc@1"}
MEANS_PANEL = (("t2i", "R@1"), ("t2i", "R@10"), ("i2t", "R@10"), ("vqa", "acc@1"))
CONSISTENCY_ORDER = CONSISTENCY_METRICS + IMAGE_CONSISTENCY_METRICS
CLUSTERING_ORDER = ("nmi_image", "nmi_language", "ami_image", "ami_language", "silhouette_image")

SCORE_VIEW_COLUMNS = [
    "benchmark", "task", "model", "method", "metric", "mean", "std", "n_seeds", "ci_low", "ci_high", "ci_over",
    "n_queries", "teacher", "teacher_diff", "retention", "retention_low", "retention_high", "retention_above_chance",
    "teacher_p", "teacher_p_adjusted", "teacher_significant", "teacher_holm_level", "teacher_diff_holm_low",
    "teacher_diff_holm_high", "init_diff", "init_p", "init_p_adjusted", "init_significant", "init_holm_level",
    "init_diff_holm_low", "init_diff_holm_high", "chance", "ceiling",
]
BEST_VIEW_COLUMNS = [
    "model", "benchmark", "task", "metric", "best", "best_mean", "runner_up", "runner_up_mean",
    "diff", "diff_low", "diff_high", "ci_over", "p_adjusted", "significant", "holm_level", "diff_holm_low",
    "diff_holm_high", "tied",
]
SEED_MEAN_COLUMNS = ["model", "benchmark", "method", "metric", "mean", "std", "n_seeds"]
CLUSTERING_REFERENCE_COLUMNS = ["benchmark", "metric", "random_baseline", "perfect_reference"]
MEANS_VIEW_COLUMNS = ["model", "benchmark", "method", "task", "metric", "mean", "std", "n_seeds", "ci_low",
                      "ci_high", "ci_over", "teacher", "teacher_diff", "chance", "retention", "retention_low",
                      "retention_high", "retention_above_chance", "retention_above_chance_low",
                      "retention_above_chance_high"]
STABILITY_PARTS = ("teacher", "student", "change", "retention", "worst_language", "worst_retention",
                   "retention_std")
STABILITY_COLUMNS = ["model", "method", "benchmark", "n_languages"] + [
    f"{prefix}_{part}" for prefix in ("retrieval", "vqa") for part in STABILITY_PARTS]
SIGNIFICANCE_VIEW_COLUMNS = ["model", "benchmark", "method", "reference", "task", "metric", "gains", "losses"]
PARAMETER_VIEW_COLUMNS = ["model", "role", "text_layers", "text_parameters", "total_parameters",
                          "text_share", "total_share"]
RETENTION_PANELS = (("t2i", "R@10"), ("i2t", "R@10"), ("vqa", "acc@1"))
PAPER_COLUMNS = ["model", "finding", "paper", "here", "agrees", "rule"]


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

    ``ci_low``/``ci_high`` and the retention interval are ``summary.csv``'s (over seeds and images,
    ``ci_over``); ``teacher_diff`` and ``init_diff`` are ``mean - reference`` with the paired test of
    ``significance.csv`` beside them and its interval at the row's Holm level (NA for the reference
    itself); ``ceiling`` (and ``chance`` where the summary has none) come from ``bounds.csv``.
    """
    s = summary[summary["language"] == language]
    if s.empty:
        return pd.DataFrame(columns=SCORE_VIEW_COLUMNS)
    keys = ["model", "method", "benchmark", "task", "metric"]
    out = s.copy()
    if not _empty(metrics):
        m = metrics[metrics["language"] == language]
        out = out.merge(m.groupby(keys, dropna=False).agg(n_queries=("n_queries", "max")).reset_index(),
                        on=keys, how="left")
    out["teacher_diff"] = np.where(out["method"] == "teacher", np.nan, out["mean"] - out["teacher"])
    out["init_diff"] = np.where(out["method"].isin(REFERENCES), np.nan, out["mean"] - out["init"])
    for reference in REFERENCES:
        columns = {"p_value": f"{reference}_p", "p_adjusted": f"{reference}_p_adjusted",
                   "significant": f"{reference}_significant", "holm_level": f"{reference}_holm_level",
                   "diff_holm_low": f"{reference}_diff_holm_low", "diff_holm_high": f"{reference}_diff_holm_high"}
        if _empty(significance):
            out[list(columns.values())] = np.nan
            out[columns["significant"]] = False
            continue
        sig = significance[(significance["language"] == language) & (significance["reference"] == reference)]
        sig = sig.reindex(columns=keys + list(columns)).rename(columns=columns)
        out = out.merge(sig, on=keys, how="left")
        out[columns["significant"]] = out[columns["significant"]].eq(True)  # untested: not significant
    if not _empty(bounds):
        b = bounds[bounds["language"] == language][["benchmark", "task", "metric", "chance", "ceiling"]]
        out = out.merge(b, on=["benchmark", "task", "metric"], how="left", suffixes=("", "_bounds"))
        if "chance_bounds" in out.columns:
            out["chance"] = out["chance"].fillna(out.pop("chance_bounds")) if "chance" in s.columns \
                else out.pop("chance_bounds")
    out = out.reindex(columns=SCORE_VIEW_COLUMNS)
    return sort_rows(out, ["benchmark", "task", "model", "method", "metric"])


def best_method(comparisons: pd.DataFrame | None, language: str) -> pd.DataFrame:
    """Per model, benchmark and task: the KD method with the highest headline metric and its runner-up.

    ``diff`` (best minus runner-up), its 95% interval (over ``ci_over``), the Holm-adjusted p-value and
    the interval at the pair's Holm level are those of the pair's row in ``comparisons.csv`` (the signs
    turned when the pair is stored b - a);
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
        holm_low, holm_high = sorted((sign * pair.get("diff_holm_low", np.nan),
                                      sign * pair.get("diff_holm_high", np.nan)))
        records.append(dict(model=model, benchmark=benchmark, task=task, metric=metric, best=best,
                            best_mean=means[best], runner_up=runner, runner_up_mean=means[runner],
                            diff=sign * pair["diff"], diff_low=low, diff_high=high, ci_over=pair.get("ci_over"),
                            p_adjusted=pair["p_adjusted"], significant=bool(pair["significant"]),
                            holm_level=pair.get("holm_level", np.nan), diff_holm_low=holm_low,
                            diff_holm_high=holm_high, tied=bool(means[best] == means[runner])))
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


def language_means(summary: pd.DataFrame | None) -> pd.DataFrame:
    """All languages together: ``summary.csv``'s pooled rows (every language's queries, each once).

    ``mean``/``std`` over seeds, the interval over seeds and images, ``teacher_diff = mean -
    teacher`` and the one retention, ``mean / teacher`` over the same queries, with its interval
    (and above chance: ``(mean - chance) / (teacher - chance)``).
    """
    if _empty(summary) or not (summary["language"] == POOLED).any():
        return pd.DataFrame(columns=MEANS_VIEW_COLUMNS)
    out = summary[summary["language"] == POOLED].copy()
    out["teacher_diff"] = np.where(out["method"] == "teacher", np.nan, out["mean"] - out["teacher"])
    return sort_rows(out.reindex(columns=MEANS_VIEW_COLUMNS), ["model", "benchmark", "method", "task", "metric"])


def headline_means(summary: pd.DataFrame | None) -> pd.DataFrame:
    """The ``MEANS_PANEL`` metrics of ``language_means``, each labelled ``panel = "task metric"``."""
    means = language_means(summary)
    keep = [(t, m) in MEANS_PANEL for t, m in zip(means["task"], means["metric"])]
    return means[keep].assign(panel=means["task"] + " " + means["metric"])


def _task_stability(summary: pd.DataFrame, task: str, metric: str, prefix: str) -> pd.DataFrame:
    rows = summary[(summary["task"] == task) & (summary["metric"] == metric)]
    records = []
    for (model, method, benchmark), g in rows.groupby(["model", "method", "benchmark"], sort=False):
        g = g.dropna(subset=["mean"])
        pooled, g = g[g["language"] == POOLED], g[g["language"] != POOLED]
        if g.empty:
            continue
        # all languages: the pooled row where the summary has one (each query once), else the languages' mean
        both = pooled if len(pooled) else g
        teacher, student = both["teacher"].astype(float).mean(), both["mean"].astype(float).mean()
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

    Over all languages (``summary.csv``'s pooled row; without one, the mean over languages):
    ``*_teacher``/``*_student`` the means, ``*_change = student - teacher``, ``*_retention = student /
    teacher``, ``*_worst_language`` the language of lowest
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
    """Per model: the KD methods with the highest and lowest retention of ``task metric`` over all
    languages (the pooled rows' retention; without them, the ratio of the means over languages)."""
    s = summary[(summary["task"] == task) & (summary["metric"] == metric) & (~summary["method"].isin(REFERENCES))]
    if (s["language"] == POOLED).any():
        s = s[s["language"] == POOLED]
    out = {}
    for model, g in s.groupby("model"):
        per_method = (g.groupby("method")["mean"].mean() / g.groupby("method")["teacher"].mean()).dropna()
        if not per_method.empty:
            per_method = per_method.sort_index()
            out[model] = (str(per_method.idxmax()), str(per_method.idxmin()))
    return out


def paper_findings(summary: pd.DataFrame | None, significance: pd.DataFrame | None,
                   clustering_table: pd.DataFrame | None, task: str = "t2i", metric: str = "R@10",
                   english: str = "en") -> pd.DataFrame:
    """Per model, the paper's three findings (arXiv 2510.26271) beside what this study measured.

    1. DR is the best method for retrieval: DR's place among the KD methods by pooled ``task metric``.
    2. Half-size students stay comparable to the teacher in non-English languages: the languages
       where the best KD method (pooled) is significantly below the teacher (``significance.csv``).
    3. Students cluster better than the teacher: the KD methods whose ``ami_image`` (mean over seeds)
       exceeds the teacher's. ``agrees`` follows the stated ``rule``; missing tables leave a finding out.
    """
    records = []
    if _empty(summary):
        return pd.DataFrame(columns=PAPER_COLUMNS)
    rows = summary[(summary["task"] == task) & (summary["metric"] == metric) & (summary["language"] == POOLED)
                   & ~summary["method"].isin(REFERENCES)]
    for model, g in rows.groupby("model", sort=True):
        order = g.sort_values(["mean", "method"], ascending=[False, True])["method"].tolist()
        if "DR" in order:
            records.append(dict(model=model, finding=1, paper="DR gives the best retrieval",
                                here=f"DR is {order.index('DR') + 1} of {len(order)} by pooled {task} {metric} "
                                     f"(best: {order[0]})",
                                agrees=order[0] == "DR", rule=f"DR first by pooled {task} {metric}"))
        best = order[0]
        if not _empty(significance):
            sig = significance[(significance["model"] == model) & (significance["method"] == best)
                               & (significance["reference"] == "teacher") & (significance["task"] == task)
                               & (significance["metric"] == metric) & (significance["language"] != english)]
            below = sorted(sig.loc[sig["significant"] & (sig["diff"] < 0), "language"])
            records.append(dict(model=model, finding=2,
                                paper="half-size students stay comparable to the teacher in non-English languages",
                                here=f"{best}: significantly below the teacher in {len(below)} of "
                                     f"{sig['language'].nunique()} ({', '.join(below) or 'none'})",
                                agrees=not below, rule=f"the best method not significantly below the teacher "
                                                       f"({task} {metric}) in any non-English language"))
    if not _empty(clustering_table):
        ami = clustering(clustering_table)
        ami = ami[ami["metric"] == "ami_image"]
        for model, g in ami.groupby("model", sort=True):
            teacher = g.loc[g["method"] == "teacher", "mean"]
            students = g[~g["method"].isin(REFERENCES)]
            if teacher.empty or students.empty:
                continue
            above = method_order(students.loc[students["mean"] > float(teacher.iloc[0]), "method"])
            records.append(dict(model=model, finding=3, paper="students cluster better than the teacher",
                                here=f"{len(above)} of {len(students)} methods above the teacher's ami_image "
                                     f"{float(teacher.iloc[0]):.3f} ({', '.join(above) or 'none'})",
                                agrees=2 * len(above) > len(students),
                                rule="most KD methods above the teacher's ami_image"))
    out = pd.DataFrame(records, columns=PAPER_COLUMNS)
    return out.sort_values(["finding", "model"], kind="stable").reset_index(drop=True)


#: what the overview shows of tables/mteb.csv, under the project's names where they are the same measure
MTEB_SHOWN = {"hit_rate_at_1": "R@1", "hit_rate_at_10": "R@10", "ndcg_at_10": "nDCG@10 (main score)"}
MTEB_VIEW_COLUMNS = ["mteb_task", "task", "model", "method", "seed", "metric", "language", "value"]


def mteb(mteb_table: pd.DataFrame | None) -> pd.DataFrame:
    """tables/mteb.csv's shown metrics per mteb task, row and language, with each row's mean over the
    languages scored (``language`` "mean"); ``seed`` as text, empty for the references."""
    if _empty(mteb_table):
        return pd.DataFrame(columns=MTEB_VIEW_COLUMNS)
    shown = mteb_table[mteb_table["metric"].isin(MTEB_SHOWN)].copy()
    # the seed as text ("" for teacher and init), so that NA groups and keys the rows like any value
    shown["seed"] = [("" if pd.isna(seed) else str(int(seed))) for seed in shown["seed"]]
    keys = ["mteb_task", "task", "model", "method", "seed", "metric"]
    means = shown.groupby(keys, sort=False, dropna=False)["value"].mean().reset_index().assign(language="mean")
    view = pd.concat([shown[MTEB_VIEW_COLUMNS], means[MTEB_VIEW_COLUMNS]], ignore_index=True)
    view["order"] = view["method"].map({m: i for i, m in enumerate(method_order(view["method"]))})
    view["metric_order"] = view["metric"].map({m: i for i, m in enumerate(MTEB_SHOWN)})
    view = view.sort_values(["mteb_task", "model", "order", "seed", "metric_order"], kind="stable")
    view["metric"] = view["metric"].map(MTEB_SHOWN)
    return view[MTEB_VIEW_COLUMNS].reset_index(drop=True)


def task_metrics(frame: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """The (task, metrics) present in ``frame``, in the contract's order."""
    out = []
    for task in ordered(frame["task"], TASKS):
        present = frame.loc[frame["task"] == task, "metric"]
        out.append((task, ordered(present, METRICS.get(task, ()))))
    return out


def methods(frame: pd.DataFrame) -> list[str]:
    return method_order(frame["method"])


# ----------------------------------------------------------------------------- projection


def projection_table(
    embeddings: Mapping[tuple[str, str], np.ndarray],
    ids: Sequence[str],
    languages: Sequence[str],
    parallel_ids: Sequence[str],
) -> pd.DataFrame:
    """2-D PCA coordinates of parallel captions, PCA fit on each model's teacher.

    ``embeddings`` maps ``(model, method)`` to an (N, D) array whose rows follow ``ids``;
    ``languages`` and ``parallel_ids`` give each row's language and translation group. Each model
    needs a ``(model, "teacher")`` entry: its PCA is fit there and applied to the model's other
    methods, so that movements are comparable. Returns ``model, method, language, parallel_id, x, y``.
    """
    from sklearn.decomposition import PCA

    n = len(ids)
    if len(languages) != n or len(parallel_ids) != n:
        raise ValueError("ids, languages and parallel_ids must have the same length")
    models = sorted({model for model, _ in embeddings})
    frames = []
    for model in models:
        if (model, "teacher") not in embeddings:
            raise ValueError(f"projection_table: no teacher embeddings for model {model}")
        teacher = np.asarray(embeddings[(model, "teacher")], dtype=np.float64)
        if teacher.shape[0] != n:
            raise ValueError(f"{model}/teacher: {teacher.shape[0]} rows for {n} ids")
        pca = PCA(n_components=2, random_state=0).fit(teacher)
        for method in method_order(m for mo, m in embeddings if mo == model):
            emb = np.asarray(embeddings[(model, method)], dtype=np.float64)
            if emb.shape != teacher.shape:
                raise ValueError(f"{model}/{method}: shape {emb.shape} differs from the teacher's {teacher.shape}")
            xy = pca.transform(emb)
            frames.append(pd.DataFrame({
                "model": model, "method": method, "language": list(languages),
                "parallel_id": [str(p) for p in parallel_ids], "x": xy[:, 0], "y": xy[:, 1],
            }))
    if not frames:
        return pd.DataFrame(columns=PROJECTION_COLUMNS)
    return pd.concat(frames, ignore_index=True)[PROJECTION_COLUMNS]


def projection_labels(summary: pd.DataFrame | None) -> dict[tuple[str, str], str]:
    """``{(model, method): "best student" | "worst student"}`` from ``best_and_worst``."""
    if summary is None or summary.empty:
        return {}
    out = {}
    for model, (best, worst) in best_and_worst(summary).items():
        out[(model, worst)] = "worst student"
        out[(model, best)] = "best student"
    return out


def projection_from_samples(samples: Sequence[tuple[Mapping, str | os.PathLike]],
                            summary: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """``projection_table`` from the caption samples the clustering jobs keep (``projection.npz``).

    ``samples`` pairs each file with its keys (``model, method, seed, benchmark``), as the rule passes
    them: embeddings of a sample of parallel captions (ids = caption_id; meta ``languages`` and
    ``parallel_ids`` aligned with the ids). Per model it projects the teacher and, with ``summary``,
    the best and worst KD method by t2i R@10 retention (``best_and_worst``; lowest seed),
    otherwise every method given. Uses the first benchmark (by name) that has the teacher's sample.
    Returns None when there is nothing to project.
    """
    from mvlm_distill.io import load_embeddings

    found: dict[tuple[str, str, str], tuple[int, str | os.PathLike]] = {}
    for keys, path in samples:
        key = (keys["model"], keys["method"], keys["benchmark"])
        seed = int(keys.get("seed") or 0)
        if key not in found or seed < found[key][0]:
            found[key] = (seed, path)
    chosen = best_and_worst(summary) if summary is not None and not summary.empty else None
    embeddings: dict[tuple[str, str], np.ndarray] = {}
    reference = None  # (ids, languages, parallel_ids) of the first teacher sample
    for model in sorted({k[0] for k in found}):
        benchmarks = sorted(b for (m, me, b) in found if m == model and me == "teacher")
        if not benchmarks:
            continue
        benchmark = benchmarks[0]
        methods = [me for (m, me, b) in found if m == model and b == benchmark]
        if chosen is not None:
            methods = [me for me in methods if me == "teacher" or me in chosen.get(model, ())]
        t_emb, t_ids, t_meta = load_embeddings(found[(model, "teacher", benchmark)][1])
        if reference is None:
            reference = (t_ids, list(t_meta.get("languages", [])), list(t_meta.get("parallel_ids", [])))
            if len(reference[1]) != len(t_ids) or len(reference[2]) != len(t_ids):
                return None
        ids = reference[0]
        for method in methods:
            emb, m_ids, _ = load_embeddings(found[(model, method, benchmark)][1])
            index = {i: n for n, i in enumerate(m_ids)}
            if any(i not in index for i in ids):
                continue
            embeddings[(model, method)] = emb[[index[i] for i in ids]]
        if (model, "teacher") not in embeddings:
            embeddings = {k: v for k, v in embeddings.items() if k[0] != model}
    if not embeddings or reference is None:
        return None
    return projection_table(embeddings, *reference)


# ----------------------------------------------------------------------------- key findings

FINDING_LANGUAGES = 3  # how many of the languages that lose most the key findings name


def language_levels(groups: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """``{language: resource level}`` of the config's groups (``data.languages.resource_groups``)."""
    return {code: level for level, codes in groups.items() for code in codes}


def level_retention(resource_groups: pd.DataFrame | None, task: str = "t2i", metric: str = "R@10") -> pd.DataFrame:
    """``resource_groups.csv``'s rows of ``task metric`` without the teacher (retention by level)."""
    if _empty(resource_groups):
        return pd.DataFrame(columns=RESOURCE_GROUP_COLUMNS)
    rows = resource_groups[(resource_groups["task"] == task) & (resource_groups["metric"] == metric)
                           & (resource_groups["method"] != "teacher")]
    return rows.reset_index(drop=True)


def key_findings(summary: pd.DataFrame, significance: pd.DataFrame | None, comparisons: pd.DataFrame | None,
                 resource_groups: pd.DataFrame | None, groups: Mapping[str, Sequence[str]],
                 task: str = "t2i", metric: str = "R@10") -> dict[str, list[dict]]:
    """The study's answer in a few lines, computed from the tables.

    ``losses``: per model and benchmark, the best KD method by pooled ``task metric`` and the
    ``FINDING_LANGUAGES`` languages where it keeps least of the teacher (retention with its interval,
    the difference from the teacher and its Holm verdict), with its retention per resource level;
    ``best``: ``best_method`` over all languages' queries (difference, interval, verdict);
    ``above``: per model, KD method and headline metric, the languages where the student is
    significantly above the teacher (Holm), with the differences.
    """
    levels = language_levels(groups)
    sig = significance if not _empty(significance) else pd.DataFrame(columns=SIGNIFICANCE_COLUMNS)
    vs_teacher = sig[sig["reference"] == "teacher"]
    rows = summary[(summary["task"] == task) & (summary["metric"] == metric)
                   & ~summary["method"].isin(REFERENCES)]
    by_level = level_retention(resource_groups, task, metric)
    losses = []
    for (model, benchmark), g in rows.groupby(["model", "benchmark"], sort=True):
        pooled = g[g["language"] == POOLED]
        per_language = g[g["language"] != POOLED].dropna(subset=["retention"])
        if per_language.empty:
            continue
        ranked = (pooled if len(pooled) else per_language.groupby("method", as_index=False)["mean"].mean())
        best = ranked.sort_values(["mean", "method"], ascending=[False, True])["method"].iloc[0]
        mine = per_language[per_language["method"] == best].sort_values(["retention", "language"])
        tests = vs_teacher[(vs_teacher["model"] == model) & (vs_teacher["benchmark"] == benchmark)
                           & (vs_teacher["method"] == best) & (vs_teacher["task"] == task)
                           & (vs_teacher["metric"] == metric)].set_index("language")
        worst = []
        for r in mine.head(FINDING_LANGUAGES).itertuples(index=False):
            test = tests.loc[r.language] if r.language in tests.index else None
            worst.append(dict(language=r.language, level=levels.get(r.language, ""), retention=r.retention,
                              retention_low=r.retention_low, retention_high=r.retention_high,
                              diff=r.mean - r.teacher,
                              significant=bool(test is not None and test["significant"]),
                              p_adjusted=np.nan if test is None else test["p_adjusted"]))
        lv = by_level[(by_level["model"] == model) & (by_level["benchmark"] == benchmark) & (by_level["method"] == best)]
        losses.append(dict(model=model, benchmark=benchmark, method=best, task=task, metric=metric, worst=worst,
                           levels=lv[["group", "retention", "retention_low", "retention_high"]].to_dict("records")))
    above = []
    up = vs_teacher[vs_teacher["significant"].astype(bool) & (vs_teacher["diff"] > 0)
                    & ~vs_teacher["method"].isin(REFERENCES)]
    up = up[np.array([(t, m) in RETENTION_PANELS for t, m in zip(up["task"], up["metric"])], dtype=bool)]
    for (model, benchmark, method, t, m), g in up.groupby(["model", "benchmark", "method", "task", "metric"], sort=True):
        above.append(dict(model=model, benchmark=benchmark, method=method, task=t, metric=m,
                          languages=[dict(language=r.language, diff=r.diff) for r in g.itertuples(index=False)]))
    return {"losses": losses, "best": best_method(comparisons, POOLED).to_dict("records"), "above": above}
