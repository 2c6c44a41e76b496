"""Tests of mvlm_distill.report: tables, figures and HTML pages on small synthetic results."""

from __future__ import annotations

import re
import sys
import zlib

import numpy as np
import pandas as pd
import pytest

from mvlm_distill.report import tables as T

MODELS = {"clipA": "clip", "siglipB": "siglip2"}
KD_METHODS = ["DR", "ED", "FD"]
METHODS = ["teacher", "init"] + KD_METHODS
SEEDS = [0, 1]
LANGUAGES = ["de", "en", "th"]
BENCHMARK = "synthetic"
N_QUERIES = 60


# ----------------------------------------------------------------------------- synthetic study


def _ranks(model: str, method: str, seed: int, language: str) -> pd.DataFrame:
    """Per-query ranks. FD equals the teacher exactly; DR is perfect; init and ED are clearly worse."""
    base = np.random.default_rng(zlib.crc32(f"{model}/{language}".encode()))  # the same in every process
    teacher = {task: base.integers(1, 12, size=N_QUERIES) for task in ("t2i", "i2t")}
    teacher["vqa"] = base.integers(1, 4, size=N_QUERIES)
    rng = np.random.default_rng([SEEDS.index(seed) if seed in SEEDS else 0, len(method), len(language)])
    rows = []
    for task, ranks in teacher.items():
        if method in ("teacher", "FD"):
            r = ranks
        elif method == "DR":
            r = np.ones_like(ranks)
        elif method == "init":
            r = ranks + 8
        else:  # ED: worse, and noisy across seeds
            r = ranks + rng.integers(2, 6, size=ranks.shape)
        n_cand = 20 if task != "vqa" else 4
        r = np.minimum(r, n_cand)
        rows.append(pd.DataFrame({"task": task, "query_id": [f"{task}-{i}" for i in range(N_QUERIES)],
                                  "rank": r, "n_candidates": n_cand}))
    return pd.concat(rows, ignore_index=True)


def _metric_table(ranks: pd.DataFrame) -> pd.DataFrame:
    values = T.per_query_values(ranks)
    out = []
    for (task, metric), g in values.groupby(["task", "metric"], sort=False):
        v = g["value"].to_numpy()
        out.append({"task": task, "metric": metric, "value": v.mean(), "ci_low": max(0.0, v.mean() - 0.05),
                    "ci_high": min(1.0, v.mean() + 0.05), "n_queries": len(v)})
    return pd.DataFrame(out)


def _runs():
    for model in MODELS:
        for method in METHODS:
            for seed in ([0] if method in T.REFERENCES else SEEDS):
                for language in LANGUAGES:
                    yield model, method, seed, language


@pytest.fixture(scope="module")
def study():
    rank_tables, score_tables = [], []
    for model, method, seed, language in _runs():
        keys = {"model": model, "family": MODELS[model], "method": method, "seed": seed,
                "benchmark": BENCHMARK, "language": language}
        ranks = _ranks(model, method, seed, language)
        rank_tables.append((keys, ranks))
        score_tables.append((keys, _metric_table(ranks)))
    metrics = T.aggregate_metrics(score_tables)
    summary = T.summarize(metrics)
    return {"rank_tables": rank_tables, "metrics": metrics, "summary": summary}


# ----------------------------------------------------------------------------- tables


def test_metrics_contract(study):
    m = study["metrics"]
    assert list(m.columns) == T.METRICS_COLUMNS
    refs = m[m["method"].isin(T.REFERENCES)]
    assert refs["seed"].isna().all()
    assert m.loc[~m["method"].isin(T.REFERENCES), "seed"].notna().all()
    n_rows = sum(1 for _ in _runs()) * 10
    assert len(m) == n_rows
    # stable: the same rows in another input order give the same table
    again = T.aggregate_metrics(
        [(keys, _metric_table(ranks)) for keys, ranks in reversed(study["rank_tables"])])
    pd.testing.assert_frame_equal(again, m)
    assert m["method"].iloc[0] == "teacher"
    with pytest.raises(ValueError, match="twice"):
        T.aggregate_metrics([(study["rank_tables"][0][0], _metric_table(study["rank_tables"][0][1]))] * 2)


