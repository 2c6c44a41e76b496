# Embeddings: text embeddings of every evaluated row, once per model x method x seed x benchmark:
# a folder of per-language files ({language}.captions.npz, {language}.vqa.npz) and manifest.json.


rule embed_texts:
    input:
        source=model_source,
        benchmark=RESULTS.benchmark_dir(),
        hub=row_hub,
    output:
        directory(RESULTS.embeddings()),
    log:
        RESULTS.log("embed_texts", ROW, "{benchmark}"),
    benchmark:
        RESULTS.job_benchmark("embed_texts", ROW, "{benchmark}")
    conda:
        "../../envs/study.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=mem_mb(rule_resource("embed_texts", "mem_mb", 4000)),
        runtime=runtime_minutes(rule_resource("embed_texts", "runtime", 30)),
    params:
        settings=rule_params("embed_texts"),
    script:
        "../scripts/embed_texts.py"
