"""Rules select_pretraining and select_corpus: which captions pretrain the toy teachers (output
``pretraining``) or which distil the students (output ``distillation``)."""

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    from mvlm_distill.data.corpus import corpus_items, select_by_language
    from mvlm_distill.data.formats import read_benchmark
    from mvlm_distill.io import write_csv
    from mvlm_distill.paths import benchmark_folder

    bench = read_benchmark(benchmark_folder(snakemake.input.benchmark))
    settings = snakemake.params.settings
    captions = bench.split_captions(settings["split"])
    if "pretraining" in snakemake.output.keys():
        pretraining = select_by_language(captions, settings["language_fraction"], seed=settings["seed"])
        write_csv(snakemake.output.pretraining, pretraining)
        print(f"pretraining pairs: {len(pretraining)}")
    else:
        fractions = settings["language_fraction"] or {lang: 1.0 for lang in bench.languages}
        items = corpus_items(bench.captions, select_by_language(captions, fractions, seed=0))
        write_csv(snakemake.output.distillation, items)
        print(f"distillation items: {len(items)}")
        print(items.groupby("language").size().to_string())