def test_metrics_csv_round_trip(study, tmp_path):
    path = tmp_path / "metrics.csv"
    study["metrics"].to_csv(path, index=False)
    back = T.read_table(path, T.METRICS_COLUMNS)
    assert back["seed"].dtype == "Int64"
    assert back.loc[back["method"] == "teacher", "seed"].isna().all()


def test_summary_math(study):
    s = study["summary"]
    m = study["metrics"]
    assert list(s.columns) == T.SUMMARY_COLUMNS
    key = dict(model="clipA", benchmark=BENCHMARK, language="th", task="t2i", metric="R@10")
    sel = lambda f, method: f[(f["method"] == method) & np.logical_and.reduce([f[k] == v for k, v in key.items()])]
    ed = sel(m, "ED")["value"].to_numpy()
    teacher = sel(m, "teacher")["value"].iloc[0]
    init = sel(m, "init")["value"].iloc[0]
    row = sel(s, "ED").iloc[0]
    assert row["n_seeds"] == 2
    assert row["mean"] == pytest.approx(ed.mean())
    assert row["std"] == pytest.approx(ed.std(ddof=1))
    assert row["teacher"] == pytest.approx(teacher)
    assert row["init"] == pytest.approx(init)
    assert row["retention"] == pytest.approx(ed.mean() / teacher)
    t_row = sel(s, "teacher").iloc[0]
    assert t_row["n_seeds"] == 1 and pd.isna(t_row["std"]) and t_row["retention"] == pytest.approx(1.0)
    assert sel(s, "FD").iloc[0]["retention"] == pytest.approx(1.0)
    assert sel(s, "FD").iloc[0]["std"] == pytest.approx(0.0)
    assert not (s["language"] == T.MEAN_LANGUAGE).any()


def test_language_means(study):
    means = T.language_means(study["metrics"])
    assert set(means["language"]) == {T.MEAN_LANGUAGE}
    s = study["summary"]
    sel = (s["model"] == "siglipB") & (s["task"] == "t2i") & (s["metric"] == "R@1")
    row = means[(means["model"] == "siglipB") & (means["task"] == "t2i") & (means["metric"] == "R@1")
                & (means["method"] == "ED")].iloc[0]
    assert row["mean"] == pytest.approx(s[sel & (s["method"] == "ED")]["mean"].mean())
    assert row["teacher"] == pytest.approx(s[sel & (s["method"] == "teacher")]["mean"].mean())
    assert row["retention"] == pytest.approx(row["mean"] / row["teacher"])
    both = T.summarize(study["metrics"], language_mean=True)
    assert len(both) == len(s) + len(means)
    assert both["language"].iloc[-1] == T.MEAN_LANGUAGE


def test_stability(study):
    stab = T.stability(study["summary"])
    assert list(stab.columns) == T.STABILITY_COLUMNS
    assert "teacher" not in set(stab["method"])
    fd = stab[(stab["model"] == "clipA") & (stab["method"] == "FD")].iloc[0]
    assert fd["retrieval_change"] == pytest.approx(0.0)
    assert fd["vqa_change"] == pytest.approx(0.0)
    assert fd["n_languages"] == 3
    init = stab[(stab["model"] == "clipA") & (stab["method"] == "init")].iloc[0]
    assert init["retrieval_change"] < 0 and init["vqa_change"] < 0
    assert init["retrieval_worst_language"] in LANGUAGES
    s = study["summary"]
    r = s[(s["model"] == "clipA") & (s["method"] == "init") & (s["task"] == "t2i") & (s["metric"] == "R@10")]
    assert init["retrieval_retention_std"] == pytest.approx(r["retention"].std())
    assert init["retrieval_worst_retention"] == pytest.approx(r["retention"].min())


