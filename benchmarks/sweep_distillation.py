"""Distil every configured method from trained teachers under one setting; print R@10 retention.

Usage (after ``make study``; one CPU thread, as the study's distillation jobs run)::

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/sweep_distillation.py toy-clip \\
        --batch-size 16 [--steps 150] [--lr 1e-3] [--seed 0] [--fractions '{"en": 1.0}'] \\
        [--config config.yaml] [--results results]

Reads the study's benchmark and teacher from ``--results``, selects the
distillation corpus as ``select_corpus`` does (``--fractions`` replaces the config's
``distillation.language_fraction``), runs the project's trainer for each method of the config
and scores text-to-image retrieval on the test split with the scoring rule's ranking
(``t2i_ranks`` on ``cosine_matrix``: exact ties, pessimistic). Prints, per method, mean R@10 retention over the
configured languages (student / teacher), mean R@1 and the retention of ja/th/sw, then the best-minus-worst
spread. All in one process and without writing students, so a setting takes a few minutes
instead of a workflow run; at the config's own settings it gives the workflow's numbers
(``tests/test_e2e.py`` checks that).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
LOW_RESOURCE = ("ja", "th", "sw")


def recall_by_language(model, captions, image_vectors, image_pos) -> dict[str, tuple[float, float]]:
    """Per language: (R@10, R@1) of text-to-image retrieval over the whole test gallery."""
    from mvlm_distill.distill.encode import encode_texts
    from mvlm_distill.evaluate.retrieval import t2i_ranks
    from mvlm_distill.evaluate.similarity import cosine_matrix

    out = {}
    for language, group in captions.groupby("language"):
        text = encode_texts(model, group["text"].tolist(), 256)
        ranks = t2i_ranks(cosine_matrix(text, image_vectors), [image_pos[i] for i in group["image_id"]])
        out[language] = (float((ranks <= 10).mean()), float((ranks <= 1).mean()))
    return out


def main(argv=None) -> int:
    import torch

    from mvlm_distill.data.corpus import corpus_items, select_by_language
    from mvlm_distill.data.formats import read_benchmark
    from mvlm_distill.distill.encode import encode_images
    from mvlm_distill.distill.losses import build_loss
    from mvlm_distill.distill.trainer import TrainingSettings, corpus_in_memory, distill
    from mvlm_distill.models import build_student
    from mvlm_distill.rows import load_teacher

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", help="a toy model name of config.yaml (its teacher must be trained)")
    p.add_argument("--config", default=str(REPO / "config.yaml"), help="the study's config (methods, settings)")
    p.add_argument("--results", default=None, help="the study's results folder (default: the config's)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fractions", default=None, help="JSON: language -> fraction of corpus images")
    args = p.parse_args(argv)

    torch.set_num_threads(1)
    cfg = yaml.safe_load(Path(args.config).read_text())
    dist = cfg["distillation"]
    spec = next(m for m in cfg["models"] if m["name"] == args.model)
    results = Path(args.results or cfg.get("results", "results"))
    bench = read_benchmark(results / "data" / cfg["corpus"]["benchmark"])
    teacher = load_teacher(spec, results / "teachers" / args.model, "cpu")
    fractions = json.loads(args.fractions) if args.fractions else dist["language_fraction"]
    selected = select_by_language(bench.split_captions(cfg["corpus"]["split"]), fractions, seed=0)
    items = corpus_items(bench.captions, selected)
    corpus = corpus_in_memory(teacher, bench, items)

    split = cfg["evaluation"]["split"]
    test = bench.split_captions(split)
    test = test[test["language"].isin(cfg["languages"])]
    image_ids = bench.split_images(split)["image_id"].tolist()
    images = encode_images(teacher, [bench.image_path(i) for i in image_ids], 256)
    pos = {image_id: k for k, image_id in enumerate(image_ids)}
    teacher_scores = recall_by_language(teacher, test, images, pos)
    teacher_r10 = np.mean([v[0] for v in teacher_scores.values()])
    init_scores = recall_by_language(build_student(teacher, spec["student_layers"]), test, images, pos)
    batch_size = args.batch_size or dist["batch_size"]
    steps = args.steps or dist["steps"]
    print(f"{args.model}: {len(items)} corpus items, batch {batch_size}, {steps} steps, seed {args.seed}; "
          f"teacher R@10 {teacher_r10:.3f}, init retention "
          f"{np.mean([v[0] for v in init_scores.values()]) / teacher_r10:.3f}", flush=True)

    retention = {}
    for method, weights in cfg["methods"].items():
        torch.manual_seed(args.seed)
        student = build_student(teacher, spec["student_layers"])
        loss_fn = build_loss(weights, teacher.family, **dist.get("temperatures", {}))
        settings = TrainingSettings.from_config(dist, seed=args.seed, steps=steps, batch_size=batch_size,
                                                lr=args.lr or dist["lr"], checkpoint_every=steps + 1)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as work:
            distill(student, corpus, loss_fn, settings, logit_scale=teacher.logit_scale,
                    logit_bias=teacher.logit_bias, family=teacher.family, state_dir=Path(work) / "state",
                    log_path=Path(work) / "loss_log.csv", device="cpu", progress=False)
        scores = recall_by_language(student, test, images, pos)
        retention[method] = np.mean([v[0] for v in scores.values()]) / teacher_r10
        low = [scores[lang][0] / teacher_scores[lang][0] for lang in LOW_RESOURCE if lang in scores]
        low_text = f"  ja/th/sw retention {np.mean(low):.3f}" if low else ""
        print(f"  {method:8s} R@10 retention {retention[method]:.3f}  R@1 {np.mean([v[1] for v in scores.values()]):.3f}"
              f"{low_text}  ({time.perf_counter() - start:.0f} s)", flush=True)
    best, worst = max(retention, key=retention.get), min(retention, key=retention.get)
    print(f"{args.model}: best {best} {retention[best]:.3f}, worst {worst} {retention[worst]:.3f}, "
          f"spread {retention[best] - retention[worst]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
