"""Seaborn figures of the study, saved as PNG (matplotlib's Agg backend, no display needed).

Every ``plot_*`` function takes the views of ``views.py`` (or a tidy table), writes one PNG and
returns its path; chance level and ceiling are drawn where the views give them. When the input is missing or empty it writes a small placeholder PNG that says
"not computed", so that the files a workflow rule declares always exist.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from mvlm_distill.io import atomic_path  # noqa: E402
from mvlm_distill.report import views  # noqa: E402
from mvlm_distill.definitions import METRIC_ORDER, TASKS  # noqa: E402
from mvlm_distill.report.tables import POOLED, method_order  # noqa: E402

DPI = 110
CHANCE_STYLE = {"color": "0.45", "linestyle": ":", "linewidth": 1.3}
CEILING_STYLE = {"color": "0.1", "linestyle": "-", "linewidth": 1.3}


# ----------------------------------------------------------------------------- helpers


def _save(fig, out_path: str | os.PathLike) -> Path:
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, dpi=DPI, bbox_inches="tight", format="png")
    plt.close(fig)
    return out_path


def placeholder(out_path: str | os.PathLike, title: str, message: str = "not computed") -> Path:
    """A small PNG that states that a panel could not be drawn."""
    fig, ax = plt.subplots(figsize=(4.5, 1.6))
    ax.axis("off")
    ax.text(0.5, 0.62, title, ha="center", va="center", fontsize=11, weight="bold")
    ax.text(0.5, 0.3, message, ha="center", va="center", fontsize=10, color="0.4")
    return _save(fig, out_path)


def _empty(frame: pd.DataFrame | None) -> bool:
    return frame is None or len(frame) == 0


def _palette(models: Sequence[str]) -> dict:
    colors = sns.color_palette("colorblind", max(len(models), 1))
    return dict(zip(models, colors))


def _metric_panels(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(benchmark, task, metric) in contract order, for the panels present in ``frame``."""
    present = frame[["benchmark", "task", "metric"]].drop_duplicates()
    keys = [tuple(r) for r in present.itertuples(index=False)]

    def rank(k):
        b, t, m = k
        return (str(b), TASKS.index(t) if t in TASKS else 99, METRIC_ORDER.index(m) if m in METRIC_ORDER else 99, m)

    return sorted(keys, key=rank)


def _grouped_bars(ax, data: pd.DataFrame, value: str, models: Sequence[str], methods: Sequence[str],
                  palette: Mapping, err: str | None = None) -> None:
    """Bars of ``value`` at x = method, one bar per model (hue), with optional error bars."""
    width = 0.8 / max(len(models), 1)
    for j, model in enumerate(models):
        rows = data[data["model"] == model].set_index("method")
        xs, ys, es = [], [], []
        for i, method in enumerate(methods):
            if method in rows.index and pd.notna(rows.loc[method, value]):
                xs.append(i - 0.4 + width * (j + 0.5))
                ys.append(float(rows.loc[method, value]))
                es.append(float(rows.loc[method, err]) if err and pd.notna(rows.loc[method, err]) else 0.0)
        ax.bar(xs, ys, width=width * 0.95, color=palette[model], label=model,
               yerr=es if err else None, capsize=2 if err else 0, error_kw={"elinewidth": 0.8})
    ax.set_xticks(range(len(methods)))
    ax.set_xticklabels(methods, rotation=45, ha="right")
    ax.set_xlim(-0.6, len(methods) - 0.4)


def _grid(n: int, ncols: int, size=(3.4, 2.8)):
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, list(axes.flat[:n])


# ----------------------------------------------------------------------------- per language


def _bound_lines(ax, rows: pd.DataFrame) -> None:
    """The chance level (dotted) and the benchmark ceiling (solid) of one panel, where known."""
    for column, style in (("chance", CHANCE_STYLE), ("ceiling", CEILING_STYLE)):
        values = rows[column].dropna() if column in rows.columns else ()
        if len(values):
            ax.axhline(float(values.iloc[0]), **style)


