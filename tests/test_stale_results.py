"""Declared inputs only: a smaller study run into the results folder of a larger one shows nothing of
the larger one (its students, languages and scores stay on disk, undeclared)."""

import html
import re
import shutil

import pandas as pd
import pytest

from study import reduced_config, run_snakemake

pytestmark = pytest.mark.slow

SMALLER = {"languages": ["en", "de"], "methods": {"ED": {"ED": 1.0}}}
GONE_LANGUAGE, GONE_METHOD = "th", "DR+ED"


@pytest.fixture(scope="module")
def smaller(reduced_study, tmp_path_factory):
    work = tmp_path_factory.mktemp("stale") / "study"
    shutil.copytree(reduced_study, work, symlinks=True)
    proc = run_snakemake(work, reduced_config(**SMALLER))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return work / "results"


def test_the_first_studys_results_are_still_on_disk(smaller):
    """Otherwise the test below could not fail: the leftovers a glob would find are there."""
    assert (smaller / "students" / "toy-clip" / GONE_METHOD / "seed0" / "loss_log.csv").exists()
    assert list((smaller / "scores" / "toy-clip" / GONE_METHOD).rglob("*.metrics.csv"))
    assert list((smaller / "scores").rglob(f"{GONE_LANGUAGE}.ranks.csv"))
    assert list((smaller / "scores" / "toy-clip" / GONE_METHOD).rglob("projection.npz"))


def test_tables_hold_only_the_second_study(smaller):
    for path in sorted((smaller / "tables").glob("*.csv")):
        table = pd.read_csv(path, keep_default_na=False, dtype=str)
        for column in ("method", "method_a", "method_b"):
            if column in table.columns:
                assert GONE_METHOD not in set(table[column]), (path.name, column)
        if "language" in table.columns:
            assert set(table["language"]) <= {"en", "de", "pooled"}, path.name
    metrics = pd.read_csv(smaller / "tables" / "metrics.csv")
    assert set(metrics["method"]) == {"teacher", "init", "ED"} and set(metrics["language"]) == {"en", "de"}


def test_pages_show_only_the_second_study(smaller):
    reports = smaller / "reports"
    for page in ("index.html", "en.html", "de.html"):
        page_html = (reports / page).read_text(encoding="utf-8")
        shown = re.sub(r"<(style|script)>.*?</\1>", "", page_html, flags=re.S)  # what the page shows
        text = html.unescape(re.sub(r"<[^>]+>", " ", shown))
        assert GONE_METHOD not in text, page
        assert f"{GONE_LANGUAGE}.html" not in page_html and "Thai" not in text, page
        assert not re.search(rf"\b{GONE_LANGUAGE}\b", text), page
