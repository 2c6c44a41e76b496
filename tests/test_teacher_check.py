"""The teacher check: published references compared with the teacher scored under their protocol
(planted references on toy values: pass, fail, warn), and distill planned after it."""

from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from mvlm_distill.evaluate.teacher_check import compare, load_references, mismatch_sentence, references_for

from study import REPO

PLANTED = {"teacher": {"name": "toy-clip"}, "benchmark": "synthetic", "protocol": {"queries": "first", "ties": "index"},
           "source": "planted", "task": "t2i", "metric": "R@1", "values": {"en": 40.0, "de": 30.0},
           "average": 35.0, "average_languages": 2}


def measured(en, de):
    def table(v):
        return pd.DataFrame({"task": ["t2i"], "metric": ["R@1"], "value": [v]})
    return {("synthetic", "first", "index"): {"en": table(en), "de": table(de)}}


def test_a_teacher_within_tolerance_passes():
    table = compare([PLANTED], measured(0.403, 0.297), tolerance=0.5, average_tolerance=1.0)
    assert list(table["language"]) == ["en", "de", "average"]
    assert table["reproduced"].all()
    assert mismatch_sentence("toy-clip", table) is None


def test_a_teacher_off_by_more_than_the_tolerance_is_named_in_one_sentence():
    table = compare([PLANTED], measured(0.403, 0.25), tolerance=0.5, average_tolerance=1.0)
    sentence = mismatch_sentence("toy-clip", table)
    assert sentence == ("Teacher toy-clip does not reproduce its published synthetic t2i R@1 in de (first captions, "
                        "index ties): expected 30, measured 25.0 (tolerance 0.5; planted) (1 more in the check's "
                        "table).")
    assert "\n" not in sentence


def test_references_match_model_keys_and_benchmark_kind(tmp_path):
    path = tmp_path / "refs.yaml"
    path.write_text(yaml.safe_dump([PLANTED]))
    entries = load_references(path)
    assert references_for(entries, {"name": "toy-clip"}, {"bench": {"kind": "synthetic"}})[0]["benchmark"] == "bench"
    assert references_for(entries, {"name": "toy-siglip2"}, {"bench": {"kind": "synthetic"}}) == []
    path.write_text(yaml.safe_dump([{**PLANTED, "protocol": {"ties": "random"}}]))
    with pytest.raises(ValueError, match=r"refs.yaml: entry 1: unknown ties 'random'"):
        load_references(path)


def test_the_shipped_reference_file_loads():
    entries = load_references(REPO / "configs" / "teacher_references.yaml")
    xlmr = references_for(entries, {"checkpoint": "xlm-roberta-base-ViT-B-32", "pretrained": "laion5b_s13b_b90k"},
                          {"xm3600": {"kind": "xm3600"}})
    assert {e["source"].split()[0] for e in xlmr} == {"open_clip", "Babel-ImageNet"}


def _dag(config_args, *targets):
    cmd = [sys.executable, "-m", "snakemake", *targets, "-n", "--dag", "dot", *config_args]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    labels = {}
    for line in proc.stdout.splitlines():
        if "[label" in line and "rule" not in line:
            node, rest = line.strip().split("[", 1)
            labels[node.strip()] = re.split(r'\\n|"', rest.split('label = "', 1)[1])[0]
    edges = [tuple(p.strip().rstrip(";") for p in line.split("->")) for line in proc.stdout.splitlines() if "->" in line]
    return {(labels.get(a), labels.get(b)) for a, b in edges}


def test_paper_study_plans_the_teacher_check_before_distillation():
    edges = _dag(["--configfile", "configs/paper.yaml"], "results/paper/students/xlmr-base-vit-b32/ED/seed0",
                 "results/paper/students/siglip2-base/ED/seed0")
    assert ("check_teacher", "distill") in edges
    assert ("embed_texts", "check_teacher") in edges


def test_the_default_study_has_no_teacher_check():
    edges = _dag([], "results/students/toy-clip/ED/seed0")
    assert not any("check_teacher" in edge for edge in edges)


# ---------------------------------------------------------------- end to end, on the reduced study
def _planted(measured, **values):
    """t2i R@10 (first caption, index ties) of the toy teacher: per language and the mean, as measured
    unless ``values`` plants another."""
    return [{"teacher": {"name": "toy-clip"}, "benchmark": "synthetic",
             "protocol": {"queries": "first", "ties": "index"}, "source": "planted", "task": "t2i",
             "metric": "R@10", "values": {**measured, **values},
             "average": round(sum(measured.values()) / len(measured), 4), "average_languages": len(measured)}]


