"""Rule language_report: one language's HTML page and its figures, from the tables the rule passes."""

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    from mvlm_distill.report import LANGUAGE_FIGURES, render

    settings = snakemake.params.settings
    render.write_language_report(
        snakemake.wildcards.language,
        settings["languages"],
        render.load_tables({name: getattr(snakemake.input, name) for name in render.TABLE_COLUMNS}),
        snakemake.output.page,
        {name: getattr(snakemake.output, name) for name in LANGUAGE_FIGURES},
        alpha=settings["alpha"],
        groups=settings["resource_groups"],
        language_tables=render.language_table_paths(snakemake.input),
    )
