"""Helpers to run the workflow on a reduced grid in a temporary copy of the project."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the environment the tests run in (snakemake, snakefmt)
COPIED = ("Snakefile", "config.yaml", "workflow", "envs", "profiles", "slurm")  # slurm: link to profiles/slurm


def reduced_config(**overrides) -> dict:
    """One model, two methods, three languages, few steps: minutes on two cores."""
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["benchmarks"]["synthetic"]["n_images"] = {"train": 400, "val": 20, "test": 60, "vqa": 20}
    cfg["languages"] = ["en", "de", "th"]
    cfg["models"] = [cfg["models"][0]]
    cfg["methods"] = {"ED": {"ED": 1.0}, "DR+ED": {"DR": 1.0, "ED": 1.0}}
    cfg["teacher_pretraining"].update(steps=20, batch_size=32)
    cfg["distillation"].update(steps=12, batch_size=32, checkpoint_every=5)
    cfg["distillation"]["language_fraction"] = {"en": 1.0, "de": 0.5, "th": 0.5}
    cfg["evaluation"].update(bootstrap_resamples=100)
    for key, value in overrides.items():
        cfg[key] = value
    return copy.deepcopy(cfg)


def project_copy(dest: Path) -> Path:
    """A copy of the workflow files (the package itself is installed editable)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        src = REPO / name
        if src.is_symlink():
            (dest / name).symlink_to(os.readlink(src))
        elif src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def run_snakemake(workdir: Path, config: dict, *args: str, timeout: int = 1500, env: dict | None = None):
    cfg_path = workdir / "study.yaml"
    cfg_path.write_text(yaml.safe_dump(config, allow_unicode=True))
    cmd = [sys.executable, "-m", "snakemake", "--configfile", str(cfg_path), "--cores", "2", "--quiet", *args]
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **(env or {})}
    full_env["PATH"] = f"{Path(sys.executable).parent}:{full_env['PATH']}"
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=full_env)
