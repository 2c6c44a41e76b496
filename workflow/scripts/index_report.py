"""Rule index_report: the overview page and its figures, from the files and keys the rule passes
(with tables/mteb.csv when `snakemake mteb` has made it)."""

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    from mvlm_distill.paths import optional_input
    from mvlm_distill.report import INDEX_FIGURES, render, tables

    settings, keys, mteb = snakemake.params.settings, snakemake.params.key_tables, optional_input(snakemake.input.mteb)
    if mteb:
        from mvlm_distill.evaluate.mteb_tasks import MTEB_COLUMNS
    render.write_index_report(
        settings["languages"],
        render.load_tables({name: getattr(snakemake.input, name) for name in render.TABLE_COLUMNS}),
        snakemake.output.page,
        {name: getattr(snakemake.output, name) for name in INDEX_FIGURES},
        students=tables.paired(keys["students"], snakemake.input.students, "student folders"),
        projections=tables.paired(keys["projections"], snakemake.input.projections, "projection samples"),
        alpha=settings["alpha"],
        mteb=tables.read_table(mteb, MTEB_COLUMNS) if mteb else None,
        groups=settings["resource_groups"],
        language_tables=render.language_table_paths(snakemake.input),
    )
