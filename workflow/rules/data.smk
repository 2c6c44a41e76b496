# Data: every benchmark in the project's format (docs/formats.md), and the training corpora.


# Hub artifacts (models, Hub datasets) into the project-local cache, on the submit host: compute
# nodes may have no internet, and every other job runs with HF_HUB_OFFLINE=1 (mvlm_distill/hub.py).
rule fetch_model:
    output:
        RESULTS.hub_model(),
    log:
        RESULTS.log("fetch_model", "{model}"),
    wildcard_constraints:
        model=_alternatives(FETCHED_MODELS) if FETCHED_MODELS else "(?!)",
    localrule: True
    conda:
        "../../envs/study.yaml"
    params:
        settings=fetch_model_params,
    script:
        "../scripts/fetch_hub.py"


rule fetch_benchmark:
    output:
        RESULTS.hub_benchmark(),
    log:
        RESULTS.log("fetch_benchmark", "{benchmark}"),
    wildcard_constraints:
        benchmark=_alternatives(FETCHED_BENCHMARKS) if FETCHED_BENCHMARKS else "(?!)",
    localrule: True
    conda:
        "../../envs/study.yaml"
    params:
        settings=fetch_benchmark_params,
    script:
        "../scripts/fetch_hub.py"


# The Hub dataset of an mteb task (the config's mteb block) at the revision mteb pins.
rule fetch_mteb_dataset:
    output:
        RESULTS.hub_mteb(),
    log:
        RESULTS.log("fetch_mteb_dataset", "{mteb_task}"),
    wildcard_constraints:
        mteb_task=_alternatives(MTEB_TASK_NAMES) if MTEB_TASK_NAMES else "(?!)",
    localrule: True
    conda:
        "../../envs/study.yaml"
    params:
        settings=fetch_mteb_params,
    script:
        "../scripts/fetch_hub.py"


rule prepare_benchmark:
    input:
        hub=benchmark_hub,
    output:
        benchmark=benchmark_files("{benchmark}"),
    log:
        RESULTS.log("prepare_benchmark", "{benchmark}"),
    benchmark:
        RESULTS.job_benchmark("prepare_benchmark", "{benchmark}")
    conda:
        "../../envs/study.yaml"
    params:
        settings=prepare_benchmark_params,
    script:
        "../scripts/prepare_benchmark.py"


# Two rules, so that a pretraining setting never touches the students' corpus (and back).
rule select_pretraining:
    input:
        benchmark=benchmark_files(CORPUS),
    output:
        pretraining=RESULTS.corpus("pretraining"),
    log:
        RESULTS.log("select_pretraining"),
    benchmark:
        RESULTS.job_benchmark("select_pretraining")
    conda:
        "../../envs/study.yaml"
    params:
        settings=select_pretraining_params,
    script:
        "../scripts/select_corpus.py"


rule select_corpus:
    input:
        benchmark=benchmark_files(CORPUS),
    output:
        distillation=RESULTS.corpus("distillation"),
    log:
        RESULTS.log("select_corpus"),
    benchmark:
        RESULTS.job_benchmark("select_corpus")
    conda:
        "../../envs/study.yaml"
    params:
        settings=select_corpus_params,
    script:
        "../scripts/select_corpus.py"
