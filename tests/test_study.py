"""The study model (mvlm_distill/study.py): the grid, the key tables and every rule's params.

Rule params are rerun triggers: Snakemake compares each job's params (their repr) with the ones its
outputs were made with, so a value that changes, or a key that moves, reruns the job and everything
after it on a finished study. tests/fixtures/study_params.json records every job's settings param for
three configs (a reduced toy study, the shipped teachers with every optional block, a small paper
study), as the workflow's DAG gave them; the fast tests check Study gives each, without Snakemake.
A slow test checks the DAG still asks Study for exactly those jobs; `python tests/test_study.py
record` records the file again (only for a change meant to rerun those jobs).
"""

import copy
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from study import REPO

from mvlm_distill.config import apply_removals, check_config
from mvlm_distill.definitions import DEFAULT_PROTOCOL, REFERENCES
from mvlm_distill.study import NOT_TEACHER_KEYS, REFERENCE_SEED, RULE_PARAMS, Study

RECORDED = REPO / "tests" / "fixtures" / "study_params.json"
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"

#: each rule's settings keys, in order (the order is part of the repr Snakemake compares)
KEYS = {
    "fetch_model": ["keys"],
    "fetch_benchmark": ["keys"],
    "fetch_mteb_dataset": ["keys"],
    "prepare_benchmark": ["spec"],  # + data_root for a dataset benchmark
    "select_pretraining": ["split", "language_fraction", "seed"],
    "select_corpus": ["split", "language_fraction"],
    "pretrain_teacher": ["spec", "settings"],
    "cache_images": ["spec", "batch_size", "with_vqa"],
    "cache_teacher_text": ["spec", "batch_size"],
    "check_teacher": ["references", "benchmarks", "languages", "split", "tolerance", "average_tolerance",
                      "on_mismatch"],
    "distill": ["spec", "loss", "training"],
    "embed_texts": ["spec", "split", "batch_size"],
    "score_language": ["split", "n_boot", "unit"],  # + protocol when not the default
    "cluster_embeddings": ["split", "languages"],  # + max_images when evaluation.clustering_images is set
    "trim_vocabulary": ["spec", "languages", "split"],
    "export_student": ["spec", "weights", "training", "corpus", "languages", "extra_text", "benchmark_ids",
                       "evaluation_split"],
    "aggregate_tables": ["n_boot", "alpha", "resource_groups"],
    "language_tables": ["languages", "resource_groups", "alpha"],
    "language_report": ["languages", "resource_groups", "alpha"],
    "index_report": ["languages", "resource_groups", "alpha"],
    "mteb_evaluate": ["spec", "keys", "tasks", "languages", "batch_size"],
}


