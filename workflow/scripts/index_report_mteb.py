"""Rule index_report of a study with an mteb block: index_report.py's overview plus tables/mteb.csv once
`snakemake mteb` has made it. A script of its own (common.smk, index_report_script), so that a study
without the block keeps index_report.py and reruns nothing."""

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    from mvlm_distill.evaluate.mteb_tasks import MTEB_COLUMNS
    from mvlm_distill.paths import optional_input
    from mvlm_distill.report import INDEX_FIGURES, render, tables

    settings, keys, table = snakemake.params.settings, snakemake.params.key_tables, optional_input(snakemake.input.mteb)
    render.write_index_report(
        settings["languages"],
        render.load_tables({name: getattr(snakemake.input, name) for name in render.TABLE_COLUMNS}),
        snakemake.output.page,
        {name: getattr(snakemake.output, name) for name in INDEX_FIGURES},
        students=tables.paired(keys["students"], snakemake.input.students, "student folders"),
        projections=tables.paired(keys["projections"], snakemake.input.projections, "projection samples"),
        alpha=settings["alpha"],
        mteb=tables.read_table(table, MTEB_COLUMNS) if table else None,
    )
