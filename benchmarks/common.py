"""Shared helpers of the benchmark suite: machine info, CSV output, the toy setup.

Nothing here is imported by the package or the workflow; the suite runs only when called
(``benchmarks/run_all.sh`` or ``python benchmarks/run.py``).
"""

from __future__ import annotations

import csv
import datetime as _dt
import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=10)
        commit = out.stdout.strip() or "unknown"
        return commit + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


_MACHINE: dict | None = None


def machine_info() -> dict:
    """nproc, CPU model, library versions, commit and date: written into every result row."""
    global _MACHINE
    if _MACHINE is None:
        info = {
            "nproc": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "python": platform.python_version(),
        }
        for name in ("torch", "snakemake"):
            try:
                module = __import__(name)
                info[name] = getattr(module, "__version__", "")
            except ImportError:
                info[name] = ""
        try:
            info["load_avg_1m"] = round(os.getloadavg()[0], 2)
        except OSError:
            info["load_avg_1m"] = ""
        info["commit"] = _commit()
        info["date"] = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        _MACHINE = info
    return dict(_MACHINE)


def teacher_fingerprints(teachers: Path = REPO / "teachers") -> str:
    """The shipped teachers as ``name file_checksum`` (every file of each folder but its card, README.md,
    in name order), so that a recorded study names the teacher bytes it measured."""
    from mvlm_distill.io import file_checksum

    return ", ".join(
        f"{folder.name} {file_checksum(*sorted(f for f in folder.iterdir() if f.is_file() and f.name != 'README.md'))}"
        for folder in sorted(p for p in teachers.iterdir() if p.is_dir()))


def write_rows(name: str, rows: list[dict], out_dir: Path = RESULTS) -> Path:
    """Write ``rows`` (plus the machine columns) to ``out_dir/name.csv``; returns the path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.csv"
    machine = machine_info()
    rows = [{**row, **machine} for row in rows]
    fields: list[str] = []
    for row in rows:
        for key in row:
            if key not in fields:
                fields.append(key)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
    return path


@contextmanager
def timed(store: dict, key: str):
    """Add the wall time of the block to ``store[key]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        store[key] = store.get(key, 0.0) + time.perf_counter() - start


def log(message: str) -> None:
    print(message, flush=True)
    sys.stdout.flush()


def make_toy_setup(work: Path, *, n_train: int = 600, n_test: int = 500, families=("clip", "siglip2")) -> dict:
    """Generate the synthetic benchmark (the test split is the embedded default's: seed 0, 500
    images, 9 languages), build the toy tokenizer from it and one randomly initialised toy teacher
    per family (weights do not matter for speed). Returns ``{bench, root, tokenizer, teachers}``."""
    from mvlm_distill.data import lexicon
    from mvlm_distill.data.formats import read_benchmark
    from mvlm_distill.data.synthetic import generate_benchmark
    from mvlm_distill.models import build_toy_teacher, build_toy_tokenizer

    root = work / "data"
    if not (root / "meta.json").exists():
        generate_benchmark(root, seed=0, n_images={"train": n_train, "test": n_test})
    bench = read_benchmark(root)
    tok_dir = work / "tokenizer"
    if not (tok_dir / "tokenizer.json").exists():
        pieces = lexicon.tokenizer_pieces(bench.languages)
        build_toy_tokenizer(bench.split_captions("train")["text"].tolist(), pieces, tok_dir)
    teachers = {family: build_toy_teacher(family, tok_dir, {"layers": 4}, seed=0).eval() for family in families}
    return {"bench": bench, "root": root, "tokenizer": tok_dir, "teachers": teachers}


def default_config() -> dict:
    import yaml

    return yaml.safe_load((REPO / "config.yaml").read_text())