def plot_language_metrics(scores: pd.DataFrame | None, language: str, out_path: str | os.PathLike) -> Path:
    """Bars of every metric per method (hue = model, error bars = std over seeds); the teacher as a
    dashed line in its model's colour, chance level and ceiling as grey lines (``views.scores``)."""
    title = f"Scores in {language}"
    if _empty(scores):
        return placeholder(out_path, title)
    data = scores
    models = sorted(data["model"].unique())
    palette = _palette(models)
    methods = [m for m in method_order(data["method"]) if m != "teacher"]
    panels = _metric_panels(data)
    with sns.axes_style("whitegrid"):
        fig, axes = _grid(len(panels), ncols=4)
        for ax, (benchmark, task, metric) in zip(axes, panels):
            d = data[(data["benchmark"] == benchmark) & (data["task"] == task) & (data["metric"] == metric)]
            _grouped_bars(ax, d, "mean", models, methods, palette, err="std")
            for model in models:
                t = d.loc[d["model"] == model, "teacher"].dropna()
                if len(t):
                    ax.axhline(float(t.iloc[0]), color=palette[model], linestyle="--", linewidth=1.2)
            _bound_lines(ax, d)
            ax.set_title(f"{task} {metric}" + (f" ({benchmark})" if data["benchmark"].nunique() > 1 else ""))
            ax.set_ylim(0, 1.05)
            ax.set_ylabel("score")
        handles = [plt.Rectangle((0, 0), 1, 1, color=palette[m]) for m in models]
        handles += [plt.Line2D([0], [0], color="0.3", linestyle="--"), plt.Line2D([0], [0], **CEILING_STYLE),
                    plt.Line2D([0], [0], **CHANCE_STYLE)]
        fig.legend(handles, list(models) + ["teacher (model colour)", "ceiling", "chance"], loc="lower center",
                   ncol=len(models) + 3, bbox_to_anchor=(0.5, -0.04), frameon=False)
        fig.suptitle(f"{title}: mean over seeds (error bars: std)", y=1.02)
        fig.tight_layout()
        return _save(fig, out_path)


def plot_language_retention(retention: pd.DataFrame | None, language: str, out_path: str | os.PathLike) -> Path:
    """Retention (student / teacher) per method, hue = model, with the teacher's line at 1 (``views.retention``)."""
    title = f"Retention in {language}"
    if _empty(retention):
        return placeholder(out_path, title)
    present = [(t, m) for t, m in views.RETENTION_PANELS if ((retention["task"] == t) & (retention["metric"] == m)).any()]
    models = sorted(retention["model"].unique())
    palette = _palette(models)
    methods = method_order(retention["method"])
    with sns.axes_style("whitegrid"):
        fig, axes = _grid(len(present), ncols=3, size=(3.8, 3.0))
        for ax, (task, metric) in zip(axes, present):
            d = retention[(retention["task"] == task) & (retention["metric"] == metric)]
            _grouped_bars(ax, d, "retention", models, methods, palette)
            ax.axhline(1.0, color="0.2", linestyle="--", linewidth=1)
            ax.set_title(f"{task} {metric}")
            ax.set_ylabel("retention (student / teacher)")
            top = d["retention"].max()
            ax.set_ylim(0, max(1.1, float(top) * 1.05 if pd.notna(top) else 1.1))
        handles = [plt.Rectangle((0, 0), 1, 1, color=palette[m]) for m in models]
        fig.legend(handles, models, loc="lower center", ncol=len(models), bbox_to_anchor=(0.5, -0.04),
                   frameon=False)
        fig.suptitle(f"{title} (dashed: teacher = 1)", y=1.02)
        fig.tight_layout()
        return _save(fig, out_path)


