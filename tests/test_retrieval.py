"""Retrieval and VQA ranks and metrics, on hand-computed cases (ties pessimistic)."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd
import pytest

from mvlm_distill.definitions import RANK_COLUMNS, metric_values
from mvlm_distill.evaluate.retrieval import i2t_queries, i2t_ranks, metrics_from_ranks, t2i_ranks
from mvlm_distill.evaluate.score import METRIC_COLUMNS, metrics_table, score_language
from mvlm_distill.evaluate.vqa import vqa_ranks
from mvlm_distill.evaluate.stats import bootstrap_ci


def test_t2i_ranks_ties_are_pessimistic():
    sim = np.array(
        [
            [0.9, 0.1, 0.2],  # true 0: rank 1
            [0.5, 0.5, 0.1],  # true 1, tied with image 0: rank 2
            [0.3, 0.3, 0.3],  # all tied, true 2: rank 3
            [0.1, 0.8, 0.9],  # true 0: rank 3
        ]
    )
    assert t2i_ranks(sim, [0, 1, 2, 0]).tolist() == [1, 2, 3, 3]


def test_i2t_several_captions_and_images_without_captions():
    # 4 images, 5 captions: image 0 has captions 0,1; image 1 has 2; image 2 none; image 3 has 3,4
    caption_image = np.array([0, 0, 1, 3, 3])
    sim = np.array(
        [
            [0.2, 0.9, 0.9, 0.1, 0.0],  # best own 0.9, tied with caption 2 (image 1): rank 2
            [0.8, 0.7, 0.6, 0.9, 0.5],  # own 0.6 < 0.8, 0.7, 0.9: rank 4
            [0.9, 0.9, 0.9, 0.9, 0.9],  # no captions: not a query
            [0.5, 0.1, 0.2, 0.3, 0.4],  # own best 0.4 < 0.5: rank 2 (own caption 3 at 0.3 not counted)
        ]
    )
    assert i2t_queries(caption_image).tolist() == [0, 1, 3]
    assert i2t_ranks(sim, caption_image).tolist() == [2, 4, 2]


def test_t2i_with_an_uncaptioned_distractor_image():
    sim = np.array([[0.5, 0.6, 0.4]])  # image 1 has no caption but still a distractor
    assert t2i_ranks(sim, [0]).tolist() == [2]


def test_metrics_and_mrr_cutoff():
    ranks = np.array([1, 2, 5, 10, 11])
    m = metrics_from_ranks(ranks, "t2i")
    assert m["R@1"] == pytest.approx(1 / 5)
    assert m["R@5"] == pytest.approx(3 / 5)
    assert m["R@10"] == pytest.approx(4 / 5)
    assert m["MRR@10"] == pytest.approx((1 + 1 / 2 + 1 / 5 + 1 / 10 + 0) / 5)
    v = metrics_from_ranks([1, 3, 6], "vqa")
    assert v == pytest.approx({"acc@1": 1 / 3, "MRR@5": (1 + 1 / 3) / 3})
    assert np.isnan(metrics_from_ranks([], "i2t")["R@1"])
    with pytest.raises(ValueError):
        metrics_from_ranks([1], "x2y")
    with pytest.raises(ValueError):
        metric_values([0, 1], "R@1")


def test_vqa_ranks_uniform_and_ragged():
    img = np.array([[1.0, 0.0], [0.0, 1.0]])
    grouped = np.array(
        [
            [[0.6, 0.8], [0.0, 1.0], [0.6, 0.8]],  # cosines 0.6, 0, 0.6: answer 2 ties with 0: rank 2
            [[0.0, 1.0], [1.0, 0.0], [0.6, 0.8]],  # cosines 1, 0, 0.8: answer 0 best: rank 1
        ]
    )
    assert vqa_ranks(img, grouped, [2, 0]).tolist() == [2, 1]
    ragged = [grouped[0], grouped[1][1:]]  # question 1: answer [0.6, 0.8] vs [1, 0]
    assert vqa_ranks(img, ragged, [1, 1]).tolist() == [3, 1]
    with pytest.raises(ValueError):
        vqa_ranks(img, ragged, [0, 2])


def _toy_benchmark():
    image_ids = ["i0", "i1", "i2", "train0"]
    image_emb = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.6, 0.8, 0.0]])
    captions = pd.DataFrame(
        {
            "image_id": ["i0", "i0", "i1"],
            "split": "test",
            "language": "de",
            "caption_id": ["c0", "c1", "c2"],
            "parallel_id": ["p0", "p1", "p2"],
            "text": ["a", "b", "c"],
        }
    )
    text = {
        "c0": [1.0, 0.0, 0.0],  # t2i rank 1
        "c1": [0.0, 1.0, 0.0],  # i1 first, i0 ties with i2 at 0 -> rank 3
        "c2": [0.0, 1.0, 0.0],  # rank 1
        "q0::0": [1.0, 0.0, 0.0],
        "q0::1": [0.0, 1.0, 0.0],
        "q1::0": [0.0, 0.0, 1.0],
        "q1::1": [0.0, 0.0, 1.0],
        "q1::2": [1.0, 0.0, 0.0],
    }
    vqa = pd.DataFrame(
        {
            "question_id": ["q0", "q1"],
            "parallel_id": ["v0", "v1"],
            "image_id": ["i1", "i2"],
            "language": "de",
            "question": ["?", "?"],
            "answer": ["no", "blue"],
            "candidates": [json.dumps(["yes", "no"]), json.dumps(["red", "blue", "green"])],
        }
    )
    return np.array(list(text.values())), list(text), image_emb, image_ids, captions, vqa


def test_score_language_end_to_end():
    text_emb, text_ids, image_emb, image_ids, captions, vqa = _toy_benchmark()
    ranks = score_language(text_emb, text_ids, image_emb, image_ids, captions, vqa, gallery_ids=["i0", "i1", "i2"])
    assert list(ranks.columns) == RANK_COLUMNS
    rows = {(t, q): (r, n) for t, q, _, r, n in ranks.itertuples(index=False)}
    # each query's image: the unit of the intervals and tests
    assert dict(zip(ranks["query_id"], ranks["image_id"])) == {
        "c0": "i0", "c1": "i0", "c2": "i1", "i0": "i0", "i1": "i1", "q0": "i1", "q1": vqa.set_index("question_id").loc["q1", "image_id"]}
    assert rows == {
        ("t2i", "c0"): (1, 3),
        ("t2i", "c1"): (3, 3),
        ("t2i", "c2"): (1, 3),
        # i0: best own caption c0 (1.0): rank 1 among 1 + 1 other caption
        ("i2t", "i0"): (1, 2),
        # i1: own c2 scores 1.0, c1 (image i0) ties at 1.0 -> rank 2 among 1 + 2
        ("i2t", "i1"): (2, 3),
        ("vqa", "q0"): (1, 2),  # image i1 matches "no" (index 1)
        ("vqa", "q1"): (2, 3),  # "red" and "blue" tie: pessimistic
    }
    # i2 has no caption: a t2i distractor, not an i2t query; "train0" is outside the gallery
    assert "i2" not in set(ranks.loc[ranks.task == "i2t", "query_id"])
    full = score_language(text_emb, text_ids, image_emb, image_ids, captions)
    assert set(full.task) == {"t2i", "i2t"}
    assert (full.loc[full.task == "t2i", "n_candidates"] == 4).all()


def test_score_language_missing_embeddings_and_mixed_languages():
    text_emb, text_ids, image_emb, image_ids, captions, vqa = _toy_benchmark()
    with pytest.raises(KeyError, match="c2"):
        score_language(text_emb[:2], text_ids[:2], image_emb, image_ids, captions)
    mixed = captions.assign(language=["de", "fr", "de"])
    with pytest.raises(ValueError, match="one language"):
        score_language(text_emb, text_ids, image_emb, image_ids, mixed)
    empty = score_language(text_emb, text_ids, image_emb, image_ids, captions.iloc[:0])
    assert list(empty.columns) == RANK_COLUMNS and len(empty) == 0


def test_metrics_table_columns_and_values():
    ranks = pd.DataFrame(
        {
            "task": ["t2i"] * 4 + ["vqa"] * 2,
            "query_id": ["a", "b", "c", "d", "q0", "q1"],
            "rank": [1, 1, 3, 20, 1, 2],
            "n_candidates": [50] * 4 + [4, 4],
        }
    )
    table = metrics_table(ranks, n_boot=200, seed=1)
    assert list(table.columns) == METRIC_COLUMNS
    assert list(zip(table.task, table.metric)) == [
        ("t2i", "R@1"), ("t2i", "R@5"), ("t2i", "R@10"), ("t2i", "MRR@10"), ("vqa", "acc@1"), ("vqa", "MRR@5")
    ]
    r1 = table.set_index(["task", "metric"]).loc[("t2i", "R@1")]
    assert r1.value == pytest.approx(0.5) and r1.n_queries == 4
    assert 0.0 <= r1.ci_low <= r1.value <= r1.ci_high <= 1.0
    again = metrics_table(ranks, n_boot=200, seed=1)
    pd.testing.assert_frame_equal(table, again)
    # with each query's image, the interval resamples images: a and b (one image) move together
    clustered = metrics_table(ranks.assign(image_id=["x", "x", "y", "z", "v", "w"]), n_boot=200, seed=1)
    r1 = clustered.set_index(["task", "metric"]).loc[("t2i", "R@1")]
    values = (ranks["rank"][:4] <= 1).astype(float)
    assert (r1.ci_low, r1.ci_high) == pytest.approx(bootstrap_ci(values, n_boot=200, seed=1, clusters=["x", "x", "y", "z"]))


def test_scoring_is_fast_for_thousands_of_queries():
    rng = np.random.default_rng(0)
    n_img, per_img, d = 1000, 5, 64
    image_emb = rng.standard_normal((n_img, d)).astype(np.float32)
    caption_image = np.repeat(np.arange(n_img), per_img)
    text_emb = image_emb[caption_image] + rng.standard_normal((n_img * per_img, d)).astype(np.float32)
    captions = pd.DataFrame(
        {"image_id": [f"i{i}" for i in caption_image], "caption_id": [f"c{k}" for k in range(len(caption_image))]}
    )
    start = time.perf_counter()
    ranks = score_language(text_emb, captions.caption_id.tolist(), image_emb, [f"i{i}" for i in range(n_img)], captions)
    elapsed = time.perf_counter() - start
    assert len(ranks) == n_img * per_img + n_img
    # brute-force check of a few queries
    sim = (text_emb / np.linalg.norm(text_emb, axis=1, keepdims=True)) @ (
        image_emb / np.linalg.norm(image_emb, axis=1, keepdims=True)
    ).T
    t2i = ranks[ranks.task == "t2i"]["rank"].to_numpy()
    for c in (0, 17, 4999):
        assert t2i[c] == 1 + sum(sim[c, j] >= sim[c, caption_image[c]] for j in range(n_img) if j != caption_image[c])
    # generous bound for a loaded shared machine; typically ~0.1 s
    assert elapsed < 3.0, elapsed


def test_evaluate_never_imports_torch():
    import subprocess

    code = (
        "import sys; import mvlm_distill.evaluate.score, mvlm_distill.evaluate.consistency, "
        "mvlm_distill.evaluate.clustering, mvlm_distill.evaluate.stats; "
        "bad = [m for m in ('torch', 'open_clip', 'transformers') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _tied_benchmark(n_img=500, n_cap=1200, d=64, seed=0):
    """Float32 embeddings as stored, with duplicate images and duplicate captions at distant positions."""
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((n_img, d)).astype(np.float32)
    images[n_img - 60:] = images[7:67]  # 60 images identical to earlier ones
    caption_image = rng.integers(0, n_img, n_cap)
    texts = (images[caption_image] + 0.7 * rng.standard_normal((n_cap, d))).astype(np.float32)
    texts[n_cap - 300:] = texts[5:305]  # the same text for another image, far away in the matrix
    captions = pd.DataFrame({"image_id": [f"i{i}" for i in caption_image], "caption_id": [f"c{k}" for k in range(n_cap)]})
    return images, texts, caption_image, captions


def _float64_cosines(a, b):
    a = a.astype(np.float64) / np.linalg.norm(a.astype(np.float64), axis=1, keepdims=True)
    b = b.astype(np.float64) / np.linalg.norm(b.astype(np.float64), axis=1, keepdims=True)
    return np.einsum("id,jd->ij", a, b)


def _pessimistic(scores, true_score):
    """1 + #(others >= the true score), equal meaning within 1e-12; checks no other pair is that close."""
    gap = np.abs(scores - true_score)
    assert not ((gap > 1e-12) & (gap < 1e-9)).any(), "a near-tie would make the reference ambiguous"
    return int((scores >= true_score - 1e-12).sum())


