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

Pure numpy/sklearn: no torch import here.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score, silhouette_score

CLUSTERING_METRICS = ("nmi_image", "nmi_language", "silhouette_image")


def clustering(
    embeddings,
    image_ids: Sequence,
    language_ids: Sequence,
    seed: int = 0,
    *,
    n_init: int = 3,
    silhouette_sample_size: int | None = None,
) -> dict[str, float]:
    """``nmi_image``, ``nmi_language`` and ``silhouette_image`` of pooled caption embeddings.

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
        return {m: float("nan") for m in CLUSTERING_METRICS}

    if k == 1:
        labels = np.zeros(n, dtype=np.int64)
    else:
        labels = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(x)
    out = {
        "nmi_image": float(normalized_mutual_info_score(images, labels)),
        "nmi_language": float(normalized_mutual_info_score(languages, labels)),
    }
    if 2 <= k <= n - 1:
        sample = None if silhouette_sample_size is None or silhouette_sample_size >= n else silhouette_sample_size
        out["silhouette_image"] = float(
            silhouette_score(x, images, metric="cosine", sample_size=sample, random_state=seed)
        )
    else:
        out["silhouette_image"] = float("nan")
    return out


__all__ = ["clustering", "CLUSTERING_METRICS"]
