"""SLURM job arrays (plugin 2.8, upstream issue #473) are refused before anything is planned or submitted.

No cluster needed: the refusal happens while the Snakefile is parsed, so a fake ``sbatch`` that
records every call shows that nothing was submitted."""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import yaml

from mvlm_distill.cluster import executor_refusal
from slurm_cluster import PROFILE_YAML
from study import REPO, project_copy

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _env(bin_dir: Path) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PATH": f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin"}
    env.pop("SLURM_CONF", None)
    return env


def _submitted(calls: Path) -> list[str]:
    """sbatch calls (the plugin itself asks ``scontrol show config`` when it validates its settings)."""
    return [line for line in calls.read_text().splitlines() if line.startswith("sbatch")] if calls.exists() else []


def _fake_slurm(bin_dir: Path, calls: Path) -> None:
    bin_dir.mkdir()
    for name in ("sbatch", "squeue", "sacct", "sinfo", "scontrol", "sacctmgr"):
        tool = bin_dir / name
        tool.write_text(f'#!/bin/sh\necho "{name} $*" >> "{calls}"\nexit 1\n')
        tool.chmod(0o755)


def test_refusal_names_the_setting_the_version_and_the_issue():
    message = executor_refusal(SimpleNamespace(array_jobs="distill,embed_texts"), plugin_version="2.8.0")
    assert message.startswith("slurm-array-jobs (distill,embed_texts) is refused: ")
    assert "snakemake-executor-plugin-slurm 2.8.0" in message and "issue #473" in message
    assert message.count(". ") == 0 and message.endswith(".")
    assert executor_refusal(SimpleNamespace(array_jobs=None), plugin_version="2.8.0") is None
    assert executor_refusal(SimpleNamespace(array_jobs="distill"), plugin_version="2.9.0") is None
    assert executor_refusal(None) is None  # local executor: no such setting


def test_the_profile_does_not_enable_arrays():
    profile = yaml.safe_load(PROFILE_YAML.read_text())
    assert not any(key.startswith("slurm-array") for key in profile), profile


def test_dry_run_with_arrays_in_an_overlay_profile_is_refused(tmp_path):
    overlay = tmp_path / "site"
    overlay.mkdir()
    (overlay / "profile.yaml").write_text('slurm-array-jobs: "distill,embed_texts"\nslurm-array-limit: 100\n')
    calls = tmp_path / "calls"
    _fake_slurm(tmp_path / "bin", calls)
    proc = subprocess.run(SNAKEMAKE + ["--profile", "slurm", "--profile", str(overlay), "-n", "--quiet", "rules"],
                          cwd=REPO, env=_env(tmp_path / "bin"), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "slurm-array-jobs (distill,embed_texts) is refused: " in proc.stderr
    assert "Traceback" not in proc.stderr and "Job stats" not in proc.stdout
    assert not _submitted(calls)


def test_real_run_with_arrays_on_the_command_line_submits_nothing(tmp_path):
    work = project_copy(tmp_path / "project")
    calls = tmp_path / "calls"
    _fake_slurm(tmp_path / "bin", calls)
    proc = subprocess.run(SNAKEMAKE + ["--profile", "slurm", "--slurm-array-jobs", "distill"],
                          cwd=work, env=_env(tmp_path / "bin"), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1].startswith("slurm-array-jobs (distill) is refused: ")
    assert not _submitted(calls)
    assert not (work / "results").exists()
