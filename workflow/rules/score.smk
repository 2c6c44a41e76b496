# Scores: per language, from embeddings only (no model is loaded here; these jobs are many and light).
# A job reads its language's files of the row's embedding folder (and English captions for consistency).


rule score_language:
    input:
        benchmark=RESULTS.benchmark_dir(),
        texts=RESULTS.embeddings(),
        images=RESULTS.image_cache(split=STUDY.eval_split),
    output:
        ranks=RESULTS.scores("{language}.ranks.csv"),
        metrics=RESULTS.scores("{language}.metrics.csv"),
        consistency=RESULTS.scores("{language}.consistency.csv"),
    log:
        RESULTS.log("score_language", ROW, "{benchmark}", "{language}"),
    benchmark:
        RESULTS.job_benchmark("score_language", ROW, "{benchmark}", "{language}")
    group:
        "score"
    conda:
        "../../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(rule_resource("score_language", "mem_mb", 1000)),
        runtime=runtime_minutes(rule_resource("score_language", "runtime", 10)),
    params:
        settings=rule_params("score_language"),
    script:
        score_language_script()


rule cluster_embeddings:
    input:
        benchmark=RESULTS.benchmark_dir(),
        texts=RESULTS.embeddings(),
    output:
        clustering=RESULTS.scores("clustering.csv"),
        projection=RESULTS.scores("projection.npz"),
    log:
        RESULTS.log("cluster_embeddings", ROW, "{benchmark}"),
    benchmark:
        RESULTS.job_benchmark("cluster_embeddings", ROW, "{benchmark}")
    group:
        "score"
    conda:
        "../../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(rule_resource("cluster_embeddings", "mem_mb", 2000)),
        runtime=runtime_minutes(rule_resource("cluster_embeddings", "runtime", 10)),
    params:
        settings=rule_params("cluster_embeddings"),
    script:
        "../scripts/cluster_embeddings.py"
