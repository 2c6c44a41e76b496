"""Side-by-side table of tune_teachers.py runs: VQA acc@1 per question kind, per language, and t2i R@1.

Each argument is ``label=path[,path...]`` of files holding tune_teachers.py's JSON line(s) (run with
``--vqa``); the last line of each file is used, and several files (seeds) are averaged. Prints a
Markdown table.

    python benchmarks/vqa_kinds_table.py baseline=/tmp/base.out,/tmp/base_s1.out family32=/tmp/f32.out
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sweep_distillation import LOW_RESOURCE as LOW  # the benchmarks' one low-resource group

from mvlm_distill.data.lexicon import QUESTION_KINDS


def _mean_run(runs: list[dict]) -> dict:
    """The runs' VQA, R@1 and step seconds, averaged."""
    vqa = {lang: {k: sum(r["vqa_acc@1"][lang][k] for r in runs) / len(runs) for k in runs[0]["vqa_acc@1"][lang]}
           for lang in runs[0]["vqa_acc@1"]}
    r1 = {lang: sum(r["t2i_R@1"][lang] for r in runs) / len(runs) for lang in runs[0]["t2i_R@1"]}
    return {"vqa_acc@1": vqa, "t2i_R@1": r1,
            **{k: sum(r[k] for r in runs) / len(runs) for k in ("seconds_per_step", "loss_last10")}}


def summary(run: dict) -> dict[str, float | str]:
    vqa, r1 = run["vqa_acc@1"], run["t2i_R@1"]
    langs = list(vqa)
    row: dict[str, float | str] = {}
    for kind in QUESTION_KINDS:
        row[f"VQA {kind} en"] = vqa["en"][kind]
        row[f"VQA {kind} mean"] = sum(vqa[lang][kind] for lang in langs) / len(langs)
    row["VQA all, mean over languages"] = sum(vqa[lang]["all"] for lang in langs) / len(langs)
    worst = min(langs, key=lambda lang: vqa[lang]["all"])
    row["VQA all, worst language"] = f"{vqa[worst]['all']:.3f} ({worst})"
    for lang in langs:
        row[f"VQA all {lang}"] = vqa[lang]["all"]
    row["t2i R@1 en"] = r1["en"]
    row["t2i R@1 ja/th/sw mean"] = sum(r1[lang] for lang in LOW) / len(LOW)
    row["t2i R@1 en - ja/th/sw"] = r1["en"] - row["t2i R@1 ja/th/sw mean"]
    row["train s/step"] = run["seconds_per_step"]
    row["final loss (mean of last 10 steps)"] = run["loss_last10"]
    return row


def main(argv=None) -> None:
    args = sys.argv[1:] if argv is None else argv
    runs = {}
    for arg in args:
        label, path = arg.split("=", 1)
        runs[label] = summary(_mean_run([json.loads(Path(p).read_text().strip().splitlines()[-1])
                                         for p in path.split(",")]))
    labels = list(runs)
    print("| | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(labels))
    for key in runs[labels[0]]:
        cells = [v if isinstance(v := runs[label][key], str) else f"{v:.3f}" for label in labels]
        print(f"| {key} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
