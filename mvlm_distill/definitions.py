"""The study's vocabulary, defined once: tasks and their metrics, the one metric formula, the
columns of a ranks table, the reference rows, model families, consistency metrics, the default
student layer map and language names.

Imported when the Snakefile is parsed and by light scoring and table jobs: numpy only, no torch.
"""

from __future__ import annotations

import re

import numpy as np

#: metrics of each task, in table order; values are fractions in [0, 1] computed by ``metric_values``
METRICS: dict[str, tuple[str, ...]] = {
    "t2i": ("R@1", "R@5", "R@10", "MRR@10"),
    "i2t": ("R@1", "R@5", "R@10", "MRR@10"),
    "vqa": ("acc@1", "MRR@5"),
}
TASKS = tuple(METRICS)
RETRIEVAL_TASKS = ("t2i", "i2t")
#: every metric name once, in table order
METRIC_ORDER = tuple(dict.fromkeys(m for metrics in METRICS.values() for m in metrics))

#: columns of a ranks table (``{language}.ranks.csv``): one row per query; ``image_id`` is the image the
#: query is about (a caption's image, the i2t query image, a question's image): the unit of every
#: interval and paired test (``evaluate.stats``), since the queries of one image are correlated
RANK_COLUMNS = ["task", "query_id", "image_id", "rank", "n_candidates"]

#: retrieval protocols (``evaluation.protocol``): which captions are queries (``all``, or the
#: ``first`` of each image and language) and how ties count (``pessimistic``, or by ``index``)
QUERIES = ("all", "first")
TIES = ("pessimistic", "index")
DEFAULT_PROTOCOL = {"queries": "all", "ties": "pessimistic"}

#: rows evaluated once per model beside the distilled students: the teacher, and ``init``
#: (the student's layers before distillation)
REFERENCES = ("teacher", "init")

#: model families; a family decides the contrastive loss (softmax for CLIP, sigmoid for SigLIP 2)
FAMILIES = ("clip", "siglip2")

#: cross-lingual consistency metrics of parallel captions, and their per-image form
CONSISTENCY_METRICS = ("cosine_to_en", "top10_overlap", "bitext_to_en", "bitext_from_en")
IMAGE_CONSISTENCY_METRICS = tuple(f"image_{m}" for m in CONSISTENCY_METRICS)

#: English names of the languages the adapters know (for reports and error messages)
LANGUAGE_NAMES: dict[str, str] = {
    "ar": "Arabic", "bn": "Bengali", "cs": "Czech", "da": "Danish", "de": "German",
    "el": "Greek", "en": "English", "es": "Spanish", "fa": "Persian", "fi": "Finnish",
    "fil": "Filipino", "fr": "French", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian",
    "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese", "ko": "Korean",
    "mi": "Maori", "nl": "Dutch", "no": "Norwegian", "pl": "Polish", "pt": "Portuguese",
    "quz": "Cusco Quechua", "ro": "Romanian", "ru": "Russian", "sv": "Swedish", "sw": "Swahili",
    "te": "Telugu", "th": "Thai", "tr": "Turkish", "uk": "Ukrainian", "vi": "Vietnamese",
    "zh": "Chinese",
}  # fmt: skip


def default_layer_map(n_layers: int) -> list[int]:
    """Every other layer, starting with the first: [0, 2] of 4, [0, 2, ..., 10] of 12."""
    return list(range(0, n_layers, 2))


_METRIC = re.compile(r"^(R|acc|MRR)@([1-9][0-9]*)$")


def metric_values(ranks, metric: str) -> np.ndarray:
    """Per-query values of one metric from 1-based ranks: ``R@k`` and ``acc@k`` = rank <= k,
    ``MRR@k`` = 1/rank where rank <= k, else 0."""
    m = _METRIC.match(metric)
    if not m:
        raise ValueError(f"unknown metric {metric!r}; expected R@k, acc@k or MRR@k")
    r = np.asarray(ranks, dtype=np.float64)
    if r.size and (np.isnan(r).any() or r.min() < 1):
        raise ValueError("ranks must be 1-based and finite")
    k = int(m.group(2))
    if m.group(1) == "MRR":
        return np.where(r <= k, 1.0 / np.maximum(r, 1.0), 0.0)
    return (r <= k).astype(np.float64)


def expected_metric_values(metric: str, ahead, wrong_tied, own_tied) -> np.ndarray:
    """Per query, a metric's expected value when the tied candidates are ordered at random.

    A query has ``ahead`` wrong candidates scored above every right one and, at the right ones' top
    score, ``wrong_tied`` wrong and ``own_tied`` (>= 1) right candidates in random order; the rank
    is 1 + ahead + the number of wrong candidates before the first right one among the tied, X,
    with P(X >= x) = prod_{i < x} (wrong_tied - i) / (wrong_tied + own_tied - i) (drawing without
    replacement). Chance is ``ahead = 0`` with every candidate tied; a ranking without ties is
    ``wrong_tied = 0``. Example (1,998 wrong captions and an image's 2 own, all tied: chance
    R@1 of i2t)::

        >>> round(float(expected_metric_values("R@1", [0], [1998], [2])[0]), 12)
        0.001
    """
    ahead, wrong, own = (np.atleast_1d(np.asarray(x, dtype=np.int64)) for x in (ahead, wrong_tied, own_tied))
    if (own < 1).any() or (wrong < 0).any() or (ahead < 0).any():
        raise ValueError("need own_tied >= 1, wrong_tied >= 0 and ahead >= 0")
    out = np.empty(np.broadcast(ahead, wrong, own).shape)
    cache: dict[tuple[int, int, int], float] = {}
    for i, (a, w, k) in enumerate(np.broadcast(ahead, wrong, own)):
        key = (int(a), int(w), int(k))
        if key not in cache:
            x = np.arange(w + 1)
            survival = np.concatenate([[1.0], np.cumprod((w - x[:-1]) / (w + k - x[:-1]))]) if w else np.ones(1)
            pmf = survival - np.append(survival[1:], 0.0)
            cache[key] = float(pmf @ metric_values(1 + a + x, metric))
        out[i] = cache[key]
    return out



__all__ = [
    "METRICS", "TASKS", "RETRIEVAL_TASKS", "QUERIES", "TIES", "DEFAULT_PROTOCOL", "METRIC_ORDER", "RANK_COLUMNS",
    "REFERENCES", "FAMILIES",
    "CONSISTENCY_METRICS", "IMAGE_CONSISTENCY_METRICS", "LANGUAGE_NAMES", "default_layer_map",
    "metric_values", "expected_metric_values",
]  # fmt: skip
