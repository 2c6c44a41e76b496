# Config validation, the grid, and input functions shared by every rule file.
import copy
import os
import re
import sys
from pathlib import Path

from snakemake.utils import validate

from mvlm_distill.config import (
    ConfigError,
    apply_removals,
    check_config,
    config_warnings,
    error_line,
    grid_languages,
    has_captions,
    local_teacher_folder,
    missing_sources,
)
from mvlm_distill.definitions import DEFAULT_PROTOCOL, REFERENCES
from mvlm_distill.distill.keys import LOSS_TEMPERATURES, TRAINING_KEYS
from mvlm_distill.paths import ROW, STUDENT, ResultPaths
from mvlm_distill.data.languages import resource_groups
from mvlm_distill.report import INDEX_FIGURES, LANGUAGE_FIGURES, LANGUAGE_TABLES
from mvlm_distill.hub import (
    DEFAULT_CACHE,
    benchmark_fetch_keys,
    hub_env,
    model_fetch_keys,
)

# A study config given with --configfile is complete: it replaces config.yaml instead of being
# merged into it (a merge would silently keep the default's benchmarks and language fractions).
if workflow.config_settings.configfiles:
    config.clear()
    config.update(copy.deepcopy(workflow.config_settings.overwrite_config))


def _refuse_config(sentence):
    """One line naming the key and the config file that sets it, then exit (no traceback)."""
    config_files = workflow.config_settings.configfiles or workflow.configfiles
    err = ConfigError(sentence)
    sys.stderr.write(
        error_line(err, config_files, workflow.config_settings.config) + "\n"
    )
    sys.exit(1)


# Validate before any job is planned: one sentence naming the key (and the config file that sets
# it), no traceback. Numbers that arrive as text (`--config seeds=[0,1]`, YAML 1.1's `1e-3`) are read
# as numbers there. An overlay removes with null or `drop:` (README, "Overlays").
try:
    config = check_config(
        apply_removals(config),
        schema_path=workflow.source_path("../schemas/config.schema.yaml"),
    )
except ConfigError as err:
    _refuse_config(str(err))
validate(config, workflow.source_path("../schemas/config.schema.yaml"))

R = config["results"]
RESULTS = ResultPaths(R)  # every result location (mvlm_distill/paths.py)

# Once, in the planning process (jobs parse this file too).
if workflow.is_main_process:
    for warning in config_warnings(config):
        sys.stderr.write(f"Config warning: {warning}\n")
    # a missing dataset copy would otherwise stop its first job, after others ran; a dry run
    # plans without data (README), and a prepared benchmark no longer needs its copy
    for name, sentence in missing_sources(config).items():
        if Path(RESULTS.benchmark_file("meta.json", benchmark=name)).exists():
            continue
        if not workflow.output_settings.dryrun:
            _refuse_config(sentence)
        sys.stderr.write(f"Config warning: {sentence}\n")

MODELS = {m["name"]: m for m in config["models"]}
TOY_MODELS = [name for name, m in MODELS.items() if m["source"] == "toy"]
TRIMMED_MODELS = [name for name, m in MODELS.items() if m.get("trim_vocabulary")]
METHODS = list(config["methods"])
LANGUAGES = list(config["languages"])
# the evaluation languages by resource level, highest first (the reports group and order them so)
RESOURCE_GROUPS = resource_groups(LANGUAGES, config.get("resource_levels"))
SEEDS = [str(s) for s in config["seeds"]]
EVAL_BENCHMARKS = list(config["evaluation"]["benchmarks"])
# each benchmark is scored in the configured languages it offers
BENCHMARK_LANGUAGES = {b: grid_languages(config, b) for b in EVAL_BENCHMARKS}
CORPUS = config["corpus"]["benchmark"]
EVAL_SPLIT = config["evaluation"]["split"]
REFERENCE_SEED = "0"  # teacher and init are deterministic given the teacher

# Hub artifacts: the fetch rules (localrules, on the submit host) fill the project-local cache;
# every other job reads it offline. The user's own HF_HUB_OFFLINE is kept for the fetch step.
HUB_CACHE = Path(config.get("hub_cache", DEFAULT_CACHE)).absolute()
os.environ.setdefault("MVLM_FETCH_OFFLINE", os.environ.get("HF_HUB_OFFLINE", ""))
os.environ.update(hub_env(HUB_CACHE))
FETCHED_MODELS = [name for name, m in MODELS.items() if model_fetch_keys(m)]
FETCHED_BENCHMARKS = [
    b for b, spec in config["benchmarks"].items() if benchmark_fetch_keys(spec or {})
]


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
    return [
        RESULTS.benchmark_file(name, benchmark=benchmark)
        for name in ("meta.json", "captions.parquet", "images.parquet")
    ]


