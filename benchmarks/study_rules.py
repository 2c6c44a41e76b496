"""Item 3: wall time and peak memory of a finished study, split by rule, from Snakemake's
``benchmark:`` files (``<results>/benchmarks/<rule>/...tsv``; columns ``s``, ``max_rss``, ...).

    python benchmarks/study_rules.py results/benchmarks [--out benchmarks/results/study_rules.csv]
                                     [--wall SECONDS] [--label default]

Per rule: job count, sum / mean / max of ``s`` (seconds each job ran), sum and mean of ``cpu_time``
(CPU seconds, the measure to compare on a shared machine),
max of ``max_rss`` (MB) and the rule's share of all job-seconds. A ``TOTAL`` row sums the rules.
The study's makespan is ``--wall`` when given (e.g. from ``time make study``); otherwise it is
estimated from the files' modification times (each file is written when its job ends, so a job
ran from ``mtime - s`` to ``mtime``): ``max(mtime) - min(mtime - s)``.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _float(value) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def read_benchmark_files(folder: Path) -> list[dict]:
    """One dict per job: rule, file, s, cpu_time, max_rss, mtime (last line of each file)."""
    jobs = []
    for path in sorted(folder.rglob("*.tsv")):
        rel = path.relative_to(folder)
        rule = rel.parts[0] if len(rel.parts) > 1 else path.stem
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        if not rows:
            continue
        row = rows[-1]  # repeat: benchmark files hold one line per repeat; the last is kept
        jobs.append({
            "rule": rule,
            "file": str(rel),
            "s": _float(row.get("s")) or 0.0,
            "cpu_time": _float(row.get("cpu_time")),
            "max_rss": _float(row.get("max_rss")),
            "mtime": path.stat().st_mtime,
        })
    return jobs


def summarise(jobs: list[dict], wall: float | None = None) -> list[dict]:
    if not jobs:
        return []
    total_s = sum(j["s"] for j in jobs)
    rows = []
    for rule in sorted({j["rule"] for j in jobs}):
        mine = [j for j in jobs if j["rule"] == rule]
        s = [j["s"] for j in mine]
        rss = [j["max_rss"] for j in mine if j["max_rss"] is not None]
        cpu = [j["cpu_time"] for j in mine if j["cpu_time"] is not None]
        rows.append({
            "rule": rule,
            "jobs": len(mine),
            "sum_s": round(sum(s), 2),
            "mean_s": round(sum(s) / len(s), 2),
            "max_s": round(max(s), 2),
            "sum_cpu_time_s": round(sum(cpu), 2) if cpu else "",
            "mean_cpu_time_s": round(sum(cpu) / len(cpu), 2) if cpu else "",
            "max_rss_mb": round(max(rss), 1) if rss else "",
            "share_of_job_seconds": round(sum(s) / total_s, 4) if total_s else "",
        })
    rows.sort(key=lambda r: -r["sum_s"])
    start = min(j["mtime"] - j["s"] for j in jobs)
    end = max(j["mtime"] for j in jobs)
    rss = [j["max_rss"] for j in jobs if j["max_rss"] is not None]
    cpu = [j["cpu_time"] for j in jobs if j["cpu_time"] is not None]
    rows.append({
        "rule": "TOTAL",
        "jobs": len(jobs),
        "sum_s": round(total_s, 2),
        "mean_s": round(total_s / len(jobs), 2),
        "max_s": round(max(j["s"] for j in jobs), 2),
        "sum_cpu_time_s": round(sum(cpu), 2) if cpu else "",
        "mean_cpu_time_s": round(sum(cpu) / len(cpu), 2) if cpu else "",
        "max_rss_mb": round(max(rss), 1) if rss else "",
        "share_of_job_seconds": 1.0,
        "makespan_s": round(wall, 1) if wall else round(end - start, 1),
        "makespan_source": "given (--wall)" if wall else "estimated from file times",
    })
    return rows


def format_table(rows: list[dict]) -> str:
    head = (f"{'rule':<22}{'jobs':>6}{'sum s':>10}{'mean s':>9}{'max s':>9}{'cpu s':>10}{'cpu s/job':>10}"
            f"{'max RSS MB':>12}{'share':>8}")
    lines = [head]
    for r in rows:
        share = r["share_of_job_seconds"]
        lines.append(f"{r['rule']:<22}{r['jobs']:>6}{r['sum_s']:>10.1f}{r['mean_s']:>9.2f}{r['max_s']:>9.1f}"
                     f"{str(r['sum_cpu_time_s']):>10}{str(r['mean_cpu_time_s']):>10}{str(r['max_rss_mb']):>12}"
                     f"{(f'{share:.1%}' if share != '' else ''):>8}")
    total = rows[-1] if rows and rows[-1]["rule"] == "TOTAL" else None
    if total:
        lines.append(f"makespan: {total['makespan_s']} s ({total['makespan_source']})")
    return "\n".join(lines)


def run(folder: Path, *, wall: float | None = None, label: str = "") -> list[dict]:
    rows = summarise(read_benchmark_files(folder), wall)
    for row in rows:
        row["study"] = label or str(folder)
    return rows


def _label(folder: Path) -> str:
    """The folder as a relative path (no absolute path of this machine goes into the CSV)."""
    if not folder.is_absolute():
        return folder.as_posix()
    try:
        return folder.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return "/".join(folder.resolve().parts[-2:])


def main(argv=None) -> int:
    sys.path.insert(0, str(HERE))
    from common import RESULTS, log, write_rows

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", type=Path, help="a study's benchmarks folder, e.g. results/benchmarks")
    ap.add_argument("--out", type=Path, default=RESULTS / "study_rules.csv")
    ap.add_argument("--wall", type=float, default=None, help="measured wall time of the whole study (s)")
    ap.add_argument("--label", default="", help="study name written in the CSV (default: the folder)")
    args = ap.parse_args(argv)
    if not args.folder.is_dir():
        ap.error(f"{args.folder}: no such folder (run the study first; its benchmark files live in "
                 f"<results>/benchmarks/)")
    rows = run(args.folder, wall=args.wall, label=args.label or _label(args.folder))
    if not rows:
        ap.error(f"{args.folder}: no benchmark .tsv files found")
    log(format_table(rows))
    path = write_rows(args.out.stem, rows, args.out.parent)
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
