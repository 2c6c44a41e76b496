# Tables and reports: tidy CSVs (a stable contract, see README), one HTML page per language and an
# overview. Every step reads only its declared inputs; the keys of each file come as a param.


rule aggregate_tables:
    input:
        metrics=score_files("metrics.csv"),
        ranks=score_files("ranks.csv"),
        consistency=score_files("consistency.csv"),
        clustering=clustering_files(),
        embeddings=embedding_dirs(),
        meta=[f"{R}/data/{benchmark}/meta.json" for benchmark in EVAL_BENCHMARKS],
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
        bounds=report(
            f"{R}/tables/bounds.csv",
            caption="../report/bounds.rst",
            category="Tables",
        ),
    log:
        f"{R}/logs/aggregate_tables.log",
    benchmark:
        f"{R}/benchmarks/aggregate_tables.tsv"
    conda:
        "../../envs/study.yaml"
    params:
        settings=aggregate_tables_params,
        key_tables=aggregate_tables_keys(),
    script:
        "../scripts/aggregate_tables.py"


def table_inputs(wildcards):
    """Every table of the study, by name (the report scripts pick theirs)."""
    return dict(rules.aggregate_tables.output.items())


rule language_report:
    input:
        unpack(table_inputs),
    output:
        **{
            name: report_figure("{language}", name, "Language pages", "{language}")
            for name in LANGUAGE_FIGURES
        },
        page=report(
            f"{R}/reports/{{language}}.html",
            caption="../report/language_page.rst",
            category="Language pages",
            subcategory="{language}",
            labels={"page": "{language}", "figure": "page"},
        ),
    log:
        f"{R}/logs/language_report/{{language}}.log",
    benchmark:
        f"{R}/benchmarks/language_report/{{language}}.tsv"
    conda:
        "../../envs/study.yaml"
    params:
        settings=report_params,
    script:
        "../scripts/language_report.py"


rule index_report:
    input:
        unpack(table_inputs),
        students=student_dirs(),
        projections=entry_paths(
            benchmark_entries("scores", "projection.npz", clustered=True)
        ),
    output:
        **{name: report_figure("index", name, "Overview") for name in INDEX_FIGURES},
        page=report(
            f"{R}/reports/index.html",
            caption="../report/index.rst",
            category="Overview",
            labels={"page": "index", "figure": "page"},
        ),
    log:
        f"{R}/logs/index_report.log",
    benchmark:
        f"{R}/benchmarks/index_report.tsv"
    conda:
        "../../envs/study.yaml"
    params:
        settings=report_params,
        key_tables=index_report_keys(),
    script:
        "../scripts/index_report.py"
