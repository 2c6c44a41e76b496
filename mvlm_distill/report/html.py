"""Static, self-contained HTML reports: one page per language and an index.

No JavaScript and no external resources: CSS is inline, figures are PNG files referenced relatively
(``figures/...``) from the pages, which sit side by side in the reports folder. A panel whose table
was not produced says "not computed" instead of failing.

Entry points: ``write_reports`` (everything), ``write_language_report`` (one language: its page and
figures) and ``write_index_report`` (the index and its figures); ``language_outputs`` and
``index_outputs`` list the files they write, for workflow rules.
"""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pandas as pd

from mvlm_distill.io import write_text
from mvlm_distill.report import figures as F
from mvlm_distill.report.tables import (
    CLUSTERING_COLUMNS,
    COMPARISON_COLUMNS,
    POOLED,
    CONSISTENCY_COLUMNS,
    MEAN_LANGUAGE,
    METRICS_COLUMNS,
    PARAMETERS_COLUMNS,
    PROJECTION_COLUMNS,
    REFERENCES,
    SIGNIFICANCE_COLUMNS,
    SUMMARY_COLUMNS,
    TASK_METRICS,
    TASKS,
    language_means,
    method_order,
    read_optional,
    read_table,
    stability,
    summarize,
)

NOT_COMPUTED = "not computed"
CORRECTION_NAME = {"holm": "Holm", "bh": "Benjamini-Hochberg", "fdr_bh": "Benjamini-Hochberg"}

LANGUAGE_NAMES = {
    "ar": "Arabic", "bn": "Bengali", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek",
    "en": "English", "es": "Spanish", "fa": "Persian", "fi": "Finnish", "fil": "Filipino", "fr": "French",
    "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "id": "Indonesian", "it": "Italian",
    "ja": "Japanese", "ko": "Korean", "mi": "Maori", "nl": "Dutch", "no": "Norwegian", "pl": "Polish",
    "pt": "Portuguese", "quz": "Quechua", "ro": "Romanian", "ru": "Russian", "sv": "Swedish",
    "sw": "Swahili", "te": "Telugu", "th": "Thai", "tr": "Turkish", "uk": "Ukrainian", "vi": "Vietnamese",
    "zh": "Chinese",
}

