"""Cluster edges: executor settings refused while the Snakefile is parsed; the GPU a job was given.

Light on purpose (no torch): the Snakefile imports it in every Snakemake process.

snakemake-executor-plugin-slurm 2.8 with ``slurm-array-jobs`` can stop submitting for good: with
30 ready jobs, ``jobs: 8`` and ``slurm-array-limit: 8`` nothing was submitted in 420 s on the
test cluster, and the same happens with the limit at or below ``jobs`` once other rules hold
slots (upstream issue #473). A run that enables arrays is refused before anything is planned.
"""

from __future__ import annotations

import os
import re
import sys
from importlib import metadata
from pathlib import Path

PLUGIN = "snakemake-executor-plugin-slurm"
ARRAY_ISSUE = "https://github.com/snakemake/snakemake-executor-plugin-slurm/issues/473"
#: the newest plugin version seen to deadlock with job arrays; later ones are let through untested
LAST_BROKEN_ARRAYS = (2, 8)

#: variables a scheduler sets in a job it gave GPUs (SLURM: srun steps, batch step, count; any: CUDA's own)
GPU_GRANT_VARIABLES = ("SLURM_STEP_GPUS", "SLURM_JOB_GPUS", "SLURM_GPUS_ON_NODE", "CUDA_VISIBLE_DEVICES")
#: values of those variables that mean "no GPU" (SLURM writes NoDevFiles for a GPU without device files)
NO_GPU_VALUES = {"", "-1", "NoDevFiles"}
#: the config's compute.allow_cpu as every job sees it ("1" or "0", set by the Snakefile: local jobs
#: inherit it, SLURM jobs get it through sbatch --export=ALL). Not a param: the job scripts stay as
#: they are (an edited script reruns every job of its rule on a finished study).
ALLOW_CPU_VARIABLE = "MVLM_ALLOW_CPU"
NVIDIA_DRIVER_FILE = Path("/proc/driver/nvidia/version")


def cli_executor_settings():
    """The executor settings Snakemake's command line built for this run (profiles included), or None.

    Snakemake 9 hands them to the workflow (``workflow.executor_settings``) only after the Snakefile
    is parsed, and never in a dry run; while it parses, they are a local of the CLI's
    ``args_to_api``, which is on the call stack. None when Snakemake is driven some other way."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "args_to_api" and "executor_settings" in frame.f_locals:
            return frame.f_locals["executor_settings"]
        frame = frame.f_back
    return None


def _plugin_version() -> str | None:
    try:
        return metadata.version(PLUGIN)
    except metadata.PackageNotFoundError:
        return None


def executor_refusal(settings, plugin_version: str | None = None) -> str | None:
    """One sentence refusing ``settings`` (an executor's settings object), or None if they can run."""
    arrays = getattr(settings, "array_jobs", None)
    if not arrays:
        return None
    version = plugin_version or _plugin_version()
    if version is None:
        return None
    from packaging.version import Version

    if Version(version).release[:2] > LAST_BROKEN_ARRAYS:
        return None
    return (
        f"slurm-array-jobs ({arrays}) is refused: with {PLUGIN} {version} job arrays can leave ready jobs "
        f"unsubmitted for good (upstream issue #473, {ARRAY_ISSUE}); remove slurm-array-jobs from the "
        "profile or the command line (docs/cluster.md, 'Job arrays')."
    )


def job_environment(config: dict) -> dict[str, str]:
    """What the Snakefile puts in the environment of every job, from the validated config."""
    allow_cpu = bool((config.get("compute") or {}).get("allow_cpu", False))
    return {ALLOW_CPU_VARIABLE: "1" if allow_cpu else "0"}


def granted_gpu(env=None) -> str | None:
    """``NAME=value`` of the first variable saying that this job was given a GPU, or None."""
    env = os.environ if env is None else env
    for name in GPU_GRANT_VARIABLES:
        value = env.get(name, "").strip()
        if value not in NO_GPU_VALUES and not (name == "SLURM_GPUS_ON_NODE" and value == "0"):
            return f"{name}={value}"
    return None


def nvidia_driver(version_file: Path = NVIDIA_DRIVER_FILE) -> str:
    """The loaded NVIDIA kernel driver, in words (for messages about an unusable GPU)."""
    try:
        text = version_file.read_text()
    except OSError:
        return "no NVIDIA driver loaded"
    found = re.search(r"Kernel Module(?: for \S+)?\s+(\d+\.[\d.]+)", text)
    return f"NVIDIA driver {found.group(1)}" if found else "an NVIDIA driver of unknown version"
