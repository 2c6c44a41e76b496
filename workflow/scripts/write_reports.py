"""Rule write_reports: one HTML page per language and an index, with seaborn figures."""

import json
from pathlib import Path

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    from mvlm_distill.report.html import write_reports

    results = Path(snakemake.output.index).parents[1]
    ceilings = {Path(p).parent.name: json.loads(Path(p).read_text()).get("ceiling") for p in snakemake.input.meta}
    written = write_reports(
        results / "tables",
        results / "students",
        results / "reports",
        snakemake.params.settings["languages"],
        ceilings=ceilings,
        scores_dir=results / "scores",
    )
    print("\n".join(str(p) for p in written))
