"""The report's views (views.py): each panel's numbers, computed independently here from the tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import report_study as S
from mvlm_distill.definitions import CONSISTENCY_METRICS
from mvlm_distill.report import tables as T
from mvlm_distill.report import views as V


@pytest.fixture(scope="module")
def study():
    s = S.build()
    s["significance"] = T.significance_table(s["rank_tables"])
    s["comparisons"] = T.comparisons_table(s["rank_tables"], n_boot=100)
    s["bounds"] = T.bounds_table(s["rank_tables"], S.CEILINGS)
    return s


def _one(frame, **where):
    rows = frame[np.logical_and.reduce([frame[k] == v for k, v in where.items()])]
    assert len(rows) == 1, (where, len(rows))
    return rows.iloc[0]


def test_scores(study):
    view = V.scores(study["summary"], study["metrics"], study["significance"], study["bounds"], "th")
    assert list(view.columns) == V.SCORE_VIEW_COLUMNS and set(view["method"]) == set(S.METHODS)
    assert len(view) == len(S.MODELS) * len(S.METHODS) * 10
    m = study["metrics"]
    ed = m[(m["model"] == "clipA") & (m["method"] == "ED") & (m["language"] == "th") & (m["task"] == "t2i")
           & (m["metric"] == "R@10")]
    teacher = _one(m, model="clipA", method="teacher", language="th", task="t2i", metric="R@10")["value"]
    init = _one(m, model="clipA", method="init", language="th", task="t2i", metric="R@10")["value"]
    row = _one(view, model="clipA", method="ED", task="t2i", metric="R@10")
    assert row["mean"] == pytest.approx(ed["value"].mean()) and row["n_seeds"] == 2
    assert row["ci_low"] == pytest.approx(ed["ci_low"].mean()) and row["ci_high"] == pytest.approx(ed["ci_high"].mean())
    assert row["teacher_diff"] == pytest.approx(ed["value"].mean() - teacher)
    assert row["init_diff"] == pytest.approx(ed["value"].mean() - init)
    sig = study["significance"]
    test = _one(sig, model="clipA", method="ED", reference="init", language="th", task="t2i", metric="R@10")
    assert row["init_p_adjusted"] == test["p_adjusted"] and row["init_significant"] == test["significant"]
    assert row["chance"] == pytest.approx(10 / 20) and row["ceiling"] == 0.99
    t_row = _one(view, model="clipA", method="teacher", task="t2i", metric="R@10")
    assert pd.isna(t_row["teacher_diff"]) and pd.isna(t_row["init_diff"]) and not t_row["teacher_significant"]
    assert pd.isna(_one(view, model="clipA", method="init", task="t2i", metric="R@10")["init_diff"])
    assert V.scores(study["summary"], None, None, None, "xx").empty


def test_best_method_against_its_runner_up(study):
    c = study["comparisons"]
    for language in ("de", T.POOLED):
        view = V.best_method(c, language)
        assert list(view.columns) == V.BEST_VIEW_COLUMNS
        assert len(view) == len(S.MODELS) * 3  # t2i, i2t, vqa
        assert (view["best"] == "DR").all() and (view["runner_up"] == "FD").all()  # FD = teacher, second
        row = _one(view, model="clipA", task="t2i")
        pair = _one(c, model="clipA", language=language, task="t2i", metric="R@10", method_a="DR", method_b="FD")
        assert row["diff"] == pytest.approx(pair["diff"]) and row["diff"] > 0
        assert (row["diff_low"], row["diff_high"]) == (pair["diff_low"], pair["diff_high"])
        assert row["metric"] == "R@10" and _one(view, model="clipA", task="vqa")["metric"] == "acc@1"
        assert not view["tied"].any()
    # two methods with the same mean tie: the first by name is named, and the page says "tie"
    tie = c[(c["method_a"] == "DR") & (c["method_b"] == "FD")].assign(method_a="AB", mean_b=lambda f: f["mean_a"])
    tied = V.best_method(tie, "de")
    assert tied["tied"].all() and (tied["best"] == "AB").all() and (tied["runner_up"] == "FD").all()
    # a pair stored the other way round (b - a) is turned: the difference stays best minus runner-up
    flipped = c.copy()
    swap = {"method_a": "method_b", "method_b": "method_a", "mean_a": "mean_b", "mean_b": "mean_a"}
    flipped = flipped.rename(columns=swap)
    flipped[["diff", "diff_low", "diff_high"]] = -flipped[["diff", "diff_high", "diff_low"]].to_numpy()
    again = V.best_method(flipped, "de")
    pd.testing.assert_frame_equal(again, V.best_method(c, "de"))
    assert V.best_method(None, "de").empty


def test_consistency_and_clustering_share_one_seed_mean(study):
    table = S.consistency_rows()
    de = V.consistency(table, "de")
    assert list(de.columns) == V.SEED_MEAN_COLUMNS
    row = _one(de, model="clipA", method="ED", metric="bitext_to_en")
    values = table[(table["model"] == "clipA") & (table["method"] == "ED") & (table["language"] == "de")
                   & (table["metric"] == "bitext_to_en")]["value"]
    assert row["mean"] == pytest.approx(values.mean()) and row["std"] == pytest.approx(values.std())
    assert list(de[(de["model"] == "clipA") & (de["method"] == "ED")]["metric"]) == list(CONSISTENCY_METRICS)
    # over languages: the mean over languages per seed first, then over seeds
    pooled = _one(V.consistency(table, None), model="clipA", method="ED", metric="bitext_to_en")
    rows = table[(table["model"] == "clipA") & (table["method"] == "ED") & (table["metric"] == "bitext_to_en")]
    per_seed = rows.groupby("seed")["value"].mean()
    assert pooled["mean"] == pytest.approx(per_seed.mean()) and pooled["std"] == pytest.approx(per_seed.std())
    assert V.consistency(table, "en").empty  # English is the reference
    clustering = V.clustering(S.clustering_rows())
    ami = _one(clustering, model="siglipB", method="ED", metric="ami_image")
    assert ami["mean"] == pytest.approx(0.65) and ami["n_seeds"] == 2
    assert _one(clustering, model="siglipB", method="teacher", metric="ami_image")["n_seeds"] == 1
    refs = V.clustering_references(S.clustering_rows())
    assert list(refs["metric"]) == ["nmi_image", "nmi_language", "ami_image"]  # silhouette has none
    assert _one(refs, metric="nmi_language")["perfect_reference"] == pytest.approx(0.52)


def test_language_means(study):
    means = V.language_means(study["metrics"])
    s = study["summary"]
    sel = (s["model"] == "siglipB") & (s["task"] == "t2i") & (s["metric"] == "R@1")
    row = _one(means, model="siglipB", method="ED", task="t2i", metric="R@1")
    assert row["mean"] == pytest.approx(s[sel & (s["method"] == "ED")]["mean"].mean())
    assert row["teacher"] == pytest.approx(s[sel & (s["method"] == "teacher")]["mean"].mean())
    assert row["retention"] == pytest.approx(row["mean"] / row["teacher"])
    headline = V.headline_means(study["metrics"])
    assert set(headline["panel"]) == {f"{t} {m}" for t, m in V.MEANS_PANEL}


def test_stability(study):
    stab = V.stability(study["summary"])
    assert list(stab.columns) == V.STABILITY_COLUMNS and "teacher" not in set(stab["method"])
    fd = _one(stab, model="clipA", method="FD")
    assert fd["retrieval_change"] == pytest.approx(0.0) and fd["vqa_change"] == pytest.approx(0.0)
    assert fd["n_languages"] == 3
    init = _one(stab, model="clipA", method="init")
    assert init["retrieval_change"] < 0 and init["vqa_change"] < 0
    s = study["summary"]
    r = s[(s["model"] == "clipA") & (s["method"] == "init") & (s["task"] == "t2i") & (s["metric"] == "R@10")]
    assert init["retrieval_retention_std"] == pytest.approx(r["retention"].std())
    assert init["retrieval_worst_retention"] == pytest.approx(r["retention"].min())
    assert init["retrieval_worst_language"] == r.loc[r["retention"].idxmin(), "language"]
    no_vqa = V.stability(s[s["task"] != "vqa"])
    assert no_vqa["vqa_change"].isna().all() and no_vqa["retrieval_change"].notna().all()


def test_significance_overview(study):
    view = V.significance_overview(study["significance"])
    assert list(view.columns) == V.SIGNIFICANCE_VIEW_COLUMNS
    assert _one(view, model="clipA", method="init", reference="teacher", task="t2i")["losses"] == "de, en, th"
    assert _one(view, model="clipA", method="DR", reference="init", task="t2i")["gains"] == "de, en, th"
    assert _one(view, model="clipA", method="FD", reference="teacher", task="t2i")["gains"] == "none"


def test_parameters_and_bounds(study):
    p = V.parameters(S.parameter_rows())
    assert list(p["role"]) == ["teacher", "student"] * 2
    assert _one(p, model="clipA", role="student")["text_share"] == pytest.approx(0.5)
    b = V.bounds(study["bounds"])
    assert _one(b, task="vqa", metric="acc@1")["chance"] == pytest.approx(1 / 4)
    assert _one(b, task="t2i", metric="R@1")["ceiling"] == pytest.approx(0.9)
    assert V.best_and_worst(study["summary"])["clipA"] == ("DR", "ED")
