# Teachers: toy teachers are pretrained here; real ones are loaded by name or path when used.


rule pretrain_teacher:
    input:
        benchmark_files(CORPUS),
        pairs=f"{R}/corpus/pretraining.csv",
    output:
        directory(f"{R}/teachers/{{model}}"),
    log:
        f"{R}/logs/pretrain_teacher/{{model}}.log",
    benchmark:
        f"{R}/benchmarks/pretrain_teacher/{{model}}.tsv"
    wildcard_constraints:
        model=_alternatives(TOY_MODELS) if TOY_MODELS else "(?!)",
    conda:
        "../../envs/study.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=mem_mb(rule_resource("pretrain_teacher", "mem_mb", 4000)),
        runtime=runtime_minutes(rule_resource("pretrain_teacher", "runtime", 30)),
    params:
        settings=pretrain_teacher_params,
    script:
        "../scripts/pretrain_teacher.py"
