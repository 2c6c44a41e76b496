# Tables and reports: tidy CSVs (a stable contract, see README), one HTML page per language and an
# overview. Every step reads only its declared inputs; the keys of each file come as a param.


rule aggregate_tables:
    input:
        metrics=entry_paths(STUDY.score_entries("metrics.csv")),
        ranks=entry_paths(STUDY.score_entries("ranks.csv")),
        consistency=entry_paths(STUDY.score_entries("consistency.csv")),
        clustering=entry_paths(STUDY.clustering_entries("clustering.csv")),
        embeddings=[RESULTS.embeddings(**row) for row in STUDY.evaluated_rows()],
        benchmarks=[RESULTS.benchmark_dir(benchmark=b) for b in STUDY.benchmarks],
        vocabularies=[RESULTS.vocabulary(model=model) for model in STUDY.trimmed_models],
    output:
        metrics=report_table("metrics"),
        summary=report_table("summary"),
        significance=report_table("significance"),
        comparisons=report_table("comparisons"),
        consistency=report_table("consistency"),
        clustering=report_table("clustering"),
        parameters=report_table("parameters"),
        bounds=report_table("bounds"),
        resource_groups=report_table("resource_groups"),
    log:
        RESULTS.log("aggregate_tables"),
    benchmark:
        RESULTS.job_benchmark("aggregate_tables")
    conda:
        "../../envs/study.yaml"
    params:
        settings=rule_params("aggregate_tables"),
        key_tables=STUDY.aggregate_tables_keys(),
    script:
        "../scripts/aggregate_tables.py"


rule language_tables:
    input:
        summary=RESULTS.table("summary"),
        significance=RESULTS.table("significance"),
        resource_groups=RESULTS.table("resource_groups"),
    output:
        **language_table_outputs(),
    log:
        RESULTS.log("language_tables"),
    benchmark:
        RESULTS.job_benchmark("language_tables")
    conda:
        "../../envs/study.yaml"
    params:
        settings=rule_params("language_tables"),
    script:
        "../scripts/language_tables.py"


rule language_report:
    input:
        unpack(table_inputs),
        unpack(language_table_inputs),
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
        RESULTS.log("language_report", "{language}"),
    benchmark:
        RESULTS.job_benchmark("language_report", "{language}")
    conda:
        "../../envs/study.yaml"
    params:
        settings=rule_params("language_report"),
    script:
        "../scripts/language_report.py"


rule index_report:
    input:
        unpack(table_inputs),
        unpack(language_table_inputs),
        students=[RESULTS.student(**student) for student in STUDY.students()],
        projections=entry_paths(STUDY.clustering_entries("projection.npz")),
        mteb=mteb_table,
    output:
        **{name: report_figure("index", name, "Overview") for name in INDEX_FIGURES},
        page=report(
            f"{R}/reports/index.html",
            caption="../report/index.rst",
            category="Overview",
            labels={"page": "index", "figure": "page"},
        ),
    log:
        RESULTS.log("index_report"),
    benchmark:
        RESULTS.job_benchmark("index_report")
    conda:
        "../../envs/study.yaml"
    params:
        settings=rule_params("index_report"),
        key_tables=STUDY.index_report_keys(),
    script:
        "../scripts/index_report.py"
