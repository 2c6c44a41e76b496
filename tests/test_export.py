"""Student exports: stock open_clip / transformers loaders open them from another directory, offline;
the model card's metadata, tables and usage snippet; the Hub publishing dry run."""

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

from mvlm_distill.card import model_card, snippet_code
from mvlm_distill.export import EXPORT_INFO, export_student, point_text_tower
from mvlm_distill.models import build_student, load_model, save_model
from mvlm_distill.publish import PublishError, publish_exports

from study import REPO
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
        "seed": 0, "teacher": {"name": "tiny", "description": "a random tiny teacher"}, "license": "apache-2.0",
        "base_model": None, "languages": ["en", "de", "zh", "ja", "th"],
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
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{folder}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{folder}")
    with torch.no_grad():
        text = torch.nn.functional.normalize(model.eval().encode_text(tokenizer(texts)), dim=-1).numpy()
    return model, preprocess, text


def _stock_siglip2(folder, texts, context_length):
    """As the card says: AutoTokenizer (a SiglipModel folder keeps its own tokenizer), lower-cased text."""
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    texts = [t.lower() for t in texts]
    inputs = tokenizer(texts, padding="max_length", max_length=context_length, truncation=True, return_tensors="pt")
    with torch.no_grad():
        text = torch.nn.functional.normalize(model.get_text_features(**inputs).pooler_output, dim=-1).numpy()
    return model, AutoImageProcessor.from_pretrained(folder), text


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
        # model_type siglip (as the paper's checkpoint): AutoTokenizer loads the student's own tokenizer
        assert info["stock_tokenizer"] == "auto" and info["text_normalization"] == ["lowercase"]
        model, processor, text = _stock_siglip2(str(out), CAPTIONS, info["context_length"])
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
        text = _stock_siglip2(str(out), CAPTIONS, info["context_length"])[2]
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


def test_model_card_metadata_tables_and_snippet(student_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "results" / "exports" / "tiny"
    info = _export(student_dir, out, "results/exports/tiny")
    card = (out / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\n")
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["language"] == ["en", "de", "zh", "ja", "th"]
    assert meta["license"] == "apache-2.0"
    assert meta["library_name"] == info["library"]
    assert "knowledge-distillation" in meta["tags"] and info["family"] in meta["tags"]
    assert "the image tower is the teacher's" in card
    assert "| synthetic | de | text→image | 0.800 [0.750, 0.850] | 0.600 [0.550, 0.650] | 0.750 |" in card
    assert f"| student (this export) | 2 | {info['vocabulary_size']:,} |" in card
    # the usage snippet runs as written, from the folder it names
    from PIL import Image

    Image.new("RGB", (32, 32), (200, 30, 30)).save(tmp_path / "photo.jpg")
    namespace = {}
    exec(snippet_code(card), namespace)
    np.testing.assert_allclose(namespace["text"].numpy(), _pipeline_embeddings(student_dir / "student", CHECK[:3]),
                               atol=1e-5)


def test_clip_export_after_a_move_needs_its_text_tower_repointed(student_dir, tmp_path):
    out = tmp_path / "a" / "tiny"
    info = _export(student_dir, out, str(out))
    if info["library"] != "open_clip":
        pytest.skip("only open_clip names the text tower by path")
    moved = tmp_path / "b" / "tiny"
    shutil.move(str(tmp_path / "a"), str(tmp_path / "b"))
    with pytest.raises(Exception):
        _stock_clip(str(moved), CHECK)
    point_text_tower(moved)
    np.testing.assert_allclose(_stock_clip(str(moved), CHECK)[2], _pipeline_embeddings(student_dir / "student", CHECK),
                               atol=1e-5)


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
        assert 'open_clip.create_model_and_transforms(f"hf-hub:{export_dir}")' in files["README.md"].decode()
        assert 'export_dir = "someone/tiny-ed"' in files["README.md"].decode()


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
    assert jobs(dry_run("publish_exports"))["publish_exports"] == 1