def plot_consistency(by_language: pd.DataFrame | None, out_path: str | os.PathLike,
                     language: str | None = None) -> Path:
    """Cross-lingual consistency with English (``views.consistency_by_language``).

    With ``language``: bars per method (hue = model), one panel per metric. Without: one row of panels
    per model, each metric against language with one line per method.
    """
    title = f"Consistency with English in {language}" if language else "Consistency with English"
    data = by_language
    if not _empty(data) and language is not None:
        data = data[data["language"] == language]
    if _empty(data):
        return placeholder(out_path, title)
    metrics = views.ordered(data["metric"], views.CONSISTENCY_ORDER)
    models = sorted(data["model"].unique())
    methods = method_order(data["method"])
    with sns.axes_style("whitegrid"):
        if language is not None:
            palette = _palette(models)
            fig, axes = _grid(len(metrics), ncols=4)
            for ax, metric in zip(axes, metrics):
                _grouped_bars(ax, data[data["metric"] == metric], "value", models, methods, palette)
                ax.set_title(metric)
                ax.set_ylim(0, 1.05)
            handles = [plt.Rectangle((0, 0), 1, 1, color=palette[m]) for m in models]
            fig.legend(handles, models, loc="lower center", ncol=len(models), bbox_to_anchor=(0.5, -0.04),
                       frameon=False)
        else:
            fig, axes = plt.subplots(len(models), len(metrics), squeeze=False,
                                     figsize=(3.6 * len(metrics), 2.9 * len(models)))
            languages = sorted(data["language"].unique())
            for r, model in enumerate(models):
                for c, metric in enumerate(metrics):
                    ax = axes[r][c]
                    d = data[(data["model"] == model) & (data["metric"] == metric)]
                    sns.pointplot(data=d, x="language", y="value", hue="method", hue_order=methods,
                                  order=languages, ax=ax, markersize=3, linewidth=1,
                                  legend=(r == 0 and c == len(metrics) - 1))
                    ax.set_title(f"{model}: {metric}")
                    ax.set_ylim(0, 1.05)
                    ax.tick_params(axis="x", rotation=45)
            if axes[0][-1].get_legend() is not None:
                sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1.02, 1), frameon=False)
        fig.suptitle(f"{title} (mean over seeds)", y=1.02)
        fig.tight_layout()
        return _save(fig, out_path)


# ----------------------------------------------------------------------------- index


def _language_order(languages, groups: Mapping[str, Sequence[str]] | None) -> list[tuple[str, str]]:
    """(level, language) of the ``languages`` present, in the groups' order (the rest last, by code)."""
    present = set(languages)
    ordered = [(level, code) for level, codes in (groups or {}).items() for code in codes if code in present]
    seen = {code for _, code in ordered}
    return ordered + [("", code) for code in sorted(present - seen)]