def test_per_query_values():
    ranks = pd.DataFrame({"task": ["t2i", "t2i", "vqa"], "query_id": ["a", "b", "q"], "rank": [1, 7, 2]})
    v = T.per_query_values(ranks).set_index(["query_id", "metric"])["value"]
    assert v[("a", "R@1")] == 1 and v[("b", "R@5")] == 0 and v[("b", "R@10")] == 1
    assert v[("b", "MRR@10")] == pytest.approx(1 / 7) and v[("a", "MRR@10")] == 1
    assert v[("q", "acc@1")] == 0 and v[("q", "MRR@5")] == pytest.approx(0.5)


def _check_significance(sig):
    assert list(sig.columns) == T.SIGNIFICANCE_COLUMNS
    assert set(sig["correction"]) == {"holm"}
    pick = lambda method, ref, task="t2i", metric="R@10": sig[
        (sig["method"] == method) & (sig["reference"] == ref) & (sig["task"] == task) & (sig["metric"] == metric)]
    # identical to the teacher: never significant
    fd = pick("FD", "teacher")
    assert len(fd) == len(MODELS) * len(LANGUAGES)
    assert not fd["significant"].any()
    assert (fd["diff"] == 0).all()
    # clearly better than init: significant everywhere, positive
    dr = pick("DR", "init")
    assert dr["significant"].all() and (dr["diff"] > 0).all()
    # init is clearly below the teacher
    init = pick("init", "teacher", "t2i", "R@10")
    assert init["significant"].all() and (init["diff"] < 0).all()
    # no teacher-vs-init duplicate and no self comparisons
    assert not ((sig["method"] == "teacher")).any()
    assert not (sig["method"] == sig["reference"]).any()
    assert (sig["p_adjusted"] >= sig["p_value"] - 1e-12).all()


def test_significance_logic(study):
    sig = T.significance_table(study["rank_tables"])
    _check_significance(sig)
    # Holm across languages: each family holds the three languages
    fam = sig.groupby(["model", "benchmark", "task", "metric", "method", "reference"]).size()
    assert (fam == len(LANGUAGES)).all()


# ----------------------------------------------------------------------------- figures and pages


def _write_tables(study, tmp_path, optional=True):
    tables = tmp_path / "tables"
    tables.mkdir()
    study["metrics"].to_csv(tables / "metrics.csv", index=False)
    study["summary"].to_csv(tables / "summary.csv", index=False)
    if not optional:
        return tables
    sig = T.significance_table(study["rank_tables"])
    sig.to_csv(tables / "significance.csv", index=False)
    T.comparisons_table(study["rank_tables"], n_boot=100).to_csv(tables / "comparisons.csv", index=False)
    rows, crows = [], []
    for model, method, seed, language in _runs():
        for metric in ("cosine_to_en", "top10_overlap", "bitext_to_en", "bitext_from_en"):
            value = 1.0 if language == "en" else 0.5 + 0.1 * len(method) / 7
            rows.append(dict(model=model, method=method, seed=None if method in T.REFERENCES else seed,
                             benchmark=BENCHMARK, language=language, metric=metric, value=value))
    for model in MODELS:
        for method in METHODS:
            for seed in ([None] if method in T.REFERENCES else SEEDS):
                for metric, value, random, perfect in (
                        ("nmi_image", 0.8, 0.5, 1.0), ("nmi_language", 0.1 * len(method), 0.06, 0.52),
                        ("ami_image", 0.6, 0.0, 1.0), ("silhouette_image", 0.2, None, None)):
                    crows.append(dict(model=model, method=method, seed=seed, benchmark=BENCHMARK,
                                      metric=metric, value=value, random_baseline=random, perfect_reference=perfect))
    pd.DataFrame(rows).to_csv(tables / "consistency.csv", index=False)
    pd.DataFrame(crows).to_csv(tables / "clustering.csv", index=False)
    params = []
    for model in MODELS:
        params.append(dict(model=model, role="teacher", text_layers=12, text_parameters=40_000_000,
                           total_parameters=120_000_000))
        params.append(dict(model=model, role="student", text_layers=6, text_parameters=20_000_000,
                           total_parameters=100_000_000))
    pd.DataFrame(params).to_csv(tables / "parameters.csv", index=False)
    # projection from small embeddings
    rng = np.random.default_rng(0)
    ids, langs, pids = [], [], []
    for p in range(10):
        for lang in LANGUAGES:
            ids.append(f"{lang}-{p}")
            langs.append(lang)
            pids.append(str(p))
    emb = {(m, me): rng.normal(size=(len(ids), 8)) for m in MODELS for me in ("teacher", "DR", "ED")}
    from mvlm_distill.report.figures import projection_table

    proj = projection_table(emb, ids, langs, pids)
    assert list(proj.columns) == T.PROJECTION_COLUMNS
    assert len(proj) == len(ids) * len(emb)
    proj.to_csv(tables / "projection.csv", index=False)
    return tables


