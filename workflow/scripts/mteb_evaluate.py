"""Rule mteb_evaluate: one row (teacher, init or a student) through mteb's own MIEB task classes via the
adapter (mvlm_distill/evaluate/mteb_adapter.py), on the datasets the fetch step placed in the hub cache
at mteb's pinned revisions (read offline). Writes mteb's result files and their scores as rows of
tables/mteb.csv."""

import json
import os
from pathlib import Path

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    import pandas as pd
    import torch

    from mvlm_distill.device import pick_device
    from mvlm_distill.evaluate.mteb_tasks import MTEB_COLUMNS
    from mvlm_distill.io import write_csv
    from mvlm_distill.paths import optional_input
    from mvlm_distill.rows import load_row_model

    try:
        from mvlm_distill.evaluate.mteb_adapter import PipelineEncoder, run_tasks
    except ImportError as err:
        raise SystemExit(f"rule mteb_evaluate needs mteb ({err}): install the pins of requirements-test.txt "
                         f"(`pip install --no-deps -r requirements-test.txt`; `make` does) into the study's "
                         f"environment") from None

    torch.set_num_threads(snakemake.threads)
    device = pick_device()
    settings, method = snakemake.params.settings, snakemake.wildcards.method
    keys = settings["keys"]
    model = load_row_model(settings["spec"], method, optional_input(snakemake.input.source), device)
    name = f"mvlm-distill/{keys['model']}-{method}" + ("" if keys["seed"] is None else f"-seed{keys['seed']}")
    encoder = PipelineEncoder(model, name, revision=model.fingerprint(), batch_size=settings["batch_size"])
    cache = Path(os.environ["HF_HUB_CACHE"])
    datasets = {}
    for task, record in zip(settings["tasks"], snakemake.input.datasets):
        (artifact,) = json.loads(Path(record).read_text(encoding="utf-8"))["artifacts"]
        datasets[task] = cache / artifact["snapshot"]
    rows = run_tasks(encoder, datasets, settings["languages"], snakemake.output.results, settings["batch_size"])
    write_csv(snakemake.output.scores, pd.DataFrame([{**keys, **row} for row in rows], columns=MTEB_COLUMNS))
    print(f"{name}: {len(datasets)} tasks, {len(rows)} scores on {device}, "
          f"{encoder.image_encodings} images encoded (once per model)")
