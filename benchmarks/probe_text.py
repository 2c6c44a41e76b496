"""Can the toy clip text tower tell which colour goes with which position when supervised directly?

The text-side twin of ``probe_vision.py --attribute position_colour`` (docs/notes/vqa_design.md):
it trains the toy clip's text tower (an XLM-R encoder with open_clip's mean pooler, the shipped
size and tokenizer), from its random initialisation, plus a linear head with one target per
(position, colour) on the captions of one language that state a colour and a position for each
of two objects (different colours, different positions), and reports on ``--eval-split`` how many
captions get their exact pair set, both marginal sets, and the pairing when both sets are exact.
A caption and its attribute-swapped twin hold the same words, so only a tower that reads word
order gets the pairs right. Usage (two CPU threads, ~2 minutes)::

    OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 python benchmarks/probe_text.py --data <benchmark> --language en

``--data``: a generated benchmark with its training captions (the recipe's, 6,000 train images).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from probe_vision import pair_set_scores, position_colour_keys

ROOT = Path(__file__).resolve().parents[1]
# encode_text returns unit vectors: a fixed scale lets the linear head reach confident logits
# (without it, 1,500 steps stayed near the base rate)
FEATURE_SCALE = 10.0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="a synthetic benchmark folder (with mentions.csv)")
    ap.add_argument("--language", default="en")
    ap.add_argument("--eval-split", default="val")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=128)
    # 2e-3 (probe_vision's and the recipe's) left this probe at the base rate; 5e-4 learns
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tokenizer", default=str(ROOT / "teachers" / "toy-clip"), help="a folder with tokenizer.json")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from mvlm_distill.data.formats import read_benchmark
    from mvlm_distill.data.synthetic import read_scene_records
    from mvlm_distill.models import build_toy_teacher
    from mvlm_distill.models.pretrain import tokenize_all

    torch.manual_seed(args.seed)
    bench = read_benchmark(args.data)
    keys = position_colour_keys()
    targets = {}
    for pid, rows in read_scene_records(args.data)["mentions"].groupby("parallel_id"):
        stated = rows["colour"].fillna("").astype(bool).all() and rows["position"].fillna("").astype(bool).all()
        if len(rows) == 2 and stated and rows["colour"].nunique() == 2 and rows["position"].nunique() == 2:
            y = np.zeros(len(keys), np.float32)
            for p, c in zip(rows["position"], rows["colour"]):
                y[keys.index(f"{p}/{c}")] = 1.0
            targets[pid] = y
    model = build_toy_teacher("clip", args.tokenizer, {"layers": 4, "context_length": 48}, seed=args.seed)

    def split(name):
        caps = bench.split_captions(name)
        caps = caps[(caps["language"] == args.language) & caps["parallel_id"].isin(targets)]
        return (tokenize_all(model, caps["text"].tolist()),
                torch.from_numpy(np.stack([targets[p] for p in caps["parallel_id"]])))

    (x_train, y_train), (x_eval, y_eval) = split("train"), split(args.eval_split)
    head = torch.nn.Linear(model.encode_text({k: v[:1] for k, v in x_train.items()}).shape[1], len(keys))
    opt = torch.optim.AdamW([*model.model.parameters(), *head.parameters()], lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    t = time.perf_counter()
    for _ in range(args.steps):
        idx = torch.randint(0, len(y_train), (args.batch_size,), generator=gen)
        logits = head(FEATURE_SCALE * model.encode_text({k: v[idx] for k, v in x_train.items()}))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.model.eval()
    with torch.no_grad():
        pred = head(FEATURE_SCALE * model.encode_text(x_eval)) > 0
    exact = (pred == (y_eval > 0)).all(1)
    print(json.dumps({
        "language": args.language, "steps": args.steps, "lr": args.lr, "seed": args.seed,
        "train_captions": len(y_train), "eval_split": args.eval_split, "eval_captions": len(y_eval),
        "train_seconds": round(time.perf_counter() - t, 1), "loss_last": round(loss.item(), 3),
        "exact_pairs": round(float(exact.float().mean()), 3),
        **pair_set_scores(pred, y_eval > 0),
    }))


if __name__ == "__main__":
    main()
