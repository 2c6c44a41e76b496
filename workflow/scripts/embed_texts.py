"""Rule embed_texts: text embeddings (captions and VQA prompts) of one evaluated row, once per benchmark.

Each distinct text of the benchmark is encoded once; the output is a folder of per-language files
(``{language}.captions.npz``, ``{language}.vqa.npz``) and ``manifest.json``, built in a temporary
sibling and renamed into place."""

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    import torch

    from mvlm_distill.data.formats import benchmark_checksum, read_benchmark
    from mvlm_distill.device import pick_device
    from mvlm_distill.distill.encode import encode_distinct
    from mvlm_distill.evaluate.texts import evaluation_files, evaluation_texts
    from mvlm_distill.io import save_text_embeddings
    from mvlm_distill.paths import benchmark_folder, optional_input
    from mvlm_distill.rows import load_row_model, row_provenance

    torch.set_num_threads(snakemake.threads)
    device = pick_device()
    settings, method = snakemake.params.settings, snakemake.wildcards.method
    spec = settings["spec"]
    root = benchmark_folder(snakemake.input.benchmark)
    bench = read_benchmark(root)
    model = load_row_model(spec, method, optional_input(snakemake.input.source), device)
    captions = bench.split_captions(settings["split"])
    vqa = bench.evaluation_vqa(settings["split"]) if bench.vqa is not None else None
    ids, texts = evaluation_texts(captions, vqa)
    distinct, inverse = encode_distinct(model, texts, settings["batch_size"], device)
    meta = {
        **row_provenance(model, spec["name"], method, snakemake.wildcards.seed),
        "checksum": benchmark_checksum(root),
        "benchmark": snakemake.wildcards.benchmark,
        "kind": "text",
        "text_layers": model.text_layer_count(),
        "text_parameters": model.text_parameter_count(),
        "total_parameters": model.total_parameter_count(),
    }
    files, file_of_row = evaluation_files(captions, vqa, bench.languages)
    manifest = save_text_embeddings(snakemake.output[0], distinct, inverse, ids, files, file_of_row, meta)
    print(f"{len(ids)} texts ({len(distinct)} distinct) encoded on {device}, {len(manifest['files'])} files")
