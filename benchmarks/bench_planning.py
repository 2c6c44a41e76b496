"""Items 4 and 5: dry-run planning time of growing grids, and cluster submissions with and
without job grouping.

Everything runs in a temporary copy of the workflow files (the package is installed editable),
so no ``.snakemake/`` state of the checkout is touched.

Planning (item 4): ``snakemake -n --quiet rules --cores 1`` of the default grid (config.yaml),
the paper grid (configs/paper.yaml) and the paper grid with 10x the seeds (10x the students,
text-embedding, scoring and clustering jobs). Wall time and the child process's CPU time
(user + sys; less sensitive to other load on a shared machine) are recorded.

Submissions (item 5): a dry run of the paper grid with the cluster profile (``--profile
profiles/slurm``: SLURM executor, ``group-components: score: 50``), not quiet, so that every job
and every group job is listed. Snakemake prints ``rule X:`` for a job submitted alone,
``localrule X:`` for a job run on the submitting machine, and ``Group job G`` followed by its
indented member jobs for a group job (one submission). Group jobs are formed from the connected
components of same-group jobs in the DAG (``score_language`` and ``cluster_embeddings`` only
depend on non-group jobs, so each is its own component), then ``--group-components G=N`` packs
N components into one group job. Counted:

* ``no grouping``: every non-local job is one submission;
* ``group-components score=1`` (the rules' ``group:`` alone): measured by a second dry run;
* ``group-components score=50`` (the profile): measured.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, log

COPIED = ("Snakefile", "config.yaml", "workflow", "envs", "profiles", "configs")


def project_copy(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        src = REPO / name
        if not src.exists():
            continue
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
        else:
            shutil.copy2(src, dest / name)
    return dest


def snakemake(workdir: Path, *args: str, timeout: int = 600) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run snakemake in ``workdir``; returns (process, wall seconds, child CPU seconds)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, capture_output=True,
                          text=True, timeout=timeout, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"snakemake {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return proc, wall, cpu


_STATS_ROW = re.compile(r"^(\S+)\s+(\d+)$")


def job_stats(text: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: {rule: count} (without the total)."""
    stats: dict[str, int] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "Job stats:":
            for row in lines[i + 3:]:
                m = _STATS_ROW.match(row.strip())
                if not m:
                    break
                if m.group(1) != "total":
                    stats[m.group(1)] = int(m.group(2))
            break
    return stats


# Target rules without an action are finished by Snakemake itself, never submitted (a dry run
# with the SLURM profile still prints them as ``rule all:``).
NO_ACTION_RULES = {"all"}


def count_submissions(text: str) -> dict:
    """Submissions of a non-quiet dry run: top-level jobs (``rule X:``), local jobs
    (``localrule X:`` and rules without an action), group jobs (``Group job G``) and their
    member jobs."""
    alone, local, groups, members = 0, 0, 0, 0
    for line in text.splitlines():
        m = re.match(r"^rule (\S+):$", line)
        if m and m.group(1) not in NO_ACTION_RULES:
            alone += 1
        elif m or re.match(r"^localrule \S+:$", line):
            local += 1
        elif re.match(r"^\s+(local)?rule \S+:$", line):
            members += 1
        elif "] Group job " in line or line.startswith("Group job "):
            groups += 1
    return {"jobs_alone": alone, "local_jobs": local, "group_jobs": groups, "grouped_member_jobs": members,
            "submissions": alone + groups}


def planning(work: Path, *, repeats: int = 2, factor: int = 10) -> list[dict]:
    import grids

    proj = project_copy(work / "proj")
    paper_cfg, paper_source = grids.paper_config()
    grids.write_config(paper_cfg, proj / "bench_paper.yaml")
    grids.write_config(grids.scaled_config(paper_cfg, factor), proj / f"bench_paper_x{factor}.yaml")
    cases = [
        ("default (config.yaml)", [], repeats),
        (f"paper ({paper_source})", ["--configfile", "bench_paper.yaml"], repeats),
        (f"paper x{factor} seeds ({len(paper_cfg['seeds']) * factor} seeds)",
         ["--configfile", f"bench_paper_x{factor}.yaml"], 1),
    ]
    rows = []
    for name, extra, n in cases:
        walls, cpus, jobs = [], [], None
        for _ in range(n):
            proc, wall, cpu = snakemake(proj, "-n", "--quiet", "rules", "--cores", "1", *extra)
            walls.append(wall)
            cpus.append(cpu)
            jobs = sum(job_stats(proc.stdout + proc.stderr).values())
        rows.append({"grid": name, "jobs": jobs, "repeats": n, "wall_seconds_best": round(min(walls), 2),
                     "cpu_seconds_best": round(min(cpus), 2),
                     "ms_per_job_cpu": round(1000 * min(cpus) / jobs, 2) if jobs else ""})
        log(f"planning {name}: {jobs} jobs, {min(walls):.1f} s wall, {min(cpus):.1f} s CPU")
    base = rows[1]
    for row in rows:
        row["jobs_vs_paper"] = round(row["jobs"] / base["jobs"], 2)
        row["cpu_vs_paper"] = round(row["cpu_seconds_best"] / base["cpu_seconds_best"], 2)
    return rows


def grouping(work: Path) -> list[dict]:
    import grids

    proj = project_copy(work / "proj")
    paper_cfg, paper_source = grids.paper_config()
    grids.write_config(paper_cfg, proj / "bench_paper.yaml")
    rows = []
    runs = {
        "group-components score=50 (profiles/slurm)": ["--profile", "profiles/slurm"],
        "group-components score=1 (rule groups only)": ["--profile", "profiles/slurm", "--group-components", "score=1"],
    }
    no_group = None
    for name, extra in runs.items():
        proc, wall, _cpu = snakemake(proj, "-n", "--cores", "1", "--configfile", "bench_paper.yaml", *extra)
        text = proc.stdout + proc.stderr
        counts = count_submissions(text)
        stats = job_stats(text)
        total = sum(stats.values())
        if no_group is None:
            no_group = total - counts["local_jobs"]
            rows.append({"grid": f"paper ({paper_source})", "grouping": "none (every job submitted alone)",
                         "total_jobs": total, "local_jobs": counts["local_jobs"], "group_jobs": 0,
                         "grouped_member_jobs": 0, "submissions": no_group, "method": "job stats"})
        rows.append({"grid": f"paper ({paper_source})", "grouping": name, "total_jobs": total,
                     **{k: counts[k] for k in ("local_jobs", "group_jobs", "grouped_member_jobs")},
                     "submissions": counts["submissions"], "method": "dry-run job list"})
        log(f"grouping {name}: {counts['submissions']} submissions ({counts['jobs_alone']} alone + "
            f"{counts['group_jobs']} group jobs holding {counts['grouped_member_jobs']} jobs); {total} jobs")
    for row in rows:
        row["fewer_submissions_than_none"] = round(no_group / row["submissions"], 2)
    log(f"grouping: {no_group} submissions without grouping, {rows[1]['submissions']} with score=50 "
        f"({no_group / rows[1]['submissions']:.1f}x fewer)")
    return rows


def run(work: Path, *, planning_repeats: int = 2, factor: int = 10):
    work.mkdir(parents=True, exist_ok=True)
    return planning(work, repeats=planning_repeats, factor=factor), grouping(work)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        for rows in run(Path(tmp), planning_repeats=1):
            for row in rows:
                print(row)
