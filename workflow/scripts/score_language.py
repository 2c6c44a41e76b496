"""Rule score_language: retrieval, VQA and consistency of one row in one language, from embeddings only.

Deliberately light: no torch, no model loading (these jobs are the grid's many). Of the row's text
embedding folder it reads this language's files only (and English captions, for consistency)."""

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    from mvlm_distill.data.formats import read_benchmark
    from mvlm_distill.evaluate.pipeline import score_row_language
    from mvlm_distill.io import write_csv
    from mvlm_distill.paths import benchmark_folder

    bench = read_benchmark(benchmark_folder(snakemake.input.benchmark), validate=False)  # validated upstream
    ranks, metrics, consistency = score_row_language(
        bench,
        snakemake.input.texts,
        snakemake.input.images,
        language=snakemake.wildcards.language,
        split=snakemake.params.settings["split"],
        n_boot=snakemake.params.settings["n_boot"],
    )
    write_csv(snakemake.output.ranks, ranks)
    write_csv(snakemake.output.metrics, metrics)
    write_csv(snakemake.output.consistency, consistency)
