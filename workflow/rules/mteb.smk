# mteb (optional: the config's mteb block; never planned by the default target): MIEB's multilingual
# image-text retrieval tasks scored by mteb itself for chosen rows, through the adapter
# (mvlm_distill/evaluate/mteb_adapter.py); datasets from the fetch step (fetch_mteb_dataset), offline.
# `snakemake mteb` writes mteb's result files, tables/mteb.csv and the overview showing that table.


rule mteb_evaluate:
    input:
        source=model_source,
        hub=row_hub,
        datasets=mteb_datasets(),
    output:
        results=directory(RESULTS.mteb_results()),
        scores=RESULTS.mteb_scores(),
    log:
        RESULTS.log("mteb_evaluate", ROW),
    benchmark:
        RESULTS.job_benchmark("mteb_evaluate", ROW)
    conda:
        "../../envs/study.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=mem_mb(rule_resource("mteb_evaluate", "mem_mb", 8000)),
        runtime=runtime_minutes(rule_resource("mteb_evaluate", "runtime", 60)),
    params:
        settings=rule_params("mteb_evaluate"),
    script:
        "../scripts/mteb_evaluate.py"


rule aggregate_mteb:
    input:
        scores=[RESULTS.mteb_scores(**row) for row in STUDY.mteb_rows()],
    output:
        RESULTS.table("mteb"),
    log:
        RESULTS.log("aggregate_mteb"),
    localrule: True
    conda:
        "../../envs/study.yaml"
    script:
        "../scripts/aggregate_mteb.py"


rule mteb:
    input:
        mteb_target,
    localrule: True
