"""Rule pretrain_teacher: build and pretrain a toy teacher with its family's own loss."""

import shutil
import tempfile
from pathlib import Path

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    import pandas as pd
    import torch

    from mvlm_distill.data import lexicon
    from mvlm_distill.data.formats import benchmark_checksum, load_image, read_benchmark
    from mvlm_distill.io import TEMP_MARK, file_checksum
    from mvlm_distill.models import build_toy_teacher, build_toy_tokenizer, pretrain_teacher, save_model
    from mvlm_distill.paths import benchmark_folder

    torch.set_num_threads(snakemake.threads)
    spec, settings = snakemake.params.settings["spec"], snakemake.params.settings["settings"]
    bench = read_benchmark(benchmark_folder(snakemake.input.benchmark))
    pairs = pd.read_csv(snakemake.input.pairs, dtype=str, keep_default_na=False)
    out = Path(snakemake.output[0])
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}{TEMP_MARK}-", dir=out.parent))
    try:
        pieces = lexicon.tokenizer_pieces(bench.languages)
        build_toy_tokenizer(pairs["text"].tolist(), pieces, work / "tokenizer",
                            vocab_size=settings.get("tokenizer_vocab_size"))
        teacher = build_toy_teacher(spec["family"], work / "tokenizer", spec.get("toy", {}), settings.get("seed", 0))
        image_ids = sorted(set(pairs["image_id"]))
        index = {image_id: i for i, image_id in enumerate(image_ids)}
        images = [load_image(bench.image_path(i)) for i in image_ids]
        result = pretrain_teacher(
            teacher,
            images,
            [(index[i], t) for i, t in zip(pairs["image_id"], pairs["text"])],
            steps=settings["steps"],
            batch_size=settings["batch_size"],
            lr=settings["lr"],
            seed=settings.get("seed", 0),
            log_path=work / "pretrain_log.csv",
        )
        teacher.meta["pretraining_checksum"] = benchmark_checksum(bench.root)  # the data it learnt from
        teacher.meta["pretraining_pairs_checksum"] = file_checksum(snakemake.input.pairs)
        save_model(teacher, work / "model")
        shutil.move(str(work / "pretrain_log.csv"), work / "model" / "pretrain_log.csv")
        (work / "model").rename(out)  # complete or absent, never partial
        print(result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
