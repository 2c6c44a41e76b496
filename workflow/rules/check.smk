# The teacher check (teacher_check in the config): each real teacher scored under the protocol of
# every published value the reference file lists for it, before any distillation job.


rule check_teacher:
    input:
        benchmarks=teacher_check_benchmarks,
        texts=teacher_check_texts,
        images=teacher_check_images,
    output:
        RESULTS.teacher_check(),
    log:
        RESULTS.log("check_teacher", "{model}"),
    benchmark:
        RESULTS.job_benchmark("check_teacher", "{model}")
    wildcard_constraints:
        model=only(STUDY.checked_models),
    conda:
        "../../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(rule_resource("check_teacher", "mem_mb", 4000)),
        runtime=runtime_minutes(rule_resource("check_teacher", "runtime", 30)),
    params:
        settings=rule_params("check_teacher"),
    script:
        "../scripts/check_teacher.py"
