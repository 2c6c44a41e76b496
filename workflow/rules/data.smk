# Data: every benchmark in the project's format (docs/formats.md), and the training corpora.


# Hub artifacts (models, Hub datasets) into the project-local cache, on the submit host: compute
# nodes may have no internet, and every other job runs with HF_HUB_OFFLINE=1 (mvlm_distill/hub.py).
rule fetch_model:
    output:
        f"{R}/hub/models/{{model}}.json",
    log:
        f"{R}/logs/fetch_model/{{model}}.log",
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
        f"{R}/hub/benchmarks/{{benchmark}}.json",
    log:
        f"{R}/logs/fetch_benchmark/{{benchmark}}.log",
    wildcard_constraints:
        benchmark=_alternatives(FETCHED_BENCHMARKS) if FETCHED_BENCHMARKS else "(?!)",
    localrule: True
    conda:
        "../../envs/study.yaml"
    params:
        settings=fetch_benchmark_params,
    script:
        "../scripts/fetch_hub.py"


rule prepare_benchmark:
    input:
        hub=benchmark_hub,
    output:
        benchmark_files("{benchmark}"),
    log:
        f"{R}/logs/prepare_benchmark/{{benchmark}}.log",
    benchmark:
        f"{R}/benchmarks/prepare_benchmark/{{benchmark}}.tsv"
    conda:
        "../../envs/study.yaml"
    params:
        settings=prepare_benchmark_params,
    script:
        "../scripts/prepare_benchmark.py"


# Two rules, so that a pretraining setting never touches the students' corpus (and back).
rule select_pretraining:
    input:
        benchmark_files(CORPUS),
    output:
        pretraining=f"{R}/corpus/pretraining.csv",
    log:
        f"{R}/logs/select_pretraining.log",
    benchmark:
        f"{R}/benchmarks/select_pretraining.tsv"
    conda:
        "../../envs/study.yaml"
    params:
        settings=select_pretraining_params,
    script:
        "../scripts/select_corpus.py"


rule select_corpus:
    input:
        benchmark_files(CORPUS),
    output:
        distillation=f"{R}/corpus/distillation.csv",
    log:
        f"{R}/logs/select_corpus.log",
    benchmark:
        f"{R}/benchmarks/select_corpus.tsv"
    conda:
        "../../envs/study.yaml"
    params:
        settings=select_corpus_params,
    script:
        "../scripts/select_corpus.py"
