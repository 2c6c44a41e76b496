"""Shared test setup: an offline, single-threaded environment and the fixtures several files use.
Helpers a test imports (REPO, the reduced study, tiny models) live in study.py, tiny_models.py and
tiny_hub.py beside this file."""

import os
from pathlib import Path

import pytest

# Tests never reach a model hub; a hub load must fail at once instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def repo() -> Path:
    from study import REPO

    return REPO


@pytest.fixture(scope="session")
def slurm_cluster():
    """The session's one-node SLURM cluster (tests/slurm_cluster.py; skips where SLURM cannot run, fails
    under CI=true): ``.env`` for subprocesses, ``.partitions`` ({"cpu": ..., "gpu": ...}), ``.cpus``,
    ``.mem_mb``, ``.sacct()``, ``.wait_jobs()``, ``.sbatch()``, ``.timings``."""
    from slurm_cluster import get_cluster, stop_cluster

    yield get_cluster()
    stop_cluster()


@pytest.fixture(scope="session")
def reduced_study(tmp_path_factory):
    """The workflow run once, locally, on the reduced grid (tests/study.py); shared by the end-to-end tests."""
    from study import project_copy, reduced_config, run_snakemake

    work = project_copy(tmp_path_factory.mktemp("study"))
    proc = run_snakemake(work, reduced_config())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return work
