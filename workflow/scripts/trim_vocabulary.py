"""Rule trim_vocabulary: the token ids a model's trimmed vocabulary keeps (training corpus + extra text)."""

from pathlib import Path

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    from mvlm_distill.data.formats import read_benchmark
    from mvlm_distill.io import write_json
    from mvlm_distill.models.vocabulary import vocabulary_record
    from mvlm_distill.rows import load_teacher

    spec = snakemake.params.settings["spec"]
    teacher_dir = snakemake.input[0] if spec["source"] == "toy" else None
    bench = read_benchmark(Path(snakemake.input[1 if teacher_dir else 0]).parent, validate=False)
    captions = bench.split_captions(snakemake.params.settings["split"])
    texts = captions[captions["language"].isin(snakemake.params.settings["languages"])]["text"].tolist()
    extra = []
    if snakemake.input.extra:
        extra = [line for line in Path(snakemake.input.extra[0]).read_text(encoding="utf-8").splitlines() if line.strip()]
    teacher = load_teacher(spec, teacher_dir)
    record = vocabulary_record(teacher, texts, extra)
    write_json(snakemake.output[0], record)
    print(f"{spec['name']}: keeps {record['kept']:,} of {record['vocabulary_size']:,} tokens "
          f"({len(texts):,} corpus captions, {len(extra):,} extra lines)")
