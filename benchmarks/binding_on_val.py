"""Do the teachers bind attributes to objects? A caption against its attribute-swapped twin, on val.

For each model of a config (default: config.yaml), the teacher and the ``init`` student: per
language, the fraction of the split's two-object captions that score higher against their own
image than the same caption with one attribute (colour, size or position) swapped between its two
objects (``data.synthetic.swapped_attribute_captions``). Chance is 0.5; a model that reads a
caption as a bag of words cannot beat it. Reads no test split.

    OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 python benchmarks/binding_on_val.py --data /tmp/design/data
"""

from __future__ import annotations

import json

import numpy as np

from design_on_val import design_arguments, design_benchmark, model_spec


def binding_accuracy(model, captions, negatives, image_emb, image_row) -> dict:
    """Per language: fraction of ``captions`` scored above their negative against their image, and the
    median cosine of a caption's text embedding and its negative's (near 1: the text side cannot
    tell them apart, whatever the image side sees)."""
    from mvlm_distill.distill.encode import encode_texts

    out = {}
    for lang, rows in captions.groupby("language", sort=False):
        pos = encode_texts(model, rows["text"].tolist())
        neg = encode_texts(model, [negatives[i] for i in rows.index])
        img = image_emb[[image_row[i] for i in rows["image_id"]]]
        out[lang] = {"accuracy": round(float(((pos * img).sum(1) > (neg * img).sum(1)).mean()), 3),
                     "twin_cosine": round(float(np.median((pos * neg).sum(1))), 3), "captions": len(rows)}
    return out


def main(argv=None) -> None:
    args = design_arguments(__doc__.splitlines()[0], argv,
                            **{"--seed": {"type": int, "default": 1, "help": "draws which attribute is swapped"}})

    import torch

    from mvlm_distill.data.formats import load_image
    from mvlm_distill.data.synthetic import swapped_attribute_captions
    from mvlm_distill.models.loader import load_model
    from mvlm_distill.models.pretrain import preprocess_all
    from mvlm_distill.models.student import build_student

    config, bench = design_benchmark(args)
    captions = bench.split_captions(args.split)
    captions = captions[captions["language"].isin(config["languages"])].reset_index(drop=True)
    negatives = swapped_attribute_captions(args.data, captions, seed=args.seed)
    captions = captions[[n is not None for n in negatives]]
    image_ids = sorted(set(captions["image_id"]))
    image_row = {k: i for i, k in enumerate(image_ids)}
    for model in config["models"]:
        teacher = load_model(model_spec(model))
        init = build_student(teacher, model.get("student_layers"))
        with torch.no_grad():
            pixels = preprocess_all(teacher, [load_image(bench.image_path(i)) for i in image_ids])
            image_emb = teacher.encode_image(pixels).numpy()
        row = {"model": model["name"], "split": args.split, "seed": args.seed}
        for name, m in (("teacher", teacher), ("init", init)):
            row[name] = binding_accuracy(m, captions, negatives, image_emb, image_row)
        print(f"## {model['name']} on {args.split}: own caption above its attribute-swapped twin (chance 0.5)")
        print("| lang | captions | teacher | init | teacher's twin cosine |")
        print("|---|---|---|---|---|")
        for lang, t in row["teacher"].items():
            print(f"| {lang} | {t['captions']} | {t['accuracy']:.3f} | {row['init'][lang]['accuracy']:.3f} "
                  f"| {t['twin_cosine']:.3f} |")
        mean = {name: np.mean([v["accuracy"] for v in row[name].values()]) for name in ("teacher", "init")}
        print(f"- mean: teacher {mean['teacher']:.3f}, init {mean['init']:.3f}")
        print(json.dumps(row))


if __name__ == "__main__":
    main()