# Relative paths (under the reports folder) of the files each entry point writes.
LANGUAGE_FIGURES = ("metrics", "retention", "consistency", "change")
INDEX_FIGURES = ("retention_heatmap", "loss_curves", "change_scatter", "consistency", "clustering", "projection")

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1400px;
padding:0 1.2em 3em;color:#1d1d1f;line-height:1.4}
h1{margin-top:.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
nav{background:#f4f4f6;padding:.5em .8em;border-radius:6px;margin-top:.8em;font-size:.92em}
nav a{margin-right:.6em}nav .current{font-weight:bold;margin-right:.6em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0 1em}
th,td{border:1px solid #d6d6da;padding:.25em .45em;text-align:right;vertical-align:top}
th{background:#f0f0f3}td.l,th.l{text-align:left}
tr.ref td{background:#fafafa;font-style:italic}
.ci{color:#666;font-size:.88em;white-space:nowrap}.sd{color:#666;font-size:.88em}
.gain{color:#0a7a2f;font-weight:bold}.loss{color:#b3261e;font-weight:bold}.ns{color:#555}
.nc{color:#888;font-style:italic}.note{color:#444;font-size:.9em;max-width:70em}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.88em;color:#444}
"""


# ----------------------------------------------------------------------------- small helpers


def language_name(code: str) -> str:
    """``"German (de)"`` for known codes, the code itself otherwise."""
    name = LANGUAGE_NAMES.get(str(code).split("-")[0].split("_")[0].lower())
    return f"{name} ({code})" if name else str(code)


def _e(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _isnum(x) -> bool:
    try:
        return x is not None and not pd.isna(x) and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _fmt(x, digits: int = 3) -> str:
    return f"{float(x):.{digits}f}" if _isnum(x) else "–"


def _signed(x, digits: int = 3) -> str:
    if not _isnum(x):
        return "–"
    return f"{float(x):+.{digits}f}".replace("-", "\u2212")


def _pct(x) -> str:
    return f"{100 * float(x):.0f}%" if _isnum(x) else "–"


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{_e(title)}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _nav(languages: Sequence[str], current: str | None) -> str:
    items = ['<a href="index.html">Overview</a>' if current is not None else '<span class="current">Overview</span>']
    for lang in languages:
        label = _e(language_name(lang))
        if lang == current:
            items.append(f'<span class="current">{label}</span>')
        else:
            items.append(f'<a href="{_e(lang)}.html">{label}</a>')
    return "<nav>Pages: " + " ".join(items) + "</nav>"


def _figure(figures: Mapping[str, str | os.PathLike] | None, name: str, base: Path, caption: str) -> str:
    path = (figures or {}).get(name)
    if path is None:
        return f'<p class="nc">Figure "{_e(name)}": {NOT_COMPUTED}.</p>'
    path = Path(path)
    rel = os.path.relpath(path, base) if path.is_absolute() else str(path)
    rel = Path(rel).as_posix()
    return (f'<figure><img src="{_e(rel)}" alt="{_e(caption)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1, raw: bool = False,
           row_classes: Sequence[str] | None = None) -> str:
    """An HTML table; the first ``left`` columns are left-aligned. Cells are escaped unless ``raw``."""
    head = "".join(f'<th class="l">{_e(h)}</th>' if i < left else f"<th>{_e(h)}</th>"
                   for i, h in enumerate(header))
    out = [f"<table><thead><tr>{head}</tr></thead><tbody>"]
    for r, row in enumerate(rows):
        cls = f' class="{row_classes[r]}"' if row_classes and row_classes[r] else ""
        cells = "".join(
            (f'<td class="l">' if i < left else "<td>") + (str(c) if raw else _e(c)) + "</td>"
            for i, c in enumerate(row)
        )
        out.append(f"<tr{cls}>{cells}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _not_computed(what: str) -> str:
    return f'<p class="nc">{_e(what)}: {NOT_COMPUTED}.</p>'


def _correction_label(significance: pd.DataFrame | None) -> str:
    if significance is None or significance.empty or "correction" not in significance.columns:
        return "Holm"
    names = sorted({CORRECTION_NAME.get(str(c).lower(), str(c)) for c in significance["correction"].dropna()})
    return ", ".join(names) or "Holm"


# ----------------------------------------------------------------------------- language page


def _sig_lookup(significance: pd.DataFrame | None, language: str) -> dict:
    if significance is None or significance.empty:
        return {}
    s = significance[significance["language"] == language]
    return {
        (r.model, r.benchmark, r.task, r.metric, r.method, r.reference): r
        for r in s.itertuples(index=False)
    }


def _delta_cell(diff, sig) -> str:
    """A signed difference, marked ``*`` (green gain / red loss) when ``sig`` says it holds."""
    text = _signed(diff)
    if not _isnum(diff):
        return text
    if sig is None:
        return f'<span class="ns">{text}</span>'
    p_adj = getattr(sig, "p_adjusted", None)
    p_raw = getattr(sig, "p_value", None)
    title = f"p = {_fmt(p_raw, 4)}, adjusted p = {_fmt(p_adj, 4)}"
    if bool(sig.significant):
        cls = "gain" if float(diff) > 0 else "loss"
        return f'<span class="{cls}" title="{_e(title)}">{text}*</span>'
    return f'<span class="ns" title="{_e(title)}">{text}</span>'


def _scores_section(language: str, summary: pd.DataFrame, metrics: pd.DataFrame | None,
                    significance: pd.DataFrame | None) -> str:
    s = summary[summary["language"] == language]
    if s.empty:
        return _not_computed(f"Scores for {language_name(language)}")
    ci = None
    if metrics is not None and not metrics.empty:
        m = metrics[metrics["language"] == language]
        ci = m.groupby(["model", "method", "benchmark", "task", "metric"]).agg(
            ci_low=("ci_low", "mean"), ci_high=("ci_high", "mean"), n_queries=("n_queries", "max"))
    sig = _sig_lookup(significance, language)
    parts = []
    for benchmark in sorted(s["benchmark"].unique()):
        sb = s[s["benchmark"] == benchmark]
        for task in [t for t in TASKS if t in set(sb["task"])] + sorted(set(sb["task"]) - set(TASKS)):
            st = sb[sb["task"] == task]
            metric_list = [m for m in TASK_METRICS.get(task, ()) if m in set(st["metric"])]
            metric_list += sorted(set(st["metric"]) - set(metric_list))
            head1 = ('<tr><th class="l" rowspan="2">model</th><th class="l" rowspan="2">method</th>'
                     '<th rowspan="2">seeds</th><th rowspan="2">queries</th>'
                     + "".join(f'<th colspan="3">{_e(m)}</th>' for m in metric_list) + "</tr>")
            head2 = "<tr>" + "".join(
                "<th>value [95% CI]</th><th>\u0394 teacher (retention)</th><th>\u0394 init</th>"
                for _ in metric_list) + "</tr>"
            rows = []
            keyed = st.set_index(["model", "method", "metric"])
            for model in sorted(st["model"].unique()):
                for method in method_order(st.loc[st["model"] == model, "method"]):
                    cells = [f'<td class="l">{_e(model)}</td>', f'<td class="l">{_e(method)}</td>']
                    n_seeds = st[(st["model"] == model) & (st["method"] == method)]["n_seeds"].max()
                    cells.append(f"<td>{'–' if method in REFERENCES else _e(int(n_seeds))}</td>")
                    nq = "–"
                    metric_cells = []
                    for metric in metric_list:
                        if (model, method, metric) not in keyed.index:
                            metric_cells.append("<td>–</td><td>–</td><td>–</td>")
                            continue
                        r = keyed.loc[(model, method, metric)]
                        if isinstance(r, pd.DataFrame):
                            r = r.iloc[0]
                        value = f"<b>{_fmt(r['mean'])}</b>"
                        if _isnum(r["std"]) and r["n_seeds"] > 1:
                            value += f' <span class="sd">\u00b1{_fmt(r["std"])}</span>'
                        if ci is not None and (model, method, benchmark, task, metric) in ci.index:
                            c = ci.loc[(model, method, benchmark, task, metric)]
                            value += f'<br><span class="ci">[{_fmt(c["ci_low"])}, {_fmt(c["ci_high"])}]</span>'
                            if _isnum(c["n_queries"]):
                                nq = str(int(c["n_queries"]))
                        if method == "teacher":
                            d_teacher = "–"
                        else:
                            d = r["mean"] - r["teacher"] if _isnum(r["teacher"]) else float("nan")
                            d_teacher = _delta_cell(d, sig.get((model, benchmark, task, metric, method, "teacher")))
                            d_teacher += f' <span class="sd">({_pct(r["retention"])})</span>'
                        if method in REFERENCES:
                            d_init = "–"
                        else:
                            d = r["mean"] - r["init"] if _isnum(r["init"]) else float("nan")
                            d_init = _delta_cell(d, sig.get((model, benchmark, task, metric, method, "init")))
                        metric_cells.append(f"<td>{value}</td><td>{d_teacher}</td><td>{d_init}</td>")
                    cells.append(f"<td>{nq}</td>")
                    cells.extend(metric_cells)
                    cls = ' class="ref"' if method in REFERENCES else ""
                    rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
            parts.append(f"<h3>{_e(task)} \u2014 benchmark {_e(benchmark)}, {_e(language_name(language))}</h3>")
            parts.append(f"<table><thead>{head1}{head2}</thead><tbody>{''.join(rows)}</tbody></table>")
    return "\n".join(parts)


def _consistency_section(consistency: pd.DataFrame | None, language: str | None) -> str:
    if consistency is None or consistency.empty:
        return _not_computed("Cross-lingual consistency")
    c = consistency if language is None else consistency[consistency["language"] == language]
    if c.empty:
        if language is not None and str(language).lower().startswith("en"):
            return '<p class="nc">English is the reference of the consistency metrics (no rows for it).</p>'
        return _not_computed(f"Cross-lingual consistency for {language_name(language)}")
    keys = ["model", "method", "benchmark"]
    if language is None:
        # mean over languages per seed, then over seeds
        c = c.groupby(keys + ["seed", "metric"], dropna=False)["value"].mean().reset_index()
    agg = c.groupby(keys + ["metric"], dropna=False)["value"].agg(["mean", "std", "count"]).reset_index()
    metric_list = [m for m in F.CONSISTENCY_METRICS if m in set(agg["metric"])]
    metric_list += sorted(set(agg["metric"]) - set(metric_list))
    rows, classes = [], []
    for (model, benchmark), g in agg.groupby(["model", "benchmark"]):
        for method in method_order(g["method"]):
            row = [_e(model), _e(method), _e(benchmark)]
            for metric in metric_list:
                r = g[(g["method"] == method) & (g["metric"] == metric)]
                if r.empty:
                    row.append("–")
                    continue
                r = r.iloc[0]
                cell = _fmt(r["mean"])
                if r["count"] > 1 and _isnum(r["std"]):
                    cell += f' <span class="sd">\u00b1{_fmt(r["std"])}</span>'
                row.append(cell)
            rows.append(row)
            classes.append("ref" if method in REFERENCES else "")
    return _table(["model", "method", "benchmark"] + metric_list, rows, left=3, raw=True, row_classes=classes)


def _clustering_section(clustering: pd.DataFrame | None) -> str:
    if clustering is None or clustering.empty:
        return _not_computed("Clustering")
    agg = clustering.groupby(["model", "method", "benchmark", "metric"], dropna=False)["value"].agg(
        ["mean", "std", "count"]).reset_index()
    order = ["nmi_image", "nmi_language", "ami_image", "ami_language", "silhouette_image"]
    metric_list = [m for m in order if m in set(agg["metric"])] + sorted(set(agg["metric"]) - set(order))
    rows, classes = [], []
    for (model, benchmark), g in agg.groupby(["model", "benchmark"]):
        for method in method_order(g["method"]):
            row = [_e(model), _e(method), _e(benchmark)]
            for metric in metric_list:
                r = g[(g["method"] == method) & (g["metric"] == metric)]
                if r.empty:
                    row.append("–")
                    continue
                r = r.iloc[0]
                cell = _fmt(r["mean"])
                if r["count"] > 1 and _isnum(r["std"]):
                    cell += f' <span class="sd">\u00b1{_fmt(r["std"])}</span>'
                row.append(cell)
            rows.append(row)
            classes.append("ref" if method in REFERENCES else "")
    table = _table(["model", "method", "benchmark"] + metric_list, rows, left=3, raw=True, row_classes=classes)
    return table + _clustering_references(clustering, metric_list)


def _clustering_references(clustering: pd.DataFrame, metric_list: list[str]) -> str:
    """Chance and ceiling of each metric per benchmark: what a value has to be read against."""
    if not {"random_baseline", "perfect_reference"} <= set(clustering.columns):
        return ""
    refs = clustering.dropna(subset=["random_baseline", "perfect_reference"], how="all")
    refs = refs.groupby(["benchmark", "metric"])[["random_baseline", "perfect_reference"]].mean().reset_index()
    rows = [[_e(r.benchmark), _e(r.metric), _fmt(r.random_baseline), _fmt(r.perfect_reference)]
            for metric in metric_list for r in refs[refs["metric"] == metric].itertuples(index=False)]
    if not rows:
        return ""
    return ('<p>Read each value against its <b>random baseline</b> (the k-means clusters randomly permuted: '
            'same sizes, mean over rows) and its <b>perfect reference</b> (the image grouping itself for '
            '<code>*_image</code>; one cluster per language plus singletons up to as many clusters for '
            '<code>*_language</code>). AMI is 0 at chance; NMI is not.</p>'
            + _table(["benchmark", "metric", "random baseline", "perfect reference"], rows, left=2, raw=True))


HEADLINE_METRICS = {"t2i": "R@10", "i2t": "R@10", "vqa": "acc@1"}  # the metric that names a task's best method


def _best_method_section(comparisons: pd.DataFrame | None, language: str) -> str:
    """Per model, benchmark and task: the best KD method, and whether it beats the runner-up."""
    if comparisons is None or comparisons.empty:
        return _not_computed("Method-vs-method comparisons")
    rows = []
    c = comparisons[comparisons["language"] == language]
    for (model, benchmark, task), g in c.groupby(["model", "benchmark", "task"], sort=False):
        g = g[g["metric"] == HEADLINE_METRICS.get(task, "")]
        if g.empty:
            continue
        means = dict(zip(g["method_a"], g["mean_a"])) | dict(zip(g["method_b"], g["mean_b"]))
        best, runner = sorted(means, key=lambda m: -means[m])[:2]
        pair = g[((g["method_a"] == best) & (g["method_b"] == runner)) | ((g["method_a"] == runner) & (g["method_b"] == best))].iloc[0]
        sign = 1.0 if pair["method_a"] == best else -1.0
        low, high = sorted((sign * pair["diff_low"], sign * pair["diff_high"]))
        verdict = "yes" if bool(pair["significant"]) else "no"
        rows.append([_e(model), _e(benchmark), _e(f"{task} {HEADLINE_METRICS[task]}"), f"<b>{_e(best)}</b> {_fmt(means[best])}",
                     f"{_e(runner)} {_fmt(means[runner])}", f"{_fmt(sign * pair['diff'])} [{_fmt(low)}, {_fmt(high)}]",
                     _fmt(pair["p_adjusted"]), verdict])
    if not rows:
        return _not_computed("Method-vs-method comparisons")
    return ('<p class="note">Best KD method per task (comparisons.csv): difference to the runner-up on the same '
            "queries with its 95% paired-bootstrap interval; p Holm-adjusted over all method pairs × "
            "languages (pooled included) of the task and metric.</p>"
            + _table(["model", "benchmark", "task", "best", "runner-up", "difference [95% CI]", "p adjusted",
                      "significant"], rows, left=3, raw=True))


def write_language_page(
    language: str,
    summary: pd.DataFrame,
    metrics: pd.DataFrame | None,
    significance: pd.DataFrame | None,
    consistency: pd.DataFrame | None,
    figures: Mapping[str, str | os.PathLike] | None,
    out_path: str | os.PathLike,
    *,
    clustering: pd.DataFrame | None = None,
    languages: Sequence[str] | None = None,
    alpha: float = 0.05,
    comparisons: pd.DataFrame | None = None,
) -> Path:
    """Write ``{language}.html`` (``comparisons``: comparisons.csv, for the best method per task).

    ``summary`` (summary.csv) is required; ``metrics`` gives the 95% CIs (per-seed intervals averaged
    over seeds); ``significance`` the marks; ``consistency``/``clustering`` the panels; any of these
    may be None (the panel then says "not computed"). ``figures`` maps the names ``metrics``,
    ``retention``, ``consistency``, ``change`` to PNG paths (absolute, or relative to the page).
    ``languages`` lists every language page for the navigation bar.
    """
    out_path = Path(out_path)
    languages = list(languages) if languages is not None else [language]
    if language not in languages:
        languages.append(language)
    name = language_name(language)
    base = out_path.parent
    correction = _correction_label(significance)
    sig_note = (
        f"<b>*</b> marks a difference that holds at \u03b1 = {alpha:g} after the {correction} correction "
        "across languages (paired permutation test on the same queries, per-query values averaged over seeds); "
        "green = gain, red = loss. Hover a difference for its raw and adjusted p-value."
        if significance is not None and not significance.empty
        else f"Significance tests: {NOT_COMPUTED} (no marks shown)."
    )
    body = [
        f"<h1>Language: {_e(name)}</h1>",
        _nav(languages, language),
        f'<p class="note">Every model and method in <b>{_e(name)}</b>, against the teacher and against '
        "<code>init</code> (the student before distillation). value = mean over seeds "
        "(\u00b1 std over seeds when there are several); [95% CI] = bootstrap interval over queries "
        "(averaged over seeds); \u0394 teacher = value \u2212 teacher, with the retention value / teacher in "
        f"brackets; \u0394 init = value \u2212 init. {sig_note}</p>",
        f"<h2>Best method per task in {_e(name)}</h2>",
        _best_method_section(comparisons, language),
        f"<h2>Scores in {_e(name)}</h2>",
        _scores_section(language, summary, metrics, significance),
        f"<h2>Figures for {_e(name)}</h2>",
        _figure(figures, "metrics", base,
                f"{name}: every metric per method (bars: mean over seeds, hue = model; dashed: teacher)."),
        _figure(figures, "retention", base, f"{name}: retention (student / teacher) per method."),
        _figure(figures, "change", base,
                f"{name}: change from the teacher in retrieval (t2i R@10) against VQA (acc@1), per method."),
        f"<h2>Cross-lingual consistency: {_e(name)} against English</h2>",
        '<p class="note">cosine_to_en: mean cosine between a caption and its English translation; '
        "top10_overlap: overlap of the top-10 retrieved images for a caption and its English translation; "
        "bitext_to_en / bitext_from_en: translation retrieval accuracy among the parallel captions. "
        "Mean over seeds.</p>",
        _consistency_section(consistency, language),
        _figure(figures, "consistency", base, f"{name}: consistency with English per method.")
        if consistency is not None and not consistency.empty else "",
        "<h2>Clustering (all languages together)</h2>",
        '<p class="note">k-means over the caption embeddings of every language (k = number of images). '
        "nmi_image: agreement with the image ids (meaning); nmi_language: agreement with the language ids. "
        "High nmi_language and low nmi_image means the encoder groups by language rather than meaning. "
        'The same numbers on every page; the figure is on the <a href="index.html#clustering">overview</a>.</p>',
        _clustering_section(clustering),
        _nav(languages, language),
    ]
    write_text(out_path, _page(f"{name}: distillation report", "\n".join(body)))
    return out_path


# ----------------------------------------------------------------------------- index page


def _means_section(means: pd.DataFrame | None) -> str:
    if means is None or means.empty:
        return _not_computed("Means over languages")
    cols = [("t2i", "R@1"), ("t2i", "R@10"), ("i2t", "R@10"), ("vqa", "acc@1")]
    cols = [c for c in cols if ((means["task"] == c[0]) & (means["metric"] == c[1])).any()]
    header = ["model", "method", "benchmark"] + [f"{t} {m} (retention)" for t, m in cols]
    rows, classes = [], []
    for (model, benchmark), g in means.groupby(["model", "benchmark"]):
        for method in method_order(g["method"]):
            row = [_e(model), _e(method), _e(benchmark)]
            for t, m in cols:
                r = g[(g["method"] == method) & (g["task"] == t) & (g["metric"] == m)]
                if r.empty:
                    row.append("–")
                    continue
                r = r.iloc[0]
                cell = f"<b>{_fmt(r['mean'])}</b>"
                if r["n_seeds"] > 1 and _isnum(r["std"]):
                    cell += f' <span class="sd">\u00b1{_fmt(r["std"])}</span>'
                if method != "teacher":
                    cell += f' <span class="sd">({_pct(r["retention"])})</span>'
                row.append(cell)
            rows.append(row)
            classes.append("ref" if method in REFERENCES else "")
    return _table(header, rows, left=3, raw=True, row_classes=classes)


def _stability_section(stab: pd.DataFrame | None) -> str:
    if stab is None or stab.empty:
        return _not_computed("Stability across tasks")
    header = ["model", "method", "benchmark", "languages",
              "\u0394 t2i R@10", "retention", "worst language", "worst retention", "std of retention",
              "\u0394 VQA acc@1", "retention", "worst language", "worst retention", "std of retention"]
    def lang(code):
        return language_name(code) if isinstance(code, str) else "–"

    rows = []
    for r in stab.itertuples(index=False):
        rows.append([
            r.model, r.method, r.benchmark, str(r.n_languages),
            _signed(r.retrieval_change), _pct(r.retrieval_retention), lang(r.retrieval_worst_language),
            _pct(r.retrieval_worst_retention), _fmt(r.retrieval_retention_std),
            _signed(r.vqa_change), _pct(r.vqa_retention), lang(r.vqa_worst_language),
            _pct(r.vqa_worst_retention), _fmt(r.vqa_retention_std),
        ])
    classes = ["ref" if r.method in REFERENCES else "" for r in stab.itertuples(index=False)]
    return _table(header, rows, left=3, row_classes=classes)


def _significance_overview(significance: pd.DataFrame | None) -> str:
    if significance is None or significance.empty:
        return _not_computed("Significance tests")
    picks = [("t2i", "R@10"), ("i2t", "R@10"), ("vqa", "acc@1")]
    s = significance[significance["significant"].astype(str).str.lower().isin(["true", "1"])]
    rows = []
    for (model, benchmark, method, reference), g in significance.groupby(
            ["model", "benchmark", "method", "reference"]):
        row = [model, method, f"vs {reference}", benchmark]
        for task, metric in picks:
            sub = s[(s["model"] == model) & (s["benchmark"] == benchmark) & (s["method"] == method)
                    & (s["reference"] == reference) & (s["task"] == task) & (s["metric"] == metric)]
            if not ((g["task"] == task) & (g["metric"] == metric)).any():
                row.extend(["–", "–"])
                continue
            up = sorted(sub.loc[sub["diff"] > 0, "language"])
            down = sorted(sub.loc[sub["diff"] < 0, "language"])
            row.append(", ".join(up) or "none")
            row.append(", ".join(down) or "none")
        rows.append(row)
    order = {m: i for i, m in enumerate(method_order(significance["method"]))}
    rows.sort(key=lambda r: (r[0], r[3], order[r[1]], r[2]))
    header = ["model", "method", "reference", "benchmark"]
    for task, metric in picks:
        header += [f"{task} {metric}: significant gain", f"{task} {metric}: significant loss"]
    return _table(header, rows, left=4)


def _parameters_section(parameters: pd.DataFrame | None) -> str:
    if parameters is None or parameters.empty:
        return _not_computed("Parameter counts")
    def count(x):
        return f"{int(float(x)):,}" if _isnum(x) else "–"

    def share(x, ref):
        return _pct(float(x) / float(ref)) if _isnum(x) and _isnum(ref) and float(ref) > 0 else "–"

    rows = []
    for model, g in parameters.groupby("model", sort=True):
        teacher = g[g["role"] == "teacher"]
        t_text = teacher["text_parameters"].iloc[0] if len(teacher) else None
        t_total = teacher["total_parameters"].iloc[0] if len(teacher) else None
        g = g.assign(_order=g["role"].map(lambda v: 0 if v == "teacher" else 1)).sort_values(["_order", "role"])
        for r in g.itertuples(index=False):
            rows.append([
                r.model, r.role, count(r.text_layers), count(r.text_parameters), count(r.total_parameters),
                share(r.text_parameters, t_text), share(r.total_parameters, t_total),
            ])
    return _table(["model", "role", "text layers", "text parameters", "total parameters",
                   "text share of teacher", "total share of teacher"], rows, left=2)


def _flatten(obj, prefix: str = "") -> list[tuple[str, object]]:
    if isinstance(obj, Mapping):
        out = []
        for k in obj:
            out.extend(_flatten(obj[k], f"{prefix} / {k}" if prefix else str(k)))
        return out
    if isinstance(obj, (list, tuple)):
        return [(prefix, ", ".join(str(v) for v in obj))]
    return [(prefix, obj)]


def _load_ceilings(ceilings) -> dict:
    """``{benchmark: ceiling}`` from a mapping of ceilings, of meta.json paths, or one meta.json path."""
    if ceilings is None:
        return {}
    if isinstance(ceilings, (str, os.PathLike)):
        meta = json.loads(Path(ceilings).read_text(encoding="utf-8"))
        return {meta.get("name", "benchmark"): meta.get("ceiling")} if meta.get("ceiling") else {}
    out = {}
    for bench, value in ceilings.items():
        if isinstance(value, (str, os.PathLike)):
            value = json.loads(Path(value).read_text(encoding="utf-8")).get("ceiling")
        if value:
            out[bench] = value
    return out


def _ceiling_section(ceilings) -> str:
    ceilings = _load_ceilings(ceilings)
    if not ceilings:
        return _not_computed("Benchmark ceiling")
    rows = []
    for bench, value in ceilings.items():
        for key, v in _flatten(value):
            rows.append([bench, key, _fmt(v) if _isnum(v) else str(v)])
    return ('<p class="note">Oracle scores of the benchmark (meta.json <code>ceiling</code>): for the '
            "synthetic benchmark the Bayes-optimal ranking by the generator's own likelihood, ties "
            "pessimistic; no encoder can do better than this in expectation on these captions.</p>"
            + _table(["benchmark", "metric", "ceiling"], rows, left=2))


def write_index(
    languages: Sequence[str],
    summary: pd.DataFrame | None,
    figures: Mapping[str, str | os.PathLike] | None,
    out_path: str | os.PathLike,
    *,
    means: pd.DataFrame | None = None,
    stability_table: pd.DataFrame | None = None,
    parameters: pd.DataFrame | None = None,
    significance: pd.DataFrame | None = None,
    consistency: pd.DataFrame | None = None,
    clustering: pd.DataFrame | None = None,
    ceilings=None,
    alpha: float = 0.05,
    comparisons: pd.DataFrame | None = None,
) -> Path:
    """Write ``index.html``: overview heatmap, means over languages, stability, significance overview,
    parameter counts, loss curves, consistency, clustering, projection, ceiling, links to every language.

    ``figures`` maps the names in ``INDEX_FIGURES`` to PNG paths. ``means`` are the language-mean rows
    (``tables.language_means``); computed from ``summary`` (mean of means) when not given.
    ``ceilings``: ``{benchmark: meta["ceiling"]}``, ``{benchmark: path to meta.json}`` or a meta.json path.
    """
    out_path = Path(out_path)
    base = out_path.parent
    languages = list(languages)
    if means is None and summary is not None and not summary.empty:
        means = _means_from_summary(summary)
    if stability_table is None and summary is not None and not summary.empty:
        stability_table = stability(summary)
    correction = _correction_label(significance)
    links = "".join(f'<li><a href="{_e(lang)}.html">{_e(language_name(lang))}</a></li>' for lang in languages)
    body = [
        "<h1>Multilingual distillation study: overview</h1>",
        _nav(languages, None),
        f"<p>Languages ({len(languages)}): {_e(', '.join(language_name(lang) for lang in languages))}.</p>",
        f"<h2>Language pages</h2><ul>{links}</ul>",
        "<h2>Best method per task (all languages' queries pooled)</h2>",
        _best_method_section(comparisons, POOLED),
        "<h2>Retention overview</h2>",
        _figure(figures, "retention_heatmap", base,
                "Text-to-image R@10 retention (student / teacher), method \u00d7 language, one panel per model."),
        "<h2>Means over languages</h2>",
        '<p class="note">Mean over languages per seed, then mean (\u00b1 std) over seeds; retention = '
        "mean student score / mean teacher score.</p>",
        _means_section(means),
        "<h2>Stability across tasks and languages</h2>",
        '<p class="note">Change from the teacher in retrieval (t2i R@10) and VQA (acc@1), each averaged over '
        "languages; the worst language and the standard deviation of the per-language retention show "
        "what the average hides.</p>",
        _stability_section(stability_table),
        _figure(figures, "change_scatter", base,
                "Change from the teacher: retrieval (t2i R@10) against VQA (acc@1), per method and model."),
        "<h2>Significant differences</h2>",
        f'<p class="note">Languages where a method differs from the reference at \u03b1 = {alpha:g} after the '
        f"{_e(correction)} correction across languages (paired permutation test on the same queries).</p>",
        _significance_overview(significance),
        "<h2>Parameter counts</h2>",
        _parameters_section(parameters),
        "<h2>Training</h2>",
        _figure(figures, "loss_curves", base, "Training loss (total) per step, per method and seed."),
        "<h2>Cross-lingual consistency (mean over languages)</h2>",
        _consistency_section(consistency, None),
        _figure(figures, "consistency", base, "Consistency with English per language, method and model.")
        if consistency is not None and not consistency.empty else "",
        '<h2 id="clustering">Clustering</h2>',
        _clustering_section(clustering),
        _figure(figures, "clustering", base,
                "NMI with image ids (meaning) against NMI with language ids, per method and model."),
        "<h2>Projection of parallel captions</h2>",
        _figure(figures, "projection", base,
                "2-D PCA (fit on the teacher) of parallel captions coloured by language: teacher, best and "
                "worst student per model."),
        "<h2>Benchmark ceiling</h2>",
        _ceiling_section(ceilings),
        _nav(languages, None),
    ]
    write_text(out_path, _page("Distillation study: overview", "\n".join(body)))
    return out_path


def _means_from_summary(summary: pd.DataFrame) -> pd.DataFrame:
    s = summary[summary["language"] != MEAN_LANGUAGE]
    g = s.groupby(["model", "method", "benchmark", "task", "metric"], dropna=False)
    out = g.agg(mean=("mean", "mean"), teacher=("teacher", "mean"), init=("init", "mean"),
                n_seeds=("n_seeds", "max")).reset_index()
    out["std"] = float("nan")
    out["language"] = MEAN_LANGUAGE
    out["retention"] = out["mean"] / out["teacher"].where(out["teacher"] > 0)
    return out[SUMMARY_COLUMNS]


# ----------------------------------------------------------------------------- entry points


def language_outputs(language: str) -> list[str]:
    """Files ``write_language_report`` writes, relative to the reports folder."""
    return [f"{language}.html"] + [f"figures/{language}_{name}.png" for name in LANGUAGE_FIGURES]


def index_outputs() -> list[str]:
    """Files ``write_index_report`` writes, relative to the reports folder."""
    return ["index.html"] + [f"figures/{name}.png" for name in INDEX_FIGURES]


def load_tables(tables_dir: str | os.PathLike) -> dict[str, pd.DataFrame | None]:
    """Read the result tables; ``metrics.csv`` is required, the others are None when absent.

    ``summary`` is computed from metrics when ``summary.csv`` is absent. ``projection.csv``
    (``model, method, language, parallel_id, x, y``; see ``figures.projection_from_files``) is optional.
    """
    tables_dir = Path(tables_dir)
    metrics_path = tables_dir / "metrics.csv"
    if not metrics_path.exists():
        raise FileNotFoundError(f"{metrics_path}: the metrics table is needed to write the reports")
    metrics = read_table(metrics_path, METRICS_COLUMNS)
    summary = read_optional(tables_dir / "summary.csv", SUMMARY_COLUMNS)
    if summary is None:
        summary = summarize(metrics)
    significance = read_optional(tables_dir / "significance.csv", SIGNIFICANCE_COLUMNS)
    if significance is not None:
        significance["significant"] = significance["significant"].astype(str).str.lower().isin(["true", "1"])
    return {
        "metrics": metrics,
        "summary": summary,
        "significance": significance,
        "comparisons": _read_comparisons(tables_dir / "comparisons.csv"),
        "consistency": read_optional(tables_dir / "consistency.csv", CONSISTENCY_COLUMNS),
        "clustering": read_optional(tables_dir / "clustering.csv", CLUSTERING_COLUMNS),
        "parameters": read_optional(tables_dir / "parameters.csv", PARAMETERS_COLUMNS),
        "projection": read_optional(tables_dir / "projection.csv", PROJECTION_COLUMNS),
    }


def _read_comparisons(path: Path) -> pd.DataFrame | None:
    comparisons = read_optional(path, COMPARISON_COLUMNS)
    if comparisons is not None:
        comparisons["significant"] = comparisons["significant"].astype(str).str.lower().isin(["true", "1"])
    return comparisons


def read_loss_logs(students_dir: str | os.PathLike | None) -> pd.DataFrame | None:
    """Every ``{model}/{method}/seed{seed}/loss_log.csv`` under ``students_dir``, with model/method/seed."""
    if students_dir is None or not Path(students_dir).exists():
        return None
    students_dir = Path(students_dir)
    frames = []
    for path in sorted(students_dir.glob("*/*/seed*/loss_log.csv")):
        model, method, seed_dir = path.relative_to(students_dir).parts[:3]
        try:
            log = pd.read_csv(path)
        except (pd.errors.EmptyDataError, OSError):
            continue
        if log.empty or "step" not in log.columns:
            continue
        frames.append(log.assign(model=model, method=method, seed=int(seed_dir[len("seed"):])))
    return pd.concat(frames, ignore_index=True) if frames else None


def _filter_languages(frame: pd.DataFrame | None, languages: Sequence[str]) -> pd.DataFrame | None:
    if frame is None or "language" not in frame.columns:
        return frame
    return frame[frame["language"].isin(list(languages))]


def write_language_report(
    language: str,
    tables_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    languages: Sequence[str] | None = None,
    tables: Mapping[str, pd.DataFrame | None] | None = None,
) -> list[Path]:
    """Write ``{language}.html`` and its figures (``language_outputs``) under ``out_dir``."""
    out_dir = Path(out_dir)
    tables = tables or load_tables(tables_dir)
    languages = list(languages) if languages is not None else [language]
    fig_dir = out_dir / "figures"
    summary = tables["summary"]
    figs = {
        "metrics": F.plot_language_metrics(summary, language, fig_dir / f"{language}_metrics.png"),
        "retention": F.plot_language_retention(summary, language, fig_dir / f"{language}_retention.png"),
        "consistency": F.plot_consistency(tables["consistency"], fig_dir / f"{language}_consistency.png",
                                          language=language),
    }
    lang_summary = summary[summary["language"] == language] if summary is not None else None
    stab = stability(lang_summary) if lang_summary is not None and not lang_summary.empty else None
    figs["change"] = F.plot_change_scatter(stab, fig_dir / f"{language}_change.png")
    rel = {k: Path("figures") / Path(v).name for k, v in figs.items()}
    page = write_language_page(
        language, summary, tables["metrics"], tables["significance"], tables["consistency"], rel,
        out_dir / f"{language}.html", clustering=tables["clustering"], languages=languages,
        comparisons=tables.get("comparisons"),
    )
    return [page] + [Path(figs[name]) for name in LANGUAGE_FIGURES]


def write_index_report(
    tables_dir: str | os.PathLike,
    students_dir: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    languages: Sequence[str],
    ceilings=None,
    tables: Mapping[str, pd.DataFrame | None] | None = None,
    scores_dir: str | os.PathLike | None = None,
) -> list[Path]:
    """Write ``index.html`` and the overview figures (``index_outputs``) under ``out_dir``.

    The projection comes from ``projection.csv`` in ``tables_dir`` if present, else from the
    ``projection.npz`` samples under ``scores_dir`` (``figures.projection_from_scores``).
    """
    out_dir = Path(out_dir)
    tables = dict(tables or load_tables(tables_dir))
    if tables.get("projection") is None and scores_dir is not None and Path(scores_dir).exists():
        tables["projection"] = F.projection_from_scores(scores_dir, tables["summary"])
    languages = list(languages)
    fig_dir = out_dir / "figures"
    summary = _filter_languages(tables["summary"], languages)
    metrics = _filter_languages(tables["metrics"], languages)
    consistency = _filter_languages(tables["consistency"], languages)
    stab = stability(summary) if summary is not None and not summary.empty else None
    means = language_means(metrics) if metrics is not None and not metrics.empty else None
    figs = {
        "retention_heatmap": F.plot_retention_heatmap(summary, fig_dir / "retention_heatmap.png"),
        "loss_curves": F.plot_loss_curves(read_loss_logs(students_dir), fig_dir / "loss_curves.png"),
        "change_scatter": F.plot_change_scatter(stab, fig_dir / "change_scatter.png"),
        "consistency": F.plot_consistency(consistency, fig_dir / "consistency.png"),
        "clustering": F.plot_clustering(tables["clustering"], fig_dir / "clustering.png"),
        "projection": F.plot_projection(tables["projection"], fig_dir / "projection.png",
                                        labels=F.projection_labels(summary)),
    }
    rel = {k: Path("figures") / Path(v).name for k, v in figs.items()}
    index = write_index(
        languages, summary, rel, out_dir / "index.html", means=means, stability_table=stab,
        parameters=tables["parameters"], significance=_filter_languages(tables["significance"], languages),
        consistency=consistency, clustering=tables["clustering"], ceilings=ceilings,
        comparisons=tables.get("comparisons"),
    )
    return [index] + [Path(figs[name]) for name in INDEX_FIGURES]


def write_reports(
    tables_dir: str | os.PathLike,
    students_dir: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    languages: Sequence[str],
    ceilings=None,
    scores_dir: str | os.PathLike | None = None,
) -> list[Path]:
    """Read the tables under ``tables_dir`` and write every page and figure under ``out_dir``.

    ``students_dir`` holds ``{model}/{method}/seed{seed}/loss_log.csv`` (None: no loss curves);
    ``languages`` are the languages to write pages for; ``ceilings`` see ``write_index``;
    ``scores_dir`` (optional) holds the clustering jobs' ``projection.npz`` samples.
    Returns the files written (``language_outputs`` for each language, then ``index_outputs``).
    """
    tables = load_tables(tables_dir)
    written: list[Path] = []
    for language in languages:
        written += write_language_report(language, tables_dir, out_dir, languages=languages, tables=tables)
    written += write_index_report(tables_dir, students_dir, out_dir, languages, ceilings=ceilings, tables=tables,
                                  scores_dir=scores_dir)
    return written
