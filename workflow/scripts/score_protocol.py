"""Rule score_language under a chosen evaluation.protocol (score_language.py scores the default one:
it is kept unchanged so that existing studies' scores do not rerun). The same light job: no torch."""

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    from mvlm_distill.evaluate.pipeline import score_language_job

    score_language_job(snakemake.input, snakemake.output, snakemake.wildcards.language,
                       **snakemake.params.settings)
