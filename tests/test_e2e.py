"""The workflow end to end on a reduced grid: every output, the CSV contract, reports, determinism."""

import html
import json
import os
import re

import numpy as np
import pandas as pd
import pytest

from study import project_copy, reduced_config, run_snakemake

pytestmark = pytest.mark.slow

LANGUAGES = ["en", "de", "th"]
METHODS = ["teacher", "init", "ED", "DR+ED"]
METRICS = {"t2i": {"R@1", "R@5", "R@10", "MRR@10"}, "i2t": {"R@1", "R@5", "R@10", "MRR@10"}, "vqa": {"acc@1", "MRR@5"}}


@pytest.fixture
def study(reduced_study):
    return reduced_study


def test_every_output_exists(study):
    results = study / "results"
    for table in ("metrics", "summary", "significance", "comparisons", "consistency", "clustering", "parameters",
                  "bounds"):
        assert (results / "tables" / f"{table}.csv").stat().st_size > 0, table
    for language in LANGUAGES:
        assert (results / "reports" / f"{language}.html").exists()
    assert (results / "reports" / "index.html").exists()
    assert list((results / "reports" / "figures").glob("*.png"))
    for method in ("ED", "DR+ED"):
        student = results / "students" / "toy-clip" / method / "seed0"
        assert (student / "mvlm_model.json").exists() and (student / "loss_log.csv").exists()
        assert any(student.rglob("*.safetensors")), "students are saved as safetensors"
    # every rule leaves a benchmark file (Snakemake's benchmark: directive)
    rules = {p.parts[len((results / "benchmarks").parts)] for p in (results / "benchmarks").rglob("*.tsv")}
    assert {"prepare_benchmark", "pretrain_teacher", "distill", "embed_texts", "score_language"} <= {
        r.removesuffix(".tsv") for r in rules
    }
    assert not list(results.rglob("*.mvlm-tmp*")), "temporary files left behind"
    assert not (results / "checkpoints" / "toy-clip" / "ED" / "seed0").exists(), "resume state kept after success"


def test_metrics_csv_contract(study):
    metrics = pd.read_csv(study / "results" / "tables" / "metrics.csv", dtype={"seed": "Int64"})
    assert list(metrics.columns) == [
        "model", "family", "method", "seed", "benchmark", "language", "task", "metric",
        "value", "ci_low", "ci_high", "n_queries", "queries", "ties",
    ]
    assert set(metrics["method"]) == set(METHODS)
    # the default protocol (evaluation.protocol): every caption a query, ties counted against it
    assert set(metrics["queries"]) == {"all"} and set(metrics["ties"]) == {"pessimistic"}
    assert set(metrics["language"]) == set(LANGUAGES)
    for task, names in METRICS.items():
        assert set(metrics.loc[metrics["task"] == task, "metric"]) == names
    # one row per key, references without a seed, KD rows with one
    keys = ["model", "method", "seed", "benchmark", "language", "task", "metric"]
    assert not metrics.duplicated(keys).any()
    assert metrics.loc[metrics["method"].isin(["teacher", "init"]), "seed"].isna().all()
    assert (metrics.loc[~metrics["method"].isin(["teacher", "init"]), "seed"] == 0).all()
    assert metrics["value"].between(0, 1).all()
    assert (metrics["ci_low"] <= metrics["value"] + 1e-12).all() and (metrics["value"] <= metrics["ci_high"] + 1e-12).all()
    # per language: 60 test images x 2 paraphrases = 120 t2i queries, 60 i2t queries
    t2i = metrics[(metrics["task"] == "t2i") & (metrics["metric"] == "R@1")]
    assert (t2i["n_queries"] == 120).all()


def test_summary_retention(study):
    summary = pd.read_csv(study / "results" / "tables" / "summary.csv")
    teacher = summary[summary["method"] == "teacher"]
    assert (teacher["retention"].dropna().round(12) == 1.0).all()
    row = summary[(summary["method"] == "ED") & (summary["task"] == "t2i") & (summary["metric"] == "R@10")].iloc[0]
    if row["teacher"] > 0:
        assert row["retention"] == pytest.approx(row["mean"] / row["teacher"])


def test_reports_name_every_language(study):
    pages = [study / "results" / "reports" / f"{language}.html" for language in LANGUAGES]
    pages.append(study / "results" / "reports" / "index.html")
    for page in pages:
        text = html.unescape(page.read_text(encoding="utf-8"))
        for language in LANGUAGES:
            assert re.search(rf"\b{language}\b", text), f"{page.name} does not name {language}"
        srcs = re.findall(r'src="([^"]+)"', text)
        assert srcs and all(src.startswith("data:image/png;base64,") for src in srcs), f"{page.name}: figures not inlined"