def _students(tmp_path):
    students = tmp_path / "students"
    for model in MODELS:
        for method in KD_METHODS:
            for seed in SEEDS:
                d = students / model / method / f"seed{seed}"
                d.mkdir(parents=True)
                steps = np.arange(0, 50, 10)
                pd.DataFrame({"step": steps, "lr": 1e-3, "total": 2.0 / (1 + steps) + 0.1 * seed,
                              "fd": 1.0 / (1 + steps)}).to_csv(d / "loss_log.csv", index=False)
    return students


def _is_png(path):
    return path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_reports(study, tmp_path):
    from mvlm_distill.report import html as H

    tables = _write_tables(study, tmp_path)
    out = tmp_path / "reports"
    ceilings = {BENCHMARK: {"t2i": {"R@1": 0.95, "R@10": 1.0}}}
    written = H.write_reports(tables, _students(tmp_path), out, LANGUAGES, ceilings=ceilings)
    expected = [out / p for lang in LANGUAGES for p in H.language_outputs(lang)] + \
               [out / p for p in H.index_outputs()]
    assert sorted(map(str, written)) == sorted(map(str, expected))
    for path in expected:
        assert path.exists(), path
        if path.suffix == ".png":
            assert _is_png(path), path
    for lang in LANGUAGES:
        page = (out / f"{lang}.html").read_text(encoding="utf-8")
        assert f"Language: {H.language_name(lang)}" in page
        for other in LANGUAGES:  # the navigation names every language
            assert f'href="{other}.html"' in page or other == lang
            assert H.language_name(other) in page
        assert "Holm" in page and "95% CI" in page
        assert 'class="loss"' in page  # init is significantly below the teacher
        assert 'class="gain"' in page  # DR significantly above init
        assert "<script" not in page
        for src in re.findall(r'src="([^"]+)"', page):
            assert not src.startswith("/") and (out / src).exists()
        assert "not computed" not in page
        assert f"<b>{_best(tables, lang, 't2i')}</b>" in page.split("Best method per task")[1].split("<h2>")[0]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert f"<b>{_best(tables, T.POOLED, 't2i')}</b>" in index.split("Best method per task")[1].split("<h2>")[0]
    for lang in LANGUAGES:
        assert f'href="{lang}.html"' in index and H.language_name(lang) in index
    for needle in ("retention_heatmap.png", "loss_curves.png", "projection.png", "40,000,000", "0.950",
                   "Holm", "worst language"):
        assert needle in index, needle
    assert str(tmp_path) not in index


def _best(tables, language, task):
    """The KD method with the highest headline mean in comparisons.csv (R@10 for retrieval)."""
    c = pd.read_csv(tables / "comparisons.csv")
    c = c[(c["language"] == language) & (c["task"] == task) & (c["metric"] == "R@10")]
    c = c[c["model"] == c["model"].iloc[0]]
    means = dict(zip(c["method_a"], c["mean_a"])) | dict(zip(c["method_b"], c["mean_b"]))
    return max(means, key=means.get)


def test_missing_optional_tables(study, tmp_path):
    from mvlm_distill.report import html as H

    tables = _write_tables(study, tmp_path, optional=False)
    (tables / "summary.csv").unlink()  # recomputed from metrics
    metrics = study["metrics"]
    metrics[metrics["task"] != "vqa"].to_csv(tables / "metrics.csv", index=False)  # a benchmark without VQA
    (tables / "significance.csv").write_text("")  # empty file counts as absent
    out = tmp_path / "reports"
    written = H.write_reports(tables, None, out, LANGUAGES[:2])
    assert all(p.exists() for p in written)
    page = (out / "de.html").read_text(encoding="utf-8")
    assert "German (de)" in page and "not computed" in page
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "not computed" in index and 'href="en.html"' in index
    assert _is_png(out / "figures" / "projection.png")
    assert "vqa" not in page
    stab = T.stability(T.summarize(metrics[metrics["task"] != "vqa"]))
    assert stab["vqa_change"].isna().all() and stab["retrieval_change"].notna().all()


