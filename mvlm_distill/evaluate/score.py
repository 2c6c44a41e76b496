"""Score one language of one benchmark: per-query ranks, then metrics with intervals.

``score_language`` writes the rows of a ``*.ranks.csv`` (``task, query_id, image_id, rank,
n_candidates``); ``metrics_table`` turns them into the metric rows of
``metrics.csv`` (``task, metric, value, ci_low, ci_high, n_queries``). Every
metric, interval and paired test downstream is computed from the same ranks.

``n_candidates`` is the largest rank the query could get: the gallery size for
``t2i``, 1 + the number of captions of other images for ``i2t``, the number of
answer candidates for ``vqa`` (1 / n_candidates is the chance level of R@1).

Pure numpy/pandas: no torch import here.
"""

from __future__ import annotations

import json
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from mvlm_distill.definitions import DEFAULT_PROTOCOL, METRICS, QUERIES, RANK_COLUMNS, TASKS, metric_values

from .retrieval import i2t_ranks, t2i_ranks
from .similarity import cosine_matrix
from .stats import bootstrap_cis
from .vqa import vqa_ranks

# the report floor reads them as its SCORE_COLUMNS (this floor imports nothing from it)
# Copied from mvlm_distill.report.tables.SCORE_COLUMNS with SCORE_COLUMNS->METRIC_COLUMNS
METRIC_COLUMNS = ["task", "metric", "value", "ci_low", "ci_high", "n_queries", "queries", "ties"]


def empty_ranks() -> pd.DataFrame:
    """The ranks table of a language with nothing to score."""
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("rank", "n_candidates") else "object") for c in RANK_COLUMNS})


class IdIndex:
    """The row of every id of an embedding file: built once, shared by all lookups into the file
    (one pass over its ids per job, not one per lookup).

    ``rows`` (optional, one per id): the file's row index when it stores each distinct text once
    (``mvlm_distill.io.load_compact_embeddings``); id ``i`` is then row ``rows[i]`` of the stored
    matrix, else row ``i``.
    """

    def __init__(self, ids: Sequence[str], what: str = "text", rows: Sequence[int] | None = None):
        self.what = what
        positions = range(len(ids)) if rows is None else np.asarray(rows).tolist()
        if len(positions) != len(ids):
            raise ValueError(f"{len(positions)} rows for {len(ids)} {what} ids")
        self.position = dict(zip(map(str, ids), positions))
        if len(self.position) != len(ids):
            raise ValueError(f"duplicate {what} ids in the embedding file")

    def rows(self, wanted: Iterable[str], what: str | None = None) -> np.ndarray:
        """Rows of ``wanted`` ids, in order; ``KeyError`` naming the ids without an embedding."""
        what = what or self.what
        if hasattr(wanted, "tolist"):  # pandas/numpy: one bulk conversion, not per-element access
            wanted = wanted.tolist()
        wanted = [w if isinstance(w, str) else str(w) for w in wanted]
        position = self.position
        try:
            rows = [position[w] for w in wanted]
        except KeyError:
            missing = [w for w in wanted if w not in position]
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise KeyError(f"{len(missing)} {what} id(s) have no embedding: {shown}") from None
        return np.asarray(rows, dtype=np.int64).reshape(len(wanted))


def _parse_candidates(value) -> list[str]:
    if isinstance(value, str):
        value = json.loads(value)
    return [str(c) for c in value]


def check_protocol(protocol: dict | None) -> dict:
    """The protocol with its defaults filled in; ``ValueError`` naming an unknown key or value."""
    from .retrieval import _check_ties

    protocol = {**DEFAULT_PROTOCOL, **(protocol or {})}
    unknown = sorted(set(protocol) - set(DEFAULT_PROTOCOL))
    if unknown:
        raise ValueError(f"unknown protocol key(s) {unknown}; expected {sorted(DEFAULT_PROTOCOL)}")
    if protocol["queries"] not in QUERIES:
        raise ValueError(f"unknown protocol queries {protocol['queries']!r}; expected one of {QUERIES}")
    _check_ties(protocol["ties"])
    return protocol


