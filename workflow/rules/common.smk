# Wiring: the checked config, the study it describes (mvlm_distill/study.py: the grid, the key tables,
# every rule's params), and the input functions and path helpers the rule files share.
import os
import sys
from pathlib import Path

from mvlm_distill.config import (
    ConfigError,
    apply_removals,
    check_config,
    config_warnings,
    error_line,
    local_teacher_folder,
    missing_sources,
)
from mvlm_distill.definitions import REFERENCES
from mvlm_distill.hub import DEFAULT_CACHE, hub_env
from mvlm_distill.paths import ROW, STUDENT
from mvlm_distill.report import INDEX_FIGURES, LANGUAGE_FIGURES, LANGUAGE_TABLES
from mvlm_distill.study import REFERENCE_SEED, Study, alternatives, entry_paths


def _refuse_config(sentence):
    """One line naming the key and the config file that sets it, then exit (no traceback)."""
    config_files = workflow.config_settings.configfiles or workflow.configfiles
    err = ConfigError(sentence)
    sys.stderr.write(
        error_line(err, config_files, workflow.config_settings.config) + "\n"
    )
    sys.exit(1)


# The config is Snakemake's merge of config.yaml (or the --configfile files, which replace it: see
# the Snakefile) and --config. It is checked once, before any job is planned: one sentence naming the
# key (and the config file that sets it), no traceback. Numbers that arrive as text (`--config
# seeds=[0,1]`, YAML 1.1's `1e-3`) are read as numbers there. An overlay removes with null or
# `drop:` (config/README.md, "Overlays").
try:
    config = check_config(
        apply_removals(config),
        schema_path=workflow.source_path("../schemas/config.schema.yaml"),
    )
    STUDY = Study(config)
except ConfigError as err:
    _refuse_config(str(err))

RESULTS = STUDY.paths  # every result location (mvlm_distill/paths.py)
R = RESULTS.root
MODELS = STUDY.models
CORPUS = STUDY.corpus

# Once, in the planning process (jobs parse this file too).
if workflow.is_main_process:
    for warning in config_warnings(config):
        sys.stderr.write(f"Config warning: {warning}\n")
    # a missing dataset copy would otherwise stop its first job, after others ran; a dry run
    # plans without data (README), and a prepared benchmark no longer needs its copy
    for name, sentence in missing_sources(config).items():
        if Path(RESULTS.benchmark_dir(benchmark=name), "meta.json").exists():
            continue
        if not workflow.output_settings.dryrun:
            _refuse_config(sentence)
        sys.stderr.write(f"Config warning: {sentence}\n")

# Hub artifacts: the fetch rules (localrules, on the submit host) fill the project-local cache;
# every other job reads it offline. The user's own HF_HUB_OFFLINE is kept for the fetch step.
HUB_CACHE = Path(config.get("hub_cache", DEFAULT_CACHE)).absolute()
os.environ.setdefault("MVLM_FETCH_OFFLINE", os.environ.get("HF_HUB_OFFLINE", ""))
os.environ.update(hub_env(HUB_CACHE))


wildcard_constraints:
    **STUDY.wildcard_constraints(),


def only(names):
    """A rule's wildcard constraint to these names (none: the rule matches nothing)."""
    return alternatives(names) if names else "(?!)"


def rule_params(rule):
    """A rule's `settings` param: the config values its outputs depend on (Study.params), so that
    Snakemake's params trigger reruns exactly what a change touches."""
    return lambda wildcards: STUDY.params(rule, **dict(wildcards.items()))


# ---------------------------------------------------------------- input functions
def teacher_dir(wildcards):
    """Toy teachers are pretrained by the workflow; a local checkpoint folder (the shipped teachers)
    is declared, so that new teacher bytes rerun what was made from the old; hub ones load by name.
    """
    if wildcards.model in STUDY.toy_models:
        return [RESULTS.teacher(model=wildcards.model)]
    folder = local_teacher_folder(MODELS[wildcards.model])
    return [folder] if folder else []


def model_hub(wildcards):
    """The fetch record of a hub model: ancient, so a re-fetch orders jobs but reruns none (what
    the artifact is, its revision, reaches the consumers as params)."""
    if wildcards.model in STUDY.fetched_models:
        return [ancient(RESULTS.hub_model(model=wildcards.model))]
    return []


def benchmark_hub(wildcards):
    if wildcards.benchmark in STUDY.fetched_benchmarks:
        return [ancient(RESULTS.hub_benchmark(benchmark=wildcards.benchmark))]
    return []


def row_hub(wildcards):
    """Teacher and init rows load the hub teacher; a student row its own saved folder."""
    return model_hub(wildcards) if wildcards.method in REFERENCES else []


def model_source(wildcards):
    """The directory (or nothing) the embedding step loads text encoders from."""
    if wildcards.method in REFERENCES:
        return teacher_dir(wildcards)
    return [
        RESULTS.student(
            model=wildcards.model, kd_method=wildcards.method, seed=wildcards.seed
        )
    ]


