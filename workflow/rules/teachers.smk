# Teachers: toy teachers are pretrained here; real ones are loaded by name or path when used.


rule pretrain_teacher:
    input:
        benchmark=RESULTS.benchmark_dir(benchmark=CORPUS),
        pairs=RESULTS.corpus("pretraining"),
    output:
        directory(RESULTS.teacher()),
    log:
        RESULTS.log("pretrain_teacher", "{model}"),
    benchmark:
        RESULTS.job_benchmark("pretrain_teacher", "{model}")
    wildcard_constraints:
        model=only(STUDY.toy_models),
    conda:
        "../../envs/study.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=mem_mb(rule_resource("pretrain_teacher", "mem_mb", 4000)),
        runtime=runtime_minutes(rule_resource("pretrain_teacher", "runtime", 30)),
    params:
        settings=rule_params("pretrain_teacher"),
    script:
        "../scripts/pretrain_teacher.py"
