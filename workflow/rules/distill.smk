# Students: one distillation job per model x method x seed (the only heavy GPU work).


rule distill:
    input:
        teacher=teacher_dir,
        corpus=RESULTS.corpus("distillation"),
        teacher_text=RESULTS.corpus_cache("teacher_text.npz"),
        tokens=RESULTS.corpus_cache("tokens.npz"),
        images=RESULTS.image_cache(benchmark=CORPUS, split=STUDY.corpus_split),
        hub=model_hub,
        check=teacher_check_input,
    output:
        directory(RESULTS.student()),
    log:
        RESULTS.log("distill", STUDENT),
    benchmark:
        RESULTS.job_benchmark("distill", STUDENT)
    conda:
        "../../envs/study.yaml"
    threads: config["distillation"]["threads"]
    resources:
        gpu=1,
        mem_mb=mem_mb(rule_resource("distill", "mem_mb", 8000)),
        runtime=runtime_minutes(rule_resource("distill", "runtime", 60)),
    params:
        settings=rule_params("distill"),
        # training state lives outside the declared output so a failed job keeps it
        state_dir=lambda wildcards: RESULTS.checkpoint(**dict(wildcards.items())),
    script:
        "../scripts/distill.py"
