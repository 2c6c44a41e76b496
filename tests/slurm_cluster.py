"""The real one-node SLURM cluster with accounting behind the ``slurm_cluster`` fixture (conftest.py).

The cluster (munged, MariaDB, slurmdbd, slurmctld, slurmd) is started once per
test session by ``.ci/slurm/cluster.py`` in a temporary directory and stopped
at the end of the session (exactly the daemons it started).  When the SLURM
packages are missing they are installed with ``.ci/slurm/install.sh``
(apt-get; needs root).

Skips, with the reason, when SLURM cannot be installed or run here (not root,
no apt-get, apt failed, ``MVLM_SKIP_SLURM=1``); under ``CI=true`` those cases
fail instead.  A cluster that is installed but does not start always fails
(with the daemons' log tails).

Use::

    from slurm_cluster import PROFILE_DIR, slurm_site_overlay

    def test_x(slurm_cluster, tmp_path):
        subprocess.run(["sbatch", ...], env=slurm_cluster.env, timeout=30)
        slurm_cluster.partitions        # {"cpu": "cpu", "gpu": "gpu"}
        site = slurm_site_overlay(slurm_cluster, tmp_path / "site")
        # snakemake --profile PROFILE_DIR --profile site, env=slurm_cluster.env

Environment knobs: ``MVLM_SKIP_SLURM=1`` (skip; not in CI),
``MVLM_SLURM_NO_INSTALL=1`` (never run apt-get), ``MVLM_SLURM_KEEP=1`` (keep the
cluster directory with its logs after the session).
"""

from __future__ import annotations

import copy
import importlib.util
import os
import sys
import time
from pathlib import Path

import pytest

from study import REPO

CLUSTER_PY = REPO / ".ci" / "slurm" / "cluster.py"
PROFILE_DIR = REPO / "profiles" / "slurm"
PROFILE_YAML = PROFILE_DIR / "profile.yaml"
_MODULE_NAME = "mvlm_ci_slurm_cluster"


def _load_cluster_module():
    # One shared module object, however this file is imported (slurm_cluster or
    # tests.slurm_cluster), so that a session never starts two clusters.
    mod = sys.modules.get(_MODULE_NAME)
    if mod is None:
        spec = importlib.util.spec_from_file_location(_MODULE_NAME, CLUSTER_PY)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[_MODULE_NAME] = mod
        spec.loader.exec_module(mod)
    return mod


cluster_module = _load_cluster_module()
SlurmCluster = cluster_module.SlurmCluster
ClusterError = cluster_module.ClusterError
_STATE: dict = cluster_module.__dict__.setdefault("_pytest_session_state", {})


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def _unavailable(reason: str):
    reason = f"SLURM test cluster unavailable: {reason}"
    if in_ci():
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def _availability_problem() -> str | None:
    """None when the packages are (now) installed, else why they cannot be."""
    if os.environ.get("MVLM_SKIP_SLURM") and not in_ci():
        return "MVLM_SKIP_SLURM is set"
    if not sys.platform.startswith("linux"):
        return f"needs Linux (this is {sys.platform})"
    missing = cluster_module.missing_binaries()
    if not missing:
        if os.geteuid() != 0:
            return "needs root (slurmd launches the jobs; the daemons run as SlurmUser=root)"
        return None
    if os.geteuid() != 0:
        return f"SLURM not installed ({', '.join(missing)}) and not root, cannot apt-get install"
    if cluster_module.which("apt-get") is None:
        return f"SLURM not installed ({', '.join(missing)}) and apt-get is not available"
    if os.environ.get("MVLM_SLURM_NO_INSTALL"):
        return f"SLURM not installed ({', '.join(missing)}) and MVLM_SLURM_NO_INSTALL is set"
    t0 = time.monotonic()
    try:
        proc = cluster_module.install()
    except Exception as exc:  # timeout, OSError
        return f"installing SLURM failed: {exc}"
    _STATE["install_seconds"] = time.monotonic() - t0
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr)[-2000:]
        return f"installing SLURM failed (rc {proc.returncode}):\n{out}"
    missing = cluster_module.missing_binaries()
    if missing:
        return f"still missing after install: {', '.join(missing)}"
    return None


def get_cluster() -> "SlurmCluster":
    """Start the session's cluster (once), or skip/fail as described above."""
    if "cluster" in _STATE:
        return _STATE["cluster"]
    if "unavailable" in _STATE:
        _unavailable(_STATE["unavailable"])
    if "error" in _STATE:
        pytest.fail(_STATE["error"], pytrace=False)
    problem = _availability_problem()
    if problem:
        _STATE["unavailable"] = problem
        _unavailable(problem)
    cluster = SlurmCluster(keep=bool(os.environ.get("MVLM_SLURM_KEEP")))
    try:
        cluster.start(timeout=120)
    except ClusterError as exc:
        _STATE["error"] = f"SLURM test cluster did not start:\n{exc}"
        pytest.fail(_STATE["error"], pytrace=False)
    if "install_seconds" in _STATE:
        cluster.timings["install"] = _STATE["install_seconds"]
    _STATE["cluster"] = cluster
    return cluster