# In the bundle's own page: load one result as the bundle shows it (an HTML page in an iframe whose src is
# its data: URI), for the checks below to run inside it.
_LOAD = """
const old = document.getElementById("probe"); if (old) old.remove();
const frame = document.createElement("iframe");
frame.id = "probe"; frame.style.width = "1200px"; frame.style.height = "900px";
frame.onload = () => { frame.dataset.loaded = "yes"; };
frame.src = arguments[0]; document.body.appendChild(frame);
"""
# Inside a bundled page: images that did not load and links that lead nowhere
_PROBLEMS = """
const problems = [];
for (const img of document.images) {
  if (!img.complete || img.naturalWidth === 0) problems.push("image " + (img.alt || img.src.slice(0, 60)));
}
for (const a of document.querySelectorAll("a[href]")) {
  const href = a.getAttribute("href");
  if (href.startsWith("#") ? !document.getElementById(href.slice(1)) : !href.startsWith("data:"))
    problems.push("link " + href.slice(0, 80));
}
return {problems: problems, images: document.images.length, title: document.title};
"""


def test_snakemake_report_bundle_shows_every_page_with_its_figures(study):
    """`snakemake --report report.html` opened in headless Chromium: every page, figure and table of the
    study is in the bundle; each page, loaded as the bundle loads it (a data: URI in an iframe), shows
    every figure (naturalWidth > 0) and has no broken link; the workflow description is there."""
    import time

    from browser import MISSING, Browser
    from mvlm_distill.report import INDEX_FIGURES, LANGUAGE_FIGURES, LANGUAGE_TABLES

    if MISSING:
        if os.environ.get("CI"):
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    proc = run_snakemake(study, reduced_config(), "--report", "results/report.html")
    assert proc.returncode == 0, proc.stderr[-5000:]
    bundle = study / "results" / "report.html"
    with Browser(width=1400, height=900) as browser:
        browser.open(bundle.absolute().as_uri())
        results = browser.run("return results")
        assert "Overview" in browser.run("return workflow_desc")
        files = {os.path.relpath(path, "results") if not os.path.isabs(path) else path: r
                 for path, r in results.items()}
        names = {os.path.basename(path) for path in files}
        for table in ("metrics", "summary", "significance", "comparisons", "consistency", "clustering",
                      "parameters", "bounds", "resource_groups"):
            assert f"{table}.csv" in names, table
        for stem in LANGUAGE_TABLES:
            assert {f"{stem}.csv", f"{stem}.tex"} <= names, stem
        pages = {os.path.basename(p): r for p, r in files.items() if r["mime_type"] == "text/html"}
        assert set(pages) == {"index.html", *(f"{lang}.html" for lang in LANGUAGES)}
        for name, result in pages.items():
            browser.run(_LOAD, result["data_uri"])
            for _ in range(600):
                if browser.run('return document.getElementById("probe").dataset.loaded === "yes"'):
                    break
                time.sleep(0.1)
            browser.frame("probe")
            found = browser.run(_PROBLEMS)
            browser.frame(None)
            expected = len(INDEX_FIGURES) if name == "index.html" else len(LANGUAGE_FIGURES)
            assert found["images"] == expected and not found["problems"], (name, found)
        figures = [r for p, r in files.items() if r["mime_type"] == "image/png"]
        assert len(figures) == len(INDEX_FIGURES) + len(LANGUAGE_FIGURES) * len(LANGUAGES)
        widths = browser.run("""
            return Promise.all(arguments[0].map(src => new Promise(done => {
              const img = new Image(); img.onload = () => done(img.naturalWidth); img.onerror = () => done(0);
              img.src = src; })));""", [r["data_uri"] for r in figures])
        assert all(width > 0 for width in widths), widths


def test_same_config_and_seed_give_identical_metrics(study, tmp_path):
    """Determinism: a second run from scratch gives a byte-identical metrics.csv."""
    again = project_copy(tmp_path / "again")
    proc = run_snakemake(again, reduced_config())
    assert proc.returncode == 0, proc.stderr[-5000:]
    first = (study / "results" / "tables" / "metrics.csv").read_bytes()
    second = (again / "results" / "tables" / "metrics.csv").read_bytes()
    assert first == second


def test_distillation_sweep_reproduces_the_workflow(study):
    """benchmarks/sweep_distillation.py (one process, no students written) gives the workflow's R@10 retention."""
    import subprocess
    import sys

    from study import REPO

    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "sweep_distillation.py"), "toy-clip",
         "--config", str(study / "study.yaml"), "--results", str(study / "results")],
        capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = dict(re.findall(r"^  (\S+)\s+R@10 retention ([0-9.]+)", proc.stdout, flags=re.M))
    assert set(printed) == {"ED", "DR+ED"}, proc.stdout
    metrics = pd.read_csv(study / "results" / "tables" / "metrics.csv")
    r10 = metrics[(metrics["task"] == "t2i") & (metrics["metric"] == "R@10")].groupby("method")["value"].mean()
    for method, value in printed.items():
        assert float(value) == pytest.approx(r10[method] / r10["teacher"], abs=1.5e-3), (method, proc.stdout)