def test_identical_inputs_tie_exactly_in_large_matrices():
    images, texts, caption_image, captions = _tied_benchmark()
    image_ids = [f"i{i}" for i in range(len(images))]
    ranks = score_language(texts, captions.caption_id.tolist(), images, image_ids, captions)
    sim = _float64_cosines(texts, images)
    t2i = ranks.loc[ranks.task == "t2i", "rank"].to_numpy()
    expected = [_pessimistic(np.delete(sim[c], i), sim[c, i]) + 1 for c, i in enumerate(caption_image)]
    assert t2i.tolist() == expected
    # the duplicated images really tie with their copies: their captions never rank first
    assert (t2i[np.isin(caption_image, np.r_[7:67, 440:500])] >= 2).all()
    i2t = ranks.loc[ranks.task == "i2t"]
    expected_i2t, tied = [], 0
    for q in np.unique(caption_image):
        own = caption_image == q
        others, best = sim[~own, q], sim[own, q].max()
        expected_i2t.append(_pessimistic(others, best) + 1)
        tied += bool((np.abs(others - best) <= 1e-12).any())
    assert i2t["rank"].tolist() == expected_i2t
    assert tied > 50  # a text shared with another image's caption: a tie the query loses


def test_identical_vqa_prompts_tie_exactly():
    rng = np.random.default_rng(1)
    n_q, n_c, d = 1000, 4, 64
    images = rng.standard_normal((n_q, d)).astype(np.float32)
    prompts = rng.standard_normal((n_q, n_c, d)).astype(np.float32)
    prompts[:, 3] = prompts[::-1, 0]  # candidate 3 of question q is candidate 0 of question n - 1 - q
    prompts[:, 2] = prompts[:, 0]  # and candidate 2 repeats candidate 0 of the same question
    ranks = vqa_ranks(images, prompts, np.zeros(n_q, dtype=np.int64))
    scores = np.einsum("qcd,qd->qc", prompts.astype(np.float64), images.astype(np.float64))
    scores /= np.linalg.norm(prompts.astype(np.float64), axis=2) * np.linalg.norm(images.astype(np.float64), axis=1)[:, None]
    expected = [_pessimistic(np.delete(s, 0), s[0]) + 1 for s in scores]
    assert ranks.tolist() == expected
    assert (ranks >= 2).all()  # the repeated candidate always ties with the answer


