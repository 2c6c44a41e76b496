"""Static HTML pages from Jinja2 templates (``templates/``, autoescaped): one per language and an index.

Rendering only fills templates: the numbers come from ``views.py``, the layout and wording from the
templates, the formatting from the filters below. Pages need no server and no network: the stylesheet
is inlined, and so are the figures (PNG data URIs) and the per-language tables a page offers for
download, so that a page shows everything wherever it is opened: from the results folder, or from
the `snakemake --report` bundle, which loads each page from a data: URI. Only the links between
pages are relative. Every file a page reads or writes is passed in by its rule
(``workflow/rules/report.smk``); nothing here looks for files.
"""

from __future__ import annotations

import base64
import math
import mimetypes
import os
from pathlib import Path
from typing import Mapping, Sequence

import jinja2
import pandas as pd

from mvlm_distill.definitions import LANGUAGE_NAMES, REFERENCES
from mvlm_distill.io import write_text
from mvlm_distill.report import figures as F
from mvlm_distill.report import views
from mvlm_distill.report.tables import (
    BOUNDS_COLUMNS,
    CLUSTERING_COLUMNS,
    COMPARISON_COLUMNS,
    CONSISTENCY_COLUMNS,
    METRICS_COLUMNS,
    PARAMETERS_COLUMNS,
    POOLED,
    RESOURCE_GROUP_COLUMNS,
    SIGNIFICANCE_COLUMNS,
    SUMMARY_COLUMNS,
    read_table,
)

CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg", "fdr_bh": "Benjamini-Hochberg"}

# the tables the pages read, by the name of their input in the report rules
TABLE_COLUMNS = {
    "metrics": METRICS_COLUMNS, "summary": SUMMARY_COLUMNS, "significance": SIGNIFICANCE_COLUMNS,
    "comparisons": COMPARISON_COLUMNS, "consistency": CONSISTENCY_COLUMNS, "clustering": CLUSTERING_COLUMNS,
    "bounds": BOUNDS_COLUMNS, "parameters": PARAMETERS_COLUMNS, "resource_groups": RESOURCE_GROUP_COLUMNS,
}


def language_name(code: str) -> str:
    """``"German (de)"`` for known codes, the code itself otherwise."""
    name = LANGUAGE_NAMES.get(str(code).split("-")[0].split("_")[0].lower())
    return f"{name} ({code})" if name else str(code)


# ----------------------------------------------------------------------------- filters


def _number(x) -> float | None:
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def fmt(x, digits: int = 3) -> str:
    value = _number(x)
    return "–" if value is None else f"{value:.{digits}f}"


def signed(x, digits: int = 3) -> str:
    value = _number(x)
    return "–" if value is None else f"{value:+.{digits}f}".replace("-", "\u2212")


def pct(x) -> str:
    value = _number(x)
    return "–" if value is None else f"{100 * value:.0f}%"


def pvalue(x) -> str:
    """``"= 0.0123"``, or ``"< 1e-4"`` below 1e-4 (never a misleading ``0.0000``)."""
    value = _number(x)
    if value is None:
        return "–"
    return "< 1e-4" if value < 1e-4 else f"= {value:.4f}"


def level(x) -> str:
    """A confidence level as a percentage with the digits that tell it from 100%: ``95%``, ``99.97%``."""
    value = _number(x)
    if value is None:
        return "–"
    for digits in range(4):
        text = f"{100 * value:.{digits}f}"
        if float(text) == round(100 * value, 9) or (digits and float(text) < 100):
            break
    return f"{text}%"


def count(x) -> str:
    value = _number(x)
    return "–" if value is None else f"{int(value):,}"


def known(x) -> bool:
    """True for a number (not NA) or a non-empty text."""
    if isinstance(x, str):
        return bool(x)
    return _number(x) is not None