def _unit64(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _recomputed_metrics(bench, texts_dir, images_path, language):
    """t2i / i2t / vqa metric values recomputed independently in float64 from the stored embeddings;
    scores within 1e-12 of the right item's count as ties (pessimistic)."""
    from mvlm_distill.io import load_embeddings, load_manifest, load_text_file

    manifest = load_manifest(texts_dir)
    image_emb, image_ids, _ = load_embeddings(images_path)
    images = dict(zip(image_ids, _unit64(image_emb)))
    # the retrieval gallery is the split's images (the cache also holds the VQA split's)
    gallery_ids = bench.split_images("test")["image_id"].tolist()
    gallery = np.stack([images[i] for i in gallery_ids])
    column = {i: n for n, i in enumerate(gallery_ids)}

    def texts(part):
        emb, ids, rows, _ = load_text_file(texts_dir, manifest, language, part)
        return dict(zip(ids, _unit64(emb if rows is None else emb[rows])))

    ranks = {}
    captions = bench.split_captions("test", language)
    caption_vec = texts("captions")
    text = np.stack([caption_vec[c] for c in captions["caption_id"]])
    own = np.array([column[i] for i in captions["image_id"]])
    sim = np.einsum("cd,id->ci", text, gallery)
    true = sim[np.arange(len(own)), own]
    ranks["t2i"] = (sim >= true[:, None] - 1e-12).sum(axis=1)
    i2t = []
    for image in np.unique(own):
        mine = own == image
        i2t.append(1 + int((sim[~mine, image] >= sim[mine, image].max() - 1e-12).sum()))
    ranks["i2t"] = np.array(i2t)
    vqa = bench.evaluation_vqa("test", language)  # the questions about the vqa split's images
    if len(vqa):
        prompt_vec = texts("vqa")
        vqa_ranks = []
        for q in vqa.itertuples():
            candidates = json.loads(q.candidates) if isinstance(q.candidates, str) else list(q.candidates)
            scores = np.array([prompt_vec[f"{q.question_id}::{k}"] @ images[q.image_id] for k in range(len(candidates))])
            vqa_ranks.append(int((scores >= scores[candidates.index(q.answer)] - 1e-12).sum()))
        ranks["vqa"] = np.array(vqa_ranks)
    values = {}
    for task, r in ranks.items():
        for metric in METRICS[task]:
            k = int(metric.split("@")[1])
            per_query = np.where(r <= k, 1.0 / r, 0.0) if metric.startswith("MRR") else (r <= k).astype(float)
            values[(task, metric)] = per_query.mean()
    return values


def test_every_retrieval_value_equals_a_float64_recomputation(study):
    from mvlm_distill.data.formats import read_benchmark

    results = study / "results"
    bench = read_benchmark(results / "data" / "synthetic")
    metrics = pd.read_csv(results / "tables" / "metrics.csv", dtype={"seed": "Int64"})
    checked = 0
    for texts_dir in sorted((results / "embeddings").glob("*/*/seed*/synthetic")):
        model, method, seed = texts_dir.parts[-4:-1]
        images_path = results / "caches" / model / "synthetic" / "test.images.npz"
        for language in LANGUAGES:
            expected = _recomputed_metrics(bench, texts_dir, images_path, language)
            rows = metrics[(metrics["model"] == model) & (metrics["method"] == method) & (metrics["language"] == language)]
            reported = {(t, m): v for t, m, v in rows[["task", "metric", "value"]].itertuples(index=False)}
            assert set(reported) == set(expected)
            for key, value in expected.items():
                assert abs(reported[key] - value) <= 1e-9, (model, method, language, key, reported[key], value)
                checked += 1
    assert checked == len(metrics)


def test_no_row_exceeds_the_bayes_ceiling(study):
    """The ceiling in meta.json (computed by the generator from its likelihood) bounds every reported value."""
    results = study / "results"
    ceiling = json.loads((results / "data" / "synthetic" / "meta.json").read_text())["ceiling"]
    metrics = pd.read_csv(results / "tables" / "metrics.csv")
    assert set(metrics["task"]) <= set(ceiling["by_language"]["en"])
    for row in metrics.itertuples(index=False):
        bound = ceiling["by_language"][row.language][row.task][row.metric]
        assert row.value <= bound + 1e-9, (row.method, row.language, row.task, row.metric, row.value, bound)
