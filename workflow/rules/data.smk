# Data: every benchmark in the project's format (docs/formats.md), and the training corpora.


rule prepare_benchmark:
    output:
        benchmark_files("{benchmark}"),
    params:
        spec=lambda wildcards: config["benchmarks"][wildcards.benchmark],
        data_root=config.get("data_root", "data"),
    log:
        f"{R}/logs/prepare_benchmark/{{benchmark}}.log",
    benchmark:
        f"{R}/benchmarks/prepare_benchmark/{{benchmark}}.tsv"
    conda:
        "../../envs/study.yaml"
    script:
        "../scripts/prepare_benchmark.py"


rule select_corpus:
    input:
        benchmark_files(CORPUS),
    output:
        pretraining=f"{R}/corpus/pretraining.csv",
        distillation=f"{R}/corpus/distillation.csv",
    params:
        split=config["corpus"]["split"],
        pretraining=config.get("teacher_pretraining", {}),
        distillation=config["distillation"],
    log:
        f"{R}/logs/select_corpus.log",
    benchmark:
        f"{R}/benchmarks/select_corpus.tsv"
    conda:
        "../../envs/study.yaml"
    script:
        "../scripts/select_corpus.py"
