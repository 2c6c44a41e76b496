"""The study grids the suite plans and counts: the default, the paper grid, and larger ones.

The paper grid is ``configs/paper.yaml`` when that file exists. Until it does, a stand-in with
the paper's shape is used (and every result row says which): 2 teachers (a multilingual CLIP and
a SigLIP2), 6 methods x 3 seeds (+ teacher and init), evaluated on XM3600, Multi30K, xFlickr&CO,
xGQA and MaXM in the 36 XM3600 languages, distilled on COCO-35L.
"""

from __future__ import annotations

import copy
from pathlib import Path

from common import REPO, default_config

PAPER_CONFIG = REPO / "configs" / "paper.yaml"

# Test-split images of each public benchmark (docs/datasets.md; MaXM approximate). Only used to
# count image-encoder passes; a benchmark's ``max_images`` caps its count.
TEST_IMAGES = {
    "xm3600": 3600,
    "multi30k": 1000,       # test_2016_flickr
    "xflickrco": 2000,      # 1000 Flickr30K + 1000 COCO
    "xgqa": 398,            # GQA test-dev images
    "maxm": 335,            # approximate; questions of each language are on that language's images
    "coco35l": 0,           # training corpus only
}
# Benchmarks whose languages are asked about different images: a per-language evaluation encodes
# only that language's images, so the naive count is the image count once, not per language.
PER_LANGUAGE_IMAGES = {"maxm"}


def stand_in_paper_config() -> dict:
    from mvlm_distill.data.adapters import ADAPTERS

    cfg = default_config()
    methods = {"FD": {"FD": 1.0}, "ED": {"ED": 1.0}, "SD": {"SD": 1.0}, "MCL": {"MCL": 1.0},
               "DR": {"DR": 1.0}, "DR+ED": {"DR": 1.0, "ED": 1.0}}
    return {
        "results": "results",
        "languages": list(ADAPTERS["xm3600"].languages),
        "seeds": [0, 1, 2],
        "benchmarks": {
            "coco35l": {"kind": "coco35l", "source": "data/coco35l"},
            "xm3600": {"kind": "xm3600", "source": "data/xm3600"},
            "multi30k": {"kind": "multi30k", "source": "data/multi30k"},
            "xflickrco": {"kind": "xflickrco", "source": "data/xflickrco"},
            "xgqa": {"kind": "xgqa", "source": "data/xgqa"},
            "maxm": {"kind": "maxm", "source": "data/maxm"},
        },
        "corpus": {"benchmark": "coco35l", "split": "train"},
        "evaluation": {"benchmarks": ["xm3600", "multi30k", "xflickrco", "xgqa", "maxm"], "split": "test",
                       "batch_size": 256},
        "models": [
            {"name": "mclip-xlmr-b32", "family": "clip", "source": "open_clip",
             "checkpoint": "xlm-roberta-base-ViT-B-32", "pretrained": "laion5b_s13b_b90k", "text_layers": 12},
            {"name": "siglip2-base", "family": "siglip2", "source": "hf",
             "checkpoint": "google/siglip2-base-patch16-256", "text_layers": 12},
        ],
        "methods": methods,
        "distillation": {**cfg["distillation"], "steps": 20000, "batch_size": 256, "threads": 4},
    }


def paper_config() -> tuple[dict, str]:
    """(config, source): configs/paper.yaml when present, else the stand-in."""
    import yaml

    if PAPER_CONFIG.exists():
        return yaml.safe_load(PAPER_CONFIG.read_text()), "configs/paper.yaml"
    return stand_in_paper_config(), "stand-in (configs/paper.yaml absent)"


def scaled_config(cfg: dict, factor: int) -> dict:
    """``cfg`` with ``factor`` times the seeds (students, embeddings and scores grow alike)."""
    out = copy.deepcopy(cfg)
    n = len(out["seeds"]) * factor
    out["seeds"] = list(range(n))
    return out


def grid_shape(cfg: dict) -> dict:
    """Teachers, rows (teacher + init + methods x seeds) and per-benchmark languages of a grid."""
    from mvlm_distill.config import check_config, grid_languages

    checked = check_config(copy.deepcopy(cfg), base_dir=REPO)
    benchmarks = checked["evaluation"]["benchmarks"]
    return {
        "teachers": len(checked["models"]),
        "rows_per_teacher": 2 + len(checked["methods"]) * len(checked["seeds"]),
        "benchmarks": {b: {"kind": checked["benchmarks"][b]["kind"],
                           "languages": len(grid_languages(checked, b)),
                           "spec": checked["benchmarks"][b]} for b in benchmarks},
    }


def test_images(name: str, spec: dict) -> int | None:
    if spec["kind"] == "synthetic":
        n = spec.get("n_images", {}).get("test")
        return int(n) if n else 500
    n = TEST_IMAGES.get(spec["kind"])
    if n is None:
        return None
    return min(n, int(spec["max_images"])) if spec.get("max_images") else n


def write_config(cfg: dict, path: Path) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False))
    return path
