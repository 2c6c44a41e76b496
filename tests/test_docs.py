"""The documentation: README is a front door, its results are generated, links resolve, and the result
tables' columns are described once (docs/formats.md) exactly as the code writes them."""

import re
import sys

import pytest

from study import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import render_results  # noqa: E402

DOCS = [REPO / "README.md", REPO / "config" / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def test_readme_is_a_front_door():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    assert "make study" in text and "make test" in text  # CI runs `make test`, README's test command
    hashes = [h for h in re.findall(r"\b[0-9a-f]{7,40}\b", text) if re.search(r"\d", h) and re.search(r"[a-f]", h)]
    assert not hashes, f"README names commits: {hashes}; they belong in docs/results.md"


def test_results_are_generated_from_the_result_files():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme == render_results.with_teaser(readme, render_results.teaser()), (
        "README's results teaser is not what benchmarks/render_results.py generates; run it")
    assert (REPO / "docs" / "results.md").read_text(encoding="utf-8") == render_results.page(), (
        "docs/results.md is not what benchmarks/render_results.py generates; run it")


def test_teaser_follows_the_study_file(tmp_path):
    """A changed verdict in the result file changes the teaser: nothing in it is typed."""
    study = (render_results.RESULTS / render_results.STUDY).read_text(encoding="utf-8")
    for name in ("summary.csv", "study_rules.csv"):
        (tmp_path / name).write_bytes((render_results.RESULTS / name).read_bytes())
    changed = study.replace("commit: ", "commit: 0000000 was ", 1).replace(": NOT met)", ": met)")
    (tmp_path / render_results.STUDY).write_text(changed, encoding="utf-8")
    teaser = render_results.teaser(tmp_path)
    assert "not met" not in teaser and "12 of its 12 checks met" in teaser
    assert "0000000" not in teaser and "0000000" in render_results.page(tmp_path)


def test_results_say_when_the_shipped_teachers_changed(tmp_path):
    """A study recorded with other teacher bytes (or none recorded) is marked as to be measured again."""
    from common import teacher_fingerprints

    study = (render_results.RESULTS / render_results.STUDY).read_text(encoding="utf-8")
    for name in ("summary.csv", "study_rules.csv"):
        (tmp_path / name).write_bytes((render_results.RESULTS / name).read_bytes())
    head, _, body = study.partition("\n\n")
    head = "\n".join(line for line in head.splitlines() if not line.startswith("teachers: "))
    for recorded, stale in ((teacher_fingerprints(), False), ("toy-clip 000000000000", True), (None, True)):
        lines = head + (f"\nteachers: {recorded}" if recorded else "")
        (tmp_path / render_results.STUDY).write_text(lines + "\n\n" + body, encoding="utf-8")
        teaser, page = render_results.teaser(tmp_path), render_results.page(tmp_path)
        assert ("to be measured again" in teaser) == stale and ("to be measured again" in page) == stale
        assert stale == (teacher_fingerprints() in page)  # the page names the shipped bytes when they differ


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(m) for m in re.findall(r"^#+ (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(doc):
    text = re.sub(r"```.*?```", "", doc.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        if not resolved.exists():
            broken.append(target)
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(target)
    assert not broken, f"{doc.relative_to(REPO)}: links that do not resolve: {broken}"


def _documented_columns() -> dict[str, list[str]]:
    text = (REPO / "docs" / "formats.md").read_text(encoding="utf-8").split("## Result tables", 1)[1]
    out = {}
    for block in re.split(r"^### ", text, flags=re.M)[1:]:
        name = block.split("\n", 1)[0].strip("` ")
        m = re.search(r"^Columns: (.+)$", block, flags=re.M)
        if m:
            out[name] = re.findall(r"`([^`]+)`", m[1])
    return out


def test_documented_columns_are_the_written_ones():
    from mvlm_distill.definitions import RANK_COLUMNS
    from mvlm_distill.evaluate.mteb_tasks import MTEB_COLUMNS
    from mvlm_distill.evaluate.teacher_check import CHECK_COLUMNS
    from mvlm_distill.report import tables

    written = {
        "ranks.csv": RANK_COLUMNS, "metrics.csv": tables.METRICS_COLUMNS, "summary.csv": tables.SUMMARY_COLUMNS,
        "significance.csv": tables.SIGNIFICANCE_COLUMNS, "comparisons.csv": tables.COMPARISON_COLUMNS,
        "consistency.csv": tables.CONSISTENCY_COLUMNS, "clustering.csv": tables.CLUSTERING_COLUMNS,
        "parameters.csv": tables.PARAMETERS_COLUMNS, "bounds.csv": tables.BOUNDS_COLUMNS,
        "resource_groups.csv": tables.RESOURCE_GROUP_COLUMNS,
        "mteb.csv": MTEB_COLUMNS, "teacher_check/<model>.csv": CHECK_COLUMNS,
    }
    documented = _documented_columns()
    assert set(documented) == set(written), "docs/formats.md, 'Result tables', documents other tables than these"
    for name, columns in written.items():
        assert documented[name] == list(columns), f"docs/formats.md: the columns of {name}"
