"""GPU rules: a job given a GPU that torch cannot use fails at once, naming the cause, unless the
config allows CPU (compute.allow_cpu); with no GPU given (a laptop, CI) CPU stays the plan."""

import warnings

import pytest
import torch

from mvlm_distill.cluster import ALLOW_CPU_VARIABLE, granted_gpu, job_environment, nvidia_driver
from mvlm_distill.config import ConfigError, validate_schema
from mvlm_distill.device import DeviceError, cuda_problem, pick_device
from study import reduced_config, project_copy, run_snakemake

SLURM_GPU_JOB = {"SLURM_JOB_GPUS": "0", "SLURM_GPUS_ON_NODE": "1"}


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", "13.0")


def test_a_gpu_grant_is_read_from_the_scheduler_or_cuda_variables():
    assert granted_gpu({}) is None
    assert granted_gpu({"CUDA_VISIBLE_DEVICES": ""}) is None
    assert granted_gpu({"CUDA_VISIBLE_DEVICES": "-1", "SLURM_GPUS_ON_NODE": "0"}) is None
    assert granted_gpu({"SLURM_JOB_GPUS": "NoDevFiles"}) is None
    assert granted_gpu({"CUDA_VISIBLE_DEVICES": "0"}) == "CUDA_VISIBLE_DEVICES=0"
    assert granted_gpu({"SLURM_STEP_GPUS": "1", "CUDA_VISIBLE_DEVICES": "0"}) == "SLURM_STEP_GPUS=1"
    assert granted_gpu(SLURM_GPU_JOB) == "SLURM_JOB_GPUS=0"


def test_a_job_given_a_gpu_it_cannot_use_fails_with_one_sentence(no_cuda, tmp_path):
    with pytest.raises(DeviceError) as err:
        pick_device(env=SLURM_GPU_JOB)
    message = str(err.value)
    assert message.startswith("CUDA is not usable here: this job was given a GPU (SLURM_JOB_GPUS=0) but torch ")
    assert "(built for CUDA 13.0) sees no usable device" in message
    assert message.endswith("or set compute.allow_cpu: true in the config to run GPU rules on CPU.")
    assert "docs/cluster.md" in message and "\n" not in message
    # the config's "no" reaches the job as "0": still refused
    with pytest.raises(DeviceError):
        pick_device(env={**SLURM_GPU_JOB, ALLOW_CPU_VARIABLE: "0"})


def test_the_cause_torch_gives_is_named(monkeypatch):
    def too_old():
        warnings.warn("CUDA initialization: The NVIDIA driver on your system is too old (found version 12020). "
                      "Please update your GPU driver by downloading and installing a new version.")
        return False

    monkeypatch.setattr(torch.cuda, "is_available", too_old)
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    assert cuda_problem().endswith(
        "sees no usable device (CUDA initialization: The NVIDIA driver on your system is too old (found version 12020))")


def test_a_visible_gpu_without_kernels_for_it_is_not_usable(monkeypatch):
    real_ones = torch.ones

    def ones(*args, device=None, **kwargs):
        if device == "cuda":
            raise RuntimeError("CUDA error: no kernel image is available for execution on the device\nmore")
        return real_ones(*args, device=device, **kwargs)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Tesla P100")
    monkeypatch.setattr(torch, "ones", ones)
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    with pytest.raises(DeviceError, match=r"cannot run on Tesla P100 \(CUDA error: no kernel image is available "
                                          r"for execution on the device\); install a torch build"):
        pick_device(env={"CUDA_VISIBLE_DEVICES": "0"})


def test_a_usable_gpu_is_used(monkeypatch):
    real_ones = torch.ones
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch, "ones", lambda *a, device=None, **k: real_ones(*a, **k))
    assert pick_device(env=SLURM_GPU_JOB).type == "cuda"
    assert pick_device(env={}).type == "cuda"


def test_cpu_when_the_config_allows_it_or_no_gpu_was_given(no_cuda, capsys):
    assert pick_device(env={**SLURM_GPU_JOB, ALLOW_CPU_VARIABLE: "1"}).type == "cpu"
    assert "running on CPU, as compute.allow_cpu allows" in capsys.readouterr().out
    assert pick_device(env=SLURM_GPU_JOB, allow_cpu=True).type == "cpu"
    capsys.readouterr()
    assert pick_device(env={}).type == "cpu"  # a laptop or CI: the embedded study runs on CPU
    assert capsys.readouterr().out == ""
    assert pick_device("cpu", env=SLURM_GPU_JOB).type == "cpu"  # an explicit request is kept


def test_the_config_key_reaches_the_jobs_environment():
    assert job_environment({}) == {ALLOW_CPU_VARIABLE: "0"}
    assert job_environment({"compute": None}) == {ALLOW_CPU_VARIABLE: "0"}
    assert job_environment({"compute": {"allow_cpu": True}}) == {ALLOW_CPU_VARIABLE: "1"}
    assert validate_schema(reduced_config(compute={"allow_cpu": True}))["compute"] == {"allow_cpu": True}
    with pytest.raises(ConfigError, match="compute.allow_cpu"):
        validate_schema(reduced_config(compute={"allow_cpu": "sometimes"}))


def test_the_driver_is_named(tmp_path):
    version = tmp_path / "version"
    version.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n")
    assert nvidia_driver(version) == "NVIDIA driver 535.104.05"
    version.write_text("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.14  Release Build\n")
    assert nvidia_driver(version) == "NVIDIA driver 550.54.14"
    assert nvidia_driver(tmp_path / "absent") == "no NVIDIA driver loaded"


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine where torch cannot use CUDA")
def test_workflow_gpu_job_fails_fast_and_runs_on_cpu_when_allowed(tmp_path):
    """A GPU rule in a job given a GPU (CUDA_VISIBLE_DEVICES=0 here, as SLURM sets it) on a machine
    where torch has no usable CUDA: the job fails with the sentence; with compute.allow_cpu it runs."""
    work = project_copy(tmp_path / "project")
    config = reduced_config()
    gpu = {"CUDA_VISIBLE_DEVICES": "0"}
    proc = run_snakemake(work, config, "--until", "cache_images", env=gpu)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "DeviceError: CUDA is not usable here: this job was given a GPU (CUDA_VISIBLE_DEVICES=0) but torch" in out
    assert (work / "results" / "teachers").exists()  # the CPU rules before it ran
    proc = run_snakemake(work, reduced_config(compute={"allow_cpu": True}), "--until", "cache_images", env=gpu)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    logs = list((work / "results" / "logs" / "cache_images").rglob("*.log"))
    assert logs and all("running on CPU, as compute.allow_cpu allows" in p.read_text() for p in logs)
