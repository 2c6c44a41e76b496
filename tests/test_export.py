"""Student exports: stock open_clip / transformers loaders open them from another directory, offline,
after a copy or a move; AutoProcessor gives a SigLIP2 export the pipeline's tokens (or the export is
refused); the model card's huggingface_hub metadata, tables and a usage snippet that runs as written
without this project; the Hub publishing dry run."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from mvlm_distill.card import SNIPPET_FOLDER, SNIPPET_IMAGE, model_card, snippet_code
from mvlm_distill.export import EXPORT_INFO, ExportError, export_student, stock_open_clip
from mvlm_distill.models import build_student, load_model, save_model
from mvlm_distill.publish import PublishError, publish_exports

from study import REPO
from tiny_hub import TOKENIZER_CORPUS, tiny_siglip2_checkpoint
from tiny_models import tiny_images_and_captions, tiny_teacher

# captions in five languages and four scripts (the tiny fixture's vocabulary covers them)
_, _PAIRS = tiny_images_and_captions(8)
CAPTIONS = [text for _, text in _PAIRS]
CHECK = CAPTIONS[:5] + CAPTIONS[20:25]


@pytest.fixture(scope="module", params=["clip", "siglip2"])
def student_dir(request, tmp_path_factory):
    work = tmp_path_factory.mktemp(f"export-{request.param}")
    teacher = tiny_teacher(request.param, work, seed=5)
    student = build_student(teacher, [0, 2])
    with torch.no_grad():  # a student that differs from its teacher's layers, as after distillation
        for p in student.text_parameters():
            p.add_(0.01 * torch.randn_like(p))
    save_model(teacher, work / "teacher")
    save_model(student, work / "student")
    return work


def _facts(folder, family):
    return {
        "name": "tiny-ED-seed0", "folder": folder, "model": "tiny", "method": "ED", "weights": {"ED": 1.0},
        "seed": 0, "teacher": {"name": "tiny", "description": "a random tiny teacher"},
        "license": {"license": "other", "license_name": "teacher-license", "license_link": "https://huggingface.co/a/b"},
        "base_model": "a/b", "datasets": ["someone/captions"], "benchmark_ids": {"synthetic": "someone/captions"},
        "evaluation_split": "test", "languages": ["en", "de", "zh", "ja", "th"],
        "distillation": {"steps": 150, "batch_size": 16, "lr": 1e-3, "warmup_steps": 10},
        "corpus": {"benchmark": "synthetic", "split": "train", "items_per_language": {"en": 600, "de": 60}},
        "teacher_parameters": {"text_layers": 4, "text_parameters": 40_000, "total_parameters": 60_000},
    }


def _metrics():
    rows = []
    for method, seed, value in (("teacher", None, 0.8), ("ED", 0, 0.6)):
        for language in ("en", "de"):
            for task in ("t2i", "i2t"):
                rows.append({"model": "tiny", "family": "clip", "method": method, "seed": seed,
                             "benchmark": "synthetic", "language": language, "task": task, "metric": "R@10",
                             "value": value, "ci_low": value - 0.05, "ci_high": value + 0.05, "n_queries": 500})
    return pd.DataFrame(rows)


def _export(student_dir, out, folder, **kwargs):
    family = load_model({"source": "saved", "path": str(student_dir / "student")}).family
    facts = _facts(folder, family)
    return export_student(student_dir / "student", out, check_texts=CHECK,
                          card=lambda info: model_card(info, facts, _metrics(), CHECK[:3]), **kwargs)


def _pipeline_embeddings(path, texts):
    vlm = load_model({"source": "saved", "path": str(path)})
    with torch.no_grad():
        return vlm.encode_text(vlm.tokenize(texts)).numpy()


def _stock_clip(folder, texts):
    model, preprocess, tokenizer = stock_open_clip(folder)  # open_clip's API only
    with torch.no_grad():
        text = torch.nn.functional.normalize(model.encode_text(tokenizer(texts)), dim=-1).numpy()
    return model, preprocess, text


def _stock_siglip2(folder, texts):
    """As the card says: AutoProcessor on the raw texts (it lower-cases and pads as the pipeline)."""
    from transformers import AutoModel, AutoProcessor

    model = AutoModel.from_pretrained(folder).eval()
    processor = AutoProcessor.from_pretrained(folder)
    with torch.no_grad():
        features = model.get_text_features(**processor(text=texts, return_tensors="pt")).pooler_output
    return model, processor, torch.nn.functional.normalize(features, dim=-1).numpy()


def test_stock_loaders_open_the_export_from_another_directory(student_dir, tmp_path, monkeypatch):
    out = tmp_path / "exports" / "tiny"
    info = _export(student_dir, out, str(out))
    assert info["max_embedding_difference"] <= 1e-5
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    expected = _pipeline_embeddings(student_dir / "student", CAPTIONS)
    images, _ = tiny_images_and_captions(3)
    teacher = load_model({"source": "saved", "path": str(student_dir / "teacher")})
    with torch.no_grad():
        teacher_images = teacher.encode_image(teacher.preprocess(images)).numpy()
    if info["family"] == "clip":
        model, preprocess, text = _stock_clip(str(out), CAPTIONS)
        with torch.no_grad():
            image = model.encode_image(torch.stack([preprocess(im) for im in images]))
    else:
        assert info["stock_tokenizer"] == "AutoProcessor" and info["text_normalization"] == ["lowercase"]
        model, processor, text = _stock_siglip2(str(out), CAPTIONS)
        with torch.no_grad():
            image = model.get_image_features(**processor(images=images, return_tensors="pt")).pooler_output
    np.testing.assert_allclose(text, expected, atol=1e-5)
    # the image tower is the teacher's: same image embeddings
    np.testing.assert_allclose(torch.nn.functional.normalize(image, dim=-1).numpy(), teacher_images, atol=1e-5)


def test_trimmed_export_loads_with_stock_libraries_and_embeds_like_the_student(student_dir, tmp_path, monkeypatch):
    from mvlm_distill.models.vocabulary import kept_token_ids

    student = load_model({"source": "saved", "path": str(student_dir / "student")})
    kept = kept_token_ids(student, CAPTIONS)
    out = tmp_path / "trimmed"
    info = _export(student_dir, out, str(out), kept_token_ids=kept)
    assert info["trimmed"] and info["vocabulary_size"] == len(kept) < info["untrimmed"]["vocabulary_size"]
    monkeypatch.chdir(tmp_path)
    if info["family"] == "clip":
        text = _stock_clip(str(out), CAPTIONS)[2]
    else:
        text = _stock_siglip2(str(out), CAPTIONS)[2]
    np.testing.assert_allclose(text, _pipeline_embeddings(student_dir / "student", CAPTIONS), atol=1e-5)
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "**Vocabulary trimming.**" in card and "vocabulary-trimming" in card
    assert f"| student, trimmed vocabulary (this export) | 2 | {len(kept):,} |" in card


def test_every_output_is_readable_by_the_group(student_dir, tmp_path):
    old = os.umask(0o077)  # a private umask must not leak into a shared export
    try:
        out = tmp_path / "tiny"
        _export(student_dir, out, str(out))
    finally:
        os.umask(old)
    paths = [out, *out.rglob("*")]
    assert any(p.name.endswith(".safetensors") for p in paths)
    for p in paths:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o755 if p.is_dir() else 0o644), f"{p.name}: {oct(mode)}"


def test_model_card_metadata_tables_and_snippet(student_dir, tmp_path):
    from huggingface_hub import ModelCard

    out = tmp_path / "results" / "exports" / "tiny"
    info = _export(student_dir, out, "results/exports/tiny")
    card = ModelCard.load(out / "README.md")  # huggingface_hub's own parser and metadata checks
    meta = card.data
    assert meta.language == ["en", "de", "zh", "ja", "th"]
    assert (meta.license, meta.license_name, meta.license_link) == ("other", "teacher-license",
                                                                     "https://huggingface.co/a/b")
    assert meta.base_model == "a/b" and meta.datasets == ["someone/captions"]
    assert meta.library_name == info["library"]
    assert "knowledge-distillation" in meta.tags and info["family"] in meta.tags
    # model-index: the student's R@10 and its retention per benchmark, language and task
    results = {(r.dataset_config, r.task_name, r.metric_type): r for r in meta.eval_results}
    assert len(results) == 2 * 2 * 2
    de_t2i = results[("de", "text→image retrieval", "retention")]
    assert de_t2i.metric_value == 0.75 and de_t2i.dataset_type == "someone/captions" and de_t2i.dataset_split == "test"
    assert results[("en", "image→text retrieval", "recall_at_10")].metric_value == 0.6
    text = card.content
    assert "the image tower is the teacher's" in text
    assert "| synthetic | de | text→image | 0.800 [0.750, 0.850] | 0.600 [0.550, 0.650] | 0.750 |" in text
    assert f"| student (this export) | 2 | {info['vocabulary_size']:,} |" in text
    assert SNIPPET_FOLDER.format(folder="results/exports/tiny") in text


# a fresh interpreter that cannot import this project: -I leaves out the working directory, the
# script's folder and PYTHONPATH, and the editable install's finder is refused mvlm_distill
_WITHOUT_PROJECT = """
import sys


