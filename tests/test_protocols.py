"""Retrieval protocols (evaluation.protocol): which captions are queries and how ties count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mvlm_distill.definitions import DEFAULT_PROTOCOL
from mvlm_distill.evaluate.retrieval import i2t_ranks, t2i_ranks
from mvlm_distill.evaluate.score import check_protocol, metrics_table, score_language
from mvlm_distill.report.tables import aggregate_metrics


def test_index_ties_break_by_gallery_order():
    sim = np.array(
        [
            [0.5, 0.5, 0.1],  # true 1, tied with image 0 (earlier): rank 2 either way
            [0.5, 0.5, 0.1],  # true 0, tied with image 1 (later): pessimistic 2, index 1
            [0.3, 0.3, 0.3],  # true 1 of three tied: pessimistic 3, index 2
        ]
    )
    assert t2i_ranks(sim, [1, 0, 1]).tolist() == [2, 2, 3]
    assert t2i_ranks(sim, [1, 0, 1], ties="index").tolist() == [2, 1, 2]
    with pytest.raises(ValueError, match="unknown ties 'random'"):
        t2i_ranks(sim, [1, 0, 1], ties="random")


def test_index_ties_in_i2t_take_the_first_best_own_caption():
    caption_image = np.array([0, 1, 0, 1])  # captions 0 and 2 are image 0's, 1 and 3 image 1's
    sim = np.array(
        [
            [0.2, 0.9, 0.9, 0.1],  # own best 0.9 at caption 2, tied with caption 1 (earlier, wrong)
            [0.7, 0.7, 0.1, 0.7],  # own best 0.7 at caption 1, tied with caption 0 (earlier, wrong)
        ]
    )
    assert i2t_ranks(sim, caption_image).tolist() == [2, 2]
    assert i2t_ranks(sim, caption_image, ties="index").tolist() == [2, 2]
    later = np.array([[0.9, 0.1, 0.2, 0.9], [0.1, 0.2, 0.1, 0.3]])  # caption 3 (wrong) ties after caption 0
    assert i2t_ranks(later, caption_image).tolist() == [2, 1]
    assert i2t_ranks(later, caption_image, ties="index").tolist() == [1, 1]


def _one_language():
    image_ids = ["i0", "i1", "i2"]
    image_emb = np.eye(3)
    captions = pd.DataFrame({
        "image_id": ["i0", "i0", "i1", "i1", "i2"],
        "caption_id": ["c0", "c1", "c2", "c3", "c4"],
        "language": "de",
    })
    text_emb = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]], dtype=float)
    return text_emb, list(captions["caption_id"]), image_emb, image_ids, captions


def test_first_caption_protocol_scores_one_caption_per_image():
    text_emb, text_ids, image_emb, image_ids, captions = _one_language()
    every = score_language(text_emb, text_ids, image_emb, image_ids, captions)
    first = score_language(text_emb, text_ids, image_emb, image_ids, captions, protocol={"queries": "first"})
    assert list(every.loc[every.task == "t2i", "query_id"]) == ["c0", "c1", "c2", "c3", "c4"]
    assert list(first.loc[first.task == "t2i", "query_id"]) == ["c0", "c2", "c4"]
    # i2t: the gallery holds the first captions only (c1, c3 are no distractors)
    assert first.loc[first.task == "i2t", "n_candidates"].tolist() == [3, 3, 3]
    assert first.loc[first.task == "i2t", "rank"].tolist() == [1, 1, 1]
    # every caption: c3 (i1's) ties i0's c0 and c1 (i0's) ties i1's c2, pessimistically ahead
    assert every.loc[every.task == "i2t", "rank"].tolist() == [2, 2, 1]
    with pytest.raises(ValueError, match="unknown protocol queries 'last'"):
        score_language(text_emb, text_ids, image_emb, image_ids, captions, protocol={"queries": "last"})


def test_every_metric_row_records_its_protocol():
    text_emb, text_ids, image_emb, image_ids, captions = _one_language()
    protocol = {"queries": "first", "ties": "index"}
    ranks = score_language(text_emb, text_ids, image_emb, image_ids, captions, protocol=protocol)
    table = metrics_table(ranks, n_boot=0, protocol=protocol)
    assert set(zip(table["queries"], table["ties"])) == {("first", "index")}
    default = metrics_table(ranks, n_boot=0)
    assert set(zip(default["queries"], default["ties"])) == {("all", "pessimistic")}
    # score files written before the columns existed are the default protocol
    keys = {"model": "m", "family": "clip", "method": "teacher", "benchmark": "b", "language": "de"}
    old = default.drop(columns=["queries", "ties"])
    assert set(aggregate_metrics([(keys, old)])["ties"]) == {"pessimistic"}
    assert check_protocol(None) == DEFAULT_PROTOCOL
