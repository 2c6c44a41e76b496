"""Rule aggregate_mteb: the scores of every mteb row (rule mteb_evaluate) -> tables/mteb.csv."""

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    import pandas as pd

    from mvlm_distill.evaluate.mteb_tasks import MTEB_COLUMNS
    from mvlm_distill.io import write_csv
    from mvlm_distill.report.tables import read_table

    frames = [read_table(path, MTEB_COLUMNS) for path in snakemake.input.scores]
    table = pd.concat(frames, ignore_index=True)[list(MTEB_COLUMNS)]
    write_csv(snakemake.output[0], table)
    print(f"{len(frames)} rows' mteb scores, {len(table)} values")