class NoProject:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("mvlm_distill", "tests"):
            raise ImportError(f"{name}: the snippet must not need this project")


sys.meta_path.insert(0, NoProject())
code = open(sys.argv[1], encoding="utf-8").read()
exec(compile(code, sys.argv[1], "exec"), {"__name__": "__main__"})
"""


def _run_card_snippet(folder, image, workdir):
    """Run the card's snippet as written, but for its folder and image lines, in a fresh process from
    ``workdir`` without this project; returns its text and image embeddings."""
    code = snippet_code((folder / "README.md").read_text(encoding="utf-8")).split("\n")
    prefixes = (SNIPPET_FOLDER.split("{")[0], SNIPPET_IMAGE.split("{")[0])
    assert [line for line in code if line.startswith(prefixes)] == code[:2]
    code = [SNIPPET_FOLDER.format(folder=folder), SNIPPET_IMAGE.format(image=image), *code[2:]]
    code += ["import numpy", f"numpy.save({str(workdir / 'text.npy')!r}, text.numpy())",
             f"numpy.save({str(workdir / 'image.npy')!r}, image.numpy())"]
    (workdir / "snippet.py").write_text("\n".join(code), encoding="utf-8")
    (workdir / "run.py").write_text(_WITHOUT_PROJECT, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-I", str(workdir / "run.py"), str(workdir / "snippet.py")], cwd=workdir,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return np.load(workdir / "text.npy"), np.load(workdir / "image.npy")


def test_copied_export_runs_its_card_snippet_without_the_project(student_dir, tmp_path):
    """A copy of the export (the original gone) names no path of the original folder; the card's snippet
    runs from another directory, on a real image file, offline, in a process that cannot import this
    project, and gives the pipeline's text embeddings and the teacher's image embeddings."""
    from PIL import Image

    original = tmp_path / "original" / "exports" / "tiny"
    info = _export(student_dir, original, "results/exports/tiny")
    copy = tmp_path / "elsewhere" / "model copy"
    shutil.copytree(original, copy)
    shutil.rmtree(tmp_path / "original")
    for path in copy.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert str(original).encode() not in data and str(original.parent).encode() not in data, path.name
    images, _ = tiny_images_and_captions(1)
    image = tmp_path / "photo.png"
    images[0].save(image)
    workdir = tmp_path / "somewhere else"
    workdir.mkdir()
    text, image_embedding = _run_card_snippet(copy, image, workdir)
    text = text / np.linalg.norm(text, axis=-1, keepdims=True)
    np.testing.assert_allclose(text, _pipeline_embeddings(student_dir / "student", CHECK[:3]), atol=1e-5)
    teacher = load_model({"source": "saved", "path": str(student_dir / "teacher")})
    with torch.no_grad():
        expected = teacher.encode_image(teacher.preprocess([Image.open(image).convert("RGB")])).numpy()
    np.testing.assert_allclose(image_embedding / np.linalg.norm(image_embedding, axis=-1, keepdims=True), expected,
                               atol=1e-5)
    assert info["hf_text_tower"] == (info["library"] == "open_clip")


def test_siglip2_autoprocessor_gives_the_pipelines_token_ids(student_dir, tmp_path):
    """Raw text, cased, with a word-final capital sigma: AutoProcessor on the export tokenizes it as the
    pipeline does (lower-cased with str.lower, padded and truncated to the context length)."""
    from transformers import AutoProcessor

    out = tmp_path / "tiny"
    info = _export(student_dir, out, str(out))
    if info["library"] != "transformers":
        pytest.skip("open_clip exports have no AutoProcessor")
    texts = CAPTIONS + ["A RED SQUARE ON THE LEFT", "ΟΔΟΣ", "ein ROTES Quadrat links " * 8]
    student = load_model({"source": "saved", "path": str(student_dir / "student")})
    expected = student.tokenize(texts)
    got = AutoProcessor.from_pretrained(out)(text=texts, return_tensors="pt")
    assert got["input_ids"].shape == (len(texts), info["context_length"])
    assert torch.equal(got["input_ids"], expected["input_ids"])


@pytest.mark.parametrize("naflex", [False, True], ids=["siglip2-fixed-resolution", "siglip2-naflex"])
def test_gemma_tokenizer_exports_match_autoprocessor_or_are_refused(tmp_path, naflex):
    """The paper's layouts with a Gemma tokenizer: the fixed-resolution export's AutoProcessor gives the
    pipeline's ids, also on Greek with a word-final capital sigma; transformers gives a NaFlex folder its
    own Siglip2Tokenizer, which lower-cases that sigma otherwise, so that export is refused, naming the
    caption."""
    from transformers import AutoProcessor

    from mvlm_distill.models import build_student, save_model

    teacher = load_model({"source": "hf", "checkpoint": str(tiny_siglip2_checkpoint(tmp_path / "hub", naflex=naflex)),
                          "name": "tiny-siglip2"})
    save_model(build_student(teacher, [0]), tmp_path / "student")
    texts = list(TOKENIZER_CORPUS) + ["ΟΔΟΣ Straße"]
    if naflex:
        with pytest.raises(ExportError) as err:
            export_student(tmp_path / "student", tmp_path / "export", check_texts=texts)
        assert "AutoProcessor tokenizes 'ΟΔΟΣ Straße' otherwise than the pipeline" in str(err.value)
        assert not (tmp_path / "export").exists()
        return
    export_student(tmp_path / "student", tmp_path / "export", check_texts=texts)
    student = load_model({"source": "saved", "path": str(tmp_path / "student")})
    got = AutoProcessor.from_pretrained(tmp_path / "export")(text=texts, return_tensors="pt")
    assert torch.equal(got["input_ids"], student.tokenize(texts)["input_ids"])


def test_publish_dry_run_lists_the_upload_and_contacts_nothing(student_dir, tmp_path, monkeypatch):
    import huggingface_hub

    out = tmp_path / "exports" / "tiny" / "ED" / "seed0"
    info = _export(student_dir, out, str(out))

    def refuse(*args, **kwargs):
        raise AssertionError("a dry run must not contact the Hub")

    monkeypatch.setattr(huggingface_hub, "HfApi", refuse)
    plan = publish_exports([{"export": "tiny/ED/seed0", "repo_id": "someone/tiny-ed", "private": True}],
                           [out], dry_run=True)
    assert plan[0]["repo_id"] == "someone/tiny-ed" and plan[0]["private"] is True
    names = set(plan[0]["files"])
    assert {"README.md", EXPORT_INFO, "tokenizer.json", "config.json"} <= names
    assert ("open_clip_model.safetensors" if info["library"] == "open_clip" else "model.safetensors") in names
    with pytest.raises(PublishError, match="repo_id 'no-owner'"):
        publish_exports([{"export": "tiny/ED/seed0", "repo_id": "no-owner"}], [out])
    with pytest.raises(PublishError, match="not an export"):
        publish_exports([{"export": "tiny/ED/seed9", "repo_id": "a/b"}], [out.parent / "seed9"])
    if info["library"] == "open_clip":
        from mvlm_distill.publish import hub_files

        files = hub_files(out, "someone/tiny-ed")
        text_cfg = json.loads(files["open_clip_config.json"])["model_cfg"]["text_cfg"]
        assert text_cfg["hf_model_name"] == "someone/tiny-ed"  # hf-hub: loading reads config.json from the repo
        hub_card = files["README.md"].decode()
        assert 'model, _, preprocess = open_clip.create_model_and_transforms(f"hf-hub:{export_dir}")' in hub_card
        assert 'open_clip.get_tokenizer(f"hf-hub:{export_dir}")' in hub_card
        assert SNIPPET_FOLDER.format(folder="someone/tiny-ed") in hub_card
        assert "text_cfg" not in snippet_code(hub_card) and "local-dir" not in hub_card


class RecordingHub:
    """Stands in for huggingface_hub.HfApi: records each call; the repository exists, public, and holds
    the files of an earlier publish that uploaded the whole folder."""

    calls = []

    def __init__(self, *args, **kwargs):
        pass

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            return [".snakemake_timestamp", "README.md"] if name == "list_repo_files" else None

        return call


def test_publish_sets_the_visibility_asked_and_uploads_only_the_exports_files(student_dir, tmp_path, monkeypatch):
    import huggingface_hub

    out = tmp_path / "exports" / "tiny" / "ED" / "seed0"
    info = _export(student_dir, out, str(out))
    assert EXPORT_INFO in info["files"] and "README.md" in info["files"]
    (out / ".snakemake_timestamp").write_text("")  # Snakemake adds it to every folder output
    (out / "notes.txt").write_text("not part of the export")
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingHub)
    RecordingHub.calls = []
    publish_exports([{"export": "tiny/ED/seed0", "repo_id": "someone/tiny-ed", "private": True}], [out],
                    dry_run=False)
    names = [name for name, _, _ in RecordingHub.calls]
    assert names == ["create_repo", "update_repo_settings", "list_repo_files", "create_commit"]
    # an existing public repository is made private before anything is uploaded to it
    assert RecordingHub.calls[1][1:] == (("someone/tiny-ed",), {"private": True})
    operations = RecordingHub.calls[3][2]["operations"]
    added = sorted(op.path_in_repo for op in operations if isinstance(op, huggingface_hub.CommitOperationAdd))
    deleted = [op.path_in_repo for op in operations if isinstance(op, huggingface_hub.CommitOperationDelete)]
    assert added == info["files"] and deleted == [".snakemake_timestamp"]

    RecordingHub.calls = []
    publish_exports([{"export": "tiny/ED/seed0", "repo_id": "someone/tiny-ed", "private": False}], [out],
                    dry_run=False)
    assert RecordingHub.calls[1][2] == {"private": False}

    # an export written before mvlm_export.json listed its files: everything but hidden files
    listed = json.loads((out / EXPORT_INFO).read_text())
    (out / EXPORT_INFO).write_text(json.dumps({k: v for k, v in listed.items() if k != "files"}))
    plan = publish_exports([{"export": "tiny/ED/seed0", "repo_id": "a/b"}], [out], dry_run=True)
    assert ".snakemake_timestamp" not in plan[0]["files"] and "notes.txt" in plan[0]["files"]

    (out / EXPORT_INFO).write_text(json.dumps(listed))
    (out / "tokenizer.json").unlink()
    with pytest.raises(PublishError) as err:
        publish_exports([{"export": "tiny/ED/seed0", "repo_id": "a/b"}], [out], dry_run=True)
    assert str(err.value) == (f"{out}: tokenizer.json, listed in {EXPORT_INFO}, is missing; run the export_student "
                              "rule again")


def test_workflow_exports_every_student_and_publishes_only_when_asked(tmp_path):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["publish"] = {"dry_run": True, "repositories": [{"export": "toy-clip/ED/seed0", "repo_id": "a/b"}]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))

    def dry_run(*targets):
        proc = subprocess.run([sys.executable, "-m", "snakemake", *targets, "-n", "--configfile", str(path)],
                              cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout

    def jobs(stdout):
        return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stdout, re.M)}

    default = jobs(dry_run())
    assert default["export_student"] == len(config["models"]) * len(config["methods"]) * len(config["seeds"])
    assert "publish_exports" not in default
    # the rule's output is the export's mvlm_export.json, not the folder (Snakemake would add its
    # .snakemake_timestamp to a folder output, and publishing would upload it)
    planned = jobs(dry_run("publish_exports", "results/exports/toy-clip/DR/seed0/mvlm_export.json"))
    assert planned["publish_exports"] == 1 and planned["export_student"] == 2
