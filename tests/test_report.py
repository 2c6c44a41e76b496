"""Tests of the report's tables (tables.py, significance.py) and pages (render.py, templates) on a small
synthetic study."""

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
from mvlm_distill.report import significance as G
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
    sig = G.significance_table(study["rank_tables"])
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


GROUPS = {"high": ["en", "de"], "low": ["th"]}


def _write_pages(tables, out, languages=S.LANGUAGES, students=(), projections=(), groups=GROUPS):
    from mvlm_distill.report import LANGUAGE_TABLES, render
    from mvlm_distill.report.language_tables import write_language_tables

    loaded = render.load_tables(tables)
    language_tables = {stem: (out.parent / "tables" / "languages" / f"{stem}.csv",
                              out.parent / "tables" / "languages" / f"{stem}.tex") for stem in LANGUAGE_TABLES}
    write_language_tables(loaded["summary"], loaded.get("resource_groups"), loaded["significance"], groups,
                          language_tables)
    for language in languages:
        render.write_language_report(language, languages, loaded, out / f"{language}.html",
                                     _figures(out, language, LANGUAGE_FIGURES), groups=groups,
                                     language_tables=language_tables)
    render.write_index_report(languages, loaded, out / "index.html", _figures(out, "index", INDEX_FIGURES),
                              students=students, projections=projections, groups=groups,
                              language_tables=language_tables)


def _inlined(page, paths):
    """The page shows each figure of ``paths`` inlined, as a PNG data URI of that very file."""
    import base64

    srcs = re.findall(r'src="([^"]+)"', page)
    assert all(src.startswith("data:image/png;base64,") for src in srcs), [s[:40] for s in srcs]
    assert sorted(srcs) == sorted("data:image/png;base64," + base64.b64encode(p.read_bytes()).decode()
                                  for p in paths)


@pytest.fixture(scope="module")
def pages(study, tmp_path_factory):
    root = tmp_path_factory.mktemp("pages")
    tables = S.write_tables(study, root / "tables")
    tables["resource_groups"] = root / "tables" / "resource_groups.csv"
    from mvlm_distill.io import write_csv

    write_csv(tables["resource_groups"], T.resource_group_table(study["rank_tables"], GROUPS, n_boot=100))
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
        assert "Holm" in page and "95%" in page
        assert 'class="loss"' in page  # init is significantly below the teacher
        assert 'class="gain"' in page  # DR significantly above init
        paths = _figures(out, lang, LANGUAGE_FIGURES).values()
        assert all(_is_png(p) for p in paths)
        _inlined(page, paths)
        # the navigation lists the languages by resource level, this one's level named
        nav = page.split("<nav>")[1].split("</nav>")[0]
        assert nav.index("high:") < nav.index("English (en)") < nav.index("low:") < nav.index("Thai (th)")
        assert f"<b>{'low' if lang == 'th' else 'high'}</b>" in page
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
    paths = _figures(pages["out"], "index", INDEX_FIGURES).values()
    assert all(_is_png(p) for p in paths)
    _inlined(index, paths)
    # the key findings come first: DR is best in every task and keeps least in some language
    findings = _section(index, "Key findings")
    assert index.index("Key findings") < index.index("Text-to-image R@10 retention") < index.index("<h2>Best method")
    assert findings.count("Loses most") == len(S.MODELS) and "best student DR" in findings
    assert findings.count("<b>DR</b> − FD") == len(S.MODELS) * 3 and "by level: high" in findings
    assert "Above the teacher" in findings
    # every per-language table is offered, as the file itself
    for stem in ("t2i_R10", "vqa_acc1"):
        assert f'download="{stem}.csv"' in index and f'download="{stem}.tex"' in index
    assert "0.0000" not in index and "&lt; 1e-4" in index
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
    proj = V.projection_from_samples(S.projection_samples(tmp_path), study["summary"])
    assert list(proj.columns) == T.PROJECTION_COLUMNS
    assert set(map(tuple, proj[["model", "method"]].drop_duplicates().to_numpy())) == {
        (m, me) for m in S.MODELS for me in ("teacher", "DR", "ED")}
    # rows are aligned by caption id: languages agree across methods
    t = proj[(proj["model"] == "clipA") & (proj["method"] == "teacher")]["language"].tolist()
    e = proj[(proj["model"] == "clipA") & (proj["method"] == "ED")]["language"].tolist()
    assert t == e
    assert V.projection_from_samples([]) is None


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


# ----------------------------------------------------------------------------- resource levels, paste-ready tables


