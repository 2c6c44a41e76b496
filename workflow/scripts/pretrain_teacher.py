"""Rule pretrain_teacher: build and pretrain a toy teacher with its family's own loss (models.pretrain_toy_teacher)."""

import shutil
import tempfile
from pathlib import Path

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    import pandas as pd
    import torch

    from mvlm_distill.data.formats import benchmark_checksum, read_benchmark
    from mvlm_distill.io import TEMP_MARK, file_checksum
    from mvlm_distill.models import pretrain_toy_teacher, save_model
    from mvlm_distill.paths import benchmark_folder

    torch.set_num_threads(snakemake.threads)
    spec, settings = snakemake.params.settings["spec"], snakemake.params.settings["settings"]
    bench = read_benchmark(benchmark_folder(snakemake.input.benchmark))
    pairs = pd.read_csv(snakemake.input.pairs, dtype=str, keep_default_na=False)
    out = Path(snakemake.output[0])
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}{TEMP_MARK}-", dir=out.parent))
    try:
        teacher, result = pretrain_toy_teacher(
            spec["family"],
            bench,
            pairs,
            work,
            size=spec.get("toy", {}),
            steps=settings["steps"],
            batch_size=settings["batch_size"],
            lr=settings["lr"],
            seed=settings.get("seed", 0),
            vocab_size=settings.get("tokenizer_vocab_size"),
        )
        teacher.meta["pretraining_checksum"] = benchmark_checksum(bench.root)  # the data it learnt from
        teacher.meta["pretraining_pairs_checksum"] = file_checksum(snakemake.input.pairs)
        save_model(teacher, work / "model")
        shutil.move(str(work / "pretrain_log.csv"), work / "model" / "pretrain_log.csv")
        (work / "model").rename(out)  # complete or absent, never partial
        print(result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
