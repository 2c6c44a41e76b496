# Data: every benchmark in the project's format (docs/formats.md), and the training corpora.


rule prepare_benchmark:
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
