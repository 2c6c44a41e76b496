"""The study a checked config describes: its grid, the key tables and every rule's params.

``Study(config)`` takes a config ``mvlm_distill.config.check_config`` returned (defaults filled in)
and answers what the workflow plans, without Snakemake: which models, methods, languages, seeds and
benchmarks; which rows are evaluated and which students distilled; the keys (model, family, method,
seed, benchmark, language) of each file the table and report steps read; and the params of each rule.

Params are the rerun triggers: Snakemake reruns a job whose params changed (their ``repr``, so key
order and types count too), and everything downstream of it. So each rule's params hold exactly the
config values its outputs depend on; scripts read them from ``snakemake.params`` (a value read from
``snakemake.config`` is no trigger). Values that change only speed or resume bookkeeping are
deliberately no param: threads, ``distillation.checkpoint_every``, resources. ``Study.params(rule,
**wildcards)`` is the one entry point; ``RULE_PARAMS`` names the rules that have such params.

Pure Python, no torch: imported whenever the Snakefile is parsed (every job parses it too).
"""

from __future__ import annotations

import re

from mvlm_distill.config import ConfigError, grid_languages, has_captions
from mvlm_distill.data.languages import resource_groups
from mvlm_distill.definitions import DEFAULT_PROTOCOL, REFERENCES
from mvlm_distill.distill.keys import LOSS_TEMPERATURES, TRAINING_KEYS
from mvlm_distill.evaluate.mteb_tasks import MTEB_TASKS, mteb_problem, parse_row
from mvlm_distill.hub import benchmark_fetch_keys, model_fetch_keys
from mvlm_distill.paths import ResultPaths

#: teacher and init rows are deterministic given the teacher: one row each, in the seed0 folders
REFERENCE_SEED = "0"

#: model keys that do not name the teacher: the student's layer map and the toy pretraining size
#: (a toy teacher reaches its consumers as the input folder of pretrain_teacher)
NOT_TEACHER_KEYS = ("student_layers", "text_layers", "toy", "trim_vocabulary", "license", "pretraining_steps")

#: the rules whose ``settings`` param Study.params gives, and the wildcards each is called with
RULE_PARAMS = {
    "fetch_model": ("model",),
    "fetch_benchmark": ("benchmark",),
    "fetch_mteb_dataset": ("mteb_task",),
    "prepare_benchmark": ("benchmark",),
    "select_pretraining": (),
    "select_corpus": (),
    "pretrain_teacher": ("model",),
    "cache_images": ("model", "benchmark", "split"),
    "cache_teacher_text": ("model",),
    "check_teacher": ("model",),
    "distill": ("model", "kd_method", "seed"),
    "embed_texts": ("model", "method", "seed", "benchmark"),
    "score_language": ("model", "method", "seed", "benchmark", "language"),
    "cluster_embeddings": ("model", "method", "seed", "benchmark"),
    "trim_vocabulary": ("model",),
    "export_student": ("model", "kd_method", "seed"),
    "aggregate_tables": (),
    "language_tables": (),
    "language_report": ("language",),
    "index_report": (),
    "mteb_evaluate": ("model", "method", "seed"),
}


