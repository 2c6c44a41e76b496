# Tables and reports: tidy CSVs (a stable contract, see README) and per-language HTML pages.


rule aggregate_tables:
    input:
        metrics=score_files("metrics.csv"),
        ranks=score_files("ranks.csv"),
        consistency=score_files("consistency.csv"),
        clustering=clustering_files(),
        embeddings=embedding_dirs(),
        vocabularies=[f"{R}/vocabulary/{model}.json" for model in TRIMMED_MODELS],
    output:
        metrics=report(
            f"{R}/tables/metrics.csv",
            caption="../report/metrics.rst",
            category="Tables",
        ),
        summary=report(
            f"{R}/tables/summary.csv",
            caption="../report/summary.rst",
            category="Tables",
        ),
        significance=f"{R}/tables/significance.csv",
        comparisons=f"{R}/tables/comparisons.csv",
        consistency=f"{R}/tables/consistency.csv",
        clustering=f"{R}/tables/clustering.csv",
        parameters=f"{R}/tables/parameters.csv",
    log:
        f"{R}/logs/aggregate_tables.log",
    benchmark:
        f"{R}/benchmarks/aggregate_tables.tsv"
    conda:
        "../../envs/study.yaml"
    params:
        settings=aggregate_tables_params,
    script:
        "../scripts/aggregate_tables.py"


rule write_reports:
    input:
        tables=rules.aggregate_tables.output,
        students=student_dirs(),
        projections=[
            f.replace("clustering.csv", "projection.npz") for f in clustering_files()
        ],
        meta=[f"{R}/data/{benchmark}/meta.json" for benchmark in EVAL_BENCHMARKS],
    output:
        pages=report(
            expand(f"{R}/reports/{{language}}.html", language=LANGUAGES),
            caption="../report/language_page.rst",
            category="Reports",
        ),
        index=report(
            f"{R}/reports/index.html",
            caption="../report/index.rst",
            category="Reports",
        ),
    log:
        f"{R}/logs/write_reports.log",
    benchmark:
        f"{R}/benchmarks/write_reports.tsv"
    conda:
        "../../envs/study.yaml"
    params:
        settings=write_reports_params,
    script:
        "../scripts/write_reports.py"
