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