def protocol_captions(captions: pd.DataFrame, protocol: dict | None) -> pd.DataFrame:
    """The captions that are queries (t2i) and gallery (i2t): all, or each image's first in table order."""
    if check_protocol(protocol)["queries"] == "first":
        return captions.drop_duplicates("image_id", keep="first")
    return captions


def _single_language(frame: pd.DataFrame, what: str) -> None:
    if "language" in frame.columns and frame["language"].nunique() > 1:
        raise ValueError(f"{what} must hold one language, got {sorted(frame['language'].unique())}")


def score_language(
    text_embeddings: np.ndarray,
    text_ids: Sequence[str],
    image_embeddings: np.ndarray,
    image_ids: Sequence[str],
    captions: pd.DataFrame,
    vqa: pd.DataFrame | None = None,
    *,
    gallery_ids: Iterable[str] | None = None,
    text_index: IdIndex | None = None,
    protocol: dict | None = None,
) -> pd.DataFrame:
    """Per-query ranks of one language: t2i, i2t and (if ``vqa`` is given) vqa rows.

    ``text_embeddings``/``text_ids``: the benchmark's text embeddings (captions by
    ``caption_id``, VQA prompts by ``"{question_id}::{candidate index}"``).
    ``image_embeddings``/``image_ids``: image embeddings by ``image_id``.
    ``captions``: the test captions of one language (``image_id, caption_id``).
    The retrieval gallery is ``gallery_ids`` if given, else every image in
    ``image_ids``: pass the test images' ids when the file holds other splits.
    Gallery images without a caption in the language stay distractors for t2i
    but are not i2t queries. ``vqa``: the questions of the same language
    (``question_id, image_id, answer, candidates``), or None. ``text_index``: an
    ``IdIndex(text_ids)`` the caller already built (saves rebuilding it); built with
    ``rows``, ``text_embeddings`` may hold each distinct text once. ``protocol``: the retrieval
    protocol (``{"queries": "all" | "first", "ties": "pessimistic" | "index"}``, default
    ``DEFAULT_PROTOCOL``); VQA ranks are always pessimistic.
    """
    ties = check_protocol(protocol)["ties"]
    captions = protocol_captions(captions, protocol)
    image_ids = [str(i) for i in image_ids]
    text_emb = np.asarray(text_embeddings)
    image_emb = np.asarray(image_embeddings)
    if text_emb.ndim != 2 or (text_index is None and text_emb.shape[0] != len(text_ids)):
        raise ValueError("text_embeddings must be (len(text_ids), D)")
    if image_emb.ndim != 2 or image_emb.shape[0] != len(image_ids):
        raise ValueError("image_embeddings must be (len(image_ids), D)")
    _single_language(captions, "captions")

    if text_index is None:
        text_index = IdIndex(text_ids)

    frames = []
    gallery = image_ids if gallery_ids is None else [str(g) for g in gallery_ids]
    image_index = IdIndex(image_ids, "image")
    gallery_rows = image_index.rows(gallery)
    gallery_pos = {g: k for k, g in enumerate(gallery)}
    if len(captions):
        cap_img = captions["image_id"].astype(str).tolist()
        outside = sorted({i for i in cap_img if i not in gallery_pos})
        if outside:
            raise ValueError(f"{len(outside)} captioned image(s) not in the gallery: {', '.join(outside[:5])}")
        caption_image_index = np.fromiter((gallery_pos[i] for i in cap_img), dtype=np.int64, count=len(cap_img))
        caption_ids = captions["caption_id"].astype(str).tolist()
        # one matrix for both directions; identical texts (or images) get bit-identical scores
        sim = cosine_matrix(text_emb[text_index.rows(caption_ids, "caption")], image_emb[gallery_rows])

        ranks = t2i_ranks(sim, caption_image_index, ties=ties)
        frames.append(pd.DataFrame({"task": "t2i", "query_id": caption_ids, "image_id": cap_img, "rank": ranks,
                                    "n_candidates": len(gallery)}))

        queries = np.unique(caption_image_index)
        ranks = i2t_ranks(sim.T, caption_image_index, ties=ties)
        own = np.bincount(caption_image_index, minlength=len(gallery))[queries]
        frames.append(
            pd.DataFrame(
                {
                    "task": "i2t",
                    "query_id": [gallery[q] for q in queries],
                    "image_id": [gallery[q] for q in queries],
                    "rank": ranks,
                    "n_candidates": len(caption_ids) - own + 1,
                }
            )
        )

    if vqa is not None and len(vqa):
        _single_language(vqa, "vqa")
        question_ids = vqa["question_id"].astype(str).tolist()
        candidates = [_parse_candidates(c) for c in vqa["candidates"]]
        answers = vqa["answer"].astype(str).tolist()
        answer_index = []
        for qid, cands, ans in zip(question_ids, candidates, answers):
            if ans not in cands:
                raise ValueError(f"question {qid}: answer {ans!r} is not among its candidates")
            answer_index.append(cands.index(ans))
        prompt_ids = [f"{qid}::{k}" for qid, cands in zip(question_ids, candidates) for k in range(len(cands))]
        prompts = text_emb[text_index.rows(prompt_ids, "VQA prompt")]
        sizes = np.array([len(c) for c in candidates])
        groups = np.split(prompts, np.cumsum(sizes)[:-1])
        q_images = image_emb[image_index.rows(vqa["image_id"])]
        ranks = vqa_ranks(q_images, groups, np.array(answer_index))
        frames.append(pd.DataFrame({"task": "vqa", "query_id": question_ids, "image_id": vqa["image_id"].astype(str).tolist(),
                                    "rank": ranks, "n_candidates": sizes}))

    if not frames:
        return empty_ranks()
    out = pd.concat(frames, ignore_index=True)[RANK_COLUMNS]
    out["rank"] = out["rank"].astype("int64")
    out["n_candidates"] = out["n_candidates"].astype("int64")
    return out