def plot_retention_heatmap(summary: pd.DataFrame | None, out_path: str | os.PathLike,
                           significance: pd.DataFrame | None = None,
                           groups: Mapping[str, Sequence[str]] | None = None,
                           task: str = "t2i", metric: str = "R@10") -> Path:
    """Heatmap of retention, method x language (grouped by resource level), one panel per model.

    A diverging colour-blind-safe palette centred at 1 (the teacher); ``*`` marks a difference from
    the teacher that holds after the Holm correction (``significance.csv``).
    """
    title = f"{task} {metric} retention"
    data = None if _empty(summary) else summary[
        (summary["task"] == task) & (summary["metric"] == metric) & (summary["method"] != "teacher")
        & (summary["language"] != POOLED)
    ]
    if _empty(data):
        return placeholder(out_path, title)
    marked = set()
    if not _empty(significance):
        s = significance[(significance["task"] == task) & (significance["metric"] == metric)
                         & (significance["reference"] == "teacher") & significance["significant"].astype(bool)]
        marked = set(zip(s["model"], s["benchmark"], s["method"], s["language"]))
    panels = sorted(data[["model", "benchmark"]].drop_duplicates().itertuples(index=False, name=None))
    multi_bench = data["benchmark"].nunique() > 1
    values = data["retention"].to_numpy(dtype=float)
    spread = float(np.nanmax(np.abs(values - 1.0))) if np.isfinite(values).any() else 0.5
    spread = max(0.1, min(spread, 1.0))
    order = _language_order(data["language"].unique(), groups)
    languages = [code for _, code in order]
    methods = method_order(data["method"])
    width = max(3.6, 0.48 * len(languages) + 1.6)
    height = max(2.0, 0.36 * len(methods) + 1.1)
    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), height), squeeze=False)
    for i, (ax, (model, benchmark)) in enumerate(zip(axes[0], panels)):
        d = data[(data["model"] == model) & (data["benchmark"] == benchmark)]
        grid = d.pivot_table(index="method", columns="language", values="retention", aggfunc="mean")
        grid = grid.reindex(index=[m for m in methods if m in grid.index], columns=languages)
        labels = [[("" if pd.isna(v) else f"{v:.2f}") + ("*" if (model, benchmark, m, lang) in marked else "")
                   for lang, v in zip(grid.columns, row)] for m, row in zip(grid.index, grid.to_numpy())]
        sns.heatmap(grid.astype(float), ax=ax, cmap="vlag_r", center=1.0, vmin=1.0 - spread, vmax=1.0 + spread,
                    annot=np.array(labels, dtype=object), fmt="", annot_kws={"fontsize": 8},
                    cbar=i == len(panels) - 1, cbar_kws={"label": "retention (teacher = 1)", "shrink": 0.9},
                    linewidths=0.5, linecolor="white")
        ax.set_title(model + (f" ({benchmark})" if multi_bench else ""), fontsize=11)
        ax.set_xlabel("")
        ax.set_ylabel("method" if i == 0 else "")
        ax.tick_params(axis="y", rotation=0)
        bounds = [n for n in range(1, len(order)) if order[n][0] != order[n - 1][0]]
        for n in bounds:
            ax.axvline(n, color="0.15", linewidth=2)
        starts = [0] + bounds
        for start, end in zip(starts, bounds + [len(order)]):
            if order[start][0]:  # the level's name under its languages
                ax.text((start + end) / 2, len(grid.index) + 0.75, order[start][0], ha="center", va="top",
                        fontsize=9, style="italic", clip_on=False)
    fig.suptitle(f"{title} by resource level (student / teacher, mean over seeds; * differs from the teacher, Holm)",
                 y=1.03, fontsize=10)
    fig.tight_layout()
    return _save(fig, out_path)


def plot_retention_by_level(levels: pd.DataFrame | None, out_path: str | os.PathLike,
                            task: str = "t2i", metric: str = "R@10") -> Path:
    """Retention per resource level (``views.level_retention``): a point per method with its 95%
    interval over seeds and images, levels in the config's order, one panel per model."""
    title = f"{task} {metric} retention by resource level"
    if _empty(levels) or levels["retention"].isna().all():
        return placeholder(out_path, title)
    panels = sorted(levels[["model", "benchmark"]].drop_duplicates().itertuples(index=False, name=None))
    order = list(dict.fromkeys(levels["group"]))
    methods = method_order(levels["method"])
    palette = dict(zip(methods, sns.color_palette("colorblind", len(methods))))
    step = 0.7 / max(len(methods), 1)
    with sns.axes_style("whitegrid"):
        fig, axes = plt.subplots(1, len(panels), figsize=(max(3.4, 1.3 * len(order) + 1.8) * len(panels), 3.4),
                                 squeeze=False, sharey=True)
        for ax, (model, benchmark) in zip(axes[0], panels):
            d = levels[(levels["model"] == model) & (levels["benchmark"] == benchmark)]
            for j, method in enumerate(methods):
                rows = d[d["method"] == method].set_index("group").reindex(order)
                x = np.arange(len(order)) - 0.35 + step * (j + 0.5)
                y = rows["retention"].to_numpy(dtype=float)
                low = y - rows["retention_low"].to_numpy(dtype=float)
                high = rows["retention_high"].to_numpy(dtype=float) - y
                err = np.vstack([np.nan_to_num(low), np.nan_to_num(high)])
                ax.errorbar(x, y, yerr=err, fmt="o", color=palette[method], label=method, capsize=3, markersize=5)
            ax.axhline(1.0, color="0.2", linestyle="--", linewidth=1)
            ax.set_xticks(range(len(order)))
            ax.set_xticklabels(order)
            ax.set_xlabel("resource level")
            ax.set_title(model + (f" ({benchmark})" if levels["benchmark"].nunique() > 1 else ""), fontsize=11)
        axes[0][0].set_ylabel("retention (student / teacher)")
        axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False, title="method")
        fig.suptitle(f"{title}: each level's queries together, 95% intervals over seeds and images "
                     "(dashed: teacher)", y=1.03, fontsize=10)
        fig.tight_layout()
        return _save(fig, out_path)


