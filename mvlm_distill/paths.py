"""Where each result lives under the results folder, defined once for the rules and the scripts.

Every location is a pattern with Snakemake wildcards (``{model}``, ``{method}``, ``{seed}``,
``{benchmark}``, ...). Called without fields, a ``ResultPaths`` method returns the pattern a rule
declares; with fields, the concrete path an input function or a script needs. Fields not given
stay wildcards, so ``image_cache(split="test")`` is still a pattern in ``{model}`` and ``{benchmark}``.

Pure Python: imported when the Snakefile is parsed.
"""

from __future__ import annotations

import os
from pathlib import Path

#: the key of one evaluated row: the teacher, ``init`` or a distilled student
ROW = "{model}/{method}/seed{seed}"
#: the key of one distilled student (rules whose method wildcard ranges over the KD methods only)
STUDENT = "{model}/{kd_method}/seed{seed}"


class _KeepWildcards(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(pattern: str, **fields) -> str:
    """``pattern`` with the given fields filled in and every other wildcard kept."""
    return pattern.format_map(_KeepWildcards({k: str(v) for k, v in fields.items()}))


def parse_student(key: str) -> tuple[str, str, int]:
    """``(model, method, seed)`` of a student key such as ``toy-clip/ED/seed0``."""
    parts = key.split("/")
    if len(parts) != 3 or not parts[2].startswith("seed") or not parts[2][len("seed"):].isdigit():
        raise ValueError(f"{key!r} is not a student key model/method/seedN")
    return parts[0], parts[1], int(parts[2][len("seed"):])


def benchmark_folder(declared) -> Path:
    """A prepared benchmark as a rule declares it: one folder (``ResultPaths.benchmark_dir``), the
    output of prepare_benchmark and the input of each step that reads the benchmark, which reads
    every file of it under that folder (``data.formats.read_benchmark``), none by a path of its own."""
    if not isinstance(declared, (str, os.PathLike)):
        raise ValueError(f"a prepared benchmark is declared as its one folder, got {declared!r}")
    return Path(declared)


def optional_input(files) -> str | None:
    """The path of a named input that holds one path or none (a toy teacher's folder, a vocabulary)."""
    if len(files) > 1:
        raise ValueError(f"expected one path or none, got {list(files)}")
    return files[0] if files else None


class ResultPaths:
    """The paths of one results folder."""

    def __init__(self, root: str | os.PathLike):
        self.root = str(root)

    def _path(self, pattern: str, fields: dict) -> str:
        return f"{self.root}/{fill(pattern, **fields)}"

    def benchmark_dir(self, **fields) -> str:
        """A prepared benchmark (``docs/formats.md``): one folder, rule prepare_benchmark's one declared
        output and the declared input of every step that reads it (``benchmark_folder``)."""
        return self._path("data/{benchmark}", fields)

    def hub_model(self, **fields) -> str:
        """The fetch record of a Hub model (rule fetch_model)."""
        return self._path("hub/models/{model}.json", fields)

    def hub_benchmark(self, **fields) -> str:
        """The fetch record of a Hub dataset (rule fetch_benchmark)."""
        return self._path("hub/benchmarks/{benchmark}.json", fields)

    def hub_mteb(self, **fields) -> str:
        """The fetch record of an mteb task's Hub dataset (rule fetch_mteb_dataset)."""
        return self._path("hub/mteb/{mteb_task}.json", fields)

    def mteb_results(self, **fields) -> str:
        """mteb's result files of one row (rule mteb_evaluate), in mteb's cache layout."""
        return self._path(f"mteb/{ROW}/results", fields)

    def mteb_scores(self, **fields) -> str:
        """The scores of one row's mteb result files, as rows of tables/mteb.csv."""
        return self._path(f"mteb/{ROW}/scores.csv", fields)

    def corpus(self, name: str) -> str:
        """A selected corpus (``pretraining``, ``distillation``)."""
        return f"{self.root}/corpus/{name}.csv"

    def teacher(self, **fields) -> str:
        """A toy teacher pretrained by the workflow."""
        return self._path("teachers/{model}", fields)

    def image_cache(self, **fields) -> str:
        """Teacher image embeddings of one benchmark split."""
        return self._path("caches/{model}/{benchmark}/{split}.images.npz", fields)

    def corpus_cache(self, name: str, **fields) -> str:
        """Teacher caches of the distillation corpus (``teacher_text.npz``, ``tokens.npz``)."""
        return self._path(f"caches/{{model}}/corpus/{name}", fields)

    def student(self, **fields) -> str:
        return self._path(f"students/{STUDENT}", fields)

    def checkpoint(self, **fields) -> str:
        """Resume state of a distillation job, kept outside the declared output."""
        return self._path(f"checkpoints/{STUDENT}", fields)

    def export(self, **fields) -> str:
        return self._path(f"exports/{STUDENT}", fields)

    def export_info(self, **fields) -> str:
        """An export's ``mvlm_export.json``: the export_student rule's declared output (a folder output
        would get Snakemake's ``.snakemake_timestamp``, no file of the model)."""
        return f"{self.export(**fields)}/mvlm_export.json"

    def export_of(self, key: str) -> str:
        """The ``mvlm_export.json`` of the export of a student key ``model/method/seedN``
        (``publish.repositories[].export``)."""
        model, method, seed = parse_student(key)
        return self.export_info(model=model, kd_method=method, seed=seed)

    def published(self) -> str:
        """The record of what publish_exports uploaded."""
        return f"{self.root}/exports/published.json"

    def embeddings(self, **fields) -> str:
        """Text embedding folder of one row on one benchmark."""
        return self._path(f"embeddings/{ROW}/{{benchmark}}", fields)

    def scores(self, name: str, **fields) -> str:
        """A score file of one row on one benchmark (``{language}.ranks.csv``, ``clustering.csv``, ...)."""
        return self._path(f"scores/{ROW}/{{benchmark}}/{name}", fields)

    def vocabulary(self, **fields) -> str:
        return self._path("vocabulary/{model}.json", fields)

    def teacher_check(self, **fields) -> str:
        """The teacher check's table of one model (rule check_teacher)."""
        return self._path("teacher_check/{model}.csv", fields)

    def table(self, name: str) -> str:
        return f"{self.root}/tables/{name}.csv"

    def log(self, rule: str, *key: str) -> str:
        """A rule's log: ``logs/{rule}/{key}.log`` (the key is the job's wildcards)."""
        return f"{self.root}/logs/{'/'.join((rule, *key))}.log"

    def job_benchmark(self, rule: str, *key: str) -> str:
        """A rule's Snakemake benchmark file: ``benchmarks/{rule}/{key}.tsv``."""
        return f"{self.root}/benchmarks/{'/'.join((rule, *key))}.tsv"


__all__ = ["ROW", "STUDENT", "ResultPaths", "benchmark_folder", "fill", "optional_input", "parse_student"]
