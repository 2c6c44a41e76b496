"""Exact rerun triggers: on a finished study, changing one config key replans only what depends on it.

One copy of the finished reduced study (tests/study.py), then one dry run per edit with the default
`--rerun-triggers`; the replanned jobs per rule are read from the dry run's job-count table."""

import copy
import dataclasses
import inspect
import re
import shutil
from pathlib import Path

import pytest

from study import REPO
from study import reduced_config, run_snakemake

BASE = reduced_config()
LANGS = len(BASE["languages"])  # 3
KD = len(BASE["methods"])  # 2 students (ED, DR+ED), one seed
ROWS = KD + 2  # + teacher and init
# every change of a number reaches the tables (tidy and per-language), and through them every export's model card
TAIL = {"aggregate_tables": 1, "language_tables": 1, "language_report": LANGS, "index_report": 1, "export_student": KD}


def replanned(work: Path, config: dict) -> dict:
    proc = run_snakemake(work, config, "rules", "-n")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    if "Nothing to be done" in proc.stdout + proc.stderr:
        return {}
    table = (proc.stdout + proc.stderr).split("Job stats:")[1]
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}
    counts.pop("all", None)
    counts.pop("total", None)
    return counts


def edited(edit) -> dict:
    cfg = copy.deepcopy(BASE)
    edit(cfg)
    return cfg


def student_rows(n: int) -> dict:
    """n students re-distilled, and their embeddings, scores and clustering."""
    return {"distill": n, "embed_texts": n, "cluster_embeddings": n, "score_language": n * LANGS, **TAIL}


EDITS = {
    "distillation.steps": (lambda c: c["distillation"].update(steps=c["distillation"]["steps"] + 1),
                           student_rows(KD)),
    "add a method": (lambda c: c["methods"].update(FD={"FD": 1.0}), {**student_rows(1), "export_student": KD + 1}),
    "add a seed": (lambda c: c.update(seeds=[0, 1]), {**student_rows(KD), "export_student": 2 * KD}),
    # new language (listed with fraction 0: evaluated, not distilled on): its scores for every row, and
    # clustering (over all languages) of every row
    "add a language": (lambda c: (c.update(languages=c["languages"] + ["fr"]),
                                  c["distillation"]["language_fraction"].update(fr=0.0)),
                       {"score_language": ROWS, "cluster_embeddings": ROWS, **TAIL, "language_report": LANGS + 1}),
    # the evaluation split's image cache and every row's text embeddings, never a student
    "evaluation.batch_size": (lambda c: c["evaluation"].update(batch_size=128),
                              {"cache_images": 1, "embed_texts": ROWS, "cluster_embeddings": ROWS,
                               "score_language": ROWS * LANGS, **TAIL}),
    "evaluation.bootstrap_resamples": (lambda c: c["evaluation"].update(bootstrap_resamples=50),
                                       {"score_language": ROWS * LANGS, **TAIL}),
    "evaluation.alpha": (lambda c: c["evaluation"].update(alpha=0.01), TAIL),
    # a chosen retrieval protocol rescores every language of every row; the default one is no param
    "evaluation.protocol": (lambda c: c["evaluation"].update(protocol={"ties": "index"}),
                            {"score_language": ROWS * LANGS, **TAIL}),
    "evaluation.protocol, the default": (
        lambda c: c["evaluation"].update(protocol={"queries": "all", "ties": "pessimistic"}), {}),
    # the students and the init row (the student before distillation); the teacher row stays
    "models[0].student_layers": (lambda c: c["models"][0].update(student_layers=[1, 3]),
                                 {**student_rows(KD), "embed_texts": KD + 1, "cluster_embeddings": KD + 1,
                                  "score_language": (KD + 1) * LANGS}),
    # neither ED nor DR+ED uses a temperature
    "SD temperature, no SD method": (
        lambda c: c["distillation"]["temperatures"].update(sd_teacher_temperature=0.06), {}),
    # resume bookkeeping only
    "distillation.checkpoint_every": (lambda c: c["distillation"].update(checkpoint_every=7), {}),
}


@pytest.fixture(scope="module")
def finished(reduced_study, tmp_path_factory):
    """A copy of the finished reduced study (mtimes and Snakemake's metadata kept), with a trained
    SD student too, so that an SD temperature has a job to rerun."""
    work = tmp_path_factory.mktemp("triggers") / "study"
    shutil.copytree(reduced_study, work, symlinks=True)
    assert replanned(work, BASE) == {}, "the finished study is not up to date"
    with_sd = edited(lambda c: c["methods"].update(SD={"SD": 1.0}))
    proc = run_snakemake(work, with_sd, "--cores", "2", "results/students/toy-clip/SD/seed0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work, with_sd


@pytest.mark.slow
@pytest.mark.parametrize("change", list(EDITS))
def test_one_change_replans_only_what_depends_on_it(finished, change):
    work, _ = finished
    edit, expected = EDITS[change]
    assert replanned(work, edited(edit)) == expected


@pytest.mark.slow
def test_a_temperature_reaches_only_its_method(finished):
    work, with_sd = finished
    # SD's downstream was never run: the baseline plans it, the edit adds exactly SD's student
    baseline = replanned(work, with_sd)
    assert baseline == {"embed_texts": 1, "cluster_embeddings": 1, "score_language": LANGS, **TAIL,
                        "export_student": KD + 1}
    for key in ("sd_teacher_temperature", "sd_student_temperature"):
        cfg = copy.deepcopy(with_sd)
        temperatures = cfg["distillation"]["temperatures"]
        # sd_student_temperature is absent by default (equal to the teacher's): setting it is a change too
        temperatures[key] = 1.5 * temperatures.get(key, temperatures["sd_teacher_temperature"])
        assert replanned(work, cfg) == {**baseline, "distill": 1}, key
    cfg = copy.deepcopy(with_sd)
    cfg["distillation"]["temperatures"]["mcl_temperature"] *= 1.5  # no MCL method here
    assert replanned(work, cfg) == baseline


def test_loss_temperature_keys_are_build_loss_arguments():
    from mvlm_distill.distill.keys import LOSS_TEMPERATURES, TRAINING_KEYS
    from mvlm_distill.distill.losses import LOSSES, build_loss
    from mvlm_distill.distill.trainer import TrainingSettings

    keyword_only = {name for name, p in inspect.signature(build_loss).parameters.items()
                    if p.kind is p.KEYWORD_ONLY}
    assert {k for keys in LOSS_TEMPERATURES.values() for k in keys} == keyword_only
    assert set(LOSS_TEMPERATURES) <= set(LOSSES)
    fields = {f.name for f in dataclasses.fields(TrainingSettings)}
    assert set(TRAINING_KEYS) == fields - {"seed", "checkpoint_every"}


def test_scripts_read_config_values_from_params():
    """A value a script reads from snakemake.config is no rerun trigger: only the one that must not be."""
    reads = {}
    for script in sorted((REPO / "workflow" / "scripts").glob("*.py")):
        for line in script.read_text(encoding="utf-8").splitlines():
            if "snakemake.config" in line and not line.lstrip().startswith("#"):
                reads.setdefault(script.name, []).append(line.strip())
    assert reads == {"distill.py": ['checkpoint_every = snakemake.config["distillation"].get("checkpoint_every", 50)']}
