"""The embedded study's shape, from a finished study's tables: is it a miniature of the paper's?

Reads ``tables/metrics.csv`` and ``tables/bounds.csv`` of a results folder (run with two or more
seeds) and prints, per family, the per-language table (teacher t2i R@1, its ceiling and chance;
t2i R@10 retention of ``init`` and of each KD method, mean over seeds with each seed's value),
the VQA table (teacher, init, chance), the checks of issue 14 with their margins, and (synthetic
benchmark) VQA accuracy per question kind from the ranks files. Language
groups: English, the high-resource group, the low-resource group (``--low``).

    python benchmarks/study_bars.py results            # after: snakemake ... --config seeds='[0,1]'

The output opens with the provenance lines that benchmarks/render_results.py puts beside the tables
(docs/results.md): ``commit``, ``machine`` and ``date`` of this checkout (``--commit``: the study's
own, when it ran at another one) and ``teachers``, a fingerprint of the shipped teachers it measured.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from common import machine_info, teacher_fingerprints
from sweep_distillation import LOW_RESOURCE

MARGIN = 0.02  # the margin over each threshold (float drift across machines of this kind)


def _value(metrics: pd.DataFrame, model, method, task, metric) -> pd.DataFrame:
    rows = metrics[(metrics["model"] == model) & (metrics["method"] == method)
                   & (metrics["task"] == task) & (metrics["metric"] == metric)]
    return rows.pivot_table(index="language", columns="seed", values="value", dropna=False, aggfunc="first")


def family_report(metrics: pd.DataFrame, bounds: pd.DataFrame, model: str, languages: list[str],
                  low: list[str], methods: list[str]) -> list[str]:
    high = [lang for lang in languages if lang not in low and lang != "en"]
    out = []
    teacher_r1 = _value(metrics, model, "teacher", "t2i", "R@1").iloc[:, 0]
    teacher_r10 = _value(metrics, model, "teacher", "t2i", "R@10").iloc[:, 0]
    init_ret = _value(metrics, model, "init", "t2i", "R@10").iloc[:, 0] / teacher_r10
    ret = {m: _value(metrics, model, m, "t2i", "R@10").div(teacher_r10, axis=0) for m in methods}
    seeds = list(next(iter(ret.values())).columns)
    b = bounds[(bounds["task"] == "t2i") & (bounds["metric"] == "R@1")].set_index("language")
    out.append(f"\n### {model}: teacher t2i R@1; t2i R@10 retention (R@10 / teacher R@10), mean of seeds "
               f"{', '.join(str(int(s)) for s in seeds)} (each seed)\n")
    out.append("| lang | teacher R@1 | chance | ceiling | init | " + " | ".join(methods) + " |")
    out.append("|---|" + "---|" * (4 + len(methods)))
    for lang in languages:
        cells = [f"{ret[m].loc[lang].mean():.3f} ({' / '.join(f'{v:.3f}' for v in ret[m].loc[lang])})" for m in methods]
        out.append(f"| {lang} | {teacher_r1[lang]:.3f} | {b.loc[lang, 'chance']:.3f} | {b.loc[lang, 'ceiling']:.3f} | "
                   f"{init_ret[lang]:.3f} | " + " | ".join(cells) + " |")
    # all languages: the one retention, the ratio of the means over the same queries (per seed)
    teacher_all = teacher_r10[languages].mean()
    mean_ret = {m: _value(metrics, model, m, "t2i", "R@10").loc[languages].mean(axis=0) / teacher_all for m in methods}
    init_all = _value(metrics, model, "init", "t2i", "R@10").iloc[:, 0][languages].mean() / teacher_all
    out.append(f"| all (ratio of means) | {teacher_r1[languages].mean():.3f} | | | {init_all:.3f} | "
               + " | ".join(f"{mean_ret[m].mean():.3f} ({' / '.join(f'{v:.3f}' for v in mean_ret[m])})"
                            for m in methods) + " |")

    def group(series, langs):
        return float(series[langs].mean())

    out.append("")
    gap1 = group(teacher_r1, ["en"]) - group(teacher_r1, low)
    above_chance = bool((teacher_r1[languages] > b.loc[languages, "chance"]).all())
    below_ceiling = bool((teacher_r1[languages] < b.loc[languages, "ceiling"]).all())
    out.append(f"- teacher R@1, English - low group: {gap1:.3f} (bar 0.10 + {MARGIN}: "
               f"{'met' if gap1 >= 0.10 + MARGIN else 'NOT met'}); above chance everywhere: {above_chance}; "
               f"below the ceiling everywhere: {below_ceiling}")
    gap2 = group(init_ret, ["en"]) - group(init_ret, low)
    out.append(f"- init retention, English - low group: {gap2:.3f} (bar 0.05 + {MARGIN}: "
               f"{'met' if gap2 >= 0.05 + MARGIN else 'NOT met'})")
    means = {m: float(mean_ret[m].mean()) for m in methods}
    spread = max(float(mean_ret[m].max() - mean_ret[m].min()) for m in methods)
    best, worst = max(means, key=means.get), min(means, key=means.get)
    gap3 = means[best] - means[worst]
    ok3 = gap3 >= 0.05 + MARGIN and gap3 > 2 * spread
    out.append(f"- best - worst method retention: {best} {means[best]:.3f} - {worst} {means[worst]:.3f} = {gap3:.3f}; "
               f"largest seed spread of a method's mean {spread:.3f} (bar 0.05 + {MARGIN} and > 2 x spread: "
               f"{'met' if ok3 else 'NOT met'})")
    per_lang = {m: ret[m].mean(axis=1) for m in methods}
    high_low = {m: group(per_lang[m], high) - group(per_lang[m], low) for m in methods}
    top = max(high_low, key=lambda m: abs(high_low[m]))
    out.append("- high - low group retention per method: " + ", ".join(f"{m} {v:+.3f}" for m, v in high_low.items())
               + f" (bar 0.05 + {MARGIN}: {'met' if abs(high_low[top]) >= 0.05 + MARGIN else 'NOT met'}, {top})")

    vqa_t = _value(metrics, model, "teacher", "vqa", "acc@1").iloc[:, 0]
    vqa_i = _value(metrics, model, "init", "vqa", "acc@1").iloc[:, 0]
    vb = bounds[(bounds["task"] == "vqa") & (bounds["metric"] == "acc@1")].set_index("language")
    out.append(f"\n### {model}: VQA acc@1\n")
    out.append("| lang | teacher | init | chance | ceiling |")
    out.append("|---|---|---|---|---|")
    for lang in languages:
        out.append(f"| {lang} | {vqa_t[lang]:.3f} | {vqa_i[lang]:.3f} | {vb.loc[lang, 'chance']:.3f} | "
                   f"{vb.loc[lang, 'ceiling']:.3f} |")
    # a quarter of the way from chance to perfect: (acc - chance) / (1 - chance) >= 0.25 (issue 32)
    chance = vb.loc[languages, "chance"]
    normalised = (vqa_t[languages] - chance) / (1 - chance)
    worst = normalised.idxmin()
    drop = float((vqa_t[languages] - vqa_i[languages]).mean())
    out.append("")
    out.append(f"- teacher (acc - chance) / (1 - chance), worst language: {normalised[worst]:.3f} ({worst}) "
               f"(bar 0.25 + {MARGIN}: {'met' if normalised[worst] >= 0.25 + MARGIN else 'NOT met'})")
    out.append(f"- teacher - init, mean over languages: {drop:+.3f} (bar 0.03 + {MARGIN}: "
               f"{'met' if drop >= 0.03 + MARGIN else 'NOT met'})")
    return out


def vqa_kinds_report(results: Path, benchmark: str, model: str, languages: list[str]) -> list[str]:
    """VQA acc@1 per question kind (teacher / init, seed 0), from the ranks files: which questions carry signal."""
    from mvlm_distill.data.lexicon import QUESTION_KINDS, candidates
    from mvlm_distill.paths import ResultPaths

    paths = ResultPaths(results)
    acc = {}
    for method in ("teacher", "init"):
        for lang in languages:
            ranks = pd.read_csv(paths.scores(f"{lang}.ranks.csv", model=model, method=method, seed=0,
                                             benchmark=benchmark))
            vqa = ranks[ranks["task"] == "vqa"]
            kind = vqa["query_id"].str.rsplit("-", n=1).str[1]  # synthetic question ids end in their kind
            for k in QUESTION_KINDS:
                acc[method, lang, k] = float((vqa["rank"][kind == k] == 1).mean())
    out = [f"\n### {model}: VQA acc@1 per question kind, teacher / init (seed 0), chance in the header\n",
           "| lang | " + " | ".join(f"{k} ({1 / len(candidates('en', k)):.3f})" for k in QUESTION_KINDS) + " |",
           "|---|" + "---|" * len(QUESTION_KINDS)]
    for lang in languages:
        out.append(f"| {lang} | " + " | ".join(f"{acc['teacher', lang, k]:.2f} / {acc['init', lang, k]:.2f}"
                                              for k in QUESTION_KINDS) + " |")
    return out


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--low", nargs="+", default=list(LOW_RESOURCE))
    parser.add_argument("--benchmark", default="synthetic")
    parser.add_argument("--commit", help="the commit the study ran at (default: this checkout's)")
    args = parser.parse_args(argv)
    metrics = pd.read_csv(args.results / "tables" / "metrics.csv")
    bounds = pd.read_csv(args.results / "tables" / "bounds.csv")
    metrics = metrics[metrics["benchmark"] == args.benchmark]
    bounds = bounds[bounds["benchmark"] == args.benchmark]
    # the benchmark's own language order (English first in the synthetic one)
    meta = json.loads((args.results / "data" / args.benchmark / "meta.json").read_text(encoding="utf-8"))
    languages = [lang for lang in meta["languages"] if lang in set(metrics["language"])]
    methods = [m for m in dict.fromkeys(metrics["method"]) if m not in ("teacher", "init")]
    machine = machine_info()
    lines = [f"commit: {args.commit or machine['commit']}",
             f"machine: {machine['nproc']} cores, {machine['cpu_model']}",
             f"date: {machine['date']}",
             f"teachers: {teacher_fingerprints()}"]
    for model in dict.fromkeys(metrics["model"]):
        lines += family_report(metrics, bounds, model, languages, args.low, methods)
        if args.benchmark == "synthetic":
            lines += vqa_kinds_report(args.results, args.benchmark, model, languages)
    text = "\n".join(lines)
    print(text)
    return text


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
