# Distilling multilingual vision-language models: the study as a Snakemake workflow.
# Data flows one way: data -> teachers -> caches -> students -> embeddings -> scores -> tables -> reports
# (-> exports: each student as a folder stock loaders open, with a model card).
# One rule file per step under workflow/rules/; input functions and config handling in common.smk.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/results_lock.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/teachers.smk"
include: "workflow/rules/caches.smk"
include: "workflow/rules/distill.smk"
include: "workflow/rules/embed.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/export.smk"


rule all:
    default_target: True
    input:
        all_targets(),
        export_dirs(),