def metrics_table(ranks: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                  protocol: dict | None = None) -> pd.DataFrame:
    """Metric rows (``task, metric, value, ci_low, ci_high, n_queries, queries, ties``) from a ranks table.

    ``value`` is the mean of the per-query values; the interval is the
    percentile bootstrap over the task's images (``stats.bootstrap_ci`` with the ranks' ``image_id``
    as clusters; without that column over queries), the same seed for every metric so that a
    task's metrics share resamples.
    Tasks appear in the order t2i, i2t, vqa; absent tasks have no rows. ``queries``, ``ties``: the
    ``protocol`` the ranks were scored under (VQA rows: ``all``, ``pessimistic``).
    """
    protocol = check_protocol(protocol)
    missing = [c for c in ("task", "rank") if c not in ranks.columns]
    if missing:
        raise ValueError(f"ranks table lacks column(s) {missing}")
    unknown = sorted(set(ranks["task"]) - set(TASKS))
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; expected {TASKS}")
    rows = []
    for task in TASKS:
        r = ranks.loc[ranks["task"] == task, "rank"].to_numpy()
        if r.size == 0:
            continue
        values = [metric_values(r, metric) for metric in METRICS[task]]
        # bootstrap_resamples: 0 in the config skips the intervals (left empty); the task's
        # metrics share the seeded resamples, drawn once (each interval = bootstrap_ci's)
        rows_of_task = ranks["task"] == task
        clusters = ranks.loc[rows_of_task, "image_id"].astype(str).to_numpy() if "image_id" in ranks.columns else None
        intervals = (bootstrap_cis(values, n_boot=n_boot, seed=seed, level=level, clusters=clusters) if n_boot
                     else [(np.nan, np.nan)] * len(values))
        for metric, v, (low, high) in zip(METRICS[task], values, intervals):
            scored = protocol if task != "vqa" else DEFAULT_PROTOCOL
            rows.append((task, metric, float(v.mean()), low, high, int(r.size), scored["queries"], scored["ties"]))
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


__all__ = ["score_language", "empty_ranks", "IdIndex", "metrics_table", "METRIC_COLUMNS", "check_protocol",
           "protocol_captions"]
