import os
import sys
from pathlib import Path

import pytest

# Tests never reach a model hub; a hub load must fail at once instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def reduced_study(tmp_path_factory):
    """The workflow run once, locally, on the reduced grid (tests/study.py); shared by the end-to-end tests."""
    from study import project_copy, reduced_config, run_snakemake

    work = project_copy(tmp_path_factory.mktemp("study"))
    proc = run_snakemake(work, reduced_config())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return work
