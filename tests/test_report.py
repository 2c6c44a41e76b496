"""Tests of the report's tables (tables.py) and pages (render.py, templates) on a small synthetic study."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import report_study as S
from mvlm_distill.report import INDEX_FIGURES, LANGUAGE_FIGURES
from mvlm_distill.definitions import REFERENCES
from mvlm_distill.report import tables as T
from mvlm_distill.report import views as V


@pytest.fixture(scope="module")
def study():
    return S.build()


# ----------------------------------------------------------------------------- tables


def test_metrics_contract(study):
    m = study["metrics"]
    assert list(m.columns) == T.METRICS_COLUMNS
    assert m.loc[m["method"].isin(REFERENCES), "seed"].isna().all()
    assert m.loc[~m["method"].isin(REFERENCES), "seed"].notna().all()
    assert len(m) == sum(1 for _ in S.runs()) * 10
    # stable: the same rows in another input order give the same table
    again = T.aggregate_metrics([(keys, S.metric_table(r)) for keys, r in reversed(study["rank_tables"])])
    pd.testing.assert_frame_equal(again, m)
    assert m["method"].iloc[0] == "teacher"
    with pytest.raises(ValueError, match="twice"):
        T.aggregate_metrics([(study["rank_tables"][0][0], S.metric_table(study["rank_tables"][0][1]))] * 2)


def test_metrics_csv_round_trip(study, tmp_path):
    path = tmp_path / "metrics.csv"
    study["metrics"].to_csv(path, index=False)
    back = T.read_table(path, T.METRICS_COLUMNS)
    assert back["seed"].dtype == "Int64"
    assert back.loc[back["method"] == "teacher", "seed"].isna().all()


def test_summary_math(study):
    s, m = study["summary"], study["metrics"]
    assert list(s.columns) == T.SUMMARY_COLUMNS
    key = dict(model="clipA", benchmark=S.BENCHMARK, language="th", task="t2i", metric="R@10")

    def sel(f, method):
        return f[(f["method"] == method) & np.logical_and.reduce([f[k] == v for k, v in key.items()])]

    ed = sel(m, "ED")["value"].to_numpy()
    teacher, init = sel(m, "teacher")["value"].iloc[0], sel(m, "init")["value"].iloc[0]
    row = sel(s, "ED").iloc[0]
    assert row["n_seeds"] == 2 and row["mean"] == pytest.approx(ed.mean())
    assert row["std"] == pytest.approx(ed.std(ddof=1))
    assert row["teacher"] == pytest.approx(teacher) and row["init"] == pytest.approx(init)
    assert row["retention"] == pytest.approx(ed.mean() / teacher)
    t_row = sel(s, "teacher").iloc[0]
    assert t_row["n_seeds"] == 1 and pd.isna(t_row["std"]) and t_row["retention"] == pytest.approx(1.0)
    assert sel(s, "FD").iloc[0]["retention"] == pytest.approx(1.0)


def test_per_query_values():
    ranks = pd.DataFrame({"task": ["t2i", "t2i", "vqa"], "query_id": ["a", "b", "q"], "rank": [1, 7, 2]})
    v = T.per_query_values(ranks).set_index(["query_id", "metric"])["value"]
    assert v[("a", "R@1")] == 1 and v[("b", "R@5")] == 0 and v[("b", "R@10")] == 1
    assert v[("b", "MRR@10")] == pytest.approx(1 / 7) and v[("a", "MRR@10")] == 1
    assert v[("q", "acc@1")] == 0 and v[("q", "MRR@5")] == pytest.approx(0.5)


def test_chance_is_a_random_rankings_expected_value():
    """Each chance value equals the mean metric over every possible rank (uniform), per query."""
    ranks = pd.DataFrame({"task": ["t2i", "t2i", "vqa"], "query_id": ["a", "b", "q"], "rank": [1, 1, 1],
                          "n_candidates": [20, 7, 3]})
    chance = T.chance_values(ranks).set_index(["query_id", "metric"])["value"]
    for query, n in (("a", 20), ("b", 7), ("q", 3)):
        task = "vqa" if query == "q" else "t2i"
        every_rank = pd.DataFrame({"task": task, "query_id": query, "rank": np.arange(1, n + 1)})
        expected = T.per_query_values(every_rank).groupby("metric")["value"].mean()
        for metric, value in expected.items():
            assert chance[(query, metric)] == pytest.approx(value), (query, metric)


def test_bounds_table(study):
    bounds = T.bounds_table(study["rank_tables"], S.CEILINGS)
    assert list(bounds.columns) == T.BOUNDS_COLUMNS
    assert len(bounds) == len(S.LANGUAGES) * 10  # one row per language, task and metric
    r1 = bounds[(bounds["task"] == "t2i") & (bounds["metric"] == "R@1")]
    assert r1["chance"].to_numpy() == pytest.approx(1 / 20)  # 20 candidates per t2i query
    assert (r1["ceiling"] == 0.9).all()
    assert bounds.loc[bounds["task"] == "vqa", "ceiling"].isna().all()  # the ceiling gives no vqa
    assert T.bounds_table(study["rank_tables"], {})["ceiling"].isna().all()


def test_key_table_and_inputs_must_agree():
    assert T.paired([{"model": "a"}], ["x.csv"], "metric tables") == [({"model": "a"}, "x.csv")]
    with pytest.raises(ValueError, match="2 metric tables given with 1 keys"):
        T.paired([{"model": "a"}], ["x.csv", "y.csv"], "metric tables")


def test_significance(study):
    sig = T.significance_table(study["rank_tables"])
    assert list(sig.columns) == T.SIGNIFICANCE_COLUMNS and set(sig["correction"]) == {"holm"}

    def pick(method, ref, task="t2i", metric="R@10"):
        return sig[(sig["method"] == method) & (sig["reference"] == ref) & (sig["task"] == task)
                   & (sig["metric"] == metric)]

    fd = pick("FD", "teacher")  # identical to the teacher: never significant
    assert len(fd) == len(S.MODELS) * len(S.LANGUAGES) and not fd["significant"].any() and (fd["diff"] == 0).all()
    dr = pick("DR", "init")
    assert dr["significant"].all() and (dr["diff"] > 0).all()
    init = pick("init", "teacher")
    assert init["significant"].all() and (init["diff"] < 0).all()
    assert not (sig["method"] == "teacher").any() and not (sig["method"] == sig["reference"]).any()
    assert (sig["p_adjusted"] >= sig["p_value"] - 1e-12).all()
    # Holm across languages: each family holds the three languages
    assert (sig.groupby(["model", "benchmark", "task", "metric", "method", "reference"]).size() == 3).all()


# ----------------------------------------------------------------------------- pages


def _is_png(path):
    return path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _figures(out, page, names):
    prefix = "" if page == "index" else f"{page}_"
    return {name: out / "figures" / f"{prefix}{name}.png" for name in names}


def _write_pages(tables, out, languages=S.LANGUAGES, students=(), projections=()):
    from mvlm_distill.report import render

    loaded = render.load_tables(tables)
    for language in languages:
        render.write_language_report(language, languages, loaded, out / f"{language}.html",
                                     _figures(out, language, LANGUAGE_FIGURES))
    render.write_index_report(languages, loaded, out / "index.html", _figures(out, "index", INDEX_FIGURES),
                              students=students, projections=projections)


@pytest.fixture(scope="module")
def pages(study, tmp_path_factory):
    root = tmp_path_factory.mktemp("pages")
    tables = S.write_tables(study, root / "tables")
    out = root / "reports"
    _write_pages(tables, out, students=S.student_folders(root / "students"),
                 projections=S.projection_samples(root / "scores"))
    return {"root": root, "tables": tables, "out": out}


def _section(page, heading):
    return page.split(heading)[1].split("<h2")[0]


def test_language_pages(pages):
    from mvlm_distill.report.render import language_name

    out = pages["out"]
    for lang in S.LANGUAGES:
        page = (out / f"{lang}.html").read_text(encoding="utf-8")
        assert f"Language: {language_name(lang)}" in page
        for other in S.LANGUAGES:  # the navigation names every language
            assert language_name(other) in page and (other == lang or f'href="{other}.html"' in page)
        assert "Holm" in page and "95%" in page and "<script" not in page
        assert 'class="loss"' in page  # init is significantly below the teacher
        assert 'class="gain"' in page  # DR significantly above init
        srcs = re.findall(r'src="([^"]+)"', page)
        assert sorted(srcs) == sorted(f"figures/{lang}_{name}.png" for name in LANGUAGE_FIGURES)
        assert all(_is_png(out / src) for src in srcs)
        # DR is perfect: best in every task; the verdict on the runner-up is comparisons.csv's
        best = _section(page, "Best method per task")
        assert best.count("<b>DR</b> is best") == len(S.MODELS) * 3
        verdicts = V.best_method(T.read_table(pages["tables"]["comparisons"]), lang)["significant"]
        assert best.count('"verdict-yes">significantly better</span> (Holm-adjusted p ') == verdicts.sum() > 0
        assert best.count('"verdict-no">not significantly better') == (~verdicts).sum()
        # the chance and ceiling rows of the t2i table carry bounds.csv's values
        t2i = page.split("<h3>t2i")[1].split("</table>")[0]
        assert re.search(r'<td class="l" colspan="4">chance</td>\s*<td>0\.050</td>', t2i)
        assert re.search(r'<td class="l" colspan="4">ceiling</td>\s*<td>0\.900</td>', t2i)
        assert "not computed" not in page.replace("English is the reference", "")
        assert str(pages["root"]) not in page


def test_index_page(pages):
    from mvlm_distill.report.render import language_name

    index = (pages["out"] / "index.html").read_text(encoding="utf-8")
    assert "<b>DR</b> is best" in _section(index, "Best method per task") and "all languages" in index
    for lang in S.LANGUAGES:
        assert f'href="{lang}.html"' in index and language_name(lang) in index
    for needle in ("40,000,000", "50%", "Holm", "worst language", "random baseline", "0.520"):
        assert needle in index, needle
    assert sorted(re.findall(r'src="([^"]+)"', index)) == sorted(f"figures/{n}.png" for n in INDEX_FIGURES)
    assert all(_is_png(pages["out"] / "figures" / f"{n}.png") for n in INDEX_FIGURES)
    assert "not computed" not in index and str(pages["root"]) not in index


def test_pages_escape_what_they_show(study, tmp_path):
    """A model name with markup is shown as text: the templates autoescape every value."""
    renamed = {k: v.replace("clipA", "<i>clip&A</i>") for k, v in study.items() if k != "rank_tables"}
    renamed["rank_tables"] = [({**k, "model": k["model"].replace("clipA", "<i>clip&A</i>")}, r)
                              for k, r in study["rank_tables"]]
    for name in ("metrics", "summary"):
        renamed[name] = study[name].replace({"model": {"clipA": "<i>clip&A</i>"}})
    _write_pages(S.write_tables(renamed, tmp_path / "tables"), tmp_path / "reports", ["de"])
    for name in ("de.html", "index.html"):
        page = (tmp_path / "reports" / name).read_text(encoding="utf-8")
        assert "&lt;i&gt;clip&amp;A&lt;/i&gt;" in page and "<i>clip" not in page


def test_panels_the_study_did_not_compute(study, tmp_path):
    tables = S.write_tables(study, tmp_path / "tables")
    metrics = study["metrics"]
    no_vqa = metrics[metrics["task"] != "vqa"]
    no_vqa.to_csv(tables["metrics"], index=False)  # a benchmark without VQA
    T.summarize(no_vqa).to_csv(tables["summary"], index=False)
    for name in ("significance", "comparisons", "consistency", "clustering", "parameters"):
        tables[name].write_text("")  # an empty file: the panel was not computed
    out = tmp_path / "reports"
    _write_pages(tables, out, ["de", "en"])
    page = (out / "de.html").read_text(encoding="utf-8")
    assert "German (de)" in page and "Method-vs-method comparisons: not computed" in page
    assert "Significance tests: not computed" in page and "vqa" not in page
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "Parameter counts: not computed" in index and 'href="en.html"' in index
    assert all(_is_png(p) for p in (out / "figures").glob("*.png"))


def test_an_empty_summary_is_an_error(study, tmp_path):
    from mvlm_distill.report import render

    tables = S.write_tables(study, tmp_path / "tables")
    tables["summary"].write_text("")
    with pytest.raises(ValueError, match="summary.csv: the summary table is empty"):
        render.load_tables(tables)


def test_projection_from_samples(study, tmp_path):
    from mvlm_distill.report.figures import projection_from_samples

    proj = projection_from_samples(S.projection_samples(tmp_path), study["summary"])
    assert list(proj.columns) == T.PROJECTION_COLUMNS
    assert set(map(tuple, proj[["model", "method"]].drop_duplicates().to_numpy())) == {
        (m, me) for m in S.MODELS for me in ("teacher", "DR", "ED")}
    # rows are aligned by caption id: languages agree across methods
    t = proj[(proj["model"] == "clipA") & (proj["method"] == "teacher")]["language"].tolist()
    e = proj[(proj["model"] == "clipA") & (proj["method"] == "ED")]["language"].tolist()
    assert t == e
    assert projection_from_samples([]) is None


def test_no_heavy_imports():
    code = ("import sys, mvlm_distill.report.render; "
            "bad = [m for m in ('torch', 'open_clip', 'transformers') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_templates_ship_with_the_package():
    import tomllib

    from study import REPO

    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["mvlm_distill"]
    package = REPO / "mvlm_distill"
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    templates = set((package / "report" / "templates").iterdir())
    assert templates and templates <= shipped, templates - shipped