def teacher_dir(wildcards):
    """Toy teachers are pretrained by the workflow; a local checkpoint folder (the shipped teachers)
    is declared, so that new teacher bytes rerun what was made from the old; hub ones load by name.
    """
    if wildcards.model in TOY_MODELS:
        return [RESULTS.teacher(model=wildcards.model)]
    folder = local_teacher_folder(MODELS[wildcards.model])
    return [folder] if folder else []


def model_hub(wildcards):
    """The fetch record of a hub model: ancient, so a re-fetch orders jobs but reruns none (what
    the artifact is, its revision, reaches the consumers as params)."""
    if wildcards.model in FETCHED_MODELS:
        return [ancient(RESULTS.hub_model(model=wildcards.model))]
    return []


def benchmark_hub(wildcards):
    if wildcards.benchmark in FETCHED_BENCHMARKS:
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


def evaluated_rows():
    """The wildcards of every evaluated row on every benchmark."""
    return [
        {"model": model, "method": method, "seed": seed, "benchmark": benchmark}
        for model in MODELS
        for method, seed in method_seeds()
        for benchmark in EVAL_BENCHMARKS
    ]


def students():
    """The wildcards of every distilled student."""
    return [
        {"model": model, "kd_method": method, "seed": seed}
        for model in MODELS
        for method in METHODS
        for seed in SEEDS
    ]


def score_files(suffix):
    return entry_paths(score_entries(suffix))


def clustering_files():
    return entry_paths(clustering_entries("clustering.csv"))


def embedding_dirs():
    """Text embedding folders of every evaluated row (rule embed_texts)."""
    return [RESULTS.embeddings(**row) for row in evaluated_rows()]


def student_dirs():
    return [RESULTS.student(**student) for student in students()]


# Key tables: the table and report steps get each file beside its keys (model, family, method,
# seed, benchmark, language) as a param, so they read only what they declare and parse no paths.
def row_keys(row):
    """The keys the tables state for a row's wildcards: its family, no seed for the references."""
    method = row.get("method", row.get("kd_method"))
    keys = {
        "model": row["model"],
        "family": MODELS[row["model"]]["family"],
        "method": method,
        "seed": None if method in REFERENCES else int(row["seed"]),
    }
    return {**keys, **({"benchmark": row["benchmark"]} if "benchmark" in row else {})}


def score_entries(suffix):
    """(keys, path) of each row's per-language score file `{language}.{suffix}`."""
    return [
        (
            {**row_keys(row), "language": language},
            RESULTS.scores(f"{language}.{suffix}", **row),
        )
        for row in evaluated_rows()
        for language in BENCHMARK_LANGUAGES[row["benchmark"]]
    ]


def clustering_entries(name):
    """(keys, path) of the clustering step's `name` (clustering.csv, projection.npz) per row, on
    the benchmarks with captions."""
    return [
        (row_keys(row), RESULTS.scores(name, **row))
        for row in evaluated_rows()
        if has_captions(config["benchmarks"][row["benchmark"]])
    ]


def entry_paths(entries):
    return [path for _, path in entries]


def entry_keys(entries):
    return [key for key, _ in entries]


EXTRA_TEXT = config.get("export", {}).get("extra_text")
PUBLISH_CONFIG = config.get("publish", {})
PUBLISH = {entry["export"]: entry for entry in PUBLISH_CONFIG.get("repositories", [])}


def export_dirs():
    return [RESULTS.export_info(**student) for student in students()]


def vocabulary_file(wildcards):
    """The kept-token list of a model that trims its vocabulary (nothing otherwise)."""
    if wildcards.model in TRIMMED_MODELS:
        return [RESULTS.vocabulary(model=wildcards.model)]
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
        "bounds",
    ]
    return [RESULTS.table(name) for name in tables] + report_files()


def table_inputs(wildcards):
    """Every table of the study, by name (the report scripts pick theirs)."""
    return dict(rules.aggregate_tables.output.items())


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


def language_table_inputs(wildcards):
    """The per-language tables, by output name, for the pages that link them."""
    return dict(rules.language_tables.output.items())


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


def runtime_minutes(base):
    """Runtime in minutes that grows with each retry (SLURM time limits)."""
    return lambda wildcards, attempt: base * attempt


def mem_mb(base):
    return lambda wildcards, attempt: base * attempt


def rule_resource(rule, key, default):
    return config.get("resources", {}).get(rule, {}).get(key, default)


