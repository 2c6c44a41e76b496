"""The study core in one process, without Snakemake: pretrain a toy teacher (by the shipped teachers'
recipe, teachers/recipe.yaml, at a smaller budget), distil one student,
print per-language text-to-image retrieval of teacher, init and student.

    python -m mvlm_distill.quickstart --family clip --method ED --out /tmp/quickstart

Uses the same package functions as the workflow's rules, with a smaller default budget
(the workflow is what runs the study; this is for trying a loss or a model change quickly).
Its settings (the method's loss weights, distillation, the family's student layers) come from a
study config, by default the default study's ``config.yaml``; that file and the recipe ship inside
the package (``config.RESOURCES``), so an installed package runs it from any directory.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from mvlm_distill.config import DEFAULT_CONFIG, ConfigError, load_yaml, validate_schema
from mvlm_distill.definitions import FAMILIES, default_layer_map


def run(out: Path, family: str, method: str, teacher_steps: int, distill_steps: int, n_train: int,
        config: Path = DEFAULT_CONFIG, recipe_file: Path | None = None) -> None:
    import pandas as pd
    import torch

    from mvlm_distill.data.corpus import corpus_items, select_by_language
    from mvlm_distill.data.formats import read_benchmark
    from mvlm_distill.data.synthetic import generate_benchmark
    from mvlm_distill.distill.encode import encode_images, encode_texts
    from mvlm_distill.distill.losses import build_loss
    from mvlm_distill.distill.trainer import TrainingSettings, corpus_in_memory, distill
    from mvlm_distill.evaluate.retrieval import metrics_from_ranks, t2i_ranks
    from mvlm_distill.models import build_student
    from mvlm_distill.models.recipe import RECIPE_FILE, train_teacher

    torch.set_num_threads(1)
    # the schema's checks and defaults; the study's checks of teacher folders and benchmarks do not
    # apply: this pretrains its own teacher on its own benchmark
    cfg = validate_schema(load_yaml(config))
    if method not in cfg["methods"]:
        raise ConfigError(f"--method: {method!r} is not a method of {config}; allowed: {', '.join(cfg['methods'])}.")
    spec = next((m for m in cfg["models"] if m["family"] == family), None)
    if spec is None:
        raise ConfigError(f"--family: {config} has no {family} model to take the student layers from.")
    dist = cfg["distillation"]
    recipe = load_yaml(recipe_file or RECIPE_FILE)
    recipe["families"][family]["steps"] = teacher_steps

    bench_dir = out / "data"
    if not (bench_dir / "meta.json").exists():
        generate_benchmark(bench_dir, seed=0, n_images={"train": n_train, "val": 50, "test": 300})
    bench = read_benchmark(bench_dir)
    train = bench.split_captions("train")
    teacher, _ = train_teacher(family, recipe, recipe["pretraining"]["seed"], bench, out)

    items = corpus_items(bench.captions, select_by_language(train, dist["language_fraction"], seed=0))
    corpus = corpus_in_memory(teacher, bench, items, 256)
    layers = spec.get("student_layers") or default_layer_map(teacher.text_layer_count())
    init = build_student(teacher, layers)
    student = build_student(teacher, layers)
    settings = TrainingSettings.from_config(dist, seed=0, steps=distill_steps)
    distill(student, corpus, build_loss(cfg["methods"][method], family, **dist["temperatures"]), settings,
            logit_scale=teacher.logit_scale, logit_bias=teacher.logit_bias, family=family,
            state_dir=out / "state", log_path=out / "loss_log.csv")

    test_images = bench.images[bench.images["split"] == "test"]["image_id"].tolist()
    image_emb = encode_images(teacher, [bench.image_path(i) for i in test_images], 256)
    row = {i: k for k, i in enumerate(test_images)}
    table = []
    for name, model in (("teacher", teacher), ("init", init), (method, student)):
        for lang in bench.languages:
            caps = bench.split_captions("test", lang)
            ranks = t2i_ranks(encode_texts(model, caps["text"].tolist(), 256) @ image_emb.T,
                              caps["image_id"].map(row).to_numpy())
            m = metrics_from_ranks(ranks, "t2i")
            table.append({"row": name, "language": lang, "R@1": m["R@1"], "R@10": m["R@10"]})
    frame = pd.DataFrame(table)
    for metric in ("R@1", "R@10"):
        wide = frame.pivot(index="row", columns="language", values=metric)[bench.languages]
        wide["mean"] = wide.mean(axis=1)
        print(f"\ntext-to-image {metric} ({family}, {len(test_images)} test images)")
        print(wide.loc[["teacher", "init", method]].round(3).to_string())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=list(FAMILIES), default="clip")
    parser.add_argument("--method", default="ED", help="a method of config.yaml (FD, ED, SD, MCL, DR, DR+ED)")
    parser.add_argument("--teacher-steps", type=int, default=300)
    parser.add_argument("--distill-steps", type=int, default=100)
    parser.add_argument("--train-images", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                        help="the study config to take the method, distillation settings and student layers from "
                             "(default: the default study's config.yaml, shipped inside the package)")
    parser.add_argument("--recipe", type=Path, default=None,
                        help="the teacher recipe (default: teachers/recipe.yaml, shipped inside the package)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="mvlm-quickstart-"))
    run(out, args.family, args.method, args.teacher_steps, args.distill_steps, args.train_images,
        config=args.config, recipe_file=args.recipe)


if __name__ == "__main__":
    main()
