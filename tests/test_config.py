"""Bad configs stop with one sentence that names the key (issue: reliability)."""

import copy
import subprocess
import sys

import pytest
import yaml

from study import REPO, toy_config
from mvlm_distill.config import ConfigError, check_config, load_config

DEFAULT = toy_config()


def _cfg(**changes):
    cfg = copy.deepcopy(DEFAULT)
    for dotted, value in changes.items():
        node = cfg
        keys = dotted.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        last = keys[-1]
        if value is _DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return cfg


_DELETE = object()

CASES = [
    ("unknown loss", _cfg(methods__FD={"XD": 1.0}), "methods.FD.XD: unknown key; allowed keys: FD, ED, SD, MCL, DR."),
    ("negative weight", _cfg(methods__FD={"FD": -1.0}), "methods.FD.FD: loss weights must not be negative."),
    ("all-zero weights", _cfg(**{"methods__DR+ED": {"DR": 0, "ED": 0}}), "methods.DR+ED: all loss weights are zero"),
    ("empty method", _cfg(methods__FD={}), "methods.FD: must not be empty."),
    ("reserved method name", _cfg(methods={"teacher": {"FD": 1}}), "'teacher' and 'init' are reserved"),
    ("language not offered", _cfg(languages=["en", "xx"]), "languages: 'xx' is not offered by benchmark 'synthetic'"),
    ("empty languages", _cfg(languages=[]), "languages: must not be empty."),
    ("duplicate languages", _cfg(languages=["en", "en"]), "languages: has duplicate entries."),
    ("duplicate model names", _cfg(models__1__name="toy-clip"), "models: duplicate model name 'toy-clip'"),
    ("unknown family", _cfg(models__0__family="blip"), "models[0].family: 'blip' is not allowed (closest: 'clip'); allowed values: clip, siglip2."),
    ("unknown source", _cfg(models__0__source="torchhub"), "models[0].source: 'torchhub' is not allowed; allowed values: toy, open_clip, hf."),
    ("layer map out of range", _cfg(models__0__student_layers=[0, 4]), "student_layers: [0, 4] is out of range; the teacher has 4 text layers (allowed 0..3)"),
    ("negative layer", _cfg(models__0__student_layers=[-1]), "models[0].student_layers[0]: -1 is less than the minimum of 0."),
    ("missing checkpoint path", _cfg(models__0__source="open_clip", models__0__toy=_DELETE, models__0__checkpoint="./nowhere/model.safetensors"),
     "checkpoint: local path './nowhere/model.safetensors' does not exist."),
    ("real model without checkpoint", _cfg(models__0__source="hf"), "models[0].checkpoint: required for source 'hf' (model 'toy-clip')."),
    ("seed not an integer", _cfg(seeds=["zero"]), "seeds[0]: expected integer, got 'zero'."),
    ("seed a float", _cfg(seeds=[0.5]), "seeds[0]: expected integer, got 0.5."),
    ("empty seeds", _cfg(seeds=[]), "seeds: must not be empty."),
    ("empty models", _cfg(models=[]), "models: must not be empty."),
    ("empty methods", _cfg(methods={}), "methods: must not be empty."),
    ("unknown top-level key", _cfg(learning_rate=0.1), "learning_rate: unknown key; allowed keys: results, data_root"),
    ("missing required key", _cfg(distillation__steps=_DELETE), "distillation.steps: required key is missing."),
    ("steps not a number", _cfg(distillation__steps="many"), "distillation.steps: expected integer, got 'many'."),
    ("zero steps", _cfg(distillation__steps=0), "distillation.steps: 0 is less than the minimum of 1."),
    ("unknown evaluation benchmark", _cfg(evaluation__benchmarks=["xm3600"]),
     "evaluation.benchmarks: 'xm3600' is not a configured benchmark; allowed: synthetic."),
    ("unknown corpus", _cfg(corpus__benchmark="coco"), "corpus.benchmark: 'coco' is not a configured benchmark"),
    ("unknown benchmark kind", _cfg(benchmarks__synthetic__kind="imagenet"), "benchmarks.synthetic.kind: 'imagenet' is not allowed"),
    ("corpus fraction for unknown language", _cfg(distillation__language_fraction={"en": 1.0, "klingon": 0.5}),
     "distillation.language_fraction: 'klingon' is not offered by the corpus benchmark 'synthetic'"),
    ("all-zero corpus", _cfg(distillation__language_fraction={"en": 0.0}), "distillation.language_fraction: every fraction is zero"),
    ("fraction above one", _cfg(teacher_pretraining__language_fraction={"en": 2.0}), "teacher_pretraining.language_fraction.en: 2.0 is greater than the maximum of 1."),
    ("results escaping the project", _cfg(results="../elsewhere"), "results: '../elsewhere' leaves the project folder"),
    ("benchmark source escaping", _cfg(benchmarks__synthetic__source="data/../../x"),
     "benchmarks.synthetic.source: 'data/../../x' leaves the project folder; give an absolute path"),
    ("publishing an export the study does not make", _cfg(publish={"repositories": [{"export": "toy-clip/XX/seed0", "repo_id": "a/b"}]}),
     "publish.repositories[0].export: 'toy-clip/XX/seed0' is not an export of this study"),
    ("missing extra trimming text", _cfg(export={"extra_text": "nowhere.txt"}), "export.extra_text: file 'nowhere.txt' does not exist."),
    ("resources for an unknown rule", _cfg(resources={"scoring": {"mem_mb": 1000}}), "resources.scoring: unknown key; the closest allowed key is 'score_language'."),
    ("resource not an integer", _cfg(resources={"score_language": {"mem_mb": "16G"}}),
     "resources.score_language.mem_mb: expected integer, got '16G'."),
    ("bad model name", _cfg(models__0__name="toy clip/1"), "models[0].name: 'toy clip/1' does not match the pattern"),
]


@pytest.mark.parametrize("label,cfg,message", CASES, ids=[c[0] for c in CASES])
def test_bad_config_names_the_key(label, cfg, message):
    with pytest.raises(ConfigError) as err:
        check_config(cfg, base_dir=REPO)
    text = str(err.value)
    assert message in text, text
    assert "\n" not in text and text.endswith("."), f"not one sentence: {text!r}"


def test_default_config_is_valid_and_gets_defaults():
    cfg = check_config(yaml.safe_load((REPO / "config.yaml").read_text()), base_dir=REPO)
    assert cfg["evaluation"]["bootstrap_resamples"] == 1000
    assert cfg["models"][0]["student_layers"] == [0, 2]


def test_default_layer_map_is_every_other_layer():
    cfg = _cfg(models__0__student_layers=_DELETE, models__0__toy={"layers": 6})
    assert check_config(cfg, base_dir=REPO)["models"][0]["student_layers"] == [0, 2, 4]


def test_absolute_paths_are_allowed_deliberately(tmp_path):
    cfg = _cfg(results=str(tmp_path / "results"))
    assert check_config(cfg, base_dir=REPO)["results"] == str(tmp_path / "results")


def test_yaml_that_does_not_parse(tmp_path):
    bad = tmp_path / "study.yaml"
    bad.write_text("languages: [en, de\nseeds: [0]\n")
    with pytest.raises(ConfigError, match=r"study.yaml: YAML does not parse at line \d+"):
        load_config(bad)


def test_snakemake_stops_before_planning_with_one_sentence(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_cfg(methods__FD={"XD": 1.0})))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--configfile", str(bad), "--cores", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    assert f"Config error in {bad}: methods.FD.XD: unknown key; allowed keys: FD, ED, SD, MCL, DR." in proc.stderr
    assert "Traceback" not in proc.stderr