class Study:
    """The grid, key tables and rule params of one checked config (``config.check_config``)."""

    def __init__(self, config: dict):
        self.config = config
        self.paths = ResultPaths(config["results"])  # every result location (mvlm_distill/paths.py)
        self.models = {m["name"]: m for m in config["models"]}
        self.toy_models = [name for name, m in self.models.items() if m["source"] == "toy"]
        self.trimmed_models = [name for name, m in self.models.items() if m.get("trim_vocabulary")]
        self.methods = list(config["methods"])
        self.languages = list(config["languages"])
        # the evaluation languages by resource level, highest first (the reports group and order them so)
        self.resource_groups = resource_groups(self.languages, config.get("resource_levels"))
        self.seeds = [str(s) for s in config["seeds"]]
        self.benchmarks = list(config["evaluation"]["benchmarks"])  # the evaluated ones
        # each benchmark is scored in the configured languages it offers
        self.benchmark_languages = {b: grid_languages(config, b) for b in self.benchmarks}
        self.corpus = config["corpus"]["benchmark"]
        self.corpus_split = config["corpus"]["split"]
        self.evaluation = config["evaluation"]
        self.eval_split = self.evaluation["split"]
        # Hub artifacts, fetched on the submit host (rules fetch_model, fetch_benchmark)
        self.fetched_models = [name for name, m in self.models.items() if model_fetch_keys(m)]
        self.fetched_benchmarks = [b for b, spec in config["benchmarks"].items() if benchmark_fetch_keys(spec or {})]
        self.extra_text = config.get("export", {}).get("extra_text")
        publish = config.get("publish", {})
        self.publish = {entry["export"]: entry for entry in publish.get("repositories", [])}
        self.publish_dry_run = publish.get("dry_run", False)
        self.teacher_check = config.get("teacher_check")
        self.checked_models = {m: refs for m in self.models if (refs := self.teacher_references(m))}
        # the mteb block names MIEB tasks and rows; absent, nothing is planned
        self.mteb = config.get("mteb") or {}
        self.mteb_task_names = list(dict.fromkeys(self.mteb.get("tasks", [])))
        if self.mteb and (problem := mteb_problem(self.mteb, list(self.models), self.methods, self.seeds)):
            raise ConfigError(problem)

    # ------------------------------------------------------------------ the grid

    def wildcard_constraints(self) -> dict[str, str]:
        """Each wildcard's alternatives, as Snakemake's wildcard_constraints take them."""
        return {
            "model": alternatives(self.models),
            "method": alternatives(self.methods + list(REFERENCES)),
            "kd_method": alternatives(self.methods),
            "benchmark": alternatives(self.config["benchmarks"]),
            "language": alternatives(self.languages),
            "seed": r"\d+",
            "split": r"[A-Za-z0-9_]+",
        }

    def method_seeds(self) -> list[tuple[str, str]]:
        """(method, seed) pairs of every evaluated row: references once, KD methods per seed."""
        pairs = [(ref, REFERENCE_SEED) for ref in REFERENCES]
        return pairs + [(method, seed) for method in self.methods for seed in self.seeds]

    def evaluated_rows(self) -> list[dict]:
        """The wildcards of every evaluated row on every benchmark."""
        return [
            {"model": model, "method": method, "seed": seed, "benchmark": benchmark}
            for model in self.models
            for method, seed in self.method_seeds()
            for benchmark in self.benchmarks
        ]

    def students(self) -> list[dict]:
        """The wildcards of every distilled student."""
        return [
            {"model": model, "kd_method": method, "seed": seed}
            for model in self.models
            for method in self.methods
            for seed in self.seeds
        ]

    def mteb_rows(self) -> list[dict]:
        """The wildcards of the rows the mteb block scores (references at the reference seed)."""
        rows = []
        for key in dict.fromkeys(self.mteb.get("rows", [])):
            model, method, seed = parse_row(key)
            rows.append({"model": model, "method": method, "seed": REFERENCE_SEED if seed is None else str(seed)})
        return rows

    def checked_benchmarks(self, model: str) -> list[str]:
        """The evaluated benchmarks a model's teacher check scores."""
        return list(dict.fromkeys(ref["benchmark"] for ref in self.checked_models[model]))

    def teacher_references(self, model: str) -> list[dict]:
        """The reference file's entries for a model on the evaluated benchmarks (none without teacher_check)."""
        from mvlm_distill.evaluate.teacher_check import load_references, references_for

        if not self.teacher_check:
            return []
        evaluated = {b: self.config["benchmarks"][b] for b in self.benchmarks}
        try:
            entries = load_references(self.teacher_check["references"])
        except ValueError as err:
            raise ConfigError(f"teacher_check.references: {err}") from None
        return references_for(entries, self.models[model], evaluated)

    def custom_protocol(self) -> bool:
        """Whether evaluation.protocol differs from the default one (definitions.DEFAULT_PROTOCOL)."""
        return self.evaluation_protocol() != DEFAULT_PROTOCOL

    def evaluation_protocol(self) -> dict:
        """evaluation.protocol with its defaults (definitions.DEFAULT_PROTOCOL)."""
        return {**DEFAULT_PROTOCOL, **self.evaluation.get("protocol", {})}

    # ------------------------------------------------------------------ key tables
    # The table and report steps get each file beside its keys (model, family, method, seed,
    # benchmark, language) as a param, so they read only what they declare and parse no paths.

    def row_keys(self, row: dict) -> dict:
        """The keys the tables state for a row's wildcards: its family, no seed for the references."""
        method = row.get("method", row.get("kd_method"))
        keys = {
            "model": row["model"],
            "family": self.models[row["model"]]["family"],
            "method": method,
            "seed": None if method in REFERENCES else int(row["seed"]),
        }
        return {**keys, **({"benchmark": row["benchmark"]} if "benchmark" in row else {})}

    def score_entries(self, suffix: str) -> list[tuple[dict, str]]:
        """(keys, path) of each row's per-language score file ``{language}.{suffix}``."""
        return [
            ({**self.row_keys(row), "language": language}, self.paths.scores(f"{language}.{suffix}", **row))
            for row in self.evaluated_rows()
            for language in self.benchmark_languages[row["benchmark"]]
        ]

    def clustering_entries(self, name: str) -> list[tuple[dict, str]]:
        """(keys, path) of the clustering step's ``name`` (clustering.csv, projection.npz) per row, on
        the benchmarks with captions."""
        return [
            (self.row_keys(row), self.paths.scores(name, **row))
            for row in self.evaluated_rows()
            if has_captions(self.config["benchmarks"][row["benchmark"]])
        ]

    def aggregate_tables_keys(self) -> dict:
        """The keys of aggregate_tables' inputs, in the order of its input lists."""
        return {
            "scores": entry_keys(self.score_entries("metrics.csv")),
            "clustering": entry_keys(self.clustering_entries("clustering.csv")),
            "embeddings": [self.row_keys(row) for row in self.evaluated_rows()],
            "benchmarks": self.benchmarks,
            "vocabularies": self.trimmed_models,
        }

    def index_report_keys(self) -> dict:
        """The keys of index_report's student folders and projection samples, in input order."""
        return {
            "students": [self.row_keys(student) for student in self.students()],
            "projections": entry_keys(self.clustering_entries("projection.npz")),
        }

    # ------------------------------------------------------------------ rule params

    def params(self, rule: str, **wildcards) -> dict:
        """The ``settings`` param of a rule's job with these wildcards (RULE_PARAMS)."""
        if rule not in RULE_PARAMS:
            raise KeyError(f"rule {rule!r} has no settings param; rules with one: {', '.join(RULE_PARAMS)}")
        return getattr(self, f"_{rule}")(**{key: wildcards[key] for key in RULE_PARAMS[rule]})

    def teacher_spec(self, model: str) -> dict:
        """What identifies a model's teacher for the rules that load it."""
        spec = self.models[model]
        if spec["source"] == "toy":
            return {k: spec[k] for k in ("name", "family", "source")}
        return {k: v for k, v in spec.items() if k not in NOT_TEACHER_KEYS}

    def loss_params(self, method: str) -> dict:
        """A method's loss weights and the temperatures of the losses it uses (weight > 0)."""
        weights = self.config["methods"][method]
        temperatures = self.config["distillation"].get("temperatures", {})
        used = {key for loss, weight in weights.items() if weight > 0 for key in LOSS_TEMPERATURES.get(loss, ())}
        return {"weights": weights, "temperatures": {k: v for k, v in temperatures.items() if k in used}}

    def training_params(self) -> dict:
        settings = self.config["distillation"]
        return {k: settings[k] for k in TRAINING_KEYS if k in settings}

    def corpus_batch_size(self) -> int:
        # the encoding batch changes the embeddings in the last float bits, so the caches the students
        # learn from take theirs from the corpus block: an evaluation setting never retrains a student
        return self.config["corpus"].get("batch_size", 256)

    def evaluation_batch_size(self) -> int:
        return self.evaluation.get("batch_size", 256)

    def _fetch_model(self, model):
        return {"keys": model_fetch_keys(self.models[model])}

    def _fetch_benchmark(self, benchmark):
        return {"keys": benchmark_fetch_keys(self.config["benchmarks"][benchmark])}

    def _fetch_mteb_dataset(self, mteb_task):
        return {"keys": {k: MTEB_TASKS[mteb_task][k] for k in ("dataset", "revision")}}

    def _prepare_benchmark(self, benchmark):
        spec = self.config["benchmarks"][benchmark]
        params = {"spec": spec}
        if spec["kind"] != "synthetic":  # generated, reads no files
            params["data_root"] = self.config.get("data_root", "data")
        return params

    def _select_pretraining(self):
        pre = self.config.get("teacher_pretraining", {})
        return {
            "split": self.corpus_split,
            "language_fraction": pre.get("language_fraction", {"en": 1.0}),
            "seed": pre.get("seed", 0),
        }

    def _select_corpus(self):
        fractions = self.config["distillation"].get("language_fraction")
        if fractions is not None:
            # a language listed with 0 (evaluated, not distilled on) selects what an absent one does:
            # not a param, so listing it reruns no student (English: absent means 1.0)
            fractions = {lang: f for lang, f in fractions.items() if f or lang == "en"}
        return {"split": self.corpus_split, "language_fraction": fractions}

    def _pretrain_teacher(self, model):
        spec = self.models[model]
        pre = self.config.get("teacher_pretraining", {})
        settings = {k: pre[k] for k in ("steps", "batch_size", "lr", "seed", "tokenizer_vocab_size") if k in pre}
        if "pretraining_steps" in spec:  # SigLIP's sigmoid loss learns more slowly from scratch than CLIP's softmax
            settings["steps"] = spec["pretraining_steps"]
        return {"spec": {k: spec[k] for k in ("name", "family", "source", "toy") if k in spec}, "settings": settings}

    def _cache_images(self, model, benchmark, split):
        corpus_split = (benchmark, split) == (self.corpus, self.corpus_split)
        return {
            "spec": self.teacher_spec(model),
            "batch_size": self.corpus_batch_size() if corpus_split else self.evaluation_batch_size(),
            # the evaluation's cache also holds the images VQA asks about (their own split, if any)
            "with_vqa": not corpus_split,
        }

    def _cache_teacher_text(self, model):
        return {"spec": self.teacher_spec(model), "batch_size": self.corpus_batch_size()}

    def _check_teacher(self, model):
        check = self.teacher_check
        benchmarks = self.checked_benchmarks(model)
        return {
            "references": self.checked_models[model],
            "benchmarks": benchmarks,
            "languages": {b: self.benchmark_languages[b] for b in benchmarks},
            "split": self.eval_split,
            "tolerance": check.get("tolerance", 0.5),
            "average_tolerance": check.get("average_tolerance", 1.0),
            "on_mismatch": check.get("on_mismatch", "stop"),
        }

    def _distill(self, model, kd_method, seed):
        return {
            "spec": {**self.teacher_spec(model), "student_layers": self.models[model]["student_layers"]},
            "loss": self.loss_params(kd_method),
            "training": self.training_params(),
        }

    def _embed_texts(self, model, method, seed, benchmark):
        """A student row loads its own folder; teacher and init rows build from the teacher."""
        spec = self.teacher_spec(model)
        if method == "init":
            spec["student_layers"] = self.models[model]["student_layers"]
        return {"spec": spec, "split": self.eval_split, "batch_size": self.evaluation_batch_size()}

    def _score_language(self, model, method, seed, benchmark, language):
        # the protocol only when it is not the default: params that gain a key rerun every scoring job
        protocol = self.evaluation_protocol()
        return {
            "split": self.eval_split,
            "n_boot": self.evaluation.get("bootstrap_resamples", 1000),
            # ranks.csv names each query's image, the unit of the intervals and tests: this key reruns
            # the scoring jobs of a study scored before that column existed
            "unit": "image",
            **({"protocol": protocol} if self.custom_protocol() else {}),
        }

    def _cluster_embeddings(self, model, method, seed, benchmark):
        # clustering_images only when set: params that gain a key rerun every finished clustering job
        limit = self.evaluation.get("clustering_images")
        return {
            "split": self.eval_split,
            "languages": self.benchmark_languages[benchmark],
            **({"max_images": limit} if limit is not None else {}),
        }

    def _trim_vocabulary(self, model):
        return {"spec": self.teacher_spec(model), "languages": self.languages, "split": self.corpus_split}

    def _export_student(self, model, kd_method, seed):
        """What an export's model card states: the teacher, the method, the training it had, the corpus."""
        return {
            "spec": {**self.teacher_spec(model), "license": self.models[model].get("license")},
            "weights": self.config["methods"][kd_method],
            "training": self.training_params(),
            "corpus": {k: self.config["corpus"].get(k) for k in ("benchmark", "split")},
            "languages": self.languages,
            "extra_text": self.extra_text,
            # Hub ids of the benchmarks read from the Hub (the card's datasets and model-index)
            "benchmark_ids": {
                name: keys["dataset"]
                for name in dict.fromkeys([self.corpus, *self.benchmarks])
                if (keys := benchmark_fetch_keys(self.config["benchmarks"][name]))
            },
            "evaluation_split": self.eval_split,
        }

    def _aggregate_tables(self):
        return {
            "n_boot": self.evaluation.get("bootstrap_resamples", 1000),
            "alpha": self.evaluation.get("alpha", 0.05),
            "resource_groups": self.resource_groups,
        }

    def _report(self):
        return {
            "languages": self.languages,
            "resource_groups": self.resource_groups,
            "alpha": self.evaluation.get("alpha", 0.05),
        }

    def _language_tables(self):
        return self._report()

    def _language_report(self, language):
        return self._report()

    def _index_report(self):
        return self._report()

    def _mteb_evaluate(self, model, method, seed):
        return {
            "spec": self._embed_texts(model, method, seed, None)["spec"],
            "keys": self.row_keys({"model": model, "method": method, "seed": seed}),
            "tasks": {task: MTEB_TASKS[task] for task in self.mteb_task_names},
            "languages": self.mteb.get("languages", self.languages),
            "batch_size": self.mteb.get("batch_size", self.evaluation_batch_size()),
        }


def alternatives(values) -> str:
    """A regular expression matching exactly one of ``values``."""
    return "|".join(re.escape(v) for v in values)


def entry_paths(entries: list[tuple[dict, str]]) -> list[str]:
    return [path for _, path in entries]


def entry_keys(entries: list[tuple[dict, str]]) -> list[dict]:
    return [key for key, _ in entries]


__all__ = ["NOT_TEACHER_KEYS", "REFERENCE_SEED", "RULE_PARAMS", "Study", "alternatives", "entry_keys", "entry_paths"]
