"""docs/results.md and README's results teaser, generated from the result files in benchmarks/results/.

Nothing in either is typed by hand: the default study's tables and checks come from
``study_bars_shipped.txt`` (written by benchmarks/study_bars.py, which opens it with the commit,
machine and date), the speed benchmarks from ``summary.csv`` and the time by rule from
``study_rules.csv`` (benchmarks/run.py and benchmarks/study_rules.py write them, with the commit and
machine on every row). After a result file changes:

    python benchmarks/render_results.py            # rewrites docs/results.md and README's teaser block
    python benchmarks/render_results.py --check    # exit 1 if either is not what the files give

tests/test_docs.py checks that both equal what this script generates.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
STUDY = "study_bars_shipped.txt"  # the headline study: the default config.yaml, shipped teachers
README = REPO / "README.md"
PAGE = REPO / "docs" / "results.md"
START, END = "<!-- results-teaser:start -->", "<!-- results-teaser:end -->"
BAR = re.compile(r"\s*\(bar (?P<bar>[^:]+): (?P<verdict>met|NOT met)(?:, (?P<method>[^)]+))?\)")


def read_study(path: Path) -> dict:
    """The provenance lines (``key: value`` up to the first blank line), the sections and the checks."""
    head, _, body = path.read_text(encoding="utf-8").partition("\n\n")
    meta = dict(line.split(": ", 1) for line in head.splitlines() if ": " in line)
    sections = [s.strip() for s in re.split(r"^(?=### )", body, flags=re.M) if s.strip()]
    checks = {}  # model -> [(label, value, bar, verdict)]
    for section in sections:
        model = section.split(":", 1)[0].removeprefix("### ").strip()
        for line in section.splitlines():
            m = BAR.search(line)
            if not line.startswith("- ") or not m:
                continue
            label, value = line[2:].split(": ", 1)
            value = value[: BAR.search(value).start()].split(";")[0].strip()
            if m["method"]:  # a per-method list: the method the verdict names
                value = next((part.strip() for part in value.split(",") if part.strip().startswith(f"{m['method']} ")),
                             value)
            checks.setdefault(model, []).append((label, value, m["bar"], m["verdict"]))
    return {"meta": meta, "sections": sections, "checks": checks}


def seeds(study: dict) -> str:
    """The seeds the study's tables average over, as their headings name them."""
    m = re.search(r"mean of seeds ([\d, ]+)", study["sections"][0])
    return f"seeds {m[1].strip()}" if m else "seeds not named"


def provenance(meta: dict, with_commit: bool = True) -> str:
    parts = ([f"commit `{meta['commit']}`"] if with_commit and meta.get("commit") else []) + [
        meta[k] for k in ("machine", "date") if meta.get(k)]
    return ", ".join(parts) if parts else "machine and commit not recorded"


def teachers_note(meta: dict, teachers: Path = REPO / "teachers", with_fingerprints: bool = True) -> str:
    """A sentence when the study measured other teacher bytes than those shipped now (or did not record them)."""
    from common import teacher_fingerprints

    shipped = teacher_fingerprints(teachers)
    if meta.get("teachers") == shipped:
        return ""
    if not with_fingerprints:
        return "They were measured with other teachers than the ones shipped now: they are to be measured again."
    recorded = f"teachers {meta['teachers']}" if meta.get("teachers") else "teachers it did not record"
    return (f"These figures were measured with {recorded}, not the ones shipped now ({shipped}): "
            "they are to be measured again.")


