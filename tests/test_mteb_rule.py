"""The mteb block (optional): MIEB's image-text retrieval tasks scored by mteb itself for chosen rows
(rule mteb_evaluate), their datasets fetched at mteb's pinned revisions, tables/mteb.csv in the overview.

The end-to-end test runs the reduced study offline with a local task in mteb's format: the study's own
synthetic benchmark written as mteb's ``mteb/xm3600`` dataset (tests/mteb_local.py) and placed in the
hub cache as the snapshot at the revision mteb pins, where the fetch step finds it without a network."""

from __future__ import annotations

import collections
import html
import json
import re

import pandas as pd
import pytest

from mvlm_distill.evaluate.mteb_tasks import MTEB_COLUMNS, MTEB_TASKS, mteb_problem, parse_row
from mvlm_distill.hub import study_artifacts

from study import project_copy, reduced_config, run_snakemake

BLOCK = {"tasks": ["XM3600T2IRetrieval", "XM3600I2TRetrieval"], "rows": ["toy-clip/teacher", "toy-clip/ED/seed0"]}
XM3600 = MTEB_TASKS["XM3600T2IRetrieval"]


def test_the_pinned_datasets_are_the_installed_mtebs():
    """mteb_tasks.MTEB_TASKS (read while planning, without mteb) is mteb's own task metadata."""
    import mteb

    for name, spec in MTEB_TASKS.items():
        metadata = mteb.get_task(name).metadata
        assert metadata.dataset == {"path": spec["dataset"], "revision": spec["revision"]}, name
        assert metadata.category == spec["task"], name


def test_the_fetch_step_lists_each_dataset_once_at_mtebs_revision():
    arts = study_artifacts({"models": [], "benchmarks": {}, "mteb": {**BLOCK, "tasks": [
        "XM3600T2IRetrieval", "XM3600I2TRetrieval", "Multi30kT2IRetrieval"]}})
    assert [(a.repo_id, a.repo_type, a.revision) for a in arts] == [
        ("mteb/xm3600", "dataset", XM3600["revision"]),
        ("vnahata/Multi30k-T2I", "dataset", MTEB_TASKS["Multi30kT2IRetrieval"]["revision"])]
    assert study_artifacts({"models": [], "benchmarks": {}}) == []


def test_rows_and_refusals():
    assert parse_row("toy-clip/teacher") == ("toy-clip", "teacher", None)
    assert parse_row("toy-clip/DR+ED/seed1") == ("toy-clip", "DR+ED", 1)
    with pytest.raises(ValueError, match="model/method/seedN"):
        parse_row("toy-clip/ED")
    study = (["toy-clip"], ["ED"], [0])
    assert mteb_problem(BLOCK, *study) is None
    assert "not one of the MIEB" in mteb_problem({**BLOCK, "tasks": ["XM3600"]}, *study)
    assert "not a student of this study" in mteb_problem({**BLOCK, "rows": ["toy-clip/ED/seed3"]}, *study)
    assert "names model 'toy-siglip2'" in mteb_problem({**BLOCK, "rows": ["toy-siglip2/init"]}, *study)


def test_the_overview_view_of_the_mteb_table():
    from mvlm_distill.report import render, views

    rows = [{"model": "m", "family": "clip", "method": method, "seed": seed, "mteb_task": "XM3600T2IRetrieval",
             "task": "t2i", "language": language, "metric": metric, "value": value, "dataset": "mteb/xm3600",
             "dataset_revision": XM3600["revision"], "mteb_version": "2.26.24"}
            for method, seed, base in (("ED", 0, 0.5), ("teacher", pd.NA, 0.7))
            for language, shift in (("en", 0.1), ("de", 0.0))
            for metric, value in (("hit_rate_at_1", base + shift), ("recall_at_1", 0.0), ("ndcg_at_10", base))]
    view = views.mteb(pd.DataFrame(rows, columns=MTEB_COLUMNS))
    (block,) = render.mteb_blocks(view)
    assert block["languages"] == ["en", "de", "mean"]
    assert [(r["method"], r["metric"]) for r in block["rows"]] == [
        ("teacher", "R@1"), ("teacher", "nDCG@10 (main score)"), ("ED", "R@1"), ("ED", "nDCG@10 (main score)")]
    assert block["rows"][2]["cells"]["mean"]["value"] == pytest.approx(0.55)
    assert views.mteb(None).empty and render.mteb_blocks(views.mteb(None)) == []


def _planned(work, config, *targets) -> collections.Counter:
    """The jobs a dry run plans, by rule."""
    proc = run_snakemake(work, config, "host", "-n", *targets)  # --quiet host: the job list stays
    assert proc.returncode == 0, proc.stderr[-3000:]
    return collections.Counter(re.findall(r"^rule (\w+):$", proc.stdout + proc.stderr, re.M))


