"""Pretrain the toy teachers on the synthetic benchmark and measure step time and test R@1.

Usage (one CPU thread, as the study's teacher jobs run)::

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python benchmarks/tune_teachers.py --out /tmp/tune \\
        --family clip --steps 600 --batch-size 128 --lr 2e-3

    # as the study pretrains (its data, pairs and tokenizer), with VQA accuracy per question kind
    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python benchmarks/tune_teachers.py --out /tmp/tune \\
        --results results --vocab-size 1200 --size '{"layers": 4, "context_length": 48}' \\
        --family siglip2 --steps 500 --vqa

Generates the benchmark into ``--out/data`` (or reuses it, or reads ``--results``), picks the pretraining pairs
with the study's uneven language mix (``--fractions``), and makes each toy teacher as every toy teacher is
made (``models.pretrain_toy_teacher``: the toy tokenizer from the lexicon and those pairs, lower-cased for
siglip2, then pretraining), and prints one JSON line per family: per-step seconds, loss, and text-to-image
R@1 (pessimistic ties) on the test split per language and mean.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml

# the shipped teachers' pretraining mix
DEFAULT_FRACTIONS = yaml.safe_load((Path(__file__).resolve().parents[1] / "teachers" / "recipe.yaml").read_text())[
    "pretraining"]["language_fraction"]


def t2i_recall_at_1(model, images, captions, image_ids, batch: int = 512) -> dict:
    """Mean and per-language R@1 (caption -> image; pessimistic ties)."""
    import torch

    from mvlm_distill.models.pretrain import preprocess_all, tokenize_all

    with torch.no_grad():
        img = torch.cat([model.encode_image(preprocess_all(model, images[i:i + batch]))
                         for i in range(0, len(images), batch)])
        out = {}
        row = {iid: k for k, iid in enumerate(image_ids)}
        for lang, frame in captions.groupby("language", sort=False):
            texts = frame["text"].tolist()
            tok = tokenize_all(model, texts)
            txt = torch.cat([model.encode_text({k: v[i:i + batch] for k, v in tok.items()})
                             for i in range(0, len(texts), batch)])
            sims = txt @ img.T
            target = torch.tensor([row[i] for i in frame["image_id"]])
            true = sims[torch.arange(len(texts)), target]
            rank = (sims >= true[:, None]).sum(1)  # pessimistic: ties count against the query
            out[lang] = float((rank == 1).float().mean())
    return {"mean": sum(out.values()) / len(out), **out}


def vqa_accuracy(model, bench, split: str = "val") -> dict:
    """VQA acc@1 per language and question kind of the questions scored with ``split`` (the
    synthetic ``vqa_val`` split's for val), ranked as the scorer ranks (``evaluate.vqa``);
    synthetic question ids end in their kind."""
    import numpy as np
    import pandas as pd

    from mvlm_distill.data.lexicon import vqa_prompt
    from mvlm_distill.distill.encode import encode_images, encode_texts
    from mvlm_distill.evaluate.vqa import vqa_ranks

    vqa = pd.concat([bench.evaluation_vqa(split, lang) for lang in bench.languages], ignore_index=True)
    image_ids = sorted(set(vqa["image_id"]))
    row = {iid: k for k, iid in enumerate(image_ids)}
    images = encode_images(model, [bench.image_path(i) for i in image_ids])
    out = {}
    for lang, frame in vqa.groupby("language", sort=False):
        cands = [list(c) for c in frame["candidates"]]
        prompts = encode_texts(model, [vqa_prompt(lang, q, c) for q, cs in zip(frame["question"], cands) for c in cs])
        groups = np.split(prompts, np.cumsum([len(cs) for cs in cands])[:-1])
        ranks = vqa_ranks(images[[row[i] for i in frame["image_id"]]], groups,
                          [cs.index(a) for cs, a in zip(cands, frame["answer"])])
        hits, kind = ranks == 1, frame["question_id"].str.rsplit("-", n=1).str[1].to_numpy()
        out[lang] = {"all": round(float(hits.mean()), 3),
                     **{k: round(float(hits[kind == k].mean()), 3) for k in dict.fromkeys(kind)}}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--family", choices=["clip", "siglip2", "both"], default="both")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", default="{}", help="JSON size config for build_toy_teacher")
    ap.add_argument("--fractions", default=json.dumps(DEFAULT_FRACTIONS))
    ap.add_argument("--shift", type=int, default=0, help="augment_shift (pixels)")
    ap.add_argument("--loss", default=None, help="override the family's loss (clip | siglip2)")
    ap.add_argument("--pad-left", action="store_true", help="diagnostic: left-pad captions (siglip2)")
    ap.add_argument("--no-mask", action="store_true", help="diagnostic: no text attention mask (siglip2)")
    ap.add_argument("--n-train", type=int, default=6000, help="train images of the generated benchmark")
    ap.add_argument("--image-size", type=int, default=32,
                    help="image side (pixels) of the generated benchmark (size it the toy's image_size too)")
    ap.add_argument("--n-vqa", type=int, default=0,
                    help="images of the generated benchmark's shifted vqa split, as the study asks VQA about "
                         "(0: no such split, VQA about the test images)")
    ap.add_argument("--tag", default="", help="prefix of the loss log file name")
    ap.add_argument("--eval-every", type=int, default=0, help="also report mean test R@1 every N steps")
    ap.add_argument("--results", default=None,
                    help="a finished study's results folder: train on its synthetic benchmark and its pretraining "
                         "pairs (corpus/pretraining.csv), as rule pretrain_teacher does, instead of generating data")
    ap.add_argument("--vocab-size", type=int, default=None,
                    help="train a BPE tokenizer of this size, as teacher_pretraining.tokenizer_vocab_size does "
                         "(default: the lexicon vocabulary written down)")
    ap.add_argument("--vqa", action="store_true", help="also report VQA acc@1 per language and question kind")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from mvlm_distill.data.corpus import select_by_language
    from mvlm_distill.data.formats import load_image, read_benchmark
    from mvlm_distill.data.synthetic import DEFAULT_N_IMAGES, generate_benchmark
    from mvlm_distill.models import pretrain_toy_teacher

    out = Path(args.out)
    if args.results:
        import pandas as pd

        data = Path(args.results) / "data" / "synthetic"
        train_caps = pd.read_csv(Path(args.results) / "corpus" / "pretraining.csv", dtype=str, keep_default_na=False)
    else:
        data = out / "data"
        if not (data / "meta.json").exists():
            sizes = {**DEFAULT_N_IMAGES, "train": args.n_train, "vqa": args.n_vqa}
            n_images = {split: n for split, n in sizes.items() if n}  # --n-vqa 0: no vqa split
            generate_benchmark(data, seed=0, n_images=n_images, image_size=args.image_size)
    bench = read_benchmark(data)
    if not args.results:
        train_caps = select_by_language(bench.split_captions("train"), json.loads(args.fractions), seed=args.seed)
    train_images = bench.split_images("train")
    test_images = bench.split_images("test")

    t = time.perf_counter()
    test_pil = [load_image(bench.image_path(i)) for i in test_images["image_id"]]
    load_s = time.perf_counter() - t
    test_caps = bench.split_captions("test")
    test_ids = test_images["image_id"].tolist()
    # learning curve: test R@1 and R@1 on 500 train images (their pretraining captions)
    fit_ids = train_images["image_id"].tolist()[:500]
    fit_caps = train_caps[train_caps["image_id"].isin(set(fit_ids))]
    fit_pil = [load_image(bench.image_path(i)) for i in fit_ids]

    def curve(step, m):
        return (round(t2i_recall_at_1(m, test_pil, test_caps, test_ids)["mean"], 3),
                round(t2i_recall_at_1(m, fit_pil, fit_caps, fit_ids)["mean"], 3))

    def diagnostics(model):
        if args.pad_left:
            model.tokenizer.padding_side = "left"
        if args.no_mask:
            model.uses_attention_mask = False

    families = ["clip", "siglip2"] if args.family == "both" else [args.family]
    for family in families:
        # the toy teachers' one setup (tokenizer from the lexicon and the pairs, toy, pretraining)
        model, summary = pretrain_toy_teacher(
            family, bench, train_caps, out / family, size=json.loads(args.size), steps=args.steps,
            batch_size=args.batch_size, lr=args.lr, seed=args.seed, vocab_size=args.vocab_size, progress=False,
            log_path=out / f"{family}_{args.tag}log.csv", configure=diagnostics,
            callback=curve if args.eval_every else None, callback_every=args.eval_every,
            augment_shift=args.shift, loss=args.loss)
        tok = model.tokenize(test_caps["text"].tolist())
        t = time.perf_counter()
        recall = t2i_recall_at_1(model, test_pil, test_caps, test_images["image_id"].tolist())
        eval_s = time.perf_counter() - t
        print(json.dumps({
            "family": family, "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
            "seed": args.seed, "threads": args.threads, "pairs": summary["pairs"],
            "text_parameters": model.text_parameter_count(), "total_parameters": model.total_parameter_count(),
            "mean_tokens": float(tok["attention_mask"].sum(1).float().mean()),
            "max_tokens": int(tok["attention_mask"].sum(1).max()),
            "image_load_s": round(load_s, 2), "eval_s": round(eval_s, 2),
            **{k: summary[k] for k in ("train_seconds", "seconds_per_step", "loss_first10", "loss_last10",
                                       "logit_scale", "logit_bias", "epochs")},
            "t2i_R@1": {k: round(v, 3) for k, v in recall.items()},
            **({"vqa_acc@1": vqa_accuracy(model, bench)} if args.vqa and bench.vqa is not None else {}),
            "size": json.loads(args.size), "shift": args.shift, "n_train": len(train_images), "loss": args.loss, "pad_left": args.pad_left, "no_mask": args.no_mask,
            **({"curve": {c["step"]: c["result"] for c in summary["callbacks"]}} if args.eval_every else {}),
        }), flush=True)


if __name__ == "__main__":
    main()
