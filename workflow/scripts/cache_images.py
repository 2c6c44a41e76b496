"""Rule cache_images: teacher image embeddings of one benchmark split, once per teacher."""

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    import torch

    from mvlm_distill.data.formats import benchmark_checksum, read_benchmark
    from mvlm_distill.device import pick_device
    from mvlm_distill.distill.encode import encode_images
    from mvlm_distill.io import save_embeddings
    from mvlm_distill.paths import benchmark_folder, optional_input
    from mvlm_distill.rows import load_teacher, row_provenance

    torch.set_num_threads(snakemake.threads)
    device = pick_device()
    spec, batch_size = snakemake.params.settings["spec"], snakemake.params.settings["batch_size"]
    root = benchmark_folder(snakemake.input.benchmark)
    bench = read_benchmark(root)
    teacher = load_teacher(spec, optional_input(snakemake.input.teacher), device)
    wanted = bench.images["split"] == snakemake.wildcards.split
    if snakemake.params.settings.get("with_vqa") and bench.vqa is not None:
        wanted |= bench.images["image_id"].isin(bench.evaluation_vqa(snakemake.wildcards.split)["image_id"])
    images = bench.images[wanted]
    ids = images["image_id"].tolist()
    emb = encode_images(teacher, [bench.image_path(i) for i in ids], batch_size, device)
    meta = {**row_provenance(teacher, spec["name"]), "checksum": benchmark_checksum(root),
            "benchmark": snakemake.wildcards.benchmark, "kind": "image"}
    save_embeddings(snakemake.output[0], emb, ids, meta)
    print(f"{len(ids)} images encoded on {device}")
