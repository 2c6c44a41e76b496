"""The teacher check: before any GPU-hour of distillation, score the teacher under each published
reference's protocol and compare (rule check_teacher; ``distill`` depends on it).

A reference file (``configs/teacher_references.yaml``) is a list of entries::

    - teacher: {checkpoint: xlm-roberta-base-ViT-B-32, pretrained: laion5b_s13b_b90k}  # model keys it matches
      benchmark: xm3600              # benchmark kind (config benchmarks.*.kind)
      protocol: {queries: first, ties: index}
      source: where the values were published
      task: t2i                      # t2i or i2t
      metric: R@1
      values: {en: 47.0, de: 64.5}   # per language, in percent (optional)
      average: 42.6                  # mean over average_languages languages (optional)
      average_languages: 36

Pure numpy/pandas: no torch (the check reads the teacher row's embeddings).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from mvlm_distill.definitions import METRICS, RETRIEVAL_TASKS

from .score import check_protocol

CHECK_COLUMNS = ["benchmark", "language", "task", "metric", "queries", "ties", "expected", "measured",
                 "difference", "tolerance", "reproduced", "source"]
AVERAGE = "average"  # the language of a row that checks the mean over languages


class TeacherCheckError(RuntimeError):
    """A teacher does not reproduce a published value."""


def load_references(path: str | Path) -> list[dict]:
    """The entries of a reference file, checked; ``ValueError`` naming the file and the entry."""
    path = Path(path)
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"{path}: not a readable YAML reference file ({err}).") from None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: a reference file is a list of entries.")
    for i, entry in enumerate(entries):
        where = f"{path}: entry {i + 1}"
        missing = [k for k in ("teacher", "benchmark", "protocol", "source", "task", "metric") if k not in entry]
        if missing:
            raise ValueError(f"{where} lacks {', '.join(missing)}.")
        if entry["task"] not in RETRIEVAL_TASKS or entry["metric"] not in METRICS[entry["task"]]:
            raise ValueError(f"{where}: {entry['task']} {entry['metric']} is no retrieval metric of the study.")
        if not entry.get("values") and "average" not in entry:
            raise ValueError(f"{where} gives neither values nor an average.")
        if "average" in entry and "average_languages" not in entry:
            raise ValueError(f"{where}: an average needs average_languages (how many languages it is over).")
        try:
            check_protocol(entry["protocol"])
        except ValueError as err:
            raise ValueError(f"{where}: {err}.") from None
    return entries


def references_for(entries: list[dict], model: dict, benchmarks: dict[str, dict]) -> list[dict]:
    """The entries whose ``teacher`` keys all equal the model's and whose benchmark kind is one of
    ``benchmarks`` (evaluated name -> config block), each with ``benchmark`` set to that name."""
    found = []
    for entry in entries:
        if all(model.get(k) == v for k, v in entry["teacher"].items()):
            for name, spec in benchmarks.items():
                if spec.get("kind") == entry["benchmark"]:
                    found.append({**entry, "benchmark": name})
    return found


def compare(references: list[dict], measured: dict, *, tolerance: float, average_tolerance: float) -> pd.DataFrame:
    """One row per published value. ``measured[(benchmark, queries, ties)][language]`` is a metrics table
    (``score.metrics_table``); values in percent. The average is checked only when the study scores as
    many of the benchmark's languages as the published average is over."""
    rows = []
    for ref in references:
        protocol = check_protocol(ref["protocol"])
        by_language = measured[(ref["benchmark"], protocol["queries"], protocol["ties"])]
        value = {lang: 100 * float(t.loc[(t.task == ref["task"]) & (t.metric == ref["metric"]), "value"].iloc[0])
                 for lang, t in by_language.items()}
        checks = [(lang, exp, value.get(lang), tolerance) for lang, exp in (ref.get("values") or {}).items()]
        if "average" in ref and len(value) == ref["average_languages"]:
            checks.append((AVERAGE, ref["average"], float(np.mean(list(value.values()))), average_tolerance))
        for lang, expected, got, tol in checks:
            if got is None:
                continue  # a language the study does not score
            rows.append({"benchmark": ref["benchmark"], "language": lang, "task": ref["task"],
                         "metric": ref["metric"], **protocol, "expected": float(expected), "measured": round(got, 4),
                         "difference": round(got - float(expected), 4), "tolerance": tol,
                         "reproduced": bool(abs(got - float(expected)) <= tol), "source": ref["source"]})
    return pd.DataFrame(rows, columns=CHECK_COLUMNS)


def mismatch_sentence(model: str, table: pd.DataFrame) -> str | None:
    """One sentence naming the first value the teacher does not reproduce (None when all do)."""
    failed = table[~table["reproduced"].astype(bool)]
    if failed.empty:
        return None
    row = failed.iloc[0]
    more = f" ({len(failed) - 1} more in the check's table)" if len(failed) > 1 else ""
    return (f"Teacher {model} does not reproduce its published {row.benchmark} {row.task} {row.metric} in "
            f"{row.language} ({row.queries} captions, {row.ties} ties): expected {row.expected:g}, measured "
            f"{row.measured:.1f} (tolerance {row.tolerance:g}; {row.source}){more}.")


__all__ = ["load_references", "references_for", "compare", "mismatch_sentence", "TeacherCheckError",
           "CHECK_COLUMNS"]