def plot_loss_curves(loss_logs: pd.DataFrame | None, out_path: str | os.PathLike) -> Path:
    """Training loss (``total``) against step, one panel per model, one line per method and seed."""
    title = "Training loss"
    if _empty(loss_logs) or "total" not in loss_logs.columns:
        return placeholder(out_path, title)
    data = loss_logs.dropna(subset=["total"])
    if data.empty:
        return placeholder(out_path, title)
    models = sorted(data["model"].unique())
    methods = method_order(data["method"])
    data = data.assign(seed=data["seed"].astype(str))
    with sns.axes_style("whitegrid"):
        fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 3.6), squeeze=False)
        for i, (ax, model) in enumerate(zip(axes[0], models)):
            d = data[data["model"] == model]
            style = "seed" if d["seed"].nunique() > 1 else None
            sns.lineplot(data=d, x="step", y="total", hue="method", hue_order=methods, style=style,
                         estimator=None, ax=ax, linewidth=1, legend=(i == len(models) - 1))
            ax.set_title(model)
            ax.set_ylabel("total loss")
        if axes[0][-1].get_legend() is not None:
            sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1.02, 1), frameon=False)
        fig.suptitle(title, y=1.02)
        fig.tight_layout()
        return _save(fig, out_path)


def plot_change_scatter(stab: pd.DataFrame | None, out_path: str | os.PathLike) -> Path:
    """Retrieval change (t2i R@10) against VQA change (acc@1) from the teacher, one point per method."""
    title = "Retrieval change vs VQA change"
    data = None if _empty(stab) else stab.copy()
    if _empty(data) or data["retrieval_change"].isna().all():
        return placeholder(out_path, title)
    has_vqa = data["vqa_change"].notna().any()
    if not has_vqa:
        data["vqa_change"] = 0.0
    data = data.dropna(subset=["retrieval_change", "vqa_change"])
    methods = method_order(data["method"])
    with sns.axes_style("whitegrid"):
        fig, ax = plt.subplots(figsize=(6.2, 4.6))
        sns.scatterplot(data=data, x="retrieval_change", y="vqa_change", hue="method", hue_order=methods,
                        style="model", s=80, ax=ax, palette="colorblind")
        ax.axhline(0, color="0.3", linewidth=0.8)
        ax.axvline(0, color="0.3", linewidth=0.8)
        ax.set_xlabel("change from teacher: t2i R@10 (mean over languages)")
        ax.set_ylabel("change from teacher: VQA acc@1" + ("" if has_vqa else " (VQA not computed)"))
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1), frameon=False)
        ax.set_title(title)
        fig.tight_layout()
        return _save(fig, out_path)


