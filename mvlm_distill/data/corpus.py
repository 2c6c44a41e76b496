"""The distillation corpus: the parallel caption pairs a student learns from (rule ``select_corpus``).

``corpus_items`` pairs each selected caption with its parallel English caption; the workflow
writes the result to ``corpus/distillation.csv``, which the teacher-text cache and every
distillation job read.
"""

from __future__ import annotations

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
