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
        spec=lambda wildcards: config["benchmarks"][wildcards.benchmark],
        data_root=config.get("data_root", "data"),
    script:
        "../scripts/prepare_benchmark.py"


rule select_corpus:
    input:
        benchmark_files(CORPUS),
    output:
        pretraining=f"{R}/corpus/pretraining.csv",
        distillation=f"{R}/corpus/distillation.csv",
    log:
        f"{R}/logs/select_corpus.log",
    benchmark:
        f"{R}/benchmarks/select_corpus.tsv"
    conda:
        "../../envs/study.yaml"
    params:
        split=config["corpus"]["split"],
        pretraining=config.get("teacher_pretraining", {}),
        distillation=config["distillation"],
    script:
        "../scripts/select_corpus.py"
