# Scores: per language, from embeddings only (no model is loaded here; these jobs are many and light).
# A job reads its language's files of the row's embedding folder (and English captions for consistency).


rule score_language:
    input:
        benchmark_files("{benchmark}"),
        texts=f"{R}/embeddings/{{model}}/{{method}}/seed{{seed}}/{{benchmark}}",
        images=f"{R}/caches/{{model}}/{{benchmark}}/{EVAL_SPLIT}.images.npz",
    output:
        ranks=f"{R}/scores/{{model}}/{{method}}/seed{{seed}}/{{benchmark}}/{{language}}.ranks.csv",
        metrics=f"{R}/scores/{{model}}/{{method}}/seed{{seed}}/{{benchmark}}/{{language}}.metrics.csv",
        consistency=f"{R}/scores/{{model}}/{{method}}/seed{{seed}}/{{benchmark}}/{{language}}.consistency.csv",
    log:
        f"{R}/logs/score_language/{{model}}/{{method}}/seed{{seed}}/{{benchmark}}/{{language}}.log",
    benchmark:
        f"{R}/benchmarks/score_language/{{model}}/{{method}}/seed{{seed}}/{{benchmark}}/{{language}}.tsv"
    group:
        "score"
    conda:
        "../../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(rule_resource("score_language", "mem_mb", 1000)),
        runtime=runtime_minutes(rule_resource("score_language", "runtime", 10)),
    params:
        settings=score_language_params,
    script:
        "../scripts/score_language.py"


rule cluster_embeddings:
    input:
        benchmark_files("{benchmark}"),
        texts=f"{R}/embeddings/{{model}}/{{method}}/seed{{seed}}/{{benchmark}}",
    output:
        clustering=f"{R}/scores/{{model}}/{{method}}/seed{{seed}}/{{benchmark}}/clustering.csv",
        projection=f"{R}/scores/{{model}}/{{method}}/seed{{seed}}/{{benchmark}}/projection.npz",
    log:
        f"{R}/logs/cluster_embeddings/{{model}}/{{method}}/seed{{seed}}/{{benchmark}}.log",
    benchmark:
        f"{R}/benchmarks/cluster_embeddings/{{model}}/{{method}}/seed{{seed}}/{{benchmark}}.tsv"
    group:
        "score"
    conda:
        "../../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(rule_resource("cluster_embeddings", "mem_mb", 2000)),
        runtime=runtime_minutes(rule_resource("cluster_embeddings", "runtime", 10)),
    params:
        settings=cluster_embeddings_params,
    script:
        "../scripts/cluster_embeddings.py"
