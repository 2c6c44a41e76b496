"""Text-image retrieval ranks and the metrics computed from them.

Semantics follow CLIP_benchmark's zero-shot retrieval. Ties (``ties``) count
``pessimistic`` by default (a wrong item with the same score as the right one ranks ahead
of it), so that a degenerate encoder (all scores equal) gets the worst rank, not
the best; ``index`` breaks them by position in the gallery (images.parquet order for t2i,
captions.parquet order for i2t), as CLIP_benchmark's and Babel-ImageNet's ``torch.topk``:

* text -> image (``t2i``): one query per caption, one correct image;
  rank = 1 + #(other images with score >= the correct image's score).
* image -> text (``i2t``): one query per image that has at least one caption in
  the language; the query succeeds at rank r if one of its own captions is
  ranked r-th; the other captions of the same image are not wrong items:
  rank = 1 + #(captions of other images with score >= the best own caption's score).

With ``ties="index"`` a wrong item with the same score ranks ahead only if it comes earlier.
Which captions are queries (``all`` or the ``first`` of each image) is chosen by the caller
(``score.score_language``); docs/analysis.md lists the published tables' protocols.

Metrics are fractions in [0, 1]: ``R@k`` = share of queries with rank <= k,
``MRR@k`` = mean of 1/rank where rank <= k (0 otherwise), ``acc@1`` = R@1 for VQA
(``mvlm_distill.definitions.metric_values``).

Pure numpy: no torch import here (per-language scoring jobs).
"""

from __future__ import annotations

import numpy as np

from mvlm_distill.definitions import METRICS, TASKS, TIES, metric_values

# rows per chunk so that a boolean comparison block stays around 16M cells
_CHUNK_CELLS = 1 << 24


def _chunks(n_rows: int, n_cols: int):
    step = max(1, _CHUNK_CELLS // max(1, n_cols))
    for start in range(0, n_rows, step):
        yield slice(start, min(n_rows, start + step))


def _check_index(index, n: int, what: str) -> np.ndarray:
    index = np.asarray(index)
    if index.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional")
    if index.size and not np.issubdtype(index.dtype, np.integer):
        raise ValueError(f"{what} must hold integer positions")
    index = index.astype(np.int64, copy=False)
    if index.size and (index.min() < 0 or index.max() >= n):
        raise ValueError(f"{what} has positions outside [0, {n})")
    return index


def _check_similarity(similarity, caption_image_index, caption_axis: int) -> tuple[np.ndarray, np.ndarray]:
    """The similarity matrix and the captions' image positions, checked against each other;
    ``caption_axis`` is the axis of ``similarity`` that runs over captions."""
    sim = np.asarray(similarity)
    shape = "(n_captions, n_images)" if caption_axis == 0 else "(n_images, n_captions)"
    if sim.ndim != 2:
        raise ValueError(f"similarity must be a {shape} matrix")
    idx = _check_index(caption_image_index, sim.shape[1 - caption_axis], "caption_image_index")
    if idx.shape[0] != sim.shape[caption_axis]:
        raise ValueError(f"{idx.shape[0]} image positions for {sim.shape[caption_axis]} captions")
    return sim, idx


def _check_ties(ties: str) -> str:
    if ties not in TIES:
        raise ValueError(f"unknown ties {ties!r}; expected one of {TIES}")
    return ties


def _ahead(block: np.ndarray, true: np.ndarray, first: np.ndarray, ties: str) -> np.ndarray:
    """Per row, which items rank ahead of (or with) the right one: score above it, or equal to it
    (pessimistic) or equal and earlier than column ``first`` (index); the right one itself counts."""
    if ties == "pessimistic":
        return block >= true[:, None]
    columns = np.arange(block.shape[1])[None, :]
    return (block > true[:, None]) | ((block == true[:, None]) & (columns <= first[:, None]))


def t2i_ranks(similarity: np.ndarray, caption_image_index, ties: str = "pessimistic") -> np.ndarray:
    """Rank of each caption's own image; ``similarity`` is (n_captions, n_images).

    ``caption_image_index[c]`` is the column of caption ``c``'s image. Returns
    int64 ranks (1-based, ties ``pessimistic`` or by ``index``), one per caption.
    """
    _check_ties(ties)
    sim, idx = _check_similarity(similarity, caption_image_index, caption_axis=0)
    ranks = np.empty(sim.shape[0], dtype=np.int64)
    for rows in _chunks(sim.shape[0], sim.shape[1]):
        block = sim[rows]
        true = block[np.arange(block.shape[0]), idx[rows]]
        # the correct image counts itself once: #(scores >= true) = 1 + #(wrong >= true)
        ranks[rows] = _ahead(block, true, idx[rows], ties).sum(axis=1)
    return ranks


def i2t_queries(caption_image_index, n_images: int | None = None) -> np.ndarray:
    """Images that are i2t queries (at least one caption), ascending: the order of ``i2t_ranks``."""
    idx = np.asarray(caption_image_index, dtype=np.int64)
    queries = np.unique(idx)
    if n_images is not None and queries.size and queries.max() >= n_images:
        raise ValueError(f"caption_image_index has positions outside [0, {n_images})")
    return queries


def i2t_ranks(similarity: np.ndarray, caption_image_index, ties: str = "pessimistic") -> np.ndarray:
    """Rank of each image's best-ranked own caption; ``similarity`` is (n_images, n_captions).

    Only images with at least one caption are queries; the result has one rank
    per query image, in ascending image order (``i2t_queries`` gives the images).
    Other captions of the query image are not counted as wrong items. With ``ties="index"``
    the right caption is the query's first best-scoring own caption.
    """
    _check_ties(ties)
    sim, idx = _check_similarity(similarity, caption_image_index, caption_axis=1)
    queries = np.unique(idx)
    ranks = np.empty(queries.size, dtype=np.int64)
    for rows in _chunks(queries.size, sim.shape[1]):
        q = queries[rows]
        block = sim[q]
        own = idx[None, :] == q[:, None]
        scores = np.where(own, block, -np.inf)
        best = scores.max(axis=1)
        first = (scores == best[:, None]).argmax(axis=1)
        ranks[rows] = 1 + (_ahead(block, best, first, ties) & ~own).sum(axis=1)
    return ranks


def metrics_from_ranks(ranks, task: str) -> dict[str, float]:
    """The task's metrics (see ``METRICS``) as fractions; NaN when there are no queries."""
    if task not in METRICS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    r = np.asarray(ranks)
    out = {}
    for metric in METRICS[task]:
        values = metric_values(r, metric)
        out[metric] = float(values.mean()) if values.size else float("nan")
    return out


__all__ = ["t2i_ranks", "i2t_ranks", "i2t_queries", "metrics_from_ranks"]
