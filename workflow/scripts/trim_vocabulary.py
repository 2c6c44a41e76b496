"""Rule trim_vocabulary: the token ids a model's trimmed vocabulary keeps (training corpus + extra text)."""

from pathlib import Path

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    from mvlm_distill.data.formats import read_benchmark
    from mvlm_distill.io import write_json
    from mvlm_distill.models.vocabulary import vocabulary_record
    from mvlm_distill.paths import benchmark_folder, optional_input
    from mvlm_distill.rows import load_teacher

    spec = snakemake.params.settings["spec"]
    bench = read_benchmark(benchmark_folder(snakemake.input.benchmark), validate=False)
    captions = bench.split_captions(snakemake.params.settings["split"])
    texts = captions[captions["language"].isin(snakemake.params.settings["languages"])]["text"].tolist()
    extra = []
    extra_text = optional_input(snakemake.input.extra)
    if extra_text:
        extra = [line for line in Path(extra_text).read_text(encoding="utf-8").splitlines() if line.strip()]
    teacher = load_teacher(spec, optional_input(snakemake.input.teacher))
    record = vocabulary_record(teacher, texts, extra)
    write_json(snakemake.output[0], record)
    print(f"{spec['name']}: keeps {record['kept']:,} of {record['vocabulary_size']:,} tokens "
          f"({len(texts):,} corpus captions, {len(extra):,} extra lines)")
