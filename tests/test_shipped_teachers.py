"""The shipped toy teachers (teachers/): the published layouts, the stock loaders, the recipe, the split guard.

The embedded study loads them as the paper loads its teachers (config.yaml: source open_clip / hf), so
these are the checks a real checkpoint would pass: the files a stock library opens, the same embeddings
through the pipeline and through the stock loader, and a record of the data they learnt from."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from study import REPO

CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())
SPECS = {m["name"]: m for m in CONFIG["models"]}
TEXTS = ["a red circle above a small blue square", "ein roter Kreis links", "วงกลมสีแดง", "duara jekundu"]


def _in_repo(spec: dict) -> dict:
    """The spec with its relative paths resolved against the repository (tests run from anywhere)."""
    out = dict(spec)
    for key in ("config", "pretrained", "checkpoint"):
        if key in out and (REPO / out[key]).exists():
            out[key] = str(REPO / out[key])
    return out


def test_the_default_study_pretrains_no_teacher():
    assert [m["source"] for m in CONFIG["models"]] == ["open_clip", "hf"]
    assert "teacher_pretraining" not in CONFIG


def test_each_folder_has_its_published_layout_a_card_and_a_record():
    clip, siglip = REPO / "teachers" / "toy-clip", REPO / "teachers" / "toy-siglip2"
    oc = json.loads((clip / "open_clip_config.json").read_text())
    assert set(oc) == {"model_cfg", "preprocess_cfg"}
    assert oc["model_cfg"]["text_cfg"]["hf_model_name"] == "teachers/toy-clip"  # relative to the repository
    assert json.loads((clip / "config.json").read_text())["model_type"] == "xlm-roberta"
    hf = json.loads((siglip / "config.json").read_text())
    assert hf["model_type"] == "siglip" and hf["architectures"] == ["SiglipModel"]
    assert hf["text_config"]["model_type"] == "siglip_text_model"
    assert json.loads((siglip / "preprocessor_config.json").read_text())["image_processor_type"] == "SiglipImageProcessor"
    for folder in (clip, siglip):
        assert (folder / "tokenizer.json").is_file()
        tok_cfg = json.loads((folder / "tokenizer_config.json").read_text())
        assert "local_files_only" not in tok_cfg, "a load-time setting must not travel with the teacher"
        assert sum(p.stat().st_size for p in folder.iterdir()) < 10 * 2**20
        record = json.loads((folder / "mvlm_teacher.json").read_text())
        assert record["seed"] == 0 and record["val"]["split"] == "val"
        assert [r["seed"] for r in record["other_seeds"]] == [1], "the card shows a second seed's val figures"
        card = (folder / "README.md").read_text()
        assert record["trained_on"]["split_checksum"] in card and "| 1 |" in card


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_pipeline_and_the_stock_loader_give_the_same_text_embeddings(name):
    from mvlm_distill.rows import load_teacher

    teacher = load_teacher(_in_repo(SPECS[name]))
    ours = teacher.encode_text(teacher.tokenize(TEXTS)).detach().numpy()
    code = {
        "toy-clip": ("import open_clip, torch\n"
                     "model, _, _ = open_clip.create_model_and_transforms('local-dir:teachers/toy-clip')\n"
                     "tok = open_clip.get_tokenizer('local-dir:teachers/toy-clip')\n"
                     "emb = model.eval().encode_text(tok(TEXTS))\n"),
        "toy-siglip2": ("import transformers, torch\n"
                        "model = transformers.AutoModel.from_pretrained('teachers/toy-siglip2').eval()\n"
                        "tok = transformers.AutoTokenizer.from_pretrained('teachers/toy-siglip2')\n"
                        "inputs = tok([t.lower() for t in TEXTS], padding='max_length', max_length=48,\n"
                        "             truncation=True, return_tensors='pt')\n"
                        "emb = model.get_text_features(**inputs).pooler_output\n"),
    }[name]
    script = (f"TEXTS = {TEXTS!r}\n" + code +
              "import sys, numpy\nnumpy.save(sys.argv[1], torch.nn.functional.normalize(emb, dim=-1).detach().numpy())\n")
    out = Path(__file__).parent / f".stock-{name}.npy"
    try:  # a fresh process in the repository root, as a user of the folder would run it
        proc = subprocess.run([sys.executable, "-c", script, str(out)], cwd=REPO, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        stock = np.load(out)
    finally:
        out.unlink(missing_ok=True)
    assert np.abs(stock - ours).max() < 1e-5


def test_a_benchmark_the_teachers_did_not_learn_from_is_refused():
    from mvlm_distill.config import ConfigError, check_config

    for key, value in (("seed", 1), ("n_images", {"train": 6000, "val": 500, "test": 2000, "vqa": 500}),
                       ("paraphrases", 3)):
        cfg = copy.deepcopy(CONFIG)
        cfg["benchmarks"]["synthetic"][key] = value
        with pytest.raises(ConfigError) as err:
            check_config(cfg, base_dir=REPO)
        assert str(err.value).startswith(f"benchmarks.synthetic.{key}: ")
        assert "the setting 'toy-clip' was trained with (teachers/toy-clip/mvlm_teacher.json)" in str(err.value)
    assert check_config(copy.deepcopy(CONFIG), base_dir=REPO)["models"][0]["source"] == "open_clip"
    # the VQA splits are not what a teacher learns from: resizing or dropping them is no overlap
    cfg = copy.deepcopy(CONFIG)
    cfg["benchmarks"]["synthetic"]["n_images"] = {"train": 6000, "val": 500, "test": 1000, "vqa": 2000}
    assert check_config(cfg, base_dir=REPO)


def test_the_recipe_at_a_reduced_size_is_deterministic_and_loads_through_the_same_loaders(tmp_path):
    """CI runs the recipe small (3 steps on 300 training images); twice with one seed gives the same bytes."""
    from mvlm_distill.models import load_model

    def run(out: Path, family: str):
        proc = subprocess.run([sys.executable, "-m", "mvlm_distill.models.recipe", "--family", family,
                               "--out", str(out), "--steps", "3", "--n-train", "300", "--check-seeds",
                               "--work", str(tmp_path / "work")], cwd=REPO, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]

    run(tmp_path / "a" / "toy-siglip2", "siglip2")
    run(tmp_path / "b" / "toy-siglip2", "siglip2")
    a, b = (tmp_path / x / "toy-siglip2" / "model.safetensors" for x in "ab")
    assert a.read_bytes() == b.read_bytes()
    siglip = load_model({"name": "s", "family": "siglip2", "source": "hf", "checkpoint": str(a.parent)})
    assert type(siglip.model).__name__ == "SiglipModel" and siglip.text_normalization == ("lowercase",)
    run(tmp_path / "c" / "toy-clip", "clip")
    folder = tmp_path / "c" / "toy-clip"
    clip = load_model({"name": "c", "family": "clip", "source": "open_clip", "checkpoint": "c",
                       "config": str(folder / "open_clip_config.json"),
                       "pretrained": str(folder / "open_clip_model.safetensors")})
    with torch.no_grad():
        assert clip.encode_text(clip.tokenize(TEXTS)).shape == (len(TEXTS), 128)
    record = json.loads((folder / "mvlm_teacher.json").read_text())
    assert record["trained_on"]["benchmark"]["n_images"]["train"] == 300
