"""Corpus selection: the captions a teacher is pretrained on and the pairs a student learns from
(rules ``select_pretraining`` and ``select_corpus``).

``select_by_language`` keeps a nested, seeded share of each language's images (the uneven mix of
real parallel corpora); ``corpus_items`` pairs each selected caption with its parallel English
caption. The workflow writes them to ``corpus/pretraining.csv`` and ``corpus/distillation.csv``,
which toy-teacher pretraining, the teacher-text cache and every distillation job read.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def corpus_items(captions: pd.DataFrame, selected: pd.DataFrame) -> pd.DataFrame:
    """Pair each selected caption with its parallel English caption.

    Returns columns caption_id, english_caption_id, image_id, language; items without
    an English counterpart are dropped (every KD method except FD needs one).
    """
    english = captions[captions["language"] == "en"][["parallel_id", "caption_id"]]
    english = english.rename(columns={"caption_id": "english_caption_id"}).drop_duplicates("parallel_id")
    items = selected.merge(english, on="parallel_id", how="inner")
    return items[["caption_id", "english_caption_id", "image_id", "language"]].reset_index(drop=True)


def select_by_language(captions: pd.DataFrame, fractions: Mapping[str, float], seed: int) -> pd.DataFrame:
    """A deterministic per-language subset of ``captions`` (for uneven pretraining/distillation data).

    For each language, keep all captions of ``round(fraction * n)`` of the ``n``
    images that have captions in that language. Images are taken in the order of
    one seeded permutation of all image ids (sorted first), shared by all
    languages: a smaller fraction keeps a subset of the images of a larger one,
    and languages with smaller fractions keep subsets of the images of languages
    with larger ones. English defaults to 1.0 when absent from ``fractions``;
    other languages absent from ``fractions`` are dropped. Rows keep their input
    order and index.
    """
    fractions = dict(fractions)
    fractions.setdefault("en", 1.0)
    for lang, f in fractions.items():
        if not 0.0 <= float(f) <= 1.0:
            raise ValueError(f"fraction of language {lang!r} must be in [0, 1], not {f}")
    image_ids = sorted(set(captions["image_id"].astype(str)))
    order = np.random.default_rng(seed).permutation(len(image_ids))
    rank = {image_ids[k]: r for r, k in enumerate(order)}
    ids = captions["image_id"].astype(str)
    keep = np.zeros(len(captions), dtype=bool)
    for lang, f in fractions.items():
        is_lang = (captions["language"] == lang).to_numpy()
        if not is_lang.any():
            continue
        lang_images = sorted(set(ids[is_lang]), key=rank.__getitem__)
        chosen = set(lang_images[: int(round(float(f) * len(lang_images)))])
        keep |= is_lang & ids.isin(chosen).to_numpy()
    return captions[keep]
