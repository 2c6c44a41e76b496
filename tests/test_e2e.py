"""The workflow end to end on a reduced grid: every output, the CSV contract, reports, determinism."""

import html
import os
import re

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
    for table in ("metrics", "summary", "significance", "consistency", "clustering", "parameters"):
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
    assert not list(results.rglob("*.tmp-*")), "temporary files left behind"
    assert not (results / "checkpoints" / "toy-clip" / "ED" / "seed0").exists(), "resume state kept after success"


def test_metrics_csv_contract(study):
    metrics = pd.read_csv(study / "results" / "tables" / "metrics.csv", dtype={"seed": "Int64"})
    assert list(metrics.columns) == [
        "model", "family", "method", "seed", "benchmark", "language", "task", "metric",
        "value", "ci_low", "ci_high", "n_queries",
    ]
    assert set(metrics["method"]) == set(METHODS)
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
        for src in re.findall(r'src="([^"]+)"', text):
            assert (page.parent / src).exists(), f"{page.name} links a missing figure {src}"


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

    from conftest import REPO

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
