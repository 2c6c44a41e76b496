"""Rule export_student: a student as a folder stock loaders open, with its model card (the rule's output is
the folder's mvlm_export.json, so that Snakemake adds no file of its own to the folder)."""

import json
from pathlib import Path

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    import pandas as pd

    from mvlm_distill.card import base_model, licence, model_card
    from mvlm_distill.data.formats import read_benchmark
    from mvlm_distill.export import check_captions, export_student
    from mvlm_distill.paths import benchmark_folder, optional_input
    from mvlm_distill.report.tables import read_table

    wc = snakemake.wildcards
    folder = Path(snakemake.output[0]).parent
    settings = snakemake.params.settings
    spec, corpus = settings["spec"], settings["corpus"]
    bench = read_benchmark(benchmark_folder(snakemake.input.benchmark), validate=False)  # validated upstream
    captions = bench.split_captions(corpus.get("split") or "train")
    texts = check_captions(captions, settings["languages"])
    items = pd.read_csv(snakemake.input.corpus, dtype=str, keep_default_na=False)
    parameters = read_table(snakemake.input.parameters)
    teacher_row = parameters[(parameters["model"] == wc.model) & (parameters["role"] == "teacher")]
    kept = None
    vocabulary = optional_input(snakemake.input.vocabulary)
    if vocabulary:
        kept = json.loads(Path(vocabulary).read_text(encoding="utf-8"))["kept_ids"]
    if spec["source"] == "toy":
        description = "a toy teacher pretrained by this pipeline on the synthetic benchmark"
    else:
        description = f"{spec['source']} checkpoint `{spec.get('checkpoint')}`" + (
            f", pretrained `{spec['pretrained']}`" if spec.get("pretrained") else "")
    facts = {
        "name": f"{wc.model}-{wc.kd_method}-seed{wc.seed}",
        "folder": folder.as_posix(),
        "model": wc.model,
        "method": wc.kd_method,
        "weights": settings["weights"],
        "seed": int(wc.seed),
        "teacher": {"name": wc.model, "description": description},
        "license": licence(spec),
        "base_model": base_model(spec),
        "datasets": list(dict.fromkeys(settings["benchmark_ids"].values())),
        "benchmark_ids": settings["benchmark_ids"],
        "evaluation_split": settings["evaluation_split"],
        "languages": settings["languages"],
        "distillation": settings["training"],
        "corpus": {"benchmark": corpus["benchmark"], "split": corpus.get("split") or "train",
                   "items_per_language": items.groupby("language").size().to_dict()},
        "teacher_parameters": teacher_row.iloc[0].to_dict() if len(teacher_row) else None,
        "extra_text": settings["extra_text"],
    }
    metrics = read_table(snakemake.input.metrics)
    info = export_student(snakemake.input.student, folder, check_texts=texts, kept_token_ids=kept,
                          card=lambda info: model_card(info, facts, metrics, texts[:4]))
    print(f"exported to {folder}: stock tokenizer {info['stock_tokenizer']}, "
          f"max embedding difference {info['max_embedding_difference']:.1e} on {len(texts)} captions")