def test_projection_from_files(study, tmp_path):
    from mvlm_distill.io import save_embeddings
    from mvlm_distill.report.figures import best_and_worst, projection_from_files

    chosen = best_and_worst(study["summary"])
    assert chosen["clipA"] == ("DR", "ED")
    captions = pd.DataFrame({
        "image_id": [f"i{p}" for p in range(6) for _ in LANGUAGES],
        "split": "test",
        "language": [lang for _ in range(6) for lang in LANGUAGES],
        "caption_id": [f"c{p}-{lang}" for p in range(6) for lang in LANGUAGES],
        "parallel_id": [str(p) for p in range(6) for _ in LANGUAGES],
        "text": "x",
    })
    rng = np.random.default_rng(1)
    files = {}
    for method in ("teacher", "DR", "ED", "FD"):
        path = tmp_path / f"{method}.npz"
        ids = list(captions["caption_id"]) + ["q1::0"]
        save_embeddings(path, rng.normal(size=(len(ids), 4)).astype(np.float32), ids, {})
        files[("clipA", method)] = path
    proj = projection_from_files(files, captions, summary=study["summary"], max_groups=4)
    assert set(proj["method"]) == {"teacher", "DR", "ED"}
    assert proj.groupby("method").size().eq(4 * len(LANGUAGES)).all()


def test_no_heavy_imports():
    import subprocess

    code = ("import sys, mvlm_distill.report.html, mvlm_distill.report.figures, mvlm_distill.report.tables; "
            "bad = [m for m in ('torch', 'open_clip', 'transformers') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def _projection_samples(tmp_path):
    from mvlm_distill.io import save_embeddings

    scores = tmp_path / "scores"
    ids = [f"c{p}-{lang}" for p in range(5) for lang in LANGUAGES]
    meta = {"languages": [lang for _ in range(5) for lang in LANGUAGES],
            "parallel_ids": [str(p) for p in range(5) for _ in LANGUAGES]}
    rng = np.random.default_rng(2)
    for model in MODELS:
        for method in METHODS:
            for seed in ([0] if method in T.REFERENCES else SEEDS):
                order = rng.permutation(len(ids)) if method == "ED" else np.arange(len(ids))
                path = scores / model / method / f"seed{seed}" / BENCHMARK / "projection.npz"
                save_embeddings(path, rng.normal(size=(len(ids), 6)).astype(np.float32),
                                [ids[i] for i in order], {k: [v[i] for i in order] for k, v in meta.items()})
    return scores


def test_projection_from_scores(study, tmp_path):
    from mvlm_distill.report import html as H
    from mvlm_distill.report.figures import projection_from_scores

    scores = _projection_samples(tmp_path)
    proj = projection_from_scores(scores, study["summary"])
    assert list(proj.columns) == T.PROJECTION_COLUMNS
    assert set(map(tuple, proj[["model", "method"]].drop_duplicates().to_numpy())) == {
        (m, me) for m in MODELS for me in ("teacher", "DR", "ED")}
    # rows are aligned by caption id: languages agree across methods
    t = proj[(proj["model"] == "clipA") & (proj["method"] == "teacher")]["language"].tolist()
    e = proj[(proj["model"] == "clipA") & (proj["method"] == "ED")]["language"].tolist()
    assert t == e
    assert projection_from_scores(tmp_path / "nowhere") is None
    tables = _write_tables(study, tmp_path, optional=False)
    out = tmp_path / "reports"
    H.write_reports(tables, None, out, LANGUAGES, scores_dir=scores)
    assert "projection.png" in (out / "index.html").read_text(encoding="utf-8")
    assert _is_png(out / "figures" / "projection.png")
