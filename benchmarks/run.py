"""The benchmark suite of issue 7: one command, results as CSV under benchmarks/results/.

    python benchmarks/run.py                      # items 1, 2, 4, 5 (about 10 minutes on 2 cores)
    python benchmarks/run.py --only distill       # one item: distill, evaluate, planning, grouping, study
    python benchmarks/run.py --only study --study-results results/benchmarks [--study-wall SECONDS]
    python benchmarks/run.py --quick              # a smoke run with tiny settings (results not kept)
    python benchmarks/run.py --summary-only       # rebuild summary.csv and the README table from the CSVs

Items (benchmarks/README.md explains each and shows the last results):

1. ``distill``  distillation steps/s, cached teacher outputs vs the online teacher
                -> distill_throughput.csv
2. ``evaluate`` one student over all languages of the default test split, ours vs naive; and
                image-encoder passes of the paper grid -> evaluation.csv, evaluation_paper_grid.csv
3. ``study``    a finished study's time and memory per rule (needs --study-results)
                -> study_rules.csv
4. ``planning`` dry-run planning time of the default, paper and 10x grids -> planning.csv
5. ``grouping`` cluster submissions of the paper grid with and without grouping -> grouping.csv

Every CSV row carries nproc, CPU model, torch/snakemake versions, load average and commit.
``summary.csv`` and the table in benchmarks/README.md hold the headline ratios and targets.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import RESULTS, log, machine_info, make_toy_setup, write_rows  # noqa: E402

ITEMS = ("distill", "evaluate", "planning", "grouping", "study")
DEFAULT_ITEMS = ("distill", "evaluate", "planning", "grouping")
README = HERE / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def summary_rows(out: Path) -> list[dict]:
    """Headline numbers from whatever result CSVs exist in ``out``."""
    rows = []

    def add(item, measure, value, target="", met="", source=""):
        first = next(iter(_read(out / source)), {}) if source else {}
        rows.append({"item": item, "measure": measure, "value": value, "target": target, "met": met,
                     "source": source, "measured_commit": first.get("commit", ""),
                     "measured_date": first.get("date", ""), "load_avg_1m": first.get("load_avg_1m", "")})

    for r in _read(out / "distill_throughput.csv"):
        if r["variant"] == "cached":
            add("1 distill", f"{r['family']}: cached steps/s (DR+ED, batch {r['batch_size']}, 1 thread; "
                f"cache built once in {float(r['one_time_cache_seconds']):.1f} s, repaid after "
                f"{r['break_even_steps']} steps)", f"{float(r['steps_per_s']):.2f}", source="distill_throughput.csv")
    for r in _read(out / "distill_throughput.csv"):
        if r["variant"] != "cached":
            ratio = float(r["speedup_of_cached"])
            add("1 distill", f"{r['family']}: cached vs {r['variant']}, steps/s (wall; CPU time "
                f"{float(r['speedup_of_cached_cpu']):.2f}x)",
                f"{ratio:.2f}x", ">= 2x", "yes" if ratio >= 2 else "no", "distill_throughput.csv")
    ev = _read(out / "evaluation.csv")
    ours_texts = next((r["texts_encoded"] for r in ev if r["variant"] == "ours"), "")
    ours_images = next((r["images_encoded"] for r in ev if r["variant"] == "ours"), "")
    for r in ev:
        if r["variant"] != "ours":
            ratio = float(r["speedup_of_ours_wall"])
            add("2 evaluate", f"{r['family']}: ours vs {r['variant']}, wall (CPU time "
                f"{float(r['speedup_of_ours_cpu']):.2f}x; {r['languages']} languages, {r['test_images']} images; "
                f"texts encoded {r['texts_encoded']} vs {ours_texts})",
                f"{ratio:.2f}x", ">= 5x" if r["variant"] == "naive" else "",
                ("yes" if ratio >= 5 else "no") if r["variant"] == "naive" else "", "evaluation.csv")
            if r["variant"] == "naive":
                add("2 evaluate", f"{r['family']}: images encoded, ours vs naive (default test split)",
                    f"{ours_images} vs {r['images_encoded']} ({float(r['fewer_image_passes']):.0f}x fewer)",
                    source="evaluation.csv")
    for r in _read(out / "evaluation_paper_grid.csv"):
        if r["benchmark"] == "TOTAL":
            ratio = float(r["fewer_than_naive"])
            add("2 evaluate", f"paper grid image passes: {int(r['ours_images_encoded']):,} ours vs "
                f"{int(r['naive_images_encoded']):,} naive ({r['grid']})", f"{ratio:.0f}x fewer", ">= 20x",
                "yes" if ratio >= 20 else "no", "evaluation_paper_grid.csv")
    for r in _read(out / "planning.csv"):
        paper = r["grid"].startswith("paper (")
        add("4 planning", f"{r['grid']}: {r['jobs']} jobs", f"{float(r['wall_seconds_best']):.1f} s wall, "
            f"{float(r['cpu_seconds_best']):.1f} s CPU", "< 10 s" if paper else "",
            ("yes" if float(r["wall_seconds_best"]) < 10 else "no (wall)" if float(r["cpu_seconds_best"]) < 10
             else "no") if paper else "", "planning.csv")
    for r in _read(out / "grouping.csv"):
        add("5 grouping", f"paper grid submissions, {r['grouping']}", r["submissions"],
            source="grouping.csv")
    for r in _read(out / "study_rules.csv"):
        if r["rule"] == "TOTAL":
            add("3 study", f"{r['study']}: {r['jobs']} jobs, makespan ({r.get('makespan_source', '')})",
                f"{r.get('makespan_s', '')} s; {float(r['sum_s']):.0f} job-s; max RSS {r['max_rss_mb']} MB",
                source="study_rules.csv")
        else:
            add("3 study", f"{r['study']}: rule {r['rule']}, {r['jobs']} jobs",
                f"{float(r['sum_s']):.0f} job-s ({float(r['share_of_job_seconds']):.0%}), max {float(r['max_s']):.1f} s, "
                f"max RSS {r['max_rss_mb']} MB", source="study_rules.csv")
    return rows


def markdown(rows: list[dict]) -> str:
    m = machine_info()
    runs = sorted({(r["measured_commit"], r["measured_date"], str(r["load_avg_1m"])) for r in rows if r["source"]})
    when = "; ".join(f"commit {c}, {d} (load average {load})" for c, d, load in runs)
    lines = [f"Measured on {m['nproc']} cores ({m['cpu_model']}), torch {m['torch']}, snakemake {m['snakemake']}; "
             f"{when}; 1 torch thread. Ratios from runs side by side in one process.",
             "", "| item | measure | value | target | met |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['item']} | {r['measure']} | {r['value']} | {r['target']} | {r['met']} |")
    return "\n".join(lines)


def update_readme(text: str) -> None:
    if not README.exists():
        return
    body = README.read_text()
    if START not in body or END not in body:
        return
    head, rest = body.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{text}\n{END}{tail}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="mvlm_distill benchmark suite (issue 7)")
    ap.add_argument("--only", action="append", choices=ITEMS, help="run only this item (repeatable)")
    ap.add_argument("--study-results", type=Path, help="a finished study's benchmarks folder (item 3)")
    ap.add_argument("--study-wall", type=float, help="measured wall time of that study in seconds")
    ap.add_argument("--study-label", default="", help="name of the study in study_rules.csv")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for the CSVs (default benchmarks/results)")
    ap.add_argument("--workdir", type=Path, help="scratch folder (default: a temporary folder)")
    ap.add_argument("--quick", action="store_true", help="tiny settings to check the suite runs")
    ap.add_argument("--steps", type=int, default=20, help="distillation steps per measured run")
    ap.add_argument("--repeats", type=int, default=3, help="alternating repeats of each distillation variant")
    ap.add_argument("--eval-repeats", type=int, default=2, help="alternating repeats of each evaluation variant")
    ap.add_argument("--no-readme", action="store_true", help="do not rewrite the table in benchmarks/README.md")
    ap.add_argument("--summary-only", action="store_true",
                    help="measure nothing: rebuild summary.csv and the README table from the CSVs in --out")
    args = ap.parse_args(argv)
    if args.summary_only:
        rows = summary_rows(args.out)
        write_rows("summary", rows, args.out)
        table = markdown(rows)
        log(table)
        if not args.no_readme and args.out == RESULTS:
            update_readme(table)
        return 0

    items = list(args.only or DEFAULT_ITEMS)
    if args.study_results and "study" not in items:
        items.append("study")
    if "study" in items and not args.study_results:
        ap.error("--only study needs --study-results <results>/benchmarks")
    out = args.out
    if args.quick and args.out == RESULTS:
        out = Path(tempfile.mkdtemp(prefix="mvlm-bench-quick-"))
        log(f"--quick: results go to {out}, not benchmarks/results")
    tmp = tempfile.TemporaryDirectory(prefix="mvlm-bench-") if args.workdir is None else None
    work = Path(tmp.name) if tmp else args.workdir
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    log(f"machine: {machine_info()}")
    try:
        setup = None
        if {"distill", "evaluate"} & set(items):
            import torch

            torch.set_num_threads(1)
            t = time.perf_counter()
            setup = make_toy_setup(work, n_train=300 if args.quick else 600,
                                   n_test=500)
            log(f"setup (synthetic data, tokenizer, toy teachers): {time.perf_counter() - t:.1f} s")
        if "distill" in items:
            import bench_distill

            steps = 3 if args.quick else args.steps
            rows = bench_distill.run(work, steps=steps, repeats=1 if args.quick else args.repeats, setup=setup)
            log(f"wrote {write_rows('distill_throughput', rows, out)}")
        if "evaluate" in items:
            import bench_evaluate

            rows = bench_evaluate.run(work, setup=setup, repeats=1 if args.quick else args.eval_repeats,
                                      variants=("ours", "naive") if args.quick else ("ours", "naive", "naive_dedup"))
            log(f"wrote {write_rows('evaluation', rows, out)}")
            log(f"wrote {write_rows('evaluation_paper_grid', bench_evaluate.paper_grid_counts(), out)}")
        if "planning" in items or "grouping" in items:
            import bench_planning

            if "planning" in items:
                rows = bench_planning.planning(work / "planning", repeats=1 if args.quick else 2,
                                               factor=2 if args.quick else 10)
                log(f"wrote {write_rows('planning', rows, out)}")
            if "grouping" in items:
                rows = bench_planning.grouping(work / "grouping")
                log(f"wrote {write_rows('grouping', rows, out)}")
        if "study" in items:
            import study_rules

            rows = study_rules.run(args.study_results, wall=args.study_wall,
                                   label=args.study_label or study_rules._label(args.study_results))
            log(study_rules.format_table(rows))
            log(f"wrote {write_rows('study_rules', rows, out)}")
    finally:
        if tmp:
            tmp.cleanup()
    rows = summary_rows(out)
    write_rows("summary", rows, out)
    table = markdown(rows)
    log("\n" + table)
    if not args.quick and not args.no_readme and out == RESULTS:
        update_readme(table)
    log(f"suite finished in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