# ---------------------------------------------------------------- rerun triggers
# Snakemake reruns a job whose params changed, and everything downstream of it. So each rule's
# params hold exactly the config values its outputs depend on, derived here, one function per
# rule; scripts read them from snakemake.params (a value read from snakemake.config is no trigger).
# Values that change only speed or resume bookkeeping are deliberately no param: threads,
# distillation.checkpoint_every, resources.

# model keys that do not name the teacher: the student's layer map and the toy pretraining size
# (a toy teacher reaches its consumers as the input folder of pretrain_teacher)
_NOT_TEACHER_KEYS = (
    "student_layers",
    "text_layers",
    "toy",
    "trim_vocabulary",
    "license",
    "pretraining_steps",
)


def teacher_spec(model):
    """What identifies a model's teacher for the rules that load it."""
    spec = MODELS[model]
    if spec["source"] == "toy":
        return {k: spec[k] for k in ("name", "family", "source")}
    return {k: v for k, v in spec.items() if k not in _NOT_TEACHER_KEYS}


def fetch_model_params(wildcards):
    return {"keys": model_fetch_keys(MODELS[wildcards.model])}


def fetch_benchmark_params(wildcards):
    return {"keys": benchmark_fetch_keys(config["benchmarks"][wildcards.benchmark])}


def prepare_benchmark_params(wildcards):
    spec = config["benchmarks"][wildcards.benchmark]
    params = {"spec": spec}
    if spec["kind"] != "synthetic":  # generated, reads no files
        params["data_root"] = config.get("data_root", "data")
    return params


def select_pretraining_params(wildcards):
    pre = config.get("teacher_pretraining", {})
    return {
        "split": config["corpus"]["split"],
        "language_fraction": pre.get("language_fraction", {"en": 1.0}),
        "seed": pre.get("seed", 0),
    }


def select_corpus_params(wildcards):
    fractions = config["distillation"].get("language_fraction")
    if fractions is not None:
        # a language listed with 0 (evaluated, not distilled on) selects what an absent one does:
        # not a param, so listing it reruns no student (English: absent means 1.0)
        fractions = {lang: f for lang, f in fractions.items() if f or lang == "en"}
    return {
        "split": config["corpus"]["split"],
        "language_fraction": fractions,
    }


def pretrain_teacher_params(wildcards):
    spec = MODELS[wildcards.model]
    pre = config.get("teacher_pretraining", {})
    return {
        "spec": {k: spec[k] for k in ("name", "family", "source", "toy") if k in spec},
        "settings": {
            **{
                k: pre[k]
                for k in ("steps", "batch_size", "lr", "seed", "tokenizer_vocab_size")
                if k in pre
            },
            # SigLIP's sigmoid loss learns more slowly from scratch than CLIP's softmax
            **(
                {"steps": spec["pretraining_steps"]}
                if "pretraining_steps" in spec
                else {}
            ),
        },
    }


def corpus_batch_size():
    # the encoding batch changes the embeddings in the last float bits, so the caches the students
    # learn from take theirs from the corpus block: an evaluation setting never retrains a student
    return config["corpus"].get("batch_size", 256)


def cache_images_params(wildcards):
    corpus_split = (wildcards.benchmark, wildcards.split) == (
        CORPUS,
        config["corpus"]["split"],
    )
    return {
        "spec": teacher_spec(wildcards.model),
        "batch_size": (
            corpus_batch_size()
            if corpus_split
            else config["evaluation"].get("batch_size", 256)
        ),
        # the evaluation's cache also holds the images VQA asks about (their own split, if any)
        "with_vqa": not corpus_split,
    }


def cache_teacher_text_params(wildcards):
    return {"spec": teacher_spec(wildcards.model), "batch_size": corpus_batch_size()}


def loss_params(method):
    """A method's loss weights and the temperatures of the losses it uses (weight > 0)."""
    weights = config["methods"][method]
    temperatures = config["distillation"].get("temperatures", {})
    used = {
        key
        for loss, weight in weights.items()
        if weight > 0
        for key in LOSS_TEMPERATURES.get(loss, ())
    }
    return {
        "weights": weights,
        "temperatures": {k: v for k, v in temperatures.items() if k in used},
    }


def distill_params(wildcards):
    spec = MODELS[wildcards.model]
    settings = config["distillation"]
    return {
        "spec": {
            **teacher_spec(wildcards.model),
            "student_layers": spec["student_layers"],
        },
        "loss": loss_params(wildcards.kd_method),
        "training": {k: settings[k] for k in TRAINING_KEYS if k in settings},
    }