def checks_table(checks: dict) -> list[str]:
    models = list(checks)
    rows = ["| check on the test split (bar) | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for i, (label, _, bar, _) in enumerate(checks[models[0]]):
        cells = []
        for model in models:
            _, value, _, verdict = checks[model][i]
            cells.append(f"{value}: {'met' if verdict == 'met' else '**not met**'}")
        rows.append(f"| {label} ({bar}) | " + " | ".join(cells) + " |")
    return rows


def teaser(results: Path = RESULTS) -> str:
    """README's block: the default study's checks, each family's verdict (no commit: see docs/results.md)."""
    study = read_study(results / STUDY)
    unmet = sum(verdict != "met" for rows in study["checks"].values() for *_, verdict in rows)
    total = sum(len(rows) for rows in study["checks"].values())
    lines = [
        f"The default study (distillation {seeds(study)}; {provenance(study['meta'], with_commit=False)}): "
        f"{total - unmet} of its {total} checks met." + (f" {note}" if (note := teachers_note(study["meta"], with_fingerprints=False)) else ""),
        "",
        *checks_table(study["checks"]),
        "",
        "Every per-language table, the machine and the commit: [docs/results.md](docs/results.md).",
    ]
    return "\n".join(lines)


def _csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _cell(text) -> str:
    return str(text).replace("|", "\\|")


def benchmarks_section(results: Path) -> list[str]:
    rows = _csv(results / "summary.csv")
    out = ["## Speed benchmarks", "",
           "`benchmarks/run_all.sh` (method and every measure: [benchmarks/README.md](../benchmarks/README.md)); "
           "from [benchmarks/results/summary.csv](../benchmarks/results/summary.csv), each row with the commit it "
           "was measured at and its machine (cores x CPU).", "",
           "| item | measure | value | target | met | measured at | machine |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append("| " + " | ".join(_cell(x) for x in (
            r["item"], r["measure"], r["value"], r["target"], r["met"],
            f"`{r['measured_commit']}`, {r['measured_date']}", f"{r['nproc']} x {r['cpu_model']}")) + " |")
    return out


def rules_section(results: Path) -> list[str]:
    rows = _csv(results / "study_rules.csv")
    total = next(r for r in rows if r["rule"] == "TOTAL")
    out = ["## A study's time by rule", "",
           f"From [benchmarks/results/study_rules.csv](../benchmarks/results/study_rules.csv) "
           f"(`benchmarks/study_rules.py` over a finished study's `{total['study']}`): commit `{total['commit']}`, "
           f"{total['nproc']} x {total['cpu_model']}, {total['date']}; {total['jobs']} jobs, "
           f"{float(total['sum_s']):,.0f} job-seconds, makespan {float(total['makespan_s']):,.0f} s "
           f"({total['makespan_source']}).", "",
           "| rule | jobs | job-seconds | share | mean s | max s | max RSS MB |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["rule"] != "TOTAL":
            out.append(f"| {r['rule']} | {r['jobs']} | {float(r['sum_s']):,.0f} | "
                       f"{float(r['share_of_job_seconds']):.1%} | {r['mean_s']} | {r['max_s']} | {r['max_rss_mb']} |")
    return out


def page(results: Path = RESULTS) -> str:
    study = read_study(results / STUDY)
    lines = [
        "<!-- Generated by benchmarks/render_results.py from benchmarks/results/: edit those files or the "
        "script, not this page. -->",
        "",
        "# Results",
        "",
        "What the embedded default study and the speed benchmarks measured, each with the commit and the "
        "machine its result file records. How to read every number: [analysis.md](analysis.md).",
        "",
        "## The embedded default study",
        "",
        f"`config.yaml` with distillation {seeds(study)}, its tables read by "
        f"`benchmarks/study_bars.py` into [benchmarks/results/{STUDY}](../benchmarks/results/{STUDY}): "
        f"{provenance(study['meta'])}. Retention is the ratio of the means over the same queries; a bar is "
        f"the check's threshold plus the margin for float drift across machines."
        + (f" {note}" if (note := teachers_note(study["meta"])) else ""),
        "",
        *checks_table(study["checks"]),
        "",
    ]
    for section in study["sections"]:
        title, _, rest = section.partition("\n")
        lines += [title, "", rest.strip(), ""]
    lines += [*benchmarks_section(results), "", *rules_section(results), ""]
    return "\n".join(lines)


def with_teaser(readme: str, block: str) -> str:
    if START not in readme or END not in readme:
        raise ValueError(f"README.md lacks the {START} ... {END} block")
    before, rest = readme.split(START, 1)
    return before + START + "\n" + block + "\n" + END + rest.split(END, 1)[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    wanted = {PAGE: page(), README: with_teaser(README.read_text(encoding="utf-8"), teaser())}
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(REPO)} is not what benchmarks/render_results.py generates; run it", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path], encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