def place_local_task(work, languages):
    """The study's prepared benchmark as mteb's xm3600 dataset, in the hub cache at mteb's revision."""
    from mteb_local import write_mteb_xm3600
    from mvlm_distill.data.formats import read_benchmark

    repo = work / "hub_cache" / "hub" / "datasets--mteb--xm3600"
    write_mteb_xm3600(read_benchmark(work / "results" / "data" / "synthetic"),
                      repo / "snapshots" / XM3600["revision"], languages)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(XM3600["revision"])


@pytest.mark.slow
def test_an_exported_students_mteb_results_are_in_the_report(tmp_path):
    """Offline: `snakemake mteb` fetches the local task from the hub cache, scores the teacher and the
    exported ED student with mteb's own XM3600 task classes, writes mteb's result files, tables/mteb.csv
    and the overview with its table; the default target plans no mteb job, before or after."""
    work = project_copy(tmp_path / "study")
    config = reduced_config(mteb=BLOCK)
    languages = config["languages"]
    proc = run_snakemake(work, config, "--show-failed-logs", "results/data/synthetic")
    assert proc.returncode == 0, proc.stderr[-3000:]
    place_local_task(work, languages)
    default = _planned(work, config)
    assert default["distill"] == 2 and not {"mteb_evaluate", "fetch_mteb_dataset", "aggregate_mteb"} & set(default)
    assert _planned(work, config, "mteb")["mteb_evaluate"] == 2

    proc = run_snakemake(work, config, "--show-failed-logs", "mteb")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    results = work / "results"

    # the fetch record: the snapshot at mteb's pinned revision, found in the cache without a network
    (record,) = json.loads((results / "hub" / "mteb" / "XM3600T2IRetrieval.json").read_text())["artifacts"]
    assert record["repo_id"] == "mteb/xm3600" and record["commit"] == XM3600["revision"]
    # mteb's own result files, naming the revision mteb pins
    files = sorted((results / "mteb" / "toy-clip" / "ED" / "seed0" / "results").rglob("XM3600*Retrieval.json"))
    assert [f.name for f in files] == ["XM3600I2TRetrieval.json", "XM3600T2IRetrieval.json"]
    assert all(json.loads(f.read_text())["dataset_revision"] == XM3600["revision"] for f in files)

    table = pd.read_csv(results / "tables" / "mteb.csv", keep_default_na=False, na_values=[""])
    assert list(table.columns) == list(MTEB_COLUMNS)
    assert set(table["method"]) == {"teacher", "ED"} and set(table["language"]) == set(languages)
    assert set(table["dataset_revision"]) == {XM3600["revision"]}
    # mteb's values next to the project's own for the exported student (metrics.csv): t2i R@K is the
    # same number (no two images tie); i2t breaks ties between identical captions by mteb's order, the
    # project against the query (evaluation.protocol ties: pessimistic), so mteb's is never lower
    metrics = pd.read_csv(results / "tables" / "metrics.csv")
    student = table[table["method"] == "ED"]
    own = metrics[(metrics["method"] == "ED") & (metrics["seed"] == 0)]
    side_by_side = []
    for language in languages:
        for task in ("t2i", "i2t"):
            for k in (1, 5, 10):
                mteb_value = student.loc[(student["task"] == task) & (student["language"] == language)
                                         & (student["metric"] == f"hit_rate_at_{k}"), "value"].item()
                value = own.loc[(own["task"] == task) & (own["language"] == language)
                                & (own["metric"] == f"R@{k}"), "value"].item()
                side_by_side.append((language, task, f"R@{k}", mteb_value, value))
                if task == "t2i":
                    assert mteb_value == pytest.approx(value, abs=1e-5), (language, k)
                else:
                    assert mteb_value >= value - 1e-5, (language, k)
    print("\n".join(f"{lang} {task} {metric}: mteb {m:.5f}  project {p:.5f}"
                    for lang, task, metric, m, p in side_by_side))

    page = html.unescape((results / "reports" / "index.html").read_text())
    section = page.split('<h2 id="mteb">', 1)[1].split("<h2", 1)[0]
    assert "XM3600T2IRetrieval (t2i)" in section and "XM3600I2TRetrieval (i2t)" in section
    r1 = student.loc[(student["mteb_task"] == "XM3600T2IRetrieval") & (student["language"] == "de")
                     & (student["metric"] == "hit_rate_at_1"), "value"].item()
    assert f"{r1:.3f}" in section

    # the default target keeps the table in the overview: it reruns neither mteb nor the overview
    # (what is left is what `snakemake mteb` does not make: the exports and the language pages)
    assert set(_planned(work, config)) == {"export_student", "language_report", "all"}
