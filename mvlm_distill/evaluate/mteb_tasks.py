"""The mteb block of a study config: which MIEB image-text retrieval tasks score which rows.

Pure Python (no mteb import): the workflow reads it while planning. The tasks' datasets are fetched
by the fetch step (rule ``fetch_mteb_dataset``, ``mvlm_distill.hub``) at the revisions mteb pins, so
the scoring jobs (rule ``mteb_evaluate``, ``mvlm_distill.evaluate.mteb_adapter``) stay offline::

    mteb:
      tasks: [XM3600T2IRetrieval, XM3600I2TRetrieval]
      rows: [toy-clip/teacher, toy-clip/init, toy-clip/ED/seed0]
      languages: [en, de]   # optional: the study's languages the task offers
"""

from __future__ import annotations

#: mteb 2.26.24's task metadata (``mteb.get_task(name).metadata.dataset``; tests/test_mteb_rule.py
#: checks it against the installed mteb): the Hub dataset, the revision mteb pins, the direction
MTEB_TASKS = {
    "XM3600T2IRetrieval": {"dataset": "mteb/xm3600", "revision": "536cd45bbfe53de9b08c0483bb4a76a4bd3673fa",
                           "task": "t2i"},
    "XM3600I2TRetrieval": {"dataset": "mteb/xm3600", "revision": "536cd45bbfe53de9b08c0483bb4a76a4bd3673fa",
                           "task": "i2t"},
    "XFlickr30kCoT2IRetrieval": {"dataset": "mteb/xflickrco", "revision": "4da629e05455d757306174cdc72f2edfe00b9027",
                                 "task": "t2i"},
    "XFlickr30kCoI2TRetrieval": {"dataset": "mteb/xflickrco", "revision": "4da629e05455d757306174cdc72f2edfe00b9027",
                                 "task": "i2t"},
    "Multi30kT2IRetrieval": {"dataset": "vnahata/Multi30k-T2I", "revision": "b41de7a143914c34c751b60f139fa8b5d7cd5211",
                             "task": "t2i"},
    "Multi30kI2TRetrieval": {"dataset": "vnahata/Multi30k-I2T", "revision": "43493b9dd88a89493b0f5904a4118012b5b66acf",
                             "task": "i2t"},
}

#: the scores of mteb's result files that tables/mteb.csv keeps: the leaderboard's main score
#: (nDCG@10) and the hit rates, which are the project's R@K (any relevant item in the top k)
MTEB_METRICS = ("ndcg_at_10", "hit_rate_at_1", "hit_rate_at_5", "hit_rate_at_10", "mrr_at_10")

#: tables/mteb.csv: the row's keys, mteb's task name and direction (``task``: t2i, i2t), the language
#: (mteb's hf_subset), the metric and its value, the dataset and revision scored, mteb's version
MTEB_COLUMNS = ("model", "family", "method", "seed", "mteb_task", "task", "language", "metric", "value",
                "dataset", "dataset_revision", "mteb_version")

REFERENCE_ROWS = ("teacher", "init")


def parse_row(key: str) -> tuple[str, str, int | None]:
    """``(model, method, seed)`` of ``model/teacher``, ``model/init`` or ``model/method/seedN``."""
    parts = str(key).split("/")
    if len(parts) == 2 and parts[1] in REFERENCE_ROWS:
        return parts[0], parts[1], None
    if len(parts) == 3 and parts[1] not in REFERENCE_ROWS and parts[2].startswith("seed") \
            and parts[2][len("seed"):].isdigit():
        return parts[0], parts[1], int(parts[2][len("seed"):])
    raise ValueError(f"{key!r} is not a row: model/teacher, model/init or model/method/seedN")


def mteb_problem(block: dict, models, methods, seeds) -> str | None:
    """The sentence that refuses an mteb block naming a task mteb does not have or a row the study
    does not make, or None."""
    for i, name in enumerate(block.get("tasks", [])):
        if name not in MTEB_TASKS:
            return (f"mteb.tasks[{i}]: {name!r} is not one of the MIEB image-text retrieval tasks this "
                    f"project runs ({', '.join(MTEB_TASKS)})")
    for i, key in enumerate(block.get("rows", [])):
        try:
            model, method, seed = parse_row(key)
        except ValueError as err:
            return f"mteb.rows[{i}]: {err}"
        if model not in models:
            return f"mteb.rows[{i}]: {key!r} names model {model!r}, not one of the study's models ({', '.join(models)})"
        if seed is not None and (method not in methods or str(seed) not in {str(s) for s in seeds}):
            return (f"mteb.rows[{i}]: {key!r} is not a student of this study (methods: {', '.join(methods)}; "
                    f"seeds: {', '.join(str(s) for s in seeds)})")
    return None


def mteb_artifacts(tasks) -> list:
    """The Hub datasets of the given tasks at mteb's pinned revisions, one per dataset and revision."""
    from mvlm_distill.hub import Artifact

    out = {}
    for name in tasks:
        spec = MTEB_TASKS[name]
        key = (spec["dataset"], spec["revision"])
        if key not in out:
            out[key] = Artifact(spec["dataset"], "dataset", spec["revision"], f"mteb.tasks ({name})")
    return list(out.values())


__all__ = ["MTEB_COLUMNS", "MTEB_METRICS", "MTEB_TASKS", "mteb_artifacts", "mteb_problem", "parse_row"]
