"""Cross-lingual consistency: does a caption behave the same in a language and in English?

Input: parallel captions, row ``i`` of ``emb_lang`` being the translation of row
``i`` of ``emb_en`` (matched by ``parallel_id``), and the image gallery.

* ``cosine_to_en``: mean cosine between each caption and its English counterpart.
* ``top10_overlap``: mean |top-10 images(caption) & top-10 images(English)| / 10
  (k is capped at the gallery size), in [0, 1].
* ``bitext_to_en`` / ``bitext_from_en``: bitext retrieval accuracy among the
  parallel captions: the share of captions whose nearest English caption is
  their own translation (and back), ties pessimistic (a tie with another
  caption counts as a miss).

A language-agnostic encoder on exact translations scores 1 on all four.
Pure numpy: no torch import here.
"""

from __future__ import annotations

import numpy as np

CONSISTENCY_METRICS = ("cosine_to_en", "top10_overlap", "bitext_to_en", "bitext_from_en")


def _normalise(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError("embeddings must be 2-D (n, D)")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _top_k(sim: np.ndarray, k: int) -> np.ndarray:
    """Indices (unordered) of the k largest entries of each row.

    Which of several tied items at the k-th place is kept is arbitrary but
    deterministic: identical rows always give identical sets.
    """
    if k >= sim.shape[1]:
        return np.broadcast_to(np.arange(sim.shape[1]), sim.shape)
    return np.argpartition(-sim, k - 1, axis=1)[:, :k]


def _bitext_accuracy(sim: np.ndarray) -> float:
    """Share of rows whose diagonal entry is strictly larger than every other entry of the row."""
    diag = np.diagonal(sim)
    return float(((sim >= diag[:, None]).sum(axis=1) == 1).mean())


def consistency(emb_lang, emb_en, image_emb, caption_image_index=None, k: int = 10) -> dict[str, float]:
    """The four consistency metrics of one language against English (see module docstring).

    ``caption_image_index`` (optional) is the gallery row of each pair's image;
    it is checked against the gallery but none of the four metrics needs it.
    Returns NaNs when there are no pairs.
    """
    lang = _normalise(emb_lang)
    en = _normalise(emb_en)
    images = _normalise(image_emb)
    if lang.shape != en.shape:
        raise ValueError(f"parallel embeddings must have the same shape ({lang.shape} vs {en.shape})")
    if images.shape[1] != lang.shape[1]:
        raise ValueError(f"image dimension {images.shape[1]} != text dimension {lang.shape[1]}")
    if caption_image_index is not None:
        idx = np.asarray(caption_image_index)
        if idx.shape != (lang.shape[0],):
            raise ValueError("caption_image_index must have one entry per caption pair")
        if idx.size and (idx.min() < 0 or idx.max() >= images.shape[0]):
            raise ValueError("caption_image_index has positions outside the gallery")
    n = lang.shape[0]
    if n == 0:
        return {m: float("nan") for m in CONSISTENCY_METRICS}

    cosine = float(np.einsum("nd,nd->n", lang, en).mean())

    k = max(1, min(int(k), images.shape[0]))
    top_lang = _top_k(lang @ images.T, k)
    top_en = _top_k(en @ images.T, k)
    overlap = (top_lang[:, :, None] == top_en[:, None, :]).any(axis=2).sum(axis=1) / k

    bitext = lang @ en.T
    return {
        "cosine_to_en": cosine,
        "top10_overlap": float(overlap.mean()),
        "bitext_to_en": _bitext_accuracy(bitext),
        "bitext_from_en": _bitext_accuracy(bitext.T),
    }


__all__ = ["consistency", "CONSISTENCY_METRICS"]
