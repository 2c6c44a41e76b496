"""Rule cluster_embeddings: do captions cluster by meaning or by language? (all languages together)

Reads the caption files of the configured languages from the row's text embedding folder."""

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    from mvlm_distill.data.formats import read_benchmark
    from mvlm_distill.evaluate.pipeline import cluster_row
    from mvlm_distill.io import save_embeddings, write_csv
    from mvlm_distill.paths import benchmark_folder

    bench = read_benchmark(benchmark_folder(snakemake.input.benchmark), validate=False)  # validated upstream
    table, (sample, ids, meta) = cluster_row(
        bench, snakemake.input.texts, split=snakemake.params.settings["split"],
        languages=snakemake.params.settings["languages"],
        max_images=snakemake.params.settings.get("max_images"),
    )
    write_csv(snakemake.output.clustering, table)
    save_embeddings(snakemake.output.projection, sample, ids, meta)
