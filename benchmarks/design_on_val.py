"""The embedded study's design properties that need no student, measured on the val split.

For each model of a config (default: config.yaml): the teacher's and the ``init`` student's t2i
R@1 and R@10 on ``val`` (pessimistic ties) and VQA acc@1 per language and question kind on the
VQA split scored with ``val`` (``vqa_val``). Prints the issue-32 properties these decide (teacher
R@1 gap English - low-resource, init retention gap, VQA above chance, teacher - init VQA) and one
JSON line per model. Reads no test split.

    OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 python benchmarks/design_on_val.py --data /tmp/design/data
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import yaml

from tune_teachers import vqa_accuracy

from mvlm_distill.models.recipe import LOW_RESOURCE

ROOT = Path(__file__).resolve().parents[1]


def model_spec(model: dict) -> dict:
    """A config model entry with its repository-relative paths made absolute."""
    spec = dict(model)
    for key in ("config", "pretrained", "checkpoint"):
        if isinstance(spec.get(key), str) and (ROOT / spec[key]).exists():
            spec[key] = str(ROOT / spec[key])
    return spec


def vqa_summary(acc: dict, bench, split: str) -> dict:
    """Per language: acc@1, chance (mean 1 / candidates) and (acc - chance) / (1 - chance)."""
    out = {}
    for lang, row in acc.items():
        cands = bench.evaluation_vqa(split, lang)["candidates"]
        chance = float(np.mean([1.0 / len(c) for c in cands]))
        out[lang] = {**row, "chance": round(chance, 3), "normalised": round((row["all"] - chance) / (1 - chance), 3)}
    return out


def design_arguments(description: str, argv=None, **extra) -> argparse.Namespace:
    """--config, --data, --split and ``extra`` ({flag: add_argument keywords}) of a design script."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--config", default=str(ROOT / "config.yaml"))
    ap.add_argument("--data", required=True, help="folder of the generated benchmark (made here if missing)")
    ap.add_argument("--split", default="val")
    for flag, kwargs in extra.items():
        ap.add_argument(flag, **kwargs)
    return ap.parse_args(argv)


def design_benchmark(args: argparse.Namespace):
    """The config and its synthetic benchmark at ``args.data``, generated there from the config if missing."""
    from mvlm_distill.data.formats import read_benchmark
    from mvlm_distill.data.synthetic import generate_benchmark

    config = yaml.safe_load(Path(args.config).read_text())
    spec = dict(config["benchmarks"][config["corpus"]["benchmark"]])
    data = Path(args.data)
    if not (data / "meta.json").exists():
        generate_benchmark(data, **{k: v for k, v in spec.items() if k != "kind"})
    return config, read_benchmark(data)


def main(argv=None) -> None:
    args = design_arguments(__doc__.splitlines()[0], argv)

    from mvlm_distill.models.loader import load_model
    from mvlm_distill.models.recipe import val_retrieval
    from mvlm_distill.models.student import build_student

    config, bench = design_benchmark(args)
    vqa_split = bench.meta["vqa_splits"][args.split]
    low = [lang for lang in config["languages"] if lang in LOW_RESOURCE]
    for model in config["models"]:
        teacher = load_model(model_spec(model))
        init = build_student(teacher, model.get("student_layers"))
        row = {"model": model["name"], "split": args.split, "vqa_split": vqa_split}
        for name, m in (("teacher", teacher), ("init", init)):
            row[name] = {"retrieval": val_retrieval(m, bench, args.split)["by_language"],
                         "vqa": vqa_summary(vqa_accuracy(m, bench, args.split), bench, args.split)}
        t, i = row["teacher"], row["init"]
        r1 = {lang: v["R@1"] for lang, v in t["retrieval"].items()}
        keep = {lang: i["retrieval"][lang]["R@10"] / t["retrieval"][lang]["R@10"] for lang in r1}
        bars = {
            "teacher R@1 en - low (>= 0.12)": r1["en"] - np.mean([r1[lang] for lang in low]),
            "init R@10 retention en - low (>= 0.07)": keep["en"] - np.mean([keep[lang] for lang in low]),
            "teacher VQA normalised, worst language (>= 0.27)": min(v["normalised"] for v in t["vqa"].values()),
            "teacher - init VQA acc@1, mean (>= 0.05)": np.mean([t["vqa"][lang]["all"] - i["vqa"][lang]["all"]
                                                                for lang in t["vqa"]]),
        }
        row["bars"] = {k: round(float(v), 3) for k, v in bars.items()}
        print(f"## {model['name']} on {args.split} (VQA on {vqa_split})")
        kinds = [k for k in t["vqa"]["en"] if k not in ("all", "chance", "normalised")]
        print("| lang | teacher R@1 | init R@10 kept | VQA teacher / init | " + " | ".join(kinds) + " |")
        print("|---|---|---|---|" + "---|" * len(kinds))
        for lang in t["vqa"]:
            print(f"| {lang} | {r1[lang]:.3f} | {keep[lang]:.3f} | {t['vqa'][lang]['all']:.3f} / {i['vqa'][lang]['all']:.3f} | "
                  + " | ".join(f"{t['vqa'][lang][k]:.2f} / {i['vqa'][lang][k]:.2f}" for k in kinds) + " |")
        for k, v in row["bars"].items():
            print(f"- {k}: {v:+.3f}")
        print(json.dumps(row))


if __name__ == "__main__":
    main()