def plot_clustering(clustering: pd.DataFrame | None, references: pd.DataFrame | None,
                    out_path: str | os.PathLike) -> Path:
    """NMI with image ids (meaning) against NMI with language ids, one point per method and model
    (``views.clustering``); the random-clustering baselines (dotted) and the perfect-clustering
    references (solid) of both axes from ``views.clustering_references``."""
    title = "Clustering: meaning vs language"
    if _empty(clustering):
        return placeholder(out_path, title)
    wide = clustering.pivot_table(index=["model", "method", "benchmark"], columns="metric", values="mean",
                                  aggfunc="first").reset_index()
    if not {"nmi_image", "nmi_language"} <= set(wide.columns):
        return placeholder(out_path, title)
    methods = method_order(wide["method"])
    refs = (references if not _empty(references) else pd.DataFrame(columns=views.CLUSTERING_REFERENCE_COLUMNS))
    refs = refs.groupby("metric")[["random_baseline", "perfect_reference"]].mean()
    with sns.axes_style("whitegrid"):
        fig, ax = plt.subplots(figsize=(6.2, 4.6))
        for metric, line in (("nmi_image", ax.axhline), ("nmi_language", ax.axvline)):
            if metric in refs.index:
                for column, style in (("random_baseline", CHANCE_STYLE), ("perfect_reference", CEILING_STYLE)):
                    if pd.notna(refs.loc[metric, column]):
                        line(float(refs.loc[metric, column]), **style)
        sns.scatterplot(data=wide, x="nmi_language", y="nmi_image", hue="method", hue_order=methods,
                        style="model", s=80, ax=ax, palette="colorblind")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("NMI with language ids (clusters by language)")
        ax.set_ylabel("NMI with image ids (clusters by meaning)")
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1), frameon=False)
        ax.set_title(title + " (mean over seeds; dotted: random clustering, solid: perfect)", fontsize=9)
        fig.tight_layout()
        return _save(fig, out_path)


def plot_projection(projection: pd.DataFrame | None, out_path: str | os.PathLike,
                    labels: Mapping[tuple[str, str], str] | None = None) -> Path:
    """2-D PCA projection of parallel captions coloured by language: rows = model, columns = method
    (``views.projection_from_samples``; ``labels`` from ``views.projection_labels``).

    Panels of one model share axes (the PCA is fit on that model's teacher). ``labels`` adds a note
    to a panel's title, e.g. ``{("clip", "DR"): "best"}``.
    """
    title = "Parallel captions, 2-D PCA (fit on the teacher)"
    if _empty(projection):
        return placeholder(out_path, title)
    models = sorted(projection["model"].unique())
    per_model = {m: method_order(projection.loc[projection["model"] == m, "method"]) for m in models}
    ncols = max(len(v) for v in per_model.values())
    languages = sorted(projection["language"].unique())
    palette = dict(zip(languages, sns.color_palette("husl", len(languages))))
    with sns.axes_style("white"):
        fig, axes = plt.subplots(len(models), ncols, figsize=(3.6 * ncols, 3.3 * len(models)), squeeze=False)
        for r, model in enumerate(models):
            for c in range(ncols):
                ax = axes[r][c]
                if c >= len(per_model[model]):
                    ax.axis("off")
                    continue
                method = per_model[model][c]
                rows = projection[projection["model"] == model]
                d = rows[rows["method"] == method]
                sns.scatterplot(data=d, x="x", y="y", hue="language", hue_order=languages, palette=palette,
                                s=10, linewidth=0, ax=ax, legend=(r == 0 and c == ncols - 1))
                note = (labels or {}).get((model, method))
                ax.set_title(f"{model}: {method}" + (f" ({note})" if note else ""))
                pad_x = 0.05 * (rows["x"].max() - rows["x"].min() or 1.0)
                pad_y = 0.05 * (rows["y"].max() - rows["y"].min() or 1.0)
                ax.set_xlim(rows["x"].min() - pad_x, rows["x"].max() + pad_x)
                ax.set_ylim(rows["y"].min() - pad_y, rows["y"].max() + pad_y)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_xlabel("PC1")
                ax.set_ylabel("PC2")
        if axes[0][-1].get_legend() is not None:
            sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1.02, 1), frameon=False,
                            title="language", markerscale=2)
        fig.suptitle(title, y=1.02)
        fig.tight_layout()
        return _save(fig, out_path)
