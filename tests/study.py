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
COPIED = ("Snakefile", "config.yaml", "workflow", "envs", "profiles", "slurm", "teachers")  # slurm: link to profiles/slurm


# A toy teacher the workflow pretrains (source: toy), for studies on a smaller benchmark than the one
# the shipped teachers learnt from (the config check refuses those with a shipped teacher).
TOY_CLIP = {"name": "toy-clip", "family": "clip", "source": "toy", "toy": {"layers": 4, "context_length": 48},
            "student_layers": [0, 2]}
TOY_PRETRAINING = {"steps": 500, "batch_size": 128, "lr": 2.0e-3, "seed": 0, "tokenizer_vocab_size": 1200,
                   "language_fraction": {"en": 1.0, "de": 0.5, "fr": 0.5, "es": 0.5, "ru": 0.5, "zh": 0.5,
                                         "ja": 0.01, "th": 0.01, "sw": 0.01}}


TOY_SIGLIP2 = {**TOY_CLIP, "name": "toy-siglip2", "family": "siglip2", "pretraining_steps": 3000}


def toy_config() -> dict:
    """config.yaml with toy teachers the workflow pretrains instead of the shipped ones (config tests)."""
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["models"] = [copy.deepcopy(TOY_CLIP), copy.deepcopy(TOY_SIGLIP2)]
    cfg["teacher_pretraining"] = copy.deepcopy(TOY_PRETRAINING)
    return cfg


def reduced_config(**overrides) -> dict:
    """One toy model, two methods, three languages, few steps, a small benchmark: minutes on two cores."""
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["benchmarks"]["synthetic"]["n_images"] = {"train": 400, "val": 20, "test": 60, "vqa_val": 20, "vqa": 20}
    cfg["languages"] = ["en", "de", "th"]
    cfg["models"] = [copy.deepcopy(TOY_CLIP)]
    cfg["methods"] = {"ED": {"ED": 1.0}, "DR+ED": {"DR": 1.0, "ED": 1.0}}
    cfg["teacher_pretraining"] = {**copy.deepcopy(TOY_PRETRAINING), "steps": 20, "batch_size": 32}
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
