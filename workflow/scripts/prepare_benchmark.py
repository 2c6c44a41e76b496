"""Rule prepare_benchmark: one benchmark in the project's format."""

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    from mvlm_distill.data.prepare import prepare_benchmark
    from mvlm_distill.paths import benchmark_folder

    settings = snakemake.params.settings
    meta = prepare_benchmark(
        snakemake.wildcards.benchmark,
        settings["spec"],
        benchmark_folder(snakemake.output.benchmark),
        data_root=settings.get("data_root", "data"),
    )
    print(f"prepared {snakemake.wildcards.benchmark}: languages {meta.get('languages')}")