def test_chance_equals_random_scores_through_the_rank_functions():
    """chance_values against an independent computation: random similarities ranked by t2i_ranks and
    i2t_ranks. An i2t query has 2 right captions, so its chance is twice a t2i query's gallery share."""
    from mvlm_distill.report.tables import chance_values

    rng = np.random.default_rng(0)
    n_images, caption_image = 40, np.repeat(np.arange(40), 2)
    ranks = {"t2i": [], "i2t": []}
    for _ in range(3000):
        sim = rng.random((caption_image.size, n_images))
        ranks["t2i"].append(t2i_ranks(sim, caption_image))
        ranks["i2t"].append(i2t_ranks(sim.T, caption_image))
    table = pd.concat([
        pd.DataFrame({"task": "t2i", "query_id": [f"c{k}" for k in range(80)], "image_id": caption_image.astype(str),
                      "rank": 1, "n_candidates": n_images}),
        pd.DataFrame({"task": "i2t", "query_id": [str(i) for i in range(40)], "image_id": [str(i) for i in range(40)],
                      "rank": 1, "n_candidates": 80 - 2 + 1}),
    ], ignore_index=True)
    chance = chance_values(table).groupby(["task", "metric"])["value"].mean()
    for task in ("t2i", "i2t"):
        r = np.concatenate(ranks[task])
        for metric in ("R@1", "R@5", "MRR@10"):
            assert chance[(task, metric)] == pytest.approx(metric_values(r, metric).mean(), abs=0.004), (task, metric)
    assert chance[("i2t", "R@1")] == pytest.approx(2 / 80)
