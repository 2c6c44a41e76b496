"""Paste-ready per-language tables: one wide CSV and one LaTeX (booktabs) table per task and metric.

Both come from ``summary.csv`` (each language's mean over seeds with its 95% interval over seeds
and images, and the pooled "all languages" row), ``resource_groups.csv`` (each resource level's
languages together) and ``significance.csv`` (the Holm verdict against the teacher). Languages are
grouped by resource level in the config's order (``data.languages.resource_groups``). Formats:
docs/formats.md, "Per-language tables".
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from mvlm_distill.definitions import LANGUAGE_NAMES, REFERENCES
from mvlm_distill.report import LANGUAGE_TABLES, table_stem
from mvlm_distill.io import write_csv, write_text
from mvlm_distill.report.tables import POOLED, method_order

ALL = "all"  # the column of every language's queries together (summary.csv's pooled rows)
ROW_KEYS = ["model", "benchmark", "method"]


def level_column(level: str) -> str:
    return f"level {level}"


def wide_table(summary: pd.DataFrame, resource_groups: pd.DataFrame | None, groups: Mapping[str, Sequence[str]],
               task: str, metric: str) -> pd.DataFrame:
    """One row per model, benchmark and method (teacher, init, KD methods); per language in level
    order the mean over seeds and its interval (``de``, ``de_low``, ``de_high``), then each level's
    (``level high``...) and all languages' together (``all``). Empty (with its columns) when the
    study has no such task."""
    languages = [code for codes in groups.values() for code in codes]
    columns = [level_column(g) for g in groups] + [ALL]
    value_columns = [f"{c}{suffix}" for c in languages + columns for suffix in ("", "_low", "_high")]
    rows = summary[(summary["task"] == task) & (summary["metric"] == metric)]
    if rows.empty:
        return pd.DataFrame(columns=ROW_KEYS + value_columns)
    cells = rows.assign(column=rows["language"].where(rows["language"] != POOLED, ALL))
    if resource_groups is not None and len(resource_groups):
        g = resource_groups[(resource_groups["task"] == task) & (resource_groups["metric"] == metric)]
        cells = pd.concat([cells, g.assign(column=g["group"].map(level_column))], ignore_index=True)
    cells = cells[cells["column"].isin(languages + columns)]
    out = {}
    for suffix, source in (("", "mean"), ("_low", "ci_low"), ("_high", "ci_high")):
        part = cells.pivot_table(index=ROW_KEYS, columns="column", values=source, aggfunc="first", dropna=False)
        out.update({f"{c}{suffix}": part[c] for c in part.columns})
    wide = pd.DataFrame(out).reset_index().reindex(columns=ROW_KEYS + value_columns)
    rank = {m: i for i, m in enumerate(method_order(wide["method"]))}
    wide = wide.assign(_order=wide["method"].map(rank)).sort_values(["model", "benchmark", "_order"], kind="stable")
    return wide.drop(columns="_order").reset_index(drop=True)


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _latex(text) -> str:
    """Text with LaTeX's special characters escaped."""
    return "".join(_LATEX.get(char, char) for char in str(text))


def _number(value) -> str:
    return "--" if value is None or pd.isna(value) else f"{float(value):.3f}"


