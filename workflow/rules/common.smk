# Config validation, the grid, and input functions shared by every rule file.
import copy
import re
import sys
from pathlib import Path

from snakemake.utils import validate

from mvlm_distill.config import (
    REFERENCES,
    ConfigError,
    check_config,
    error_line,
    grid_languages,
    has_captions,
)

# A study config given with --configfile is complete: it replaces config.yaml instead of being
# merged into it (a merge would silently keep the default's benchmarks and language fractions).
if workflow.config_settings.configfiles:
    config.clear()
    config.update(copy.deepcopy(workflow.config_settings.overwrite_config))

# Validate before any job is planned: one sentence naming the key (and the config file that sets
# it), no traceback. Numbers that arrive as text (`--config seeds=[0,1]`, YAML 1.1's `1e-3`) are read
# as numbers there.
try:
    config = check_config(
        config, schema_path=workflow.source_path("../schemas/config.schema.yaml")
    )
except ConfigError as err:
    config_files = workflow.config_settings.configfiles or workflow.configfiles
    sys.stderr.write(
        error_line(err, config_files, workflow.config_settings.config) + "\n"
    )
    sys.exit(1)
validate(config, workflow.source_path("../schemas/config.schema.yaml"))

R = config["results"]
MODELS = {m["name"]: m for m in config["models"]}
TOY_MODELS = [name for name, m in MODELS.items() if m["source"] == "toy"]
TRIMMED_MODELS = [name for name, m in MODELS.items() if m.get("trim_vocabulary")]
METHODS = list(config["methods"])
LANGUAGES = list(config["languages"])
SEEDS = [str(s) for s in config["seeds"]]
EVAL_BENCHMARKS = list(config["evaluation"]["benchmarks"])
# each benchmark is scored in the configured languages it offers
BENCHMARK_LANGUAGES = {b: grid_languages(config, b) for b in EVAL_BENCHMARKS}
CORPUS = config["corpus"]["benchmark"]
EVAL_SPLIT = config["evaluation"]["split"]
REFERENCE_SEED = "0"  # teacher and init are deterministic given the teacher


def _alternatives(values):
    return "|".join(re.escape(v) for v in values)


wildcard_constraints:
    model=_alternatives(MODELS),
    method=_alternatives(METHODS + list(REFERENCES)),
    kd_method=_alternatives(METHODS),
    benchmark=_alternatives(config["benchmarks"]),
    language=_alternatives(LANGUAGES),
    seed=r"\d+",
    split=r"[A-Za-z0-9_]+",


def method_seeds():
    """(method, seed) pairs of every evaluated row: references once, KD methods per seed."""
    pairs = [(ref, REFERENCE_SEED) for ref in REFERENCES]
    pairs += [(method, seed) for method in METHODS for seed in SEEDS]
    return pairs


def benchmark_files(benchmark):
    return multiext(f"{R}/data/{benchmark}/", "meta.json", "captions.csv", "images.csv")


def teacher_dir(wildcards):
    """Toy teachers are pretrained by the workflow; real ones are loaded by name or path."""
    return [f"{R}/teachers/{wildcards.model}"] if wildcards.model in TOY_MODELS else []


def model_source(wildcards):
    """The directory (or nothing) the embedding step loads text encoders from."""
    if wildcards.method in REFERENCES:
        return teacher_dir(wildcards)
    return [f"{R}/students/{wildcards.model}/{wildcards.method}/seed{wildcards.seed}"]


def score_files(suffix):
    return [
        f"{R}/scores/{model}/{method}/seed{seed}/{benchmark}/{language}.{suffix}"
        for model in MODELS
        for method, seed in method_seeds()
        for benchmark in EVAL_BENCHMARKS
        for language in BENCHMARK_LANGUAGES[benchmark]
    ]


def clustering_files():
    return [
        f"{R}/scores/{model}/{method}/seed{seed}/{benchmark}/clustering.csv"
        for model in MODELS
        for method, seed in method_seeds()
        for benchmark in EVAL_BENCHMARKS
        if has_captions(config["benchmarks"][benchmark])
    ]


def embedding_dirs():
    """Text embedding folders of every evaluated row (rule embed_texts)."""
    return [
        f"{R}/embeddings/{model}/{method}/seed{seed}/{benchmark}"
        for model in MODELS
        for method, seed in method_seeds()
        for benchmark in EVAL_BENCHMARKS
    ]


def student_dirs():
    return [
        f"{R}/students/{model}/{method}/seed{seed}"
        for model in MODELS
        for method in METHODS
        for seed in SEEDS
    ]


EXTRA_TEXT = config.get("export", {}).get("extra_text")
PUBLISH_CONFIG = config.get("publish", {})
PUBLISH = {entry["export"]: entry for entry in PUBLISH_CONFIG.get("repositories", [])}


def export_dirs():
    return [
        f"{R}/exports/{model}/{method}/seed{seed}"
        for model in MODELS
        for method in METHODS
        for seed in SEEDS
    ]


def vocabulary_file(wildcards):
    """The kept-token list of a model that trims its vocabulary (nothing otherwise)."""
    if wildcards.model in TRIMMED_MODELS:
        return [f"{R}/vocabulary/{wildcards.model}.json"]
    return []


def report_files():
    return [f"{R}/reports/{language}.html" for language in LANGUAGES] + [
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
    ]
    return [f"{R}/tables/{name}.csv" for name in tables] + report_files()


def runtime_minutes(base):
    """Runtime in minutes that grows with each retry (SLURM time limits)."""
    return lambda wildcards, attempt: base * attempt


def mem_mb(base):
    return lambda wildcards, attempt: base * attempt


def rule_resource(rule, key, default):
    return config.get("resources", {}).get(rule, {}).get(key, default)
