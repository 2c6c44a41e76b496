"""Cross-lingual consistency: does a caption behave the same in a language and in English?

Input: parallel captions, row ``i`` of ``emb_lang`` being the translation of row
``i`` of ``emb_en`` (matched by ``parallel_id``), and the image gallery.

* ``cosine_to_en``: mean cosine between each caption and its English counterpart.
* ``top10_overlap``: mean |top-10 images(caption) & top-10 images(English)| / 10
  (k is capped at the gallery size), in [0, 1].
* ``bitext_to_en`` / ``bitext_from_en``: bitext retrieval accuracy among the
  parallel captions: the share of captions whose nearest English caption is
  their own translation (and back), ties pessimistic (a tie with another
  caption counts as a miss). A candidate with exactly the text of the right
  answer (``texts_en`` / ``texts_lang``: e.g. two images with the same
  caption) is the right answer too, not a miss.

Similarities are float64 cosines in which equal inputs get bit-identical
scores (``similarity``), so ties are exact.

A language-agnostic encoder on exact translations scores 1 on all four.

Benchmarks whose captions are written independently per language (XM3600: no
``parallel_id``) have no translations, but captions of the same image in two
languages still describe one thing: ``image_consistency`` compares, per image
captioned in both, the mean of its caption embeddings in the language with the
mean of its English ones, with the same four metrics named ``image_*``
(``image_cosine_to_en``, ``image_top10_overlap``, ``image_bitext_to_en``,
``image_bitext_from_en``; bitext = does an image's language centroid retrieve
the same image's English centroid among all images'). Independent captions
differ in content too, so a perfect encoder scores below 1 here.
Pure numpy: no torch import here.
"""

from __future__ import annotations

import numpy as np

from mvlm_distill.definitions import CONSISTENCY_METRICS, IMAGE_CONSISTENCY_METRICS

from .similarity import cosine_matrix, paired_cosines


def _check_2d(x) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError("embeddings must be 2-D (n, D)")
    return x


def _top_k(sim: np.ndarray, k: int) -> np.ndarray:
    """Indices (unordered) of the k largest entries of each row.

    Which of several tied items at the k-th place is kept is arbitrary but
    deterministic: identical rows always give identical sets.
    """
    if k >= sim.shape[1]:
        return np.broadcast_to(np.arange(sim.shape[1]), sim.shape)
    return np.argpartition(-sim, k - 1, axis=1)[:, :k]


def _text_codes(texts, n: int) -> np.ndarray:
    """One integer per row, equal for equal texts; each row its own code when ``texts`` is None."""
    if texts is None:
        return np.arange(n)
    texts = np.asarray([str(t) for t in texts])
    if texts.shape != (n,):
        raise ValueError(f"{texts.size} texts for {n} caption pairs")
    return np.unique(texts, return_inverse=True)[1].reshape(-1)


def _bitext_accuracy(sim: np.ndarray, candidate_codes: np.ndarray) -> float:
    """Share of rows whose diagonal entry is strictly larger than every entry of a candidate with another text."""
    diag = np.diagonal(sim)
    other_text = candidate_codes[None, :] != candidate_codes[:, None]
    return float((((sim >= diag[:, None]) & other_text).sum(axis=1) == 0).mean())


def consistency(emb_lang, emb_en, image_emb, caption_image_index=None, k: int = 10, *,
                texts_lang=None, texts_en=None) -> dict[str, float]:
    """The four consistency metrics of one language against English (see module docstring).

    ``caption_image_index`` (optional) is the gallery row of each pair's image;
    it is checked against the gallery but none of the four metrics needs it.
    ``texts_lang`` / ``texts_en`` (optional): the pairs' texts, so that bitext retrieval
    counts a candidate with the right answer's exact text as a hit.
    Returns NaNs when there are no pairs.
    """
    lang = _check_2d(emb_lang)
    en = _check_2d(emb_en)
    images = _check_2d(image_emb)
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

    codes_lang, codes_en = _text_codes(texts_lang, n), _text_codes(texts_en, n)
    cosine = float(paired_cosines(lang, en).mean())

    k = max(1, min(int(k), images.shape[0]))
    top_lang = _top_k(cosine_matrix(lang, images), k)
    top_en = _top_k(cosine_matrix(en, images), k)
    overlap = (top_lang[:, :, None] == top_en[:, None, :]).any(axis=2).sum(axis=1) / k

    bitext = cosine_matrix(lang, en)
    return {
        "cosine_to_en": cosine,
        "top10_overlap": float(overlap.mean()),
        "bitext_to_en": _bitext_accuracy(bitext, codes_en),
        "bitext_from_en": _bitext_accuracy(bitext.T, codes_lang),
    }


def _centroids(emb: np.ndarray, image_of: np.ndarray, texts, images: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Mean unit caption embedding of each of ``images`` and the sorted caption texts it averages."""
    unit = np.asarray(emb, dtype=np.float64)
    unit = unit / np.where((n := np.linalg.norm(unit, axis=1, keepdims=True)) > 0, n, 1.0)
    texts = np.asarray([str(t) for t in texts])
    rows = [np.flatnonzero(image_of == i) for i in images]
    return (np.stack([unit[r].mean(axis=0) for r in rows]),
            ["\x1f".join(sorted(texts[r])) for r in rows])


def image_consistency(emb_lang, image_of_lang, texts_lang, emb_en, image_of_en, texts_en, image_emb,
                      k: int = 10) -> dict[str, float]:
    """The ``image_*`` metrics: ``consistency`` on per-image caption centroids, language vs English.

    ``image_of_*``: the image of each caption; ``texts_*``: its text (two images whose captions are
    the same texts count as the same answer in bitext retrieval). Images captioned in both only."""
    image_of_lang, image_of_en = np.asarray(image_of_lang), np.asarray(image_of_en)
    if image_of_lang.shape != (len(emb_lang),) or image_of_en.shape != (len(emb_en),):
        raise ValueError("image_of_lang / image_of_en need one image per caption")
    shared = np.intersect1d(image_of_lang, image_of_en)
    if shared.size == 0:
        return {m: float("nan") for m in IMAGE_CONSISTENCY_METRICS}
    lang, keys_lang = _centroids(emb_lang, image_of_lang, texts_lang, shared)
    en, keys_en = _centroids(emb_en, image_of_en, texts_en, shared)
    values = consistency(lang, en, image_emb, k=k, texts_lang=keys_lang, texts_en=keys_en)
    return {f"image_{m}": v for m, v in values.items()}


__all__ = ["consistency", "image_consistency"]
