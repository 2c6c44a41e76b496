"""Rule language_tables: the paste-ready per-language tables (a wide CSV and a LaTeX table per task
and metric) from summary.csv, resource_groups.csv and significance.csv."""

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    from mvlm_distill.report import render
    from mvlm_distill.report.language_tables import write_language_tables

    settings, tables = snakemake.params.settings, render.load_tables(dict(snakemake.input.items()))
    write_language_tables(
        tables["summary"], tables["resource_groups"], tables["significance"], settings["resource_groups"],
        render.language_table_paths(snakemake.output),
        alpha=settings["alpha"],
    )
