"""Method-vs-method comparisons: paired tests, paired-bootstrap intervals, retention, Holm family."""

import numpy as np
import pandas as pd
import pytest

from mvlm_distill.evaluate.stats import paired_bootstrap_cis, paired_bootstrap_cis_many
from mvlm_distill.report.significance import comparisons_table
from mvlm_distill.report.tables import COMPARISON_COLUMNS, POOLED


def _ranks(rng, n=200):
    """Ranks of teacher and three methods in two languages: A beats C clearly, A and B tie."""
    rows = []
    for language in ("de", "th"):
        base = rng.integers(1, 30, n)
        systems = {"teacher": base, "A": base, "B": base.copy(), "C": base + rng.integers(3, 15, n)}
        systems["B"][::2] += 1  # B is slightly worse than A on half the queries
        for method, ranks in systems.items():
            seeds = [None] if method == "teacher" else [0, 1]
            for seed in seeds:
                for q, r in enumerate(ranks):
                    rows.append(dict(model="m", method=method, seed=seed, benchmark="b", language=language,
                                     task="t2i", query_id=f"{language}-c{q}", image_id=f"i{q // 2}", rank=int(r),
                                     n_candidates=60))
    return pd.DataFrame(rows)


def test_every_pair_per_language_and_pooled_with_intervals_and_holm():
    table = comparisons_table(_ranks(np.random.default_rng(0)), n_boot=300, seed=0)
    assert list(table.columns) == COMPARISON_COLUMNS
    r10 = table[table["metric"] == "R@10"]
    assert set(zip(r10["method_a"], r10["method_b"])) == {("A", "B"), ("A", "C"), ("B", "C")}
    assert set(r10["language"]) == {"de", "th", POOLED}
    pooled = r10[r10["language"] == POOLED].set_index(["method_a", "method_b"])
    assert (pooled["n_queries"] == 400).all()
    a_c = pooled.loc[("A", "C")]
    assert a_c["diff"] > 0.1 and a_c["diff_low"] <= a_c["diff"] <= a_c["diff_high"] and a_c["diff_low"] > 0
    assert a_c["significant"] and a_c["p_adjusted"] >= a_c["p_value"]
    # A is the teacher: retention 1, and the retention difference is the difference over the teacher's mean
    assert a_c["retention_a"] == pytest.approx(1.0)
    assert a_c["retention_diff"] == pytest.approx(a_c["diff"] / a_c["mean_a"])
    assert a_c["retention_diff_low"] <= a_c["retention_diff"] <= a_c["retention_diff_high"]
    # the Holm family is every pair x language (pooled included) of one task and metric: 3 x 3 tests
    family = table[(table["task"] == "t2i") & (table["metric"] == "R@1")]
    assert len(family) == 9 and (family["p_adjusted"] >= family["p_value"] - 1e-12).all()
    assert (table["correction"] == "holm").all()


def test_identical_methods_do_not_differ():
    ranks = _ranks(np.random.default_rng(1))
    ranks = ranks[ranks["method"].isin(["teacher", "A"])]
    twin = ranks[ranks["method"] == "A"].assign(method="A2")
    table = comparisons_table(pd.concat([ranks, twin]), n_boot=100)
    assert (table["diff"] == 0).all() and (table["p_value"] == 1).all() and not table["significant"].any()
    assert (table["diff_low"] == 0).all() and (table["diff_high"] == 0).all()


def test_paired_bootstrap_keeps_the_pairing():
    rng = np.random.default_rng(2)
    a = rng.random(500)
    b = a - 0.01  # a constant shift: every paired resample has diff exactly 0.01
    (low, high), (r_low, r_high) = paired_bootstrap_cis(a, b, a, n_boot=200)
    assert low == pytest.approx(0.01) and high == pytest.approx(0.01)
    assert r_low < r_high and r_low == pytest.approx(0.01 / a.mean(), rel=0.1)
    with pytest.raises(ValueError):
        paired_bootstrap_cis(a, b[:-1])


@pytest.mark.parametrize("n", [300, 9000])  # 9000: the resamples come in several blocks
def test_shared_resamples_give_each_pair_its_own_intervals_exactly(n):
    rng = np.random.default_rng(3)
    teacher = rng.integers(0, 2, n).astype(float)
    systems = [rng.integers(0, 2, n).astype(float) for _ in range(4)]
    pairs = [(a, b) for i, a in enumerate(systems) for b in systems[i + 1:]]
    shared = paired_bootstrap_cis_many([a - b for a, b in pairs], teacher, n_boot=700, seed=5)
    alone = [paired_bootstrap_cis(a, b, teacher, n_boot=700, seed=5) for a, b in pairs]
    assert shared == alone  # bit for bit, not approximately
    assert len({ci for ci in shared}) > 1  # the pairs do differ
    assert paired_bootstrap_cis_many([a - b for a, b in pairs[:2]], n_boot=50)[0][1] == (pytest.approx(np.nan, nan_ok=True),) * 2
