"""Rule aggregate_tables: per-language score files -> the tidy tables of the study (columns: docs/formats.md, "Result tables").

Each input list comes with its key table (params.key_tables, built by mvlm_distill/study.py): no path is parsed."""

import json
from pathlib import Path

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    import pandas as pd

    from mvlm_distill.data.formats import read_meta
    from mvlm_distill.definitions import REFERENCES
    from mvlm_distill.io import MANIFEST, check_same_source, load_manifest, write_csv
    from mvlm_distill.paths import benchmark_folder
    from mvlm_distill.report import significance, tables

    inputs, outputs, keys = snakemake.input, snakemake.output, snakemake.params.key_tables
    settings = snakemake.params.settings

    def keyed(paths, key_table, what):
        return [(k, tables.read_table(p)) for k, p in tables.paired(key_table, paths, what)]

    rows, first_of = [], {}
    for k, path in tables.paired(keys["embeddings"], inputs.embeddings, "text embedding folders"):
        meta = load_manifest(path)  # the row's text embedding folder: model provenance and sizes
        # the rows of a model share one teacher, those of a benchmark one version of its tables
        for field, group in (("teacher_fingerprint", k["model"]), ("checksum", k["benchmark"])):
            first, first_meta = first_of.setdefault((field, group), (path, meta))
            check_same_source(field, Path(first) / MANIFEST, first_meta, Path(path) / MANIFEST, meta)
        if k["method"] in REFERENCES:
            rows.append({"model": k["model"], "role": "teacher" if k["method"] == "teacher" else "student",
                         **{c: meta.get(c) for c in ("text_layers", "text_parameters", "total_parameters")}})

    metrics = tables.aggregate_metrics(keyed(inputs.metrics, keys["scores"], "metric tables"))
    write_csv(outputs.metrics, metrics)
    ranks = keyed(inputs.ranks, keys["scores"], "rank tables")
    write_csv(outputs.summary, tables.summarize(metrics, ranks, n_boot=settings["n_boot"]))
    write_csv(outputs.significance, significance.significance_table(
        ranks, alpha=settings["alpha"]))
    write_csv(outputs.comparisons, significance.comparisons_table(
        ranks, n_boot=settings["n_boot"], alpha=settings["alpha"]))
    ceilings = {benchmark: read_meta(benchmark_folder(path)).get("ceiling")
                for benchmark, path in tables.paired(keys["benchmarks"], inputs.benchmarks, "benchmark folders")}
    write_csv(outputs.bounds, tables.bounds_table(ranks, ceilings))
    write_csv(outputs.resource_groups, tables.resource_group_table(
        ranks, settings["resource_groups"], n_boot=settings["n_boot"]))

    def long_table(pairs, columns):
        frames = []
        for k, t in pairs:
            for name in columns:
                if name not in t.columns and name in k:
                    t[name] = k[name]
            frames.append(t.reindex(columns=columns))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)

    write_csv(outputs.consistency, long_table(keyed(inputs.consistency, keys["scores"], "consistency tables"),
                                              tables.CONSISTENCY_COLUMNS))
    write_csv(outputs.clustering, long_table(keyed(inputs.clustering, keys["clustering"], "clustering tables"),
                                             tables.CLUSTERING_COLUMNS))

    # models with trim_vocabulary: the exported student's size
    for model, path in tables.paired(keys["vocabularies"], inputs.vocabularies, "vocabulary files"):
        vocabulary = json.loads(Path(path).read_text(encoding="utf-8"))
        removed = (vocabulary["vocabulary_size"] - vocabulary["kept"]) * vocabulary["embedding_width"]
        for row in [r for r in rows if r["model"] == model and r["role"] == "student"][:1]:
            rows.append({**row, "role": "student (trimmed vocabulary)",
                         "text_parameters": row["text_parameters"] - removed,
                         "total_parameters": row["total_parameters"] - removed})
    parameters = pd.DataFrame(rows, columns=tables.PARAMETERS_COLUMNS).drop_duplicates(["model", "role"])
    write_csv(outputs.parameters, parameters)
