"""The device of a GPU rule: CUDA where torch can use it, else CPU, or a failure naming why.

``pick_device`` is called by every job script that computes with torch (caches, distillation,
evaluation embeddings, mteb); ``cuda_problem`` says in one clause why torch cannot use a GPU here.
The scheduler side (which GPU a job was given, the config's ``compute.allow_cpu`` as every job sees
it) is ``mvlm_distill.cluster``, which stays free of torch for the Snakefile.
"""

from __future__ import annotations

import os
import warnings

import torch

from mvlm_distill.cluster import ALLOW_CPU_VARIABLE, granted_gpu, nvidia_driver


class DeviceError(RuntimeError):
    """A job was given a GPU that torch cannot use, and the config does not allow CPU."""


def cuda_problem() -> str | None:
    """Why torch cannot compute on a GPU here, as a clause; None where it can."""
    build = f"torch {torch.__version__}"
    if torch.version.cuda is None:
        return f"{build} is a CPU-only build"
    build += f" (built for CUDA {torch.version.cuda})"
    # torch says why (e.g. "The NVIDIA driver on your system is too old") only in a warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = torch.cuda.is_available()
    if not available:
        told = [" ".join(str(w.message).split()) for w in caught if "CUDA" in str(w.message)]
        said = told[0].split(". ")[0] if told else nvidia_driver()
        return f"{build} sees no usable device ({said})"
    try:  # a GPU too old or too new for the build is visible but has no kernels
        (torch.ones(1, device="cuda") + 1).item()
    except RuntimeError as err:
        said = (str(err).strip().splitlines() or [type(err).__name__])[0]
        return f"{build} cannot run on {torch.cuda.get_device_name(0)} ({said})"
    return None


def pick_device(requested: str | None = None, *, allow_cpu: bool | None = None, env=None) -> torch.device:
    """The device of a GPU rule: CUDA where torch can use it, else CPU.

    A job that was given a GPU (``granted_gpu``) and cannot use it fails at once, naming the
    cause, unless CPU is allowed (``allow_cpu``; None: the config's ``compute.allow_cpu``, which
    the Snakefile hands every job as ALLOW_CPU_VARIABLE); a silent CPU run of a cluster job would
    take many times its time limit. Without a GPU grant (a laptop, CI) CPU is the plan."""
    if requested:
        return torch.device(requested)
    env = os.environ if env is None else env
    problem = cuda_problem()
    if problem is None:
        return torch.device("cuda")
    grant = granted_gpu(env)
    if grant is None:
        return torch.device("cpu")
    if not (env.get(ALLOW_CPU_VARIABLE) == "1" if allow_cpu is None else allow_cpu):
        raise DeviceError(
            f"CUDA is not usable here: this job was given a GPU ({grant}) but {problem}; install a torch "
            "build that matches the node's driver (docs/cluster.md, 'GPU jobs and the torch build') or set "
            "compute.allow_cpu: true in the config to run GPU rules on CPU."
        )
    print(f"CUDA is not usable here: {problem}; running on CPU, as compute.allow_cpu allows.")
    return torch.device("cpu")