def vocabulary_file(wildcards):
    """The kept-token list of a model that trims its vocabulary (nothing otherwise)."""
    if wildcards.model in STUDY.trimmed_models:
        return [RESULTS.vocabulary(model=wildcards.model)]
    return []


def teacher_check_benchmarks(wildcards):
    return [
        RESULTS.benchmark_dir(benchmark=b)
        for b in STUDY.checked_benchmarks(wildcards.model)
    ]


def teacher_check_texts(wildcards):
    return [
        RESULTS.embeddings(
            model=wildcards.model, method="teacher", seed=REFERENCE_SEED, benchmark=b
        )
        for b in STUDY.checked_benchmarks(wildcards.model)
    ]


def teacher_check_images(wildcards):
    return [
        RESULTS.image_cache(model=wildcards.model, benchmark=b, split=STUDY.eval_split)
        for b in STUDY.checked_benchmarks(wildcards.model)
    ]


def teacher_check_input(wildcards):
    """distill waits for its teacher's check (nothing for a teacher without references)."""
    if wildcards.model in STUDY.checked_models:
        return [RESULTS.teacher_check(model=wildcards.model)]
    return []


def table_inputs(wildcards):
    """Every table of the study, by name (the report scripts pick theirs)."""
    return dict(rules.aggregate_tables.output.items())


def language_table_inputs(wildcards):
    """The per-language tables, by output name, for the pages that link them."""
    return dict(rules.language_tables.output.items())


def mteb_datasets():
    """The fetch records of the tasks' datasets: ancient, so a re-fetch orders jobs but reruns none
    (the revision reaches mteb_evaluate as a param)."""
    return [ancient(RESULTS.hub_mteb(mteb_task=t)) for t in STUDY.mteb_task_names]


def mteb_table(wildcards):
    """tables/mteb.csv for the overview, once it is made or asked for (`snakemake mteb`): the
    targets are known once the DAG is built, not at parsing."""
    table = RESULTS.table("mteb")
    requested = "mteb" in workflow.dag_settings.targets
    if STUDY.mteb and (Path(table).exists() or requested):
        return [table]
    return []


def mteb_target(wildcards):
    if not STUDY.mteb:
        _refuse_config(
            "mteb: `snakemake mteb` needs an mteb block (tasks and rows) in the config"
        )
    return [RESULTS.table("mteb"), f"{R}/reports/index.html"]


# ---------------------------------------------------------------- outputs and targets
def report_files():
    return [f"{R}/reports/{language}.html" for language in STUDY.languages] + [
        f"{R}/reports/index.html"
    ]


def all_targets():
    tables = [
        "metrics",
        "summary",
        "significance",
        "comparisons",
        "consistency",
        "clustering",
        "parameters",
        "bounds",
    ]
    return [RESULTS.table(name) for name in tables] + report_files()


def export_dirs():
    return [RESULTS.export_info(**student) for student in STUDY.students()]


def report_table(name):
    """A table of the study as a declared output, in `snakemake --report` with its caption."""
    return report(
        RESULTS.table(name), caption=f"../report/{name}.rst", category="Tables"
    )


def language_table_outputs():
    """language_tables' outputs: a wide CSV and a LaTeX table per task and metric, in the report."""
    outputs = {}
    for stem in LANGUAGE_TABLES:
        for ext in ("csv", "tex"):
            outputs[f"{ext}_{stem}"] = report(
                f"{R}/tables/languages/{stem}.{ext}",
                caption="../report/language_tables.rst",
                category="Tables",
                subcategory="Per-language tables",
                labels={"table": stem, "format": ext},
            )
    return outputs


def report_figure(page, name, category, subcategory=None):
    """A page's figure as a declared output, in `snakemake --report` with its caption."""
    prefix = f"{page}_" if page != "index" else ""
    return report(
        f"{R}/reports/figures/{prefix}{name}.png",
        caption=f"../report/{'language' if subcategory else 'index'}_{name}.rst",
        category=category,
        subcategory=subcategory,
        labels={"page": page, "figure": name},
    )


def score_language_script():
    # the default protocol keeps the script existing studies scored with (a script newer than its
    # outputs reruns them); score_protocol.py passes a chosen protocol on. The directive calls this
    # function by name: its text is the rule's code, a rerun trigger
    if STUDY.custom_protocol():
        return "../scripts/score_protocol.py"
    return "../scripts/score_language.py"


# ---------------------------------------------------------------- cluster requests
def runtime_minutes(base):
    """Runtime in minutes that grows with each retry (SLURM time limits)."""
    return lambda wildcards, attempt: base * attempt


def mem_mb(base):
    return lambda wildcards, attempt: base * attempt


def rule_resource(rule, key, default):
    return config.get("resources", {}).get(rule, {}).get(key, default)
