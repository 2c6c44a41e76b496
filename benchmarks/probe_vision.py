"""Can the toy clip image tower learn an attribute when it is supervised directly?

A diagnostic for VQA (docs/notes/toy_teachers.md): it trains the toy clip's open_clip ViT, from its
random initialisation, plus a linear head to predict which shapes (or colours) a synthetic image
contains (one binary target per shape: multi-label BCE), and reports on ``--eval-split`` the
share of images whose set is predicted exactly and the accuracy per value next to the majority
baseline. ``position_colour`` asks for the binding VQA needs: one target per (position, colour),
so that knowing which colours and which positions an image holds is not enough; it also reports,
over images of two or more objects, how often the pairs are exact when both sets are (a model that
does not bind gets at most 1/2 of those right on two objects). Usage (one CPU thread)::

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python benchmarks/probe_vision.py --data /tmp/tune/data \\
        --attribute shape --steps 500

The shape results in docs/notes/toy_teachers.md were read on ``test``, before ``--eval-split``
existed; design decisions are read on ``val`` (the default).

``--data``: a generated benchmark (``tune_teachers.py --out X`` writes one to ``X/data``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


def position_colour_keys() -> list[str]:
    """One target per (position, colour): "left/red", ..."""
    from mvlm_distill.data.lexicon import COLOURS, POSITIONS

    return [f"{p}/{c}" for p in POSITIONS for c in COLOURS]


def pair_set_scores(pred, truth) -> dict:
    """Over rows of (position, colour) predictions and truths (bool, n x len(position_colour_keys())):
    how often both marginal sets (positions, colours) are exact, and how often the pairs are when they are."""
    from mvlm_distill.data.lexicon import COLOURS, POSITIONS

    shape = (len(truth), len(POSITIONS), len(COLOURS))
    guess, true = pred.reshape(shape), truth.reshape(shape)
    sets_exact = (guess.any(2) == true.any(2)).all(1) & (guess.any(1) == true.any(1)).all(1)
    exact = (pred == truth).all(1)
    return {"both_sets_exact": round(float(sets_exact.float().mean()), 3),
            "pairs_exact_given_sets_exact": round(float(exact[sets_exact].float().mean()), 3)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="a synthetic benchmark folder (with scenes.csv)")
    ap.add_argument("--attribute", choices=["shape", "colour", "position_colour"], default="shape")
    ap.add_argument("--eval-split", default="val")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", default='{"layers": 4, "context_length": 48}', help="JSON size config of the toy")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from mvlm_distill.data.formats import load_image, read_benchmark
    from mvlm_distill.data.lexicon import COLOURS, LANGUAGES, SHAPES, tokenizer_pieces
    from mvlm_distill.data.synthetic import read_scene_records
    from mvlm_distill.models import build_toy_teacher, build_toy_tokenizer
    from mvlm_distill.models.pretrain import preprocess_all

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    bench = read_benchmark(args.data)
    scenes = read_scene_records(args.data)["scenes"]
    keys = {"shape": list(SHAPES), "colour": list(COLOURS),
            "position_colour": position_colour_keys()}[args.attribute]
    values = ([f"{p}/{c}" for p, c in zip(scenes["position"], scenes["colour"])] if args.attribute == "position_colour"
              else scenes[args.attribute].tolist())
    with tempfile.TemporaryDirectory() as tok_dir:  # the text tower is unused; the toy needs a tokenizer
        build_toy_tokenizer([], tokenizer_pieces(LANGUAGES), tok_dir)
        model = build_toy_teacher("clip", tok_dir, json.loads(args.size), seed=args.seed)
    visual = model.model.visual  # the open_clip image tower, trained as it is in pretraining

    def split(name):
        ids = bench.split_images(name)["image_id"].tolist()
        row = {iid: k for k, iid in enumerate(ids)}
        y = np.zeros((len(ids), len(keys)), np.float32)
        for iid, value in zip(scenes["image_id"], values):
            if iid in row:
                y[row[iid], keys.index(value)] = 1.0
        return preprocess_all(model, [load_image(bench.image_path(i)) for i in ids]), torch.from_numpy(y)

    x_train, y_train = split("train")
    x_test, y_test = split(args.eval_split)
    head = torch.nn.Linear(int(visual(x_train[:1]).shape[1]), len(keys))
    opt = torch.optim.AdamW([*visual.parameters(), *head.parameters()], lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    t = time.perf_counter()
    for _ in range(args.steps):
        idx = torch.randint(0, len(x_train), (args.batch_size,), generator=gen)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head(visual(x_train[idx])), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = head(visual(x_test)) > 0
    correct = pred == (y_test > 0)
    extra = {}
    if args.attribute == "position_colour":
        several = (y_test > 0).sum(1) >= 2
        extra = {"images_of_2_or_more_objects": int(several.sum()),
                 **pair_set_scores(pred[several], y_test[several] > 0)}
    print(json.dumps({
        "attribute": args.attribute, "steps": args.steps, "train_images": len(x_train), "seed": args.seed,
        "train_seconds": round(time.perf_counter() - t, 1), "loss_last": round(loss.item(), 3),
        "eval_split": args.eval_split, "exact_set": round(float(correct.all(1).float().mean()), 3),
        "accuracy": {k: round(float(a), 3) for k, a in zip(keys, correct.float().mean(0))},
        "majority_baseline": {k: round(float(1 - m), 3) for k, m in zip(keys, y_test.mean(0))},
        **extra,
    }))


if __name__ == "__main__":
    main()
