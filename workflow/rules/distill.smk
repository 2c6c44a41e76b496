# Students: one distillation job per model x method x seed (the only heavy GPU work).


rule distill:
    input:
        teacher_dir,
        corpus=f"{R}/corpus/distillation.csv",
        teacher_text=f"{R}/caches/{{model}}/corpus/teacher_text.npz",
        tokens=f"{R}/caches/{{model}}/corpus/tokens.npz",
        images=lambda wildcards: f"{R}/caches/{wildcards.model}/{CORPUS}/{config['corpus']['split']}.images.npz",
        hub=model_hub,
    output:
        directory(f"{R}/students/{{model}}/{{kd_method}}/seed{{seed}}"),
    log:
        f"{R}/logs/distill/{{model}}/{{kd_method}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/distill/{{model}}/{{kd_method}}/seed{{seed}}.tsv"
    conda:
        "../../envs/study.yaml"
    threads: config["distillation"]["threads"]
    resources:
        gpu=1,
        mem_mb=mem_mb(rule_resource("distill", "mem_mb", 8000)),
        runtime=runtime_minutes(rule_resource("distill", "runtime", 60)),
    params:
        settings=distill_params,
        # training state lives outside the declared output so a failed job keeps it
        state_dir=lambda wildcards: f"{R}/checkpoints/{wildcards.model}/{wildcards.kd_method}/seed{wildcards.seed}",
    script:
        "../scripts/distill.py"
