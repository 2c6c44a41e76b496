# Distilling multilingual vision-language models: the study as a Snakemake workflow.
# Data flows one way: data -> teachers -> caches -> students -> embeddings -> scores -> tables -> reports
# (-> exports: each student as a folder stock loaders open, with a model card).
# One rule file per step under workflow/rules/; the study model (grid, key tables, every rule's params)
# is mvlm_distill/study.py, wired in by workflow/rules/common.smk.

import os
import sys

from snakemake.utils import min_version

from mvlm_distill.cluster import (
    cli_executor_settings,
    executor_refusal,
    job_environment,
)

min_version("9.0")

# Executor settings the installed SLURM plugin cannot run (job arrays) are refused before planning.
if workflow.is_main_process:
    if refusal := executor_refusal(cli_executor_settings()):
        print(refusal, file=sys.stderr)
        sys.exit(1)


# The default study. A --configfile replaces it instead of being merged into it (a merge would
# silently keep the default's benchmarks and language fractions); Snakemake merges the --configfile
# files and --config itself (config/README.md, "Overlays").
if not workflow.config_settings.configfiles:

    configfile: "config.yaml"


# the description `snakemake --report` shows first
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/results_lock.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/teachers.smk"
include: "workflow/rules/caches.smk"
include: "workflow/rules/check.smk"
include: "workflow/rules/distill.smk"
include: "workflow/rules/embed.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/export.smk"
include: "workflow/rules/mteb.smk"


# compute.allow_cpu reaches every job's device choice through the environment (mvlm_distill/cluster.py).
os.environ.update(job_environment(config))


# On a cluster these run where Snakemake runs, not as queued jobs (docs/cluster.md says why for
# each): `all` is only a target; language_tables, language_report and index_report read the small
# tables and write CSV, LaTeX and HTML, seconds of work a queue wait would dwarf.
# fetch_model/fetch_benchmark are local in their rules (network).
# select_* and aggregate_tables stay queued: at paper scale they read GBs of captions or thousands
# of score files and run 10,000-resample permutation tests, not work for a login node.
localrules:
    all,
    language_tables,
    language_report,
    index_report,


rule all:
    default_target: True
    input:
        all_targets(),
        export_dirs(),