@pytest.mark.slow
def test_a_teacher_check_with_planted_references_stops_warns_or_passes_before_distillation(tmp_path):
    """The reduced study's toy teacher with a reference file as a user writes one (teacher_check block):
    one language far off stops the run before any distill job (exit 1, one sentence); on_mismatch: warn
    distils with a warning line; the values it measures pass and distil."""
    from mvlm_distill.data.formats import read_benchmark
    from mvlm_distill.evaluate.pipeline import score_row_language
    from mvlm_distill.paths import ResultPaths

    from study import project_copy, reduced_config, run_snakemake

    work = project_copy(tmp_path / "study")
    results = ResultPaths("results")
    texts = results.embeddings(model="toy-clip", method="teacher", seed="0", benchmark="synthetic")
    images = results.image_cache(model="toy-clip", benchmark="synthetic", split="test")
    student = results.student(model="toy-clip", kd_method="ED", seed="0")
    check = work / results.teacher_check(model="toy-clip")
    refs = work / "teacher_references.yaml"

    def run(references, on_mismatch, *targets):
        refs.write_text(yaml.safe_dump(references, sort_keys=False))
        config = reduced_config(teacher_check={"references": refs.name, "on_mismatch": on_mismatch})
        return run_snakemake(work, config, "--cores", "2", *targets)

    # what the toy teacher measures, from its embeddings (the check's inputs), scored here
    proc = run(_planted({"en": 0.0}), "stop", texts, images)
    assert proc.returncode == 0, proc.stderr[-5000:]
    bench = read_benchmark(work / results.benchmark_dir(benchmark="synthetic"), validate=False)
    measured = {}
    for language in ("en", "de", "th"):
        table = score_row_language(bench, work / texts, work / images, language=language, split="test", n_boot=0,
                                   protocol={"queries": "first", "ties": "index"})[1]
        value = table.loc[(table.task == "t2i") & (table.metric == "R@10"), "value"].iloc[0]
        measured[language] = round(100 * float(value), 4)
    far = 60.0 if measured["th"] < 30 else 0.0

    # (b) fail: Thai far off stops the study before any distill job, in one sentence
    proc = run(_planted(measured, th=far), "stop", student)
    assert proc.returncode == 1, proc.stderr[-5000:]
    sentence = (f"TeacherCheckError: Teacher toy-clip does not reproduce its published synthetic t2i R@10 in th "
                f"(first captions, index ties): expected {far:g}, measured {measured['th']:.1f} (tolerance 0.5; "
                f"planted). Set teacher_check.on_mismatch: warn to distil anyway.")
    assert sentence in proc.stderr, proc.stderr[-5000:]
    assert not (work / "results" / "students").exists()
    assert not (work / results.log("distill", "toy-clip/ED/seed0")).exists()
    assert not check.exists(), "a failed check leaves no table that would let distill run"

    # (c) warn: the same references with on_mismatch: warn, a warning line and the student made
    proc = run(_planted(measured, th=far), "warn", student)
    assert proc.returncode == 0, proc.stderr[-5000:]
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("Teacher check warning:")]
    assert warnings == [sentence.replace("TeacherCheckError:", "Teacher check warning:").removesuffix(
        " Set teacher_check.on_mismatch: warn to distil anyway.")]
    assert (work / student / "mvlm_model.json").exists()
    table = pd.read_csv(check)
    assert list(table.loc[~table.reproduced, "language"]) == ["th"]

    # (a) pass: the values it measures; the check reruns, then distill, and the run exits 0
    proc = run(_planted(measured), "stop", student)
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert "Teacher check" not in proc.stderr and "TeacherCheckError" not in proc.stderr
    table = pd.read_csv(check)
    assert list(table.columns) == ["benchmark", "language", "task", "metric", "queries", "ties", "expected",
                                   "measured", "difference", "tolerance", "reproduced", "source"]
    assert list(table.language) == ["en", "de", "th", "average"]
    assert table.reproduced.all() and set(table.source) == {"planted"}
    assert dict(zip(table.language[:3], table.measured[:3])) == pytest.approx(measured, abs=1e-4)
    assert table.measured.iloc[3] == pytest.approx(sum(measured.values()) / 3, abs=1e-4)
    assert (work / student / "mvlm_model.json").stat().st_mtime > check.stat().st_mtime, "distill ran after the check"
