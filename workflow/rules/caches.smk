# Caches: what the teacher computes is paid once per teacher and reused by every method and seed.


rule cache_images:
    input:
        teacher=teacher_dir,
        benchmark=RESULTS.benchmark_dir(),
        hub=model_hub,
    output:
        RESULTS.image_cache(),
    log:
        RESULTS.log("cache_images", "{model}", "{benchmark}.{split}"),
    benchmark:
        RESULTS.job_benchmark("cache_images", "{model}", "{benchmark}.{split}")
    conda:
        "../../envs/study.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=mem_mb(rule_resource("cache_images", "mem_mb", 4000)),
        runtime=runtime_minutes(rule_resource("cache_images", "runtime", 30)),
    params:
        settings=rule_params("cache_images"),
    script:
        "../scripts/cache_images.py"


rule cache_teacher_text:
    input:
        teacher=teacher_dir,
        benchmark=RESULTS.benchmark_dir(benchmark=CORPUS),
        corpus=RESULTS.corpus("distillation"),
        hub=model_hub,
    output:
        teacher_text=RESULTS.corpus_cache("teacher_text.npz"),
        tokens=RESULTS.corpus_cache("tokens.npz"),
    log:
        RESULTS.log("cache_teacher_text", "{model}"),
    benchmark:
        RESULTS.job_benchmark("cache_teacher_text", "{model}")
    conda:
        "../../envs/study.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=mem_mb(rule_resource("cache_teacher_text", "mem_mb", 4000)),
        runtime=runtime_minutes(rule_resource("cache_teacher_text", "runtime", 30)),
    params:
        settings=rule_params("cache_teacher_text"),
    script:
        "../scripts/cache_teacher_text.py"
