"""The report's views (views.py): each panel's numbers, computed independently here from the tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import report_study as S
from mvlm_distill.definitions import CONSISTENCY_METRICS
from mvlm_distill.report import significance as G
from mvlm_distill.report import tables as T
from mvlm_distill.report import views as V


@pytest.fixture(scope="module")
def study():
    s = S.build()
    s["significance"] = G.significance_table(s["rank_tables"])
    s["comparisons"] = G.comparisons_table(s["rank_tables"], n_boot=100)
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
    summary = _one(study["summary"], model="clipA", method="ED", language="th", task="t2i", metric="R@10")
    assert (row["ci_low"], row["ci_high"], row["ci_over"]) == (summary["ci_low"], summary["ci_high"], "seeds and images")
    assert row["ci_low"] < row["mean"] < row["ci_high"] and row["retention_low"] < row["retention"] < row["retention_high"]
    assert row["teacher_diff"] == pytest.approx(ed["value"].mean() - teacher)
    assert row["init_diff"] == pytest.approx(ed["value"].mean() - init)
    sig = study["significance"]
    test = _one(sig, model="clipA", method="ED", reference="init", language="th", task="t2i", metric="R@10")
    assert row["init_p_adjusted"] == test["p_adjusted"] and row["init_significant"] == test["significant"]
    assert (row["init_diff_holm_low"], row["init_diff_holm_high"]) == (test["diff_holm_low"], test["diff_holm_high"])
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
        assert (row["diff_holm_low"], row["diff_holm_high"]) == (pair["diff_holm_low"], pair["diff_holm_high"])
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
    flipped[["diff", "diff_low", "diff_high", "diff_holm_low", "diff_holm_high"]] = -flipped[
        ["diff", "diff_high", "diff_low", "diff_holm_high", "diff_holm_low"]].to_numpy()
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


def test_language_means_are_the_pooled_summary_rows(study):
    """All languages together: each query once, retention = ratio of the means over the same queries."""
    means = V.language_means(study["summary"])
    row = _one(means, model="siglipB", method="ED", task="t2i", metric="R@1")
    values = T.per_query_values(T.concat_ranks(study["rank_tables"]))
    sel = (values["model"] == "siglipB") & (values["task"] == "t2i") & (values["metric"] == "R@1")
    ed, teacher = values[sel & (values["method"] == "ED")], values[sel & (values["method"] == "teacher")]
    assert row["mean"] == pytest.approx(ed["value"].mean()) and row["teacher"] == pytest.approx(teacher["value"].mean())
    assert row["retention"] == pytest.approx(row["mean"] / row["teacher"])
    assert row["teacher_diff"] == pytest.approx(row["mean"] - row["teacher"])
    assert row["retention_low"] <= row["retention"] <= row["retention_high"] and row["ci_over"] == "seeds and images"
    vqa = _one(means, model="siglipB", method="init", task="vqa", metric="acc@1")
    assert vqa["retention_above_chance"] == pytest.approx((vqa["mean"] - 0.25) / (vqa["teacher"] - 0.25))
    headline = V.headline_means(study["summary"])
    assert set(headline["panel"]) == {f"{t} {m}" for t, m in V.MEANS_PANEL}
    assert V.language_means(study["summary"][study["summary"]["language"] != T.POOLED]).empty


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
    assert init["retrieval_retention"] == pytest.approx(_one(r, language=T.POOLED)["retention"])
    r = r[r["language"] != T.POOLED]
    assert init["retrieval_retention_std"] == pytest.approx(r["retention"].std())
    assert init["retrieval_worst_retention"] == pytest.approx(r["retention"].min())
    assert init["retrieval_worst_language"] == r.loc[r["retention"].idxmin(), "language"]
    assert fd["n_languages"] == 3  # the pooled row is not a language
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


def test_paper_findings(study):
    paper = V.paper_findings(study["summary"], study["significance"], S.clustering_rows())
    assert list(paper.columns) == V.PAPER_COLUMNS and set(paper["finding"]) == {1, 2, 3}
    dr = _one(paper, model="clipA", finding=1)
    assert dr["agrees"] and dr["here"].startswith("DR is 1 of 3")
    assert _one(paper, model="clipA", finding=2)["agrees"]  # DR is perfect: never below the teacher
    # ami_image: every student 0.6 or 0.7 (by seed), the teacher 0.6: the mean 0.65 of each is above
    assert _one(paper, model="clipA", finding=3)["here"].startswith("3 of 3")
    assert V.paper_findings(None, None, None).empty


def test_intervals_at_the_holm_level_agree_with_the_verdicts(study):
    """No page can say "significant" beside an interval holding 0, or the reverse."""
    for name in ("significance", "comparisons"):
        table = study[name].dropna(subset=["p_value"])
        excludes_zero = (table["diff_holm_low"] > 0) | (table["diff_holm_high"] < 0)
        assert (excludes_zero == table["significant"]).all(), name
        assert table["significant"].any() and (~table["significant"]).any()
        assert (table["holm_level"] >= 0.95).all()
