"""The reduced study on a real SLURM cluster through profiles/slurm (issue: runs on SLURM).

Every job goes through sbatch; GPU rules land on the gpu partition with a GPU, CPU rules do
not ask for one; a distillation job cancelled while running is retried, and the study ends
with the same numbers as the local run.
"""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from slurm_cluster import slurm_profile
from study import REPO, project_copy, reduced_config

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
GPU_RULES = {"pretrain_teacher", "cache_images", "cache_teacher_text", "distill", "embed_texts"}


def _env(cluster):
    env = dict(cluster.env)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # sbatch --export=ALL carries it into jobs
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    return env


def _cancel_first_running_distill(cluster, stop: threading.Event, cancelled: list):
    while not stop.is_set():
        out = cluster.run(["squeue", "-h", "-o", "%i|%T|%k"], timeout=10, check=False).stdout
        for line in out.splitlines():
            job, state, comment = (line.split("|") + ["", ""])[:3]
            if state == "RUNNING" and comment.startswith("rule_distill"):
                time.sleep(2)  # let it get into training
                cluster.run(["scancel", job], timeout=10, check=False)
                cancelled.append(job)
                return
        time.sleep(0.5)


def test_reduced_grid_on_slurm(slurm_cluster, reduced_study, tmp_path):
    work = project_copy(tmp_path / "slurm")
    # as a user does it: the study in config.yaml, the SITE lines of profiles/slurm edited for the
    # cluster (squeue status polling: with sacct, plugin 2.8 waits for ever on a job cancelled by
    # hand), and then exactly the README's command from the project root
    # the test cluster's GPU is a fake (File=/dev/null): GPU jobs are given one torch cannot use, so
    # the config allows CPU, as a site without working CUDA would (docs/cluster.md)
    config = reduced_config(compute={"allow_cpu": True})
    (work / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    slurm_profile(slurm_cluster, work / "profiles" / "slurm", **{"slurm-status-command": "squeue"})
    assert (work / "slurm").resolve() == (work / "profiles" / "slurm").resolve()
    cmd = ["snakemake", "--profile", "slurm"]
    stop, cancelled = threading.Event(), []
    watcher = threading.Thread(target=_cancel_first_running_distill, args=(slurm_cluster, stop, cancelled))
    watcher.start()
    before = max((int(r["JobID"]) for r in slurm_cluster.sacct() if r["JobID"].isdigit()), default=0)
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=work, env=_env(slurm_cluster), capture_output=True, text=True, timeout=1500)
    finally:
        stop.set()
        watcher.join()
        slurm_cluster.cancel_all()
    wall = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    print(f"reduced grid on SLURM: {wall:.0f} s")

    # every job went through sbatch, on the right partition with the right TRES
    rows = [r for r in slurm_cluster.sacct() if r["JobID"].isdigit() and int(r["JobID"]) > before]
    for row in rows:
        print("|".join(row[k] for k in ("JobID", "JobName", "Partition", "State", "AllocTRES", "Comment")))
    jobs = [dict(r, rule=r["Comment"].removeprefix("rule_").split("_wildcards_")[0]) for r in rows]
    assert all(r["Comment"].startswith("rule_") for r in jobs), "a job did not come from the workflow"
    assert {"prepare_benchmark", "pretrain_teacher", "distill", "embed_texts", "aggregate_tables"} <= {
        r["rule"] for r in jobs
    }
    for row in jobs:
        if row["rule"] in GPU_RULES:
            assert row["Partition"] == slurm_cluster.partitions["gpu"], row
            if row["State"].startswith("COMPLETED"):
                assert "gres/gpu=1" in row["AllocTRES"], row
        else:
            assert row["Partition"] == slurm_cluster.partitions["cpu"], row
            assert "gres/gpu" not in row["AllocTRES"], row

    # the light local rules ran beside Snakemake, not through the queue
    assert not {"language_report", "index_report"} & {r["rule"] for r in jobs}
    assert (work / "results" / "reports" / "index.html").exists()

    # the cancelled distillation job was retried
    assert cancelled, "no running distillation job was seen to cancel"
    states = {r["JobID"]: r["State"] for r in rows}
    assert states[cancelled[0]].startswith("CANCELLED"), states[cancelled[0]]
    distills = [r for r in jobs if r["rule"] == "distill"]
    assert sum(r["State"].startswith("COMPLETED") for r in distills) == 2  # both students, one after a retry

    # same numbers as the local run
    local = pd.read_csv(reduced_study / "results" / "tables" / "metrics.csv")
    remote = pd.read_csv(work / "results" / "tables" / "metrics.csv")
    keys = ["model", "method", "seed", "benchmark", "language", "task", "metric"]
    merged = local.merge(remote, on=keys, suffixes=("_local", "_slurm"), validate="one_to_one")
    assert len(merged) == len(local) == len(remote)
    for col in ("value", "ci_low", "ci_high"):
        assert (merged[f"{col}_local"] - merged[f"{col}_slurm"]).abs().max() <= 1e-6, col


def test_dry_run_with_the_slurm_profile_touches_no_cluster(tmp_path):
    """Plans the whole default grid with the slurm profile, with no sbatch or sacct on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    env.pop("SLURM_CONF", None)
    # --forceall: the whole grid even where a finished study's results/ sits in the checkout
    proc = subprocess.run(["snakemake", "--profile", "slurm", "-n", "--forceall", "--quiet", "rules"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "distill" in proc.stdout and "score_language" in proc.stdout
