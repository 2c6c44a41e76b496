"""On SLURM, a GPU job whose GPU torch cannot use fails at once with one sentence, and runs on CPU
once the config says compute.allow_cpu: true (the test cluster's GPU is a fake: File=/dev/null)."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from slurm_cluster import slurm_profile
from study import project_copy, reduced_config

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _run(cluster, work: Path, config: dict) -> subprocess.CompletedProcess:
    (work / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    env = dict(cluster.env)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # sbatch --export=ALL carries it into jobs
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    return subprocess.run(["snakemake", "--profile", "slurm", "--until", "cache_images", "--retries", "0"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=900)


def test_gpu_job_without_usable_cuda_fails_at_once_unless_cpu_is_allowed(slurm_cluster, tmp_path):
    work = project_copy(tmp_path / "slurm")
    slurm_profile(slurm_cluster, work / "profiles" / "slurm")
    proc = _run(slurm_cluster, work, reduced_config())
    assert proc.returncode != 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    logs = sorted((work / "results" / "logs" / "cache_images").rglob("*.log"))
    assert logs, proc.stderr[-3000:]
    last = logs[0].read_text().strip().splitlines()[-1]
    assert last.startswith("mvlm_distill.device.DeviceError: CUDA is not usable here: this job was given a GPU ("), last
    assert last.endswith("or set compute.allow_cpu: true in the config to run GPU rules on CPU."), last
    assert (work / "results" / "teachers").exists()  # the CPU jobs before it ran

    proc = _run(slurm_cluster, work, reduced_config(compute={"allow_cpu": True}))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    logs = sorted((work / "results" / "logs" / "cache_images").rglob("*.log"))
    assert logs and all("running on CPU, as compute.allow_cpu allows." in p.read_text() for p in logs)
