# Exports: each student as a folder stock open_clip / transformers loaders open, with a model card;
# vocabulary trimming per model (trim_vocabulary: true); publishing to the Hub only when asked for.


rule trim_vocabulary:
    input:
        teacher_dir,
        benchmark_files(CORPUS),
        extra=[EXTRA_TEXT] if EXTRA_TEXT else [],
    output:
        f"{R}/vocabulary/{{model}}.json",
    log:
        f"{R}/logs/trim_vocabulary/{{model}}.log",
    benchmark:
        f"{R}/benchmarks/trim_vocabulary/{{model}}.tsv"
    conda:
        "../../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(rule_resource("trim_vocabulary", "mem_mb", 4000)),
        runtime=runtime_minutes(rule_resource("trim_vocabulary", "runtime", 30)),
    params:
        settings=trim_vocabulary_params,
    script:
        "../scripts/trim_vocabulary.py"


rule export_student:
    input:
        student=f"{R}/students/{{model}}/{{kd_method}}/seed{{seed}}",
        metrics=f"{R}/tables/metrics.csv",
        parameters=f"{R}/tables/parameters.csv",
        corpus=f"{R}/corpus/distillation.csv",
        captions=f"{R}/data/{CORPUS}/captions.parquet",
        vocabulary=vocabulary_file,
    output:
        directory(f"{R}/exports/{{model}}/{{kd_method}}/seed{{seed}}"),
    log:
        f"{R}/logs/export_student/{{model}}/{{kd_method}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/export_student/{{model}}/{{kd_method}}/seed{{seed}}.tsv"
    conda:
        "../../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(rule_resource("export_student", "mem_mb", 4000)),
        runtime=runtime_minutes(rule_resource("export_student", "runtime", 30)),
    params:
        settings=export_student_params,
    script:
        "../scripts/export_student.py"


# the login node talks to the Hub; compute nodes often cannot
localrules:
    publish_exports,


# Opt-in: `snakemake publish_exports` with `publish.repositories` in the config (never a default
# target); `publish.dry_run: true` lists what would be uploaded without contacting the Hub.
rule publish_exports:
    input:
        [f"{R}/exports/{name}" for name in PUBLISH],
    output:
        f"{R}/exports/published.json",
    log:
        f"{R}/logs/publish_exports.log",
    conda:
        "../../envs/study.yaml"
    params:
        publish=list(PUBLISH.values()),
        dry_run=PUBLISH_CONFIG.get("dry_run", False),
    script:
        "../scripts/publish_exports.py"
