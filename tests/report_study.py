"""A small synthetic study for the report tests: ranks, metric tables and every table the pages read.

Two models, teacher/init/three KD methods, two seeds, three languages. FD equals the teacher exactly,
DR is perfect, init and ED are clearly worse (ED noisy across seeds).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from mvlm_distill.definitions import REFERENCES
from mvlm_distill.report import significance as G
from mvlm_distill.report import tables as T

MODELS = {"clipA": "clip", "siglipB": "siglip2"}
KD_METHODS = ["DR", "ED", "FD"]
METHODS = ["teacher", "init"] + KD_METHODS
SEEDS = [0, 1]
LANGUAGES = ["de", "en", "th"]
BENCHMARK = "synthetic"
N_QUERIES = 60
TABLES = ("metrics", "summary", "significance", "comparisons", "consistency", "clustering", "bounds", "parameters")
CEILINGS = {BENCHMARK: {"by_language": {lang: {"t2i": {"R@1": 0.9, "R@5": 0.97, "R@10": 0.99, "MRR@10": 0.93}}
                                        for lang in LANGUAGES}}}


def ranks(model: str, method: str, seed: int, language: str) -> pd.DataFrame:
    base = np.random.default_rng(zlib.crc32(f"{model}/{language}".encode()))
    teacher = {task: base.integers(1, 12, size=N_QUERIES) for task in ("t2i", "i2t")}
    teacher["vqa"] = base.integers(1, 4, size=N_QUERIES)
    rng = np.random.default_rng([SEEDS.index(seed) if seed in SEEDS else 0, len(method), len(language)])
    rows = []
    for task, r in teacher.items():
        if method == "DR":
            r = np.ones_like(r)
        elif method == "init":
            r = r + 8
        elif method == "ED":
            r = r + rng.integers(2, 6, size=r.shape)
        n_cand = 20 if task != "vqa" else 4
        # two captions per image (t2i); one i2t query per image; two questions per image
        images = [f"img{i // 2}" if task != "i2t" else f"img{i}" for i in range(N_QUERIES)]
        rows.append(pd.DataFrame({"task": task, "query_id": [f"{task}-{i}" for i in range(N_QUERIES)],
                                  "image_id": images, "rank": np.minimum(r, n_cand), "n_candidates": n_cand}))
    return pd.concat(rows, ignore_index=True)


def metric_table(rank_table: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (task, metric), g in T.per_query_values(rank_table).groupby(["task", "metric"], sort=False):
        v = g["value"].to_numpy()
        out.append({"task": task, "metric": metric, "value": v.mean(), "ci_low": max(0.0, v.mean() - 0.05),
                    "ci_high": min(1.0, v.mean() + 0.05), "n_queries": len(v)})
    return pd.DataFrame(out)


def runs():
    for model in MODELS:
        for method in METHODS:
            for seed in ([None] if method in REFERENCES else SEEDS):
                for language in LANGUAGES:
                    yield model, method, seed, language


def build() -> dict:
    rank_tables, score_tables = [], []
    for model, method, seed, language in runs():
        keys = {"model": model, "family": MODELS[model], "method": method, "seed": seed,
                "benchmark": BENCHMARK, "language": language}
        r = ranks(model, method, seed, language)
        rank_tables.append((keys, r))
        score_tables.append((keys, metric_table(r)))
    metrics = T.aggregate_metrics(score_tables)
    return {"rank_tables": rank_tables, "metrics": metrics, "summary": T.summarize(metrics, rank_tables, n_boot=100)}


def consistency_rows() -> pd.DataFrame:
    rows = []
    for model, method, seed, language in runs():
        if language == "en":
            continue
        for n, metric in enumerate(("cosine_to_en", "top10_overlap", "bitext_to_en", "bitext_from_en")):
            value = 0.5 + 0.05 * len(method) + 0.01 * n + (0.02 * seed if seed is not None else 0.0)
            rows.append(dict(model=model, method=method, seed=seed, benchmark=BENCHMARK, language=language,
                             metric=metric, value=value))
    return pd.DataFrame(rows, columns=T.CONSISTENCY_COLUMNS)


def clustering_rows() -> pd.DataFrame:
    rows = []
    for model in MODELS:
        for method in METHODS:
            for seed in ([None] if method in REFERENCES else SEEDS):
                for metric, value, random, perfect in (
                        ("nmi_image", 0.8, 0.5, 1.0), ("nmi_language", 0.1 * len(method), 0.06, 0.52),
                        ("ami_image", 0.6 + 0.1 * (seed or 0), 0.0, 1.0), ("silhouette_image", 0.2, None, None)):
                    rows.append(dict(model=model, method=method, seed=seed, benchmark=BENCHMARK, metric=metric,
                                     value=value, random_baseline=random, perfect_reference=perfect))
    return pd.DataFrame(rows, columns=T.CLUSTERING_COLUMNS)


def parameter_rows() -> pd.DataFrame:
    rows = []
    for model in MODELS:
        rows.append(dict(model=model, role="teacher", text_layers=12, text_parameters=40_000_000,
                         total_parameters=120_000_000))
        rows.append(dict(model=model, role="student", text_layers=6, text_parameters=20_000_000,
                         total_parameters=100_000_000))
    return pd.DataFrame(rows, columns=T.PARAMETERS_COLUMNS)


def write_tables(study: dict, folder: Path) -> dict[str, Path]:
    """Every table the pages read, as the workflow writes them; returns ``{name: path}``."""
    from mvlm_distill.io import write_csv

    frames = {
        "metrics": study["metrics"], "summary": study["summary"],
        "significance": G.significance_table(study["rank_tables"]),
        "comparisons": G.comparisons_table(study["rank_tables"], n_boot=100),
        "consistency": consistency_rows(), "clustering": clustering_rows(),
        "bounds": T.bounds_table(study["rank_tables"], CEILINGS), "parameters": parameter_rows(),
    }
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in frames.items():
        paths[name] = folder / f"{name}.csv"
        write_csv(paths[name], frame)
    return paths


def student_folders(folder: Path) -> list[tuple[dict, Path]]:
    """(keys, student folder) with a ``loss_log.csv`` each, as the distillation step leaves them."""
    out = []
    for model in MODELS:
        for method in KD_METHODS:
            for seed in SEEDS:
                d = folder / model / method / f"seed{seed}"
                d.mkdir(parents=True)
                steps = np.arange(0, 50, 10)
                pd.DataFrame({"step": steps, "lr": 1e-3, "total": 2.0 / (1 + steps) + 0.1 * seed,
                              "fd": 1.0 / (1 + steps)}).to_csv(d / "loss_log.csv", index=False)
                out.append(({"model": model, "family": MODELS[model], "method": method, "seed": seed}, d))
    return out


def projection_samples(folder: Path) -> list[tuple[dict, Path]]:
    """(keys, projection.npz) of every row, as the clustering step leaves them (ED's rows shuffled)."""
    from mvlm_distill.io import save_embeddings

    ids = [f"c{p}-{lang}" for p in range(5) for lang in LANGUAGES]
    meta = {"languages": [lang for _ in range(5) for lang in LANGUAGES],
            "parallel_ids": [str(p) for p in range(5) for _ in LANGUAGES]}
    rng = np.random.default_rng(2)
    out = []
    for model in MODELS:
        for method in METHODS:
            for seed in ([None] if method in REFERENCES else SEEDS):
                order = rng.permutation(len(ids)) if method == "ED" else np.arange(len(ids))
                path = folder / model / method / f"seed{seed or 0}" / BENCHMARK / "projection.npz"
                save_embeddings(path, rng.normal(size=(len(ids), 6)).astype(np.float32),
                                [ids[i] for i in order], {k: [v[i] for i in order] for k, v in meta.items()})
                out.append(({"model": model, "method": method, "seed": seed, "benchmark": BENCHMARK}, path))
    return out