def test_resource_groups_follow_the_config_or_the_default():
    from mvlm_distill.data.languages import resource_groups

    assert resource_groups(["th", "en", "sw", "de"], {"high": ["en", "de", "fr"], "low": ["sw", "th"]}) == {
        "high": ["en", "de"], "low": ["th", "sw"]}
    assert resource_groups(["sw", "xx", "en", "bn"]) == {"high": ["en"], "medium": ["bn"], "low": ["sw"],
                                                         "unclassified": ["xx"]}
    assert resource_groups(["en", "th"], {"high": ["en"]}) == {"high": ["en"], "unclassified": ["th"]}
    with pytest.raises(ValueError, match="resource_levels: 'en' is listed under both 'high' and 'low'"):
        resource_groups(["en", "th"], {"high": ["en"], "low": ["en", "th"]})


def test_resource_group_table_pools_each_levels_queries(study):
    groups = T.resource_group_table(study["rank_tables"], GROUPS, n_boot=100)
    assert list(groups.columns) == T.RESOURCE_GROUP_COLUMNS
    assert list(dict.fromkeys(groups["group"])) == ["high", "low"]
    assert set(groups.loc[groups["group"] == "high", "languages"]) == {"en de"}
    m = study["metrics"]
    for level, codes in GROUPS.items():
        rows = groups[(groups["model"] == "clipA") & (groups["method"] == "ED") & (groups["group"] == level)
                      & (groups["task"] == "t2i") & (groups["metric"] == "R@10")]
        values = m[(m["model"] == "clipA") & (m["method"] == "ED") & m["language"].isin(codes) & (m["task"] == "t2i")
                   & (m["metric"] == "R@10")]
        # every language has the same number of queries: the pooled mean is the mean of the languages'
        assert rows["mean"].iloc[0] == pytest.approx(values["value"].mean())
        assert rows["ci_low"].iloc[0] <= rows["mean"].iloc[0] <= rows["ci_high"].iloc[0]
        assert rows["retention_low"].iloc[0] <= rows["retention"].iloc[0] <= rows["retention_high"].iloc[0]
    assert (groups.loc[groups["method"] == "teacher", "retention"] == 1).all()


def test_language_tables_csv_and_latex(pages):
    """A wide CSV per task and metric (languages by level, intervals) and a booktabs table that compiles."""
    import shutil

    folder = pages["root"] / "tables" / "languages"
    wide = pd.read_csv(folder / "t2i_R10.csv", keep_default_na=False, na_values=[""])
    languages = [c for c in wide.columns if c in S.LANGUAGES]
    assert languages == ["en", "de", "th"]  # the levels' order, then the config's within a level
    assert {"de_low", "de_high", "level high", "level low_high", "all", "all_low"} <= set(wide.columns)
    assert list(wide["method"][:2]) == ["teacher", "init"] and len(wide) == len(S.MODELS) * len(S.METHODS)
    summary = pages["tables"]["summary"]
    s = T.read_table(summary)
    row = s[(s["model"] == "clipA") & (s["method"] == "ED") & (s["language"] == "de") & (s["task"] == "t2i")
            & (s["metric"] == "R@10")].iloc[0]
    cell = wide[(wide["model"] == "clipA") & (wide["method"] == "ED")].iloc[0]
    assert (cell["de"], cell["de_low"], cell["de_high"]) == pytest.approx((row["mean"], row["ci_low"], row["ci_high"]))
    tex = (folder / "t2i_R10.tex").read_text()
    for needle in (r"\toprule", r"\midrule", r"\bottomrule", r"\cmidrule(lr){2-6}", r"\emph{high resource}",
                   r"\emph{low resource}", "Thai &", r"\label{tab:t2i_R10}", r"\textbf{1.000}"):
        assert needle in tex, needle
    body = tex.split(r"\midrule", 1)[1].split(r"\bottomrule")[0]
    rows = [line for line in body.splitlines() if line.endswith(r"\\") and not line.startswith(r"\multicolumn")]
    assert all(line.count(" & ") == len(S.MODELS) * len(S.METHODS) for line in rows), rows
    assert tex.count(r"\begin{") == tex.count(r"\end{")
    engine = shutil.which("pdflatex")
    if engine is None:
        pytest.skip("pdflatex is not installed (Debian: texlive-latex-base texlive-latex-recommended; "
                    ".ci/install_browser.sh): the structure is checked, the compilation is not")
    document = pages["root"] / "paper.tex"
    inputs = "\n".join(rf"\input{{{folder / name}}}" for name in ("t2i_R10.tex", "vqa_acc1.tex", "i2t_MRR10.tex"))
    document.write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage[margin=1cm,landscape]"
                        "{geometry}\n\\begin{document}\n" + inputs + "\n\\end{document}\n")
    proc = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", document.name],
                          cwd=document.parent, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (pages["root"] / "paper.pdf").stat().st_size > 0