def export_student_params(wildcards):
    """What an export's model card states: the teacher, the method, the training it had, the corpus."""
    return {
        "spec": {
            **teacher_spec(wildcards.model),
            "license": MODELS[wildcards.model].get("license"),
        },
        "weights": config["methods"][wildcards.kd_method],
        "training": distill_params(wildcards)["training"],
        "corpus": {k: config["corpus"].get(k) for k in ("benchmark", "split")},
        "languages": LANGUAGES,
        "extra_text": EXTRA_TEXT,
        # Hub ids of the benchmarks read from the Hub (the card's datasets and model-index)
        "benchmark_ids": {
            name: keys["dataset"]
            for name in dict.fromkeys([CORPUS, *EVAL_BENCHMARKS])
            if (keys := benchmark_fetch_keys(config["benchmarks"][name]))
        },
        "evaluation_split": EVAL_SPLIT,
    }


def trim_vocabulary_params(wildcards):
    return {
        "spec": teacher_spec(wildcards.model),
        "languages": LANGUAGES,
        "split": config["corpus"]["split"],
    }


def embed_texts_params(wildcards):
    """A student row loads its own folder; teacher and init rows build from the teacher."""
    spec = teacher_spec(wildcards.model)
    if wildcards.method == "init":
        spec["student_layers"] = MODELS[wildcards.model]["student_layers"]
    return {
        "spec": spec,
        "split": EVAL_SPLIT,
        "batch_size": config["evaluation"].get("batch_size", 256),
    }


def score_language_params(wildcards):
    # the protocol only when it is not the default: params that gain a key rerun every scoring job
    protocol = evaluation_protocol()
    return {
        "split": EVAL_SPLIT,
        "n_boot": config["evaluation"].get("bootstrap_resamples", 1000),
        # ranks.csv names each query's image, the unit of the intervals and tests: this key reruns
        # the scoring jobs of a study scored before that column existed
        "unit": "image",
        **({"protocol": protocol} if protocol != DEFAULT_PROTOCOL else {}),
    }


def evaluation_protocol():
    """evaluation.protocol with its defaults (definitions.DEFAULT_PROTOCOL)."""
    return {**DEFAULT_PROTOCOL, **config["evaluation"].get("protocol", {})}


def score_language_script():
    # the default protocol keeps the script existing studies scored with (a script newer than its
    # outputs reruns them); score_protocol.py passes a chosen protocol on
    if evaluation_protocol() == DEFAULT_PROTOCOL:
        return "../scripts/score_language.py"
    return "../scripts/score_protocol.py"


def cluster_embeddings_params(wildcards):
    # clustering_images only when set: params that gain a key rerun every finished clustering job
    limit = config["evaluation"].get("clustering_images")
    return {
        "split": EVAL_SPLIT,
        "languages": BENCHMARK_LANGUAGES[wildcards.benchmark],
        **({"max_images": limit} if limit is not None else {}),
    }


# ---------------------------------------------------------------- the teacher check
TEACHER_CHECK = config.get("teacher_check")


def teacher_references(model):
    """The reference file's entries for a model on the evaluated benchmarks (none without teacher_check)."""
    from mvlm_distill.evaluate.teacher_check import load_references, references_for

    if not TEACHER_CHECK:
        return []
    evaluated = {b: config["benchmarks"][b] for b in EVAL_BENCHMARKS}
    try:
        entries = load_references(TEACHER_CHECK["references"])
    except ValueError as err:
        _refuse_config(f"teacher_check.references: {err}")
    return references_for(entries, MODELS[model], evaluated)


CHECKED_MODELS = {m: teacher_references(m) for m in MODELS}
CHECKED_MODELS = {m: refs for m, refs in CHECKED_MODELS.items() if refs}


def checked_benchmarks(wildcards):
    return list(
        dict.fromkeys(ref["benchmark"] for ref in CHECKED_MODELS[wildcards.model])
    )


def teacher_check_benchmarks(wildcards):
    return [f for b in checked_benchmarks(wildcards) for f in benchmark_files(b)]


def teacher_check_texts(wildcards):
    return [
        RESULTS.embeddings(
            model=wildcards.model, method="teacher", seed=REFERENCE_SEED, benchmark=b
        )
        for b in checked_benchmarks(wildcards)
    ]


def teacher_check_images(wildcards):
    return [
        RESULTS.image_cache(model=wildcards.model, benchmark=b, split=EVAL_SPLIT)
        for b in checked_benchmarks(wildcards)
    ]


