"""Rule aggregate_tables: per-language score files -> the tidy tables of the study (README: outputs)."""

import json
from pathlib import Path

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    import pandas as pd

    from mvlm_distill.io import MANIFEST, check_same_source, load_manifest, write_csv
    from mvlm_distill.report import tables

    scores = Path(snakemake.input.metrics[0]).parents[4]  # {results}/scores
    families = snakemake.params.settings["families"]

    def keys(path, suffix, root=scores):
        model, method, seed, benchmark = Path(path).relative_to(root).parts[:4]
        seed = None if method in tables.REFERENCES else int(seed[len("seed"):])
        language = Path(path).name[: -len(suffix)] if suffix else None
        return {"model": model, "family": families[model], "method": method, "seed": seed,
                "benchmark": benchmark, "language": language}

    def keyed(paths, suffix):
        return [(keys(p, suffix), tables.read_table(p)) for p in paths]

    rows, first_of = [], {}
    for path in snakemake.input.embeddings:
        k = keys(path, None, root=scores.parent / "embeddings")
        meta = load_manifest(path)  # the row's text embedding folder: model provenance and sizes
        # the rows of a model share one teacher, those of a benchmark one version of its tables
        for field, group in (("teacher_fingerprint", k["model"]), ("checksum", k["benchmark"])):
            first, first_meta = first_of.setdefault((field, group), (path, meta))
            check_same_source(field, Path(first) / MANIFEST, first_meta, Path(path) / MANIFEST, meta)
        if k["method"] in tables.REFERENCES:
            rows.append({"model": k["model"], "role": "teacher" if k["method"] == "teacher" else "student",
                         **{c: meta.get(c) for c in ("text_layers", "text_parameters", "total_parameters")}})

    metrics = tables.aggregate_metrics(keyed(snakemake.input.metrics, ".metrics.csv"))
    write_csv(snakemake.output.metrics, metrics)
    write_csv(snakemake.output.summary, tables.summarize(metrics))
    significance = tables.significance_table(
        keyed(snakemake.input.ranks, ".ranks.csv"),
        alpha=snakemake.params.settings["alpha"],
    )
    write_csv(snakemake.output.significance, significance)
    write_csv(snakemake.output.comparisons, tables.comparisons_table(
        keyed(snakemake.input.ranks, ".ranks.csv"),
        n_boot=snakemake.params.settings["n_boot"],
        alpha=snakemake.params.settings["alpha"],
    ))

    def long_table(pairs, columns):
        frames = []
        for k, t in pairs:
            for name in columns:
                if name not in t.columns and name in k:
                    t[name] = k[name]
            frames.append(t.reindex(columns=columns))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)

    write_csv(snakemake.output.consistency,
              long_table(keyed(snakemake.input.consistency, ".consistency.csv"), tables.CONSISTENCY_COLUMNS))
    write_csv(snakemake.output.clustering, long_table(keyed(snakemake.input.clustering, None), tables.CLUSTERING_COLUMNS))

    for path in snakemake.input.vocabularies:  # models with trim_vocabulary: the exported student's size
        vocabulary = json.loads(Path(path).read_text(encoding="utf-8"))
        removed = (vocabulary["vocabulary_size"] - vocabulary["kept"]) * vocabulary["embedding_width"]
        for row in [r for r in rows if r["model"] == Path(path).stem and r["role"] == "student"][:1]:
            rows.append({**row, "role": "student (trimmed vocabulary)",
                         "text_parameters": row["text_parameters"] - removed,
                         "total_parameters": row["total_parameters"] - removed})
    parameters = pd.DataFrame(rows, columns=tables.PARAMETERS_COLUMNS).drop_duplicates(["model", "role"])
    write_csv(snakemake.output.parameters, parameters)
