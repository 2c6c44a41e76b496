# Data: every benchmark in the project's format (docs/formats.md), and the training corpora.


# Hub artifacts (models, Hub datasets) into the project-local cache, on the submit host: compute
# nodes may have no internet, and every other job runs with HF_HUB_OFFLINE=1 (mvlm_distill/hub.py).
rule fetch_model:
    output:
        RESULTS.hub_model(),
    log:
        RESULTS.log("fetch_model", "{model}"),
    wildcard_constraints:
        model=only(STUDY.fetched_models),
    localrule: True
    conda:
        "../../envs/study.yaml"
    params:
        settings=rule_params("fetch_model"),
    script:
        "../scripts/fetch_hub.py"


rule fetch_benchmark:
    output:
        RESULTS.hub_benchmark(),
    log:
        RESULTS.log("fetch_benchmark", "{benchmark}"),
    wildcard_constraints:
        benchmark=only(STUDY.fetched_benchmarks),
    localrule: True
    conda:
        "../../envs/study.yaml"
    params:
        settings=rule_params("fetch_benchmark"),
    script:
        "../scripts/fetch_hub.py"


# The Hub dataset of an mteb task (the config's mteb block) at the revision mteb pins.
rule fetch_mteb_dataset:
    output:
        RESULTS.hub_mteb(),
    log:
        RESULTS.log("fetch_mteb_dataset", "{mteb_task}"),
    wildcard_constraints:
        mteb_task=only(STUDY.mteb_task_names),
    localrule: True
    conda:
        "../../envs/study.yaml"
    params:
        settings=rule_params("fetch_mteb_dataset"),
    script:
        "../scripts/fetch_hub.py"


rule prepare_benchmark:
    input:
        hub=benchmark_hub,
    output:
        benchmark=directory(RESULTS.benchmark_dir()),
    log:
        RESULTS.log("prepare_benchmark", "{benchmark}"),
    benchmark:
        RESULTS.job_benchmark("prepare_benchmark", "{benchmark}")
    conda:
        "../../envs/study.yaml"
    params:
        settings=rule_params("prepare_benchmark"),
    script:
        "../scripts/prepare_benchmark.py"


# Two rules, so that a pretraining setting never touches the students' corpus (and back).
rule select_pretraining:
    input:
        benchmark=RESULTS.benchmark_dir(benchmark=CORPUS),
    output:
        pretraining=RESULTS.corpus("pretraining"),
    log:
        RESULTS.log("select_pretraining"),
    benchmark:
        RESULTS.job_benchmark("select_pretraining")
    conda:
        "../../envs/study.yaml"
    params:
        settings=rule_params("select_pretraining"),
    script:
        "../scripts/select_corpus.py"


rule select_corpus:
    input:
        benchmark=RESULTS.benchmark_dir(benchmark=CORPUS),
    output:
        distillation=RESULTS.corpus("distillation"),
    log:
        RESULTS.log("select_corpus"),
    benchmark:
        RESULTS.job_benchmark("select_corpus")
    conda:
        "../../envs/study.yaml"
    params:
        settings=rule_params("select_corpus"),
    script:
        "../scripts/select_corpus.py"