def _checked(raw: dict) -> dict:
    return check_config(apply_removals(copy.deepcopy(raw)), schema_path=SCHEMA)


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def recorded():
    return json.loads(RECORDED.read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(REPO)  # the configs name files relative to the project (teachers/, configs/)


@pytest.mark.parametrize("name", ["reduced", "shipped", "paper"])
def test_every_job_gets_the_recorded_params(recorded, name):
    study = Study(_checked(recorded["configs"][name]))
    values, jobs = recorded["jobs"][name]["values"], recorded["jobs"][name]["jobs"]
    assert {rule for rule, _, _ in jobs} <= set(RULE_PARAMS)
    changed = [f"{rule} {wildcards}:\n  recorded {values[i]}\n  now      {study.params(rule, **wildcards)!r}"
               for rule, wildcards, i in jobs if repr(study.params(rule, **wildcards)) != values[i]]
    assert not changed, "params that would rerun a finished study:\n" + "\n".join(changed[:5])


def test_the_recorded_configs_reach_every_rule(recorded):
    reached = {rule for name in recorded["jobs"] for rule, _, _ in recorded["jobs"][name]["jobs"]}
    assert reached == set(RULE_PARAMS)


def _sample_wildcards(study: Study) -> dict[str, dict]:
    """One job's wildcards per rule, from the study's own grid."""
    model = next(iter(study.models))
    row = study.evaluated_rows()[-1]
    student = study.students()[-1]
    benchmark = study.benchmarks[0]
    return {
        "fetch_model": {"model": (study.fetched_models or [model])[0]},
        "fetch_benchmark": {"benchmark": (study.fetched_benchmarks or [benchmark])[0]},
        "fetch_mteb_dataset": {"mteb_task": "XM3600T2IRetrieval"},
        "prepare_benchmark": {"benchmark": benchmark},
        "select_pretraining": {},
        "select_corpus": {},
        "pretrain_teacher": {"model": model},
        "cache_images": {"model": model, "benchmark": benchmark, "split": study.eval_split},
        "cache_teacher_text": {"model": model},
        "check_teacher": {"model": next(iter(study.checked_models), None)},
        "distill": student,
        "embed_texts": row,
        "score_language": {**row, "language": study.benchmark_languages[row["benchmark"]][0]},
        "cluster_embeddings": row,
        "trim_vocabulary": {"model": model},
        "export_student": student,
        "aggregate_tables": {},
        "language_tables": {},
        "language_report": {"language": study.languages[0]},
        "index_report": {},
        "mteb_evaluate": {"model": model, "method": "teacher", "seed": REFERENCE_SEED},
    }


@pytest.mark.parametrize("path", ["config.yaml", "configs/paper.yaml"])
def test_each_rule_gets_exactly_its_keys(path):
    study = Study(_checked(_load(REPO / path)))
    for rule, wildcards in _sample_wildcards(study).items():
        if rule == "check_teacher" and not study.checked_models:
            continue
        optional = {
            "prepare_benchmark": study.config["benchmarks"][wildcards.get("benchmark", "")]["kind"] != "synthetic"
            if rule == "prepare_benchmark" else False,
            "score_language": study.custom_protocol(),
            "cluster_embeddings": "clustering_images" in study.evaluation,
        }
        extra = {"prepare_benchmark": "data_root", "score_language": "protocol", "cluster_embeddings": "max_images"}
        expected = KEYS[rule] + ([extra[rule]] if optional.get(rule) else [])
        assert list(study.params(rule, **wildcards)) == expected, (path, rule)
    assert set(_sample_wildcards(study)) == set(RULE_PARAMS) == set(KEYS)


def test_params_take_only_the_rules_wildcards():
    study = Study(_checked(_load(REPO / "config.yaml")))
    wildcards = {"model": "toy-clip", "method": "ED", "kd_method": "ED", "seed": "0", "benchmark": "synthetic",
                 "language": "de", "split": "test", "mteb_task": "XM3600T2IRetrieval"}
    for rule in RULE_PARAMS:
        if rule != "check_teacher":
            study.params(rule, **wildcards)  # extra wildcards are ignored
    with pytest.raises(KeyError, match="no settings param"):
        study.params("all")


def test_teacher_spec_names_the_teacher_only():
    raw = _load(REPO / "config.yaml")
    raw["models"][0].update(trim_vocabulary=True, license="mit")
    study = Study(_checked(raw))
    model = raw["models"][0]["name"]
    spec = study.teacher_spec(model)
    assert not set(spec) & set(NOT_TEACHER_KEYS) and spec["name"] == model
    # a student adds its layer map; the init row (the student before distillation) too, the teacher row not
    assert study.params("distill", model=model, kd_method="ED", seed="0")["spec"] == {
        **spec, "student_layers": study.models[model]["student_layers"]}
    init = study.params("embed_texts", model=model, method="init", seed="0", benchmark="synthetic")
    teacher = study.params("embed_texts", model=model, method="teacher", seed="0", benchmark="synthetic")
    assert init["spec"] == {**spec, "student_layers": study.models[model]["student_layers"]}
    assert teacher["spec"] == spec
    # the export's card states the licence
    assert study.params("export_student", model=model, kd_method="ED", seed="0")["spec"]["license"] == "mit"


def test_a_toy_teacher_is_named_by_name_family_and_source():
    from study import reduced_config

    study = Study(_checked(reduced_config()))
    assert study.teacher_spec("toy-clip") == {"name": "toy-clip", "family": "clip", "source": "toy"}
    pre = study.params("pretrain_teacher", model="toy-clip")
    assert pre["spec"]["toy"] == {"layers": 4, "context_length": 48}
    assert list(pre["settings"]) == ["steps", "batch_size", "lr", "seed", "tokenizer_vocab_size"]


def test_a_loss_brings_only_its_own_temperatures():
    raw = _load(REPO / "config.yaml")
    raw["distillation"]["temperatures"] = {"sd_teacher_temperature": 0.06, "mcl_temperature": 0.07}
    study = Study(_checked(raw))
    assert study.loss_params("ED") == {"weights": {"ED": 1.0}, "temperatures": {}}
    assert study.loss_params("SD")["temperatures"] == {"sd_teacher_temperature": 0.06}
    assert study.loss_params("MCL")["temperatures"] == {"mcl_temperature": 0.07}


def test_settings_that_reach_only_some_jobs():
    raw = _load(REPO / "config.yaml")
    raw["corpus"]["batch_size"] = 64
    raw["evaluation"]["batch_size"] = 128
    raw["distillation"]["language_fraction"]["th"] = 0.0
    study = Study(_checked(raw))
    corpus = study.params("cache_images", model="toy-clip", benchmark="synthetic", split=study.corpus_split)
    evaluation = study.params("cache_images", model="toy-clip", benchmark="synthetic", split="test")
    assert (corpus["batch_size"], corpus["with_vqa"]) == (64, False)
    assert (evaluation["batch_size"], evaluation["with_vqa"]) == (128, True)
    assert study.params("cache_teacher_text", model="toy-clip")["batch_size"] == 64
    # a language with fraction 0 selects what an absent one does
    assert "th" not in study.params("select_corpus")["language_fraction"]
    # the default protocol is no param; a chosen one is
    row = {"model": "toy-clip", "method": "ED", "seed": "0", "benchmark": "synthetic", "language": "de"}
    assert "protocol" not in study.params("score_language", **row) and not study.custom_protocol()
    raw["evaluation"]["protocol"] = {"ties": "index"}
    chosen = Study(_checked(raw))
    assert chosen.custom_protocol()
    assert chosen.params("score_language", **row)["protocol"] == {**DEFAULT_PROTOCOL, "ties": "index"}


def test_the_grid():
    from study import reduced_config

    study = Study(_checked(reduced_config(seeds=[0, 1])))
    assert study.method_seeds() == [(ref, REFERENCE_SEED) for ref in REFERENCES] + [
        (m, s) for m in ("ED", "DR+ED") for s in ("0", "1")]
    assert len(study.evaluated_rows()) == 1 * (len(REFERENCES) + 2 * 2) * 1
    assert study.students()[0] == {"model": "toy-clip", "kd_method": "ED", "seed": "0"}
    keys = study.aggregate_tables_keys()
    assert len(keys["scores"]) == len(study.evaluated_rows()) * 3  # three languages
    assert keys["scores"][0] == {"model": "toy-clip", "family": "clip", "method": "teacher", "seed": None,
                                 "benchmark": "synthetic", "language": "en"}
    assert [k["seed"] for k in study.index_report_keys()["students"]] == [0, 1, 0, 1]
    constraints = study.wildcard_constraints()
    assert re.fullmatch(constraints["method"], "DR+ED") and not re.fullmatch(constraints["method"], "DR")


def test_the_one_validation_fills_what_snakemakes_would():
    """The workflow validates once (check_config): Snakemake's own validate() would add no default."""
    from snakemake.utils import validate

    for path in ("config.yaml", "configs/paper.yaml"):
        checked = _checked(_load(REPO / path))
        again = copy.deepcopy(checked)
        validate(again, str(SCHEMA))
        assert repr(again) == repr(checked), path


def test_every_rule_takes_its_settings_from_the_study():
    """A rule's `settings=` param is rule_params("<the rule>"): no params function outside Study."""
    found = {}
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for rule, body in re.findall(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", path.read_text(encoding="utf-8"), re.M):
            if m := re.search(r"^\s+settings=(.*),$", body, re.M):
                found[rule] = m.group(1)
    assert found == {rule: f'rule_params("{rule}")' for rule in RULE_PARAMS}


def record_params(config: dict, targets=("all",)) -> list:
    """[rule, wildcards, repr(settings)] of every job the workflow plans for a config (a dry DAG)."""
    import tempfile

    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (ConfigSettings, DAGSettings, DeploymentSettings, OutputSettings,
                                          ResourceSettings, StorageSettings, WorkflowSettings)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "study.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))  # key order is in the reprs
        with SnakemakeApi(OutputSettings(dryrun=True, quiet={"all"})) as api:
            workflow_api = api.workflow(
                snakefile=REPO / "Snakefile", workdir=REPO, config_settings=ConfigSettings(configfiles=[path]),
                resource_settings=ResourceSettings(cores=1), storage_settings=StorageSettings(),
                workflow_settings=WorkflowSettings(), deployment_settings=DeploymentSettings())
            workflow_api.dag(DAGSettings(targets=set(targets), forceall=True))
            workflow = workflow_api._workflow
            workflow._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True)
            workflow._build_dag()
            jobs = [[job.rule.name, dict(job.wildcards.items()), repr(job.params.settings)]
                    for job in workflow.dag.jobs if "settings" in job.params.keys()]
    return sorted(jobs, key=lambda j: (j[0], json.dumps(j[1], sort_keys=True)))


TARGETS = {"reduced": ("all",), "shipped": ("all", "mteb", "publish_exports"), "paper": ("all",)}


@pytest.mark.slow
def test_the_workflow_asks_the_study_for_the_recorded_jobs(recorded):
    """The DAG (a dry run, in its own process: the Snakefile sets environment variables) plans the
    recorded jobs, and each gets Study's settings."""
    import subprocess

    proc = subprocess.run([sys.executable, __file__, "print"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    planned = json.loads(proc.stdout)
    for name in TARGETS:
        values, jobs = recorded["jobs"][name]["values"], recorded["jobs"][name]["jobs"]
        assert planned[name] == [[r, w, values[i]] for r, w, i in jobs], name


def _record_file(old: dict) -> str:
    lines = ["{", f'"_comment": {json.dumps(old["_comment"])},',
             f'"configs": {json.dumps(old["configs"], ensure_ascii=False)},', '"jobs": {']
    for k, (name, targets) in enumerate(TARGETS.items()):
        values, rows = [], []
        for rule, wildcards, value in record_params(old["configs"][name], targets):
            values += [value] if value not in values else []
            rows.append([rule, wildcards, values.index(value)])
        lines += [f'{json.dumps(name)}: {{"values": [', ",\n".join(json.dumps(v, ensure_ascii=False) for v in values),
                  '], "jobs": [', ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows),
                  "]}" + ("," if k < len(TARGETS) - 1 else "")]
    return "\n".join([*lines, "}", "}"]) + "\n"


if __name__ == "__main__":  # python tests/test_study.py record | print
    import os

    os.chdir(REPO)
    old = json.loads(RECORDED.read_text(encoding="utf-8"))
    if sys.argv[1:] == ["record"]:
        RECORDED.write_text(_record_file(old), encoding="utf-8")
    else:
        print(json.dumps({name: record_params(old["configs"][name], targets) for name, targets in TARGETS.items()}))