def latex_table(wide: pd.DataFrame, significance: pd.DataFrame | None, groups: Mapping[str, Sequence[str]],
                task: str, metric: str, alpha: float = 0.05) -> str:
    """A booktabs ``table``: rows are languages grouped by resource level (each level closed by its
    pooled row), then all languages; columns are the methods of each model. A cell is the mean with
    its 95% interval; bold marks the best KD method of a model in that row, ``*`` a difference from
    the teacher that holds after the Holm correction (``significance.csv``)."""
    label = f"tab:{table_stem(task, metric)}"
    if wide.empty:
        return f"% {task} {metric}: not computed in this study (no benchmark with this task).\n"
    sig = {}
    if significance is not None and len(significance):
        s = significance[(significance["task"] == task) & (significance["metric"] == metric)
                         & (significance["reference"] == "teacher") & significance["significant"].astype(bool)]
        sig = {(r.model, r.benchmark, r.method, r.language) for r in s.itertuples(index=False)}
    heads = [tuple(r) for r in wide[ROW_KEYS].itertuples(index=False)]
    models = list(dict.fromkeys((m, b) for m, b, _ in heads))
    multi_benchmark = len({b for _, b in models}) > 1

    def cell(row: int, column: str, language: str | None) -> str:
        value = wide.at[row, column]
        if pd.isna(value):
            return "--"
        model, benchmark, method = heads[row]
        kd = [i for i, (m, b, me) in enumerate(heads) if (m, b) == (model, benchmark) and me not in REFERENCES]
        values = [wide.at[i, column] for i in kd]
        best = method not in REFERENCES and len(kd) > 1 and np.nanmax(values) == value
        text = _number(value)
        text = rf"\textbf{{{text}}}" if best else text
        if language is not None and (model, benchmark, method, language) in sig:
            text += r"$^{*}$"
        low, high = wide.at[row, f"{column}_low"], wide.at[row, f"{column}_high"]
        if not (pd.isna(low) or pd.isna(high)):
            text += rf" {{\scriptsize[{_number(low)}, {_number(high)}]}}"
        return text

    def line(name: str, column: str, language: str | None) -> str:
        return " & ".join([name] + [cell(i, column, language) for i in range(len(heads))]) + r" \\"

    spec = "l" + "".join("c" * sum(1 for h in heads if h[:2] == mb) for mb in models)
    lines = [r"\begin{table}[t]", r"\centering", r"\small", rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    model_cells, rules, start = [""], [], 2
    for model, benchmark in models:
        n = sum(1 for h in heads if h[:2] == (model, benchmark))
        name = _latex(model + (f" ({benchmark})" if multi_benchmark else ""))
        model_cells.append(rf"\multicolumn{{{n}}}{{c}}{{{name}}}")
        rules.append(rf"\cmidrule(lr){{{start}-{start + n - 1}}}")
        start += n
    lines += [" & ".join(model_cells) + r" \\", " ".join(rules),
              " & ".join(["language"] + [_latex(h[2]) for h in heads]) + r" \\", r"\midrule"]
    width = len(heads) + 1
    for level, codes in groups.items():
        lines.append(rf"\multicolumn{{{width}}}{{l}}{{\emph{{{_latex(level)} resource}}}} \\")
        for code in codes:
            if code in wide.columns and wide[code].notna().any():
                lines.append(line(_latex(LANGUAGE_NAMES.get(code, code)), code, code))
        if wide[level_column(level)].notna().any():
            lines.append(line(rf"\emph{{{_latex(level)}: together}}", level_column(level), None))
        lines.append(r"\midrule")
    lines += [line(r"\emph{all languages}", ALL, POOLED), r"\bottomrule", r"\end{tabular}"]
    caption = (f"{_latex(task)} {_latex(metric)} per language, grouped by resource level: mean over seeds "
               f"with its 95\\% interval over seeds and images. Bold: the best distilled student of a model in "
               f"the row; $^{{*}}$: differs from the teacher (paired sign-flip test over images, Holm-corrected "
               f"across languages, $\\alpha = {alpha}$). A level's row pools its languages' queries.")
    lines += [rf"\caption{{{caption}}}", rf"\label{{{label}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_language_tables(summary: pd.DataFrame, resource_groups: pd.DataFrame | None,
                          significance: pd.DataFrame | None, groups: Mapping[str, Sequence[str]],
                          outputs: Mapping[str, tuple[str | os.PathLike, str | os.PathLike]],
                          alpha: float = 0.05) -> None:
    """Write ``outputs[stem] = (csv path, tex path)`` for stems of ``LANGUAGE_TABLES``."""
    for name, (csv_path, tex_path) in outputs.items():
        task, metric = LANGUAGE_TABLES[name]
        wide = wide_table(summary, resource_groups, groups, task, metric)
        write_csv(csv_path, wide)
        write_text(tex_path, latex_table(wide, significance, groups, task, metric, alpha))
