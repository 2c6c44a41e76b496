"""Do caption embeddings cluster by meaning (image) or by language?

All languages' caption embeddings are pooled and clustered with k-means, k =
the number of distinct images. ``nmi_image`` is the normalised mutual
information between clusters and images (high: clusters are meanings),
``nmi_language`` between clusters and languages (high: clusters are languages,
the encoder separates languages instead of aligning them). ``silhouette_image``
is the cosine silhouette of the true image grouping (in [-1, 1]; high: captions
of one image, in any language, are closer to each other than to other images'
captions); NaN when it is undefined (every image has a single caption, or a
single image).

NMI is not adjusted for chance: with k = several hundred clusters a random
clustering already scores well above 0, and a clustering that separates
languages perfectly into k / n_languages even clusters per language stays far
below 1. ``ami_image`` and ``ami_language`` are the adjusted
mutual information (0 for chance, 1 for identical partitions), and
``clustering_references`` gives, for every metric, a **random baseline** (the
k-means labels randomly permuted: same cluster sizes, no relation to the
captions) and a **perfect reference** (the metric of the best clustering with
k clusters: the image grouping itself for the image metrics; for the language
metrics one cluster per language plus k - n_languages singletons).

Pure numpy/sklearn: no torch import here.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score, silhouette_score

CLUSTERING_METRICS = ("nmi_image", "nmi_language", "ami_image", "ami_language", "silhouette_image")
_SCORES = {"nmi": normalized_mutual_info_score, "ami": adjusted_mutual_info_score}
RANDOM_PERMUTATIONS = 5  # random clusterings averaged for the baseline


def _label_scores(images: np.ndarray, languages: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return {f"{name}_{what}": float(score(truth, labels))
            for name, score in _SCORES.items() for what, truth in (("image", images), ("language", languages))}


def _language_pure_labels(languages: np.ndarray, k: int) -> np.ndarray:
    """The best k-cluster partition for the language metrics: one cluster per language, and (when k is
    larger) k - n_languages captions in clusters of their own, so every cluster is pure in language
    and the partition is as close to the languages themselves as k clusters allow."""
    _, codes = np.unique(languages, return_inverse=True)
    labels = codes.reshape(-1).astype(np.int64)
    n_lang = int(labels.max()) + 1 if labels.size else 0
    extra = max(0, min(k, labels.size) - n_lang)
    # singletons taken round-robin over languages, so no language loses many captions
    order = np.lexsort((np.arange(labels.size), labels))
    rank_in_language = np.empty(labels.size, dtype=np.int64)
    rank_in_language[order] = np.arange(labels.size) - np.searchsorted(labels[order], labels[order])
    pick = np.lexsort((labels, rank_in_language))[:extra]
    labels[pick] = n_lang + np.arange(extra)
    return labels


def clustering_references(image_ids: Sequence, language_ids: Sequence, labels, seed: int = 0) -> dict[str, tuple[float, float]]:
    """``{metric: (random baseline, perfect reference)}`` for the NMI/AMI metrics of ``clustering``.

    Random: the mean over ``RANDOM_PERMUTATIONS`` seeded permutations of ``labels`` (the k-means
    clusters, so the same sizes). Perfect: the image grouping for ``*_image``; for ``*_language`` one
    cluster per language plus singletons up to as many clusters as ``labels``. ``silhouette_image``
    has neither (NaN).
    """
    images = np.asarray([str(i) for i in image_ids])
    languages = np.asarray([str(lang) for lang in language_ids])
    labels = np.asarray(labels)
    nan = {m: (float("nan"), float("nan")) for m in CLUSTERING_METRICS}
    if labels.size == 0:
        return nan
    rng = np.random.default_rng(seed)
    random = [_label_scores(images, languages, rng.permutation(labels)) for _ in range(RANDOM_PERMUTATIONS)]
    k = len(np.unique(labels))
    by_image = _label_scores(images, languages, np.unique(images, return_inverse=True)[1])
    by_language = _label_scores(images, languages, _language_pure_labels(languages, k))
    out = dict(nan)
    for metric in random[0]:
        perfect = by_image if metric.endswith("_image") else by_language
        out[metric] = (float(np.mean([r[metric] for r in random])), perfect[metric])
    return out


def cosine_silhouette(unit_rows: np.ndarray, groups) -> float:
    """``sklearn.metrics.silhouette_score(unit_rows, groups, metric="cosine")`` of L2-normalised rows
    without the (n, n) distance matrix, equal to float rounding (~1e-15).

    A row's summed cosine distance to a group is ``size - row . (sum of the group's rows)``, so
    one (n, D) x (D, groups) product replaces the pairwise distances; its own distance (0) is
    taken out of its group's sum. A row alone in its group scores 0, as in sklearn.
    """
    x = np.asarray(unit_rows, dtype=np.float64)
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    codes = codes.reshape(-1)
    k = int(codes.max()) + 1
    sizes = np.bincount(codes, minlength=k).astype(np.float64)
    sums = np.zeros((k, x.shape[1]))
    np.add.at(sums, codes, x)
    distance_sums = sizes[None, :] - x @ sums.T  # (n, k): sum over the group of 1 - cos
    rows = np.arange(x.shape[0])
    own = distance_sums[rows, codes] - (1.0 - np.einsum("nd,nd->n", x, x))
    others = sizes[codes] - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        a = own / others
        means = distance_sums / sizes[None, :]
        means[rows, codes] = np.inf
        b = means.min(axis=1)
        s = np.nan_to_num((b - a) / np.maximum(a, b))
    s[others == 0] = 0.0
    return float(s.mean())


def clustering(
    embeddings,
    image_ids: Sequence,
    language_ids: Sequence,
    seed: int = 0,
    *,
    n_init: int = 3,
    silhouette_sample_size: int | None = None,
    return_labels: bool = False,
):
    """``nmi_image``, ``nmi_language``, ``ami_image``, ``ami_language`` and ``silhouette_image`` of pooled
    caption embeddings (with ``return_labels``: ``(metrics, k-means labels)``).

    ``embeddings``: (n, D) captions of all languages; ``image_ids[i]`` and
    ``language_ids[i]`` label row ``i``. k-means on the L2-normalised rows
    (k-means++ init, ``n_init`` restarts, ``random_state=seed``).
    ``silhouette_sample_size`` subsamples the silhouette (seeded) for large inputs.
    """
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("embeddings must be (n, D)")
    images = np.asarray([str(i) for i in image_ids])
    languages = np.asarray([str(lang) for lang in language_ids])
    if images.shape[0] != x.shape[0] or languages.shape[0] != x.shape[0]:
        raise ValueError("image_ids and language_ids need one entry per embedding")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    n = x.shape[0]
    k = len(np.unique(images))
    if n == 0 or k < 1:
        empty = {m: float("nan") for m in CLUSTERING_METRICS}
        return (empty, np.zeros(0, dtype=np.int64)) if return_labels else empty

    if k == 1:
        labels = np.zeros(n, dtype=np.int64)
    else:
        labels = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(x)
    out = _label_scores(images, languages, labels)
    if 2 <= k <= n - 1:
        if silhouette_sample_size is None or silhouette_sample_size >= n:
            out["silhouette_image"] = cosine_silhouette(x, images)
        else:
            out["silhouette_image"] = float(silhouette_score(
                x, images, metric="cosine", sample_size=silhouette_sample_size, random_state=seed))
    else:
        out["silhouette_image"] = float("nan")
    out = {m: out[m] for m in CLUSTERING_METRICS}
    return (out, labels) if return_labels else out


__all__ = ["clustering", "cosine_silhouette", "clustering_references", "CLUSTERING_METRICS"]
