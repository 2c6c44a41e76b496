"""Rule cache_teacher_text: the teacher's text embeddings and the token ids of the corpus, once."""

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    import json

    import numpy as np
    import pandas as pd
    import torch

    from mvlm_distill.data.formats import CAPTIONS_TABLE, benchmark_checksum, read_benchmark
    from mvlm_distill.device import pick_device
    from mvlm_distill.distill.encode import encode_tokens, tokenize_texts
    from mvlm_distill.io import CacheMismatchError, atomic_path, file_checksum, save_embeddings
    from mvlm_distill.paths import benchmark_folder, optional_input
    from mvlm_distill.rows import load_teacher, row_provenance

    torch.set_num_threads(snakemake.threads)
    device = pick_device()
    spec = snakemake.params.settings["spec"]
    root = benchmark_folder(snakemake.input.benchmark)
    bench = read_benchmark(root)
    items = pd.read_csv(snakemake.input.corpus, dtype=str, keep_default_na=False)
    needed = pd.unique(pd.concat([items["caption_id"], items["english_caption_id"]]))
    text_of = bench.captions.set_index("caption_id")["text"]
    unknown = [c for c in needed if c not in text_of.index]
    if unknown:
        raise CacheMismatchError(f"{snakemake.input.corpus}: caption {unknown[0]!r} is not in {root / CAPTIONS_TABLE}; "
                                 f"the corpus was selected from another benchmark (snakemake --forcerun select_corpus)")
    texts = text_of.loc[needed].tolist()
    teacher = load_teacher(spec, optional_input(snakemake.input.teacher), device)
    tokens = tokenize_texts(teacher, texts)
    emb = encode_tokens(teacher, tokens, snakemake.params.settings["batch_size"], device)
    # the corpus file's checksum too: distillation refuses caches made for another selection
    meta = {**row_provenance(teacher, spec["name"]), "checksum": benchmark_checksum(root),
            "corpus_checksum": file_checksum(snakemake.input.corpus), "kind": "text"}
    save_embeddings(snakemake.output.teacher_text, emb, list(needed), meta)
    with atomic_path(snakemake.output.tokens) as tmp, open(tmp, "wb") as f:
        np.savez(f, ids=np.asarray(needed, dtype=str), meta=np.asarray(json.dumps({**meta, "kind": "tokens"})),
                 **{k: v.numpy() for k, v in tokens.items()})
    print(f"{len(needed)} corpus captions encoded and tokenised on {device}")