def flag(x) -> bool:
    """A significance flag as read from CSV (True, "True", 1) or NA (False)."""
    return known(x) and str(x).lower() in ("true", "1", "1.0")


ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("mvlm_distill.report", "templates"),
    autoescape=jinja2.select_autoescape(["html"], default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENVIRONMENT.filters.update(fmt=fmt, signed=signed, pct=pct, count=count, pvalue=pvalue, level=level,
                           language_name=language_name)
ENVIRONMENT.tests.update(known=known)
ENVIRONMENT.globals.update(references=REFERENCES)


def records(frame: pd.DataFrame) -> list[dict]:
    return frame.to_dict("records")


def wide(view: pd.DataFrame, index: Sequence[str], column: str = "metric") -> tuple[list[str], list[dict]]:
    """A long view as the columns of a displayed table: one row per ``index``, one cell per ``column``
    value (each cell the view's record). Reshaping only: each (index, column) has one record."""
    columns = list(dict.fromkeys(view[column])) if not view.empty else []
    rows: dict[tuple, dict] = {}
    for record in records(view):
        key = tuple(record[k] for k in index)
        rows.setdefault(key, {**{k: record[k] for k in index}, "cells": {}})["cells"][record[column]] = record
    return columns, list(rows.values())


def score_blocks(view: pd.DataFrame) -> list[dict]:
    """The scores view as one displayed table per benchmark and task (rows: model x method)."""
    blocks = []
    for (benchmark, task), block in view.groupby(["benchmark", "task"], sort=False):
        metrics, rows = wide(block, ["model", "method", "n_seeds"])
        for row in rows:
            row["n_queries"] = next((c["n_queries"] for c in row["cells"].values() if known(c["n_queries"])), None)
        blocks.append({"benchmark": benchmark, "task": task, "metrics": metrics, "rows": rows})
    return blocks


def mteb_blocks(view: pd.DataFrame) -> list[dict]:
    """The mteb view as one displayed table per mteb task (rows: model x method x seed x metric, one
    column per language and the mean)."""
    blocks = []
    for (name, task), block in view.groupby(["mteb_task", "task"], sort=False):
        languages, rows = wide(block, ["model", "method", "seed", "metric"], column="language")
        blocks.append({"name": name, "task": task, "languages": languages, "rows": rows})
    return blocks


def data_uri(path: str | os.PathLike) -> str:
    """The file as a ``data:`` URI (a figure or a table a page embeds)."""
    kind = {".csv": "text/csv", ".tex": "text/x-tex"}.get(Path(path).suffix) or mimetypes.guess_type(str(path))[0]
    return f"data:{kind or 'application/octet-stream'};base64,{base64.b64encode(Path(path).read_bytes()).decode()}"


def language_table_paths(files) -> dict[str, tuple[str, str]]:
    """``{stem: (csv, tex)}`` of the per-language tables among a rule's named files (``csv_<stem>``,
    ``tex_<stem>``: rule language_tables' outputs, the pages' inputs)."""
    from mvlm_distill.report import LANGUAGE_TABLES

    return {stem: (getattr(files, f"csv_{stem}"), getattr(files, f"tex_{stem}")) for stem in LANGUAGE_TABLES}


def table_downloads(language_tables: Mapping[str, tuple[str | os.PathLike, str | os.PathLike]]) -> list[dict]:
    """The per-language tables a page offers: task, metric, file names and the files as data URIs;
    a table the study did not compute (no rows) is left out."""
    from mvlm_distill.report import LANGUAGE_TABLES

    out = []
    for stem, (csv, tex) in language_tables.items():
        if len(Path(csv).read_text(encoding="utf-8").strip().splitlines()) < 2:
            continue
        task, metric = LANGUAGE_TABLES[stem]
        out.append({"task": task, "metric": metric, "csv": Path(csv).name, "tex": Path(tex).name,
                    "csv_uri": data_uri(csv), "tex_uri": data_uri(tex)})
    return out


def grouped_languages(languages: Sequence[str], groups: Mapping[str, Sequence[str]] | None) -> list[dict]:
    """``[{"level": ..., "languages": [...]}]`` in the groups' order; languages no group names last."""
    groups = dict(groups or {})
    named = {code for codes in groups.values() for code in codes}
    out = [{"level": level, "languages": [c for c in codes if c in languages]} for level, codes in groups.items()]
    rest = [code for code in languages if code not in named]
    if rest:
        out.append({"level": "" if not groups else "other", "languages": rest})
    return [g for g in out if g["languages"]]


def render(template: str, **context) -> str:
    return ENVIRONMENT.get_template(template).render(**context)


# ----------------------------------------------------------------------------- inputs


def load_tables(paths: Mapping[str, str | os.PathLike]) -> dict[str, pd.DataFrame | None]:
    """Read the named tables; an empty file (a panel the study did not compute) reads as None."""
    out = {}
    for name, path in paths.items():
        if name not in TABLE_COLUMNS:
            raise ValueError(f"{path}: unknown report table {name!r} (expected one of {', '.join(TABLE_COLUMNS)})")
        frame = read_table(path, TABLE_COLUMNS[name]) if Path(path).stat().st_size else None
        if frame is not None and "significant" in frame.columns:
            frame["significant"] = frame["significant"].map(flag)
        out[name] = None if frame is None or frame.empty else frame
    if out.get("summary") is None:
        raise ValueError(f"{paths['summary']}: the summary table is empty, there is nothing to report")
    return out


def read_loss_logs(students: Sequence[tuple[Mapping, str | os.PathLike]]) -> pd.DataFrame | None:
    """The ``loss_log.csv`` of each given student folder, with its model, method and seed."""
    frames = []
    for keys, folder in students:
        path = Path(folder) / "loss_log.csv"
        log = pd.read_csv(path)
        if not log.empty and "step" in log.columns:
            frames.append(log.assign(model=keys["model"], method=keys["method"], seed=int(keys["seed"])))
    return pd.concat(frames, ignore_index=True) if frames else None


# ----------------------------------------------------------------------------- pages


def _correction(tables: Mapping) -> str:
    sig = tables.get("significance")
    names = sorted({CORRECTION_NAMES.get(str(c).lower(), str(c)) for c in sig["correction"].dropna()}) if sig is not None else []
    return ", ".join(names) or "Holm"


def _page_context(languages: Sequence[str], groups: Mapping[str, Sequence[str]] | None,
                  language_tables: Mapping[str, tuple] | None, figures: Mapping[str, str | os.PathLike]) -> dict:
    """What every page shows besides its own panels: the languages by resource level (navigation),
    its figures and the per-language tables, inlined."""
    grouped = grouped_languages(list(languages), groups)
    return {"languages": [code for g in grouped for code in g["languages"]], "groups": grouped,
            "table_files": table_downloads(language_tables or {}),
            "figures": {name: data_uri(path) for name, path in figures.items()}}


def write_language_report(language: str, languages: Sequence[str], tables: Mapping[str, pd.DataFrame | None],
                          page: str | os.PathLike, figures: Mapping[str, str | os.PathLike],
                          alpha: float = 0.05, groups: Mapping[str, Sequence[str]] | None = None,
                          language_tables: Mapping[str, tuple] | None = None) -> Path:
    """Write ``page`` (one language) and its figures (``LANGUAGE_FIGURES``, paths from the rule).

    ``groups``: the languages by resource level (navigation order); ``language_tables``: ``{stem:
    (csv, tex)}`` of rule language_tables, offered for download.
    """
    page = Path(page)
    summary = tables["summary"]
    scores = views.scores(summary, tables["metrics"], tables["significance"], tables["bounds"], language)
    by_language = views.consistency_by_language(tables["consistency"])
    F.plot_language_metrics(scores, language, figures["metrics"])
    F.plot_language_retention(views.retention(summary, language), language, figures["retention"])
    F.plot_consistency(by_language, figures["consistency"], language=language)
    F.plot_change_scatter(views.stability(summary[summary["language"] == language]), figures["change"])
    consistency_metrics, consistency_rows = wide(views.consistency(tables["consistency"], language),
                                                 ["model", "benchmark", "method"])
    clustering_metrics, clustering_rows = wide(views.clustering(tables["clustering"]), ["model", "benchmark", "method"])
    level = views.language_levels(groups or {}).get(language, "")
    text = render(
        "language.html", language=language, level=level, alpha=alpha,
        correction=_correction(tables), has_significance=tables["significance"] is not None,
        best=records(views.best_method(tables["comparisons"], language)),
        score_blocks=score_blocks(scores),
        consistency_metrics=consistency_metrics, consistency_rows=consistency_rows,
        clustering_metrics=clustering_metrics, clustering_rows=clustering_rows,
        clustering_references=records(views.clustering_references(tables["clustering"])),
        **_page_context(languages, groups, language_tables, figures),
    )
    write_text(page, text)
    return page


def write_index_report(languages: Sequence[str], tables: Mapping[str, pd.DataFrame | None],
                       page: str | os.PathLike, figures: Mapping[str, str | os.PathLike], *,
                       students: Sequence[tuple[Mapping, str | os.PathLike]] = (),
                       projections: Sequence[tuple[Mapping, str | os.PathLike]] = (),
                       alpha: float = 0.05, mteb: pd.DataFrame | None = None,
                       groups: Mapping[str, Sequence[str]] | None = None,
                       language_tables: Mapping[str, tuple] | None = None) -> Path:
    """Write ``page`` (the overview) and its figures (``INDEX_FIGURES``, paths from the rule).

    ``students``: (keys, student folder) pairs, for the loss curves; ``projections``: (keys,
    ``projection.npz``) pairs, for the projection of parallel captions; ``mteb``: tables/mteb.csv
    when the study made it (its section is left out otherwise); ``groups``: the languages by
    resource level, highest first; ``language_tables``: ``{stem: (csv, tex)}``, offered for download.
    """
    page = Path(page)
    summary = tables["summary"]
    groups = groups or {}
    stability = views.stability(summary)
    clustering = views.clustering(tables["clustering"])
    clustering_references = views.clustering_references(tables["clustering"])
    F.plot_retention_heatmap(summary, figures["retention_heatmap"], tables["significance"], groups)
    F.plot_retention_by_level(views.level_retention(tables.get("resource_groups")), figures["retention_by_level"])
    F.plot_loss_curves(read_loss_logs(students), figures["loss_curves"])
    F.plot_change_scatter(stability, figures["change_scatter"])
    F.plot_consistency(views.consistency_by_language(tables["consistency"]), figures["consistency"])
    F.plot_clustering(clustering, clustering_references, figures["clustering"])
    F.plot_projection(views.projection_from_samples(projections, summary), figures["projection"],
                      labels=views.projection_labels(summary))
    mean_columns, mean_rows = wide(views.headline_means(summary), ["model", "benchmark", "method"],
                                   column="panel")
    consistency_metrics, consistency_rows = wide(views.consistency(tables["consistency"], None),
                                                 ["model", "benchmark", "method"])
    clustering_metrics, clustering_rows = wide(clustering, ["model", "benchmark", "method"])
    text = render(
        "index.html", alpha=alpha, correction=_correction(tables),
        findings=views.key_findings(summary, tables["significance"], tables["comparisons"],
                                    tables.get("resource_groups"), groups),
        has_significance=tables["significance"] is not None,
        best=records(views.best_method(tables["comparisons"], POOLED)),
        paper=records(views.paper_findings(summary, tables["significance"], tables["clustering"])),
        mean_columns=mean_columns, mean_rows=mean_rows, stability=records(stability),
        significance=records(views.significance_overview(tables["significance"])),
        parameters=records(views.parameters(tables["parameters"])),
        consistency_metrics=consistency_metrics, consistency_rows=consistency_rows,
        clustering_metrics=clustering_metrics, clustering_rows=clustering_rows,
        clustering_references=records(clustering_references),
        bounds=records(views.bounds(tables["bounds"])),
        mteb_blocks=mteb_blocks(views.mteb(mteb)),
        **_page_context(languages, groups, language_tables, figures),
    )
    write_text(page, text)
    return page
