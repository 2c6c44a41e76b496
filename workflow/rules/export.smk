# Exports: each student as a folder stock open_clip / transformers loaders open, with a model card;
# vocabulary trimming per model (trim_vocabulary: true); publishing to the Hub only when asked for.


rule trim_vocabulary:
    input:
        teacher=teacher_dir,
        benchmark=RESULTS.benchmark_dir(benchmark=CORPUS),
        extra=[STUDY.extra_text] if STUDY.extra_text else [],
    output:
        RESULTS.vocabulary(),
    log:
        RESULTS.log("trim_vocabulary", "{model}"),
    benchmark:
        RESULTS.job_benchmark("trim_vocabulary", "{model}")
    conda:
        "../../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(rule_resource("trim_vocabulary", "mem_mb", 4000)),
        runtime=runtime_minutes(rule_resource("trim_vocabulary", "runtime", 30)),
    params:
        settings=rule_params("trim_vocabulary"),
    script:
        "../scripts/trim_vocabulary.py"


rule export_student:
    input:
        student=RESULTS.student(),
        metrics=RESULTS.table("metrics"),
        parameters=RESULTS.table("parameters"),
        corpus=RESULTS.corpus("distillation"),
        benchmark=RESULTS.benchmark_dir(benchmark=CORPUS),
        vocabulary=vocabulary_file,
    output:
        RESULTS.export_info(),
    log:
        RESULTS.log("export_student", STUDENT),
    benchmark:
        RESULTS.job_benchmark("export_student", STUDENT)
    conda:
        "../../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(rule_resource("export_student", "mem_mb", 4000)),
        runtime=runtime_minutes(rule_resource("export_student", "runtime", 30)),
    params:
        settings=rule_params("export_student"),
    script:
        "../scripts/export_student.py"


# the login node talks to the Hub; compute nodes often cannot
localrules:
    publish_exports,


# Opt-in: `snakemake publish_exports` with `publish.repositories` in the config (never a default
# target); `publish.dry_run: true` lists what would be uploaded without contacting the Hub.
rule publish_exports:
    input:
        exports=[RESULTS.export_of(name) for name in STUDY.publish],
    output:
        RESULTS.published(),
    log:
        RESULTS.log("publish_exports"),
    conda:
        "../../envs/study.yaml"
    params:
        publish=list(STUDY.publish.values()),
        dry_run=STUDY.publish_dry_run,
    script:
        "../scripts/publish_exports.py"
