"""A real one-node SLURM cluster: plain sbatch jobs, then Snakemake through
the SLURM executor with the repository's profile (plus the test site).

Skipped (with the reason) only where SLURM cannot be installed or run; under
CI=true it fails instead. Timings go to the terminal summary via
``record_property`` and are printed with ``-s``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from slurm_cluster import load_profile, slurm_profile

pytestmark = pytest.mark.slurm

SNAKEMAKE_TIMEOUT = 240  # a wrong status setting must fail fast, not hang


def _report(record_property, name: str, seconds: float) -> None:
    record_property(name, round(seconds, 1))
    print(f"[timing] {name}: {seconds:.1f}s", file=sys.stderr)


def test_cluster_started(slurm_cluster, record_property):
    sinfo = slurm_cluster.run(["sinfo", "-h", "-o", "%P %a %T %G"]).stdout
    assert "cpu* up idle gpu:1" in sinfo, sinfo
    assert "gpu up idle gpu:1" in sinfo, sinfo
    for name, seconds in slurm_cluster.timings.items():
        _report(record_property, f"cluster_{name}", seconds)


def test_plain_jobs_accounted(slurm_cluster, record_property):
    t0 = time.monotonic()
    cpu = slurm_cluster.sbatch("--job-name=plain_cpu", "--wrap", "echo cpu job; hostname")
    gpu = slurm_cluster.sbatch(
        "--job-name=plain_gpu",
        "-p",
        slurm_cluster.partitions["gpu"],
        "--gres=gpu:1",
        "--wrap",
        'echo "SLURM_JOB_GPUS=${SLURM_JOB_GPUS:-unset}"',
    )
    rows = {r["JobID"]: r for r in slurm_cluster.wait_jobs([cpu, gpu], timeout=60)}
    _report(record_property, "plain_jobs", time.monotonic() - t0)
    for r in rows.values():
        print("sacct:", "|".join(r.values()), file=sys.stderr)

    assert rows[cpu]["State"] == "COMPLETED", rows[cpu]
    assert rows[cpu]["Partition"] == slurm_cluster.partitions["cpu"]
    assert "gres/gpu" not in rows[cpu]["AllocTRES"], rows[cpu]
    assert rows[gpu]["State"] == "COMPLETED", rows[gpu]
    assert rows[gpu]["Partition"] == slurm_cluster.partitions["gpu"]
    assert "gres/gpu=1" in rows[gpu]["AllocTRES"].split(","), rows[gpu]
    out = (slurm_cluster.dir / "jobs" / f"{gpu}.out").read_text()
    assert "SLURM_JOB_GPUS=0" in out, out


def test_impossible_request_fails_at_submission(slurm_cluster):
    # EnforcePartLimits=ALL: more CPUs than the node has is refused at once
    # instead of pending for ever.
    proc = slurm_cluster.run(
        ["sbatch", "--parsable", f"--cpus-per-task={slurm_cluster.cpus + 1}", "--wrap", "true"],
        check=False,
    )
    assert proc.returncode != 0, proc.stdout
    assert "submission failed" in proc.stderr, proc.stderr


TOY_SNAKEFILE = """\
# Rule names, gpu resource and group as in the real workflow, so that the
# repository's profile applies to them unchanged.
LANGS = ["de", "fr", "sw"]

localrules: all

rule all:
    input: expand("scores/{lang}.txt", lang=LANGS)

rule prepare_benchmark:
    output: "data/prepared.txt"
    shell: "echo prepared > {output}"

rule distill:
    input: "data/prepared.txt"
    output: "students/student.txt"
    resources: gpu=1
    shell: 'echo "cuda=$CUDA_VISIBLE_DEVICES" > {output}'

rule score_language:
    input: "students/student.txt"
    output: "scores/{lang}.txt"
    group: "score"
    shell: "cat {input} > {output}; echo {wildcards.lang} >> {output}"
"""


def _run_snakemake(args: list[str], env: dict, cwd: Path, timeout: float):
    """Run Snakemake in its own session; kill the whole group on timeout."""
    proc = subprocess.Popen(
        ["snakemake", *args],  # as typed, the environment's snakemake on PATH
        cwd=cwd,
        env={**env, "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"snakemake did not finish within {timeout}s:\n{out[-6000:]}")
    return proc.returncode, out


def test_snakemake_slurm_executor(slurm_cluster, tmp_path, record_property):
    work = tmp_path / "wf"
    work.mkdir()
    (work / "Snakefile").write_text(TOY_SNAKEFILE)
    # The repository's profile with the test site's SITE values, under profiles/slurm and linked
    # as `slurm` at the root as in the repository, run with exactly the README's command.
    slurm_profile(slurm_cluster, work / "profiles" / "slurm")
    (work / "slurm").symlink_to("profiles/slurm")

    before = {r["JobID"] for r in slurm_cluster.sacct()}
    t0 = time.monotonic()
    rc, out = _run_snakemake(
        ["--profile", "slurm"],
        env=slurm_cluster.env,
        cwd=work,
        timeout=SNAKEMAKE_TIMEOUT,
    )
    elapsed = time.monotonic() - t0
    _report(record_property, "snakemake_toy", elapsed)
    assert rc == 0, out[-6000:]

    assert (work / "students" / "student.txt").read_text().strip() == "cuda=0"
    for lang in ("de", "fr", "sw"):
        assert (work / "scores" / f"{lang}.txt").read_text().split() == ["cuda=0", lang]

    new_ids = [r["JobID"] for r in slurm_cluster.sacct() if r["JobID"] not in before]
    rows = slurm_cluster.wait_jobs(new_ids, timeout=30)
    # Every job of the run went through sbatch; the plugin names them after the run's UUID.
    assert len({r["JobName"] for r in rows}) == 1, rows
    for r in rows:
        print("sacct:", "|".join(r.values()), file=sys.stderr)
    by_rule = {r["Comment"].split("_wildcards")[0]: r for r in rows}
    # A group job's comment is rule_<group>_<rules>.
    assert set(by_rule) == {
        "rule_prepare_benchmark",
        "rule_distill",
        "rule_score_score_language",
    }, rows
    assert all(r["State"] == "COMPLETED" for r in rows), rows

    gpu = by_rule["rule_distill"]
    assert gpu["Partition"] == slurm_cluster.partitions["gpu"], gpu
    assert "gres/gpu=1" in gpu["AllocTRES"].split(","), gpu
    for name in ("rule_prepare_benchmark", "rule_score_score_language"):
        r = by_rule[name]
        assert r["Partition"] == slurm_cluster.partitions["cpu"], r
        assert "gres/gpu" not in r["AllocTRES"], r
    # The three per-language jobs went as one submission that asks for one
    # member's CPUs (they run one after another inside it), not three.
    assert "cpu=1" in by_rule["rule_score_score_language"]["AllocTRES"].split(","), rows

    # Logs land in the profile's slurm-logdir.
    logdir = work / load_profile()["slurm-logdir"]
    assert list(logdir.glob("rule_distill/**/*.log")), list(logdir.rglob("*"))
    assert list(logdir.glob("group_score_score_language/*.log")), list(logdir.rglob("*"))
