# Caches: what the teacher computes is paid once per teacher and reused by every method and seed.


rule cache_images:
    input:
        teacher_dir,
        benchmark_files("{benchmark}"),
        hub=model_hub,
    output:
        f"{R}/caches/{{model}}/{{benchmark}}/{{split}}.images.npz",
    log:
        f"{R}/logs/cache_images/{{model}}/{{benchmark}}.{{split}}.log",
    benchmark:
        f"{R}/benchmarks/cache_images/{{model}}/{{benchmark}}.{{split}}.tsv"
    conda:
        "../../envs/study.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=mem_mb(rule_resource("cache_images", "mem_mb", 4000)),
        runtime=runtime_minutes(rule_resource("cache_images", "runtime", 30)),
    params:
        settings=cache_images_params,
    script:
        "../scripts/cache_images.py"


rule cache_teacher_text:
    input:
        teacher_dir,
        benchmark_files(CORPUS),
        corpus=f"{R}/corpus/distillation.csv",
        hub=model_hub,
    output:
        teacher_text=f"{R}/caches/{{model}}/corpus/teacher_text.npz",
        tokens=f"{R}/caches/{{model}}/corpus/tokens.npz",
    log:
        f"{R}/logs/cache_teacher_text/{{model}}.log",
    benchmark:
        f"{R}/benchmarks/cache_teacher_text/{{model}}.tsv"
    conda:
        "../../envs/study.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=mem_mb(rule_resource("cache_teacher_text", "mem_mb", 4000)),
        runtime=runtime_minutes(rule_resource("cache_teacher_text", "runtime", 30)),
    params:
        settings=cache_teacher_text_params,
    script:
        "../scripts/cache_teacher_text.py"