def stop_cluster() -> None:
    """Stop the session's cluster, if one was started (idempotent; also registered with atexit)."""
    cluster = _STATE.pop("cluster", None)
    if cluster is not None:
        cluster.stop()


# --------------------------------------------------------------- the profile
def load_profile(path: Path = PROFILE_YAML) -> dict:
    import yaml

    with open(path) as f:
        return yaml.safe_load(f)


# Keys of a resource block that belong to a site and cannot hold on the test cluster.
_SITE_RESOURCE_KEYS = ("slurm_account", "gpu_model", "qos", "constraint")


def site_profile_dict(
    cluster: "SlurmCluster", base: dict | None = None, status_delay: int = 2
) -> dict:
    """The repository's slurm profile with the test cluster's site settings.

    Partitions are mapped to the test cluster's, site-only resources (account,
    GPU model, QOS, constraint) are dropped, and memory / CPUs are capped to the
    one small node; status checks are made fast.
    """
    prof = copy.deepcopy(base if base is not None else load_profile())
    cap_mem = max(cluster.mem_mb // 2, 500)
    cap_cpus = max(cluster.cpus, 1)

    def fix(res: dict) -> dict:
        for k in _SITE_RESOURCE_KEYS:
            res.pop(k, None)
        if "slurm_partition" in res:
            gpu = bool(res.get("gpu")) or "gpu" in str(res.get("gres", ""))
            res["slurm_partition"] = cluster.partitions["gpu" if gpu else "cpu"]
        for k in ("cpus_per_gpu", "cpus_per_task"):
            if isinstance(res.get(k), int):
                res[k] = min(res[k], cap_cpus)
        if isinstance(res.get("mem_mb"), int):
            res["mem_mb"] = min(res["mem_mb"], cap_mem)
        if isinstance(res.get("mem_mb_per_cpu"), int):
            res["mem_mb_per_cpu"] = min(res["mem_mb_per_cpu"], cap_mem // cap_cpus)
        return res

    prof["default-resources"] = fix(dict(prof.get("default-resources") or {}))
    prof["default-resources"]["slurm_partition"] = cluster.partitions["cpu"]
    prof["set-resources"] = {
        rule: fix(dict(res or {})) for rule, res in (prof.get("set-resources") or {}).items()
    }
    for rule, res in prof["set-resources"].items():
        gpu = bool(res.get("gpu")) or "gpu" in str(res.get("gres", ""))
        if gpu:
            res["slurm_partition"] = cluster.partitions["gpu"]
    if isinstance(prof.get("set-threads"), dict):
        prof["set-threads"] = {
            r: min(int(t), cap_cpus) if str(t).isdigit() else t
            for r, t in prof["set-threads"].items()
        }
    for key in ("slurm-qos", "slurm-reservation", "slurm-partition-config"):
        prof.pop(key, None)
    # Rules' own requests are capped too: threads (-> --cpus-per-task) by
    # max-threads, memory by the per-job (local-scope) mem_mb pool.
    prof["max-threads"] = cap_cpus
    resources = dict(prof.get("resources") or {})
    resources["mem_mb"] = cap_mem
    prof["resources"] = resources
    prof["slurm-init-seconds-before-status-checks"] = status_delay
    prof["seconds-between-status-checks"] = status_delay
    prof["slurm-status-command"] = "sacct"
    prof["slurm-keep-successful-logs"] = True
    return prof


def slurm_site_overlay(cluster: "SlurmCluster", directory: Path, **overrides) -> Path:
    """Write the test site's overlay profile: only the top-level keys of
    ``site_profile_dict`` that differ from profiles/slurm/profile.yaml (+ overrides).

    Use as ``snakemake --profile profiles/slurm --profile DIRECTORY``: a later
    profile replaces whole top-level keys of an earlier one, which is exactly
    how a user's site overlay works (docs/cluster.md).
    """
    import yaml

    base = load_profile()
    site = site_profile_dict(cluster, base)
    overlay = {k: v for k, v in site.items() if base.get(k) != v}
    overlay.update(overrides)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "profile.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
    return directory


def slurm_profile(
    cluster: "SlurmCluster", directory: Path, base: dict | None = None, **overrides
) -> Path:
    """Write ``site_profile_dict`` (+ overrides, top-level keys) to DIRECTORY/profile.yaml.

    Returns the directory, to pass as ``snakemake --profile DIRECTORY``.
    """
    import yaml

    prof = site_profile_dict(cluster, base)
    prof.update(overrides)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "profile.yaml").write_text(yaml.safe_dump(prof, sort_keys=False))
    return directory