def teacher_check_input(wildcards):
    """distill waits for its teacher's check (nothing for a teacher without references)."""
    if wildcards.model in CHECKED_MODELS:
        return [RESULTS.teacher_check(model=wildcards.model)]
    return []


def check_teacher_params(wildcards):
    return {
        "references": CHECKED_MODELS[wildcards.model],
        "benchmarks": checked_benchmarks(wildcards),
        "languages": {b: BENCHMARK_LANGUAGES[b] for b in checked_benchmarks(wildcards)},
        "split": EVAL_SPLIT,
        "tolerance": TEACHER_CHECK.get("tolerance", 0.5),
        "average_tolerance": TEACHER_CHECK.get("average_tolerance", 1.0),
        "on_mismatch": TEACHER_CHECK.get("on_mismatch", "stop"),
    }


def aggregate_tables_params(wildcards):
    evaluation = config["evaluation"]
    return {
        "n_boot": evaluation.get("bootstrap_resamples", 1000),
        "alpha": evaluation.get("alpha", 0.05),
        "resource_groups": RESOURCE_GROUPS,
    }


def aggregate_tables_keys():
    """The keys of aggregate_tables' inputs, in the order of its input lists."""
    return {
        "scores": entry_keys(score_entries("metrics.csv")),
        "clustering": entry_keys(clustering_entries("clustering.csv")),
        "embeddings": [row_keys(row) for row in evaluated_rows()],
        "benchmarks": EVAL_BENCHMARKS,
        "vocabularies": TRIMMED_MODELS,
    }


def report_params(wildcards):
    return {
        "languages": LANGUAGES,
        "resource_groups": RESOURCE_GROUPS,
        "alpha": config["evaluation"].get("alpha", 0.05),
    }


def index_report_keys():
    """The keys of index_report's student folders and projection samples, in input order."""
    return {
        "students": [row_keys(student) for student in students()],
        "projections": entry_keys(clustering_entries("projection.npz")),
    }


# ---------------------------------------------------------------- mteb (optional)
# The mteb block names MIEB tasks and rows (README, "Configuration"); absent, nothing is planned. The
# default target never plans the mteb_evaluate jobs; the overview shows tables/mteb.csv once
# `snakemake mteb` has made it (and keeps it up to date from then on).
from mvlm_distill.evaluate.mteb_tasks import MTEB_TASKS, mteb_problem, parse_row

MTEB = config.get("mteb") or {}
MTEB_TASK_NAMES = list(dict.fromkeys(MTEB.get("tasks", [])))
if MTEB and (problem := mteb_problem(MTEB, list(MODELS), METHODS, SEEDS)):
    _refuse_config(problem)


def mteb_rows():
    """The wildcards of the rows the mteb block scores (references at the reference seed)."""
    rows = []
    for key in dict.fromkeys(MTEB.get("rows", [])):
        model, method, seed = parse_row(key)
        seed = REFERENCE_SEED if seed is None else str(seed)
        rows.append({"model": model, "method": method, "seed": seed})
    return rows


def mteb_datasets():
    """The fetch records of the tasks' datasets: ancient, so a re-fetch orders jobs but reruns none
    (the revision reaches mteb_evaluate as a param)."""
    return [ancient(RESULTS.hub_mteb(mteb_task=task)) for task in MTEB_TASK_NAMES]


def fetch_mteb_params(wildcards):
    spec = MTEB_TASKS[wildcards.mteb_task]
    return {"keys": {k: spec[k] for k in ("dataset", "revision")}}


def mteb_evaluate_params(wildcards):
    return {
        "spec": embed_texts_params(wildcards)["spec"],
        "keys": row_keys(dict(wildcards.items())),
        "tasks": {task: MTEB_TASKS[task] for task in MTEB_TASK_NAMES},
        "languages": MTEB.get("languages", LANGUAGES),
        "batch_size": MTEB.get(
            "batch_size", config["evaluation"].get("batch_size", 256)
        ),
    }


def mteb_requested():
    """Whether this run asks for the mteb target (known once the DAG is built, not at parsing)."""
    return "mteb" in workflow.dag_settings.targets


def mteb_table(wildcards):
    """tables/mteb.csv for the overview, once it is made or asked for (`snakemake mteb`)."""
    table = RESULTS.table("mteb")
    if MTEB and (Path(table).exists() or mteb_requested()):
        return [table]
    return []


def mteb_target(wildcards):
    if not MTEB:
        _refuse_config(
            "mteb: `snakemake mteb` needs an mteb block (tasks and rows) in the config"
        )
    return [RESULTS.table("mteb"), f"{R}/reports/index.html"]
