"""open_clip's ``xlm-roberta-base-ViT-B-32`` structure, offline: the HF text tower named by its Hub id.

A tiny model config with the real one's keys is registered with open_clip; building it reads the
config, tokenizer (and, with no CLIP weights, the text weights) of ``xlm-roberta-base`` from a
Hugging Face cache in the Hub's layout under a temporary ``HF_HOME``, as the real model does.
"""

import json

import open_clip
import pytest
import torch

from mvlm_distill.models import build_student, load_model, save_model

from tiny_hub import TINY_XLMR_CLIP_CONFIG, tiny_xlmr_hub_cache
from tiny_models import tiny_images_and_captions

NAME = "xlm-roberta-base-ViT-B-32-tiny"
TEXTS = ["Ein brauner Hund rennt über die Wiese.", "A woman rides a bicycle in the city.", "一只棕色的狗在草地上跑。"]


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """``xlm-roberta-base`` in an offline Hub cache, and the tiny model config registered with open_clip."""
    import huggingface_hub.constants as hub_constants

    home = tmp_path / "hf_home"
    snapshot = tiny_xlmr_hub_cache(home)
    for var, value in (("HF_HOME", home), ("HF_HUB_CACHE", home / "hub"), ("HF_HUB_OFFLINE", "1"),
                       ("TRANSFORMERS_OFFLINE", "1")):
        monkeypatch.setenv(var, str(value))
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(home / "hub"))
    config = tmp_path / f"{NAME}.json"
    config.write_text(json.dumps(TINY_XLMR_CLIP_CONFIG), encoding="utf-8")
    open_clip.add_model_config(config)
    return snapshot, config


def test_real_config_structure():
    real = open_clip.get_model_config("xlm-roberta-base-ViT-B-32")
    assert set(TINY_XLMR_CLIP_CONFIG) == set(real)
    for tower in ("vision_cfg", "text_cfg"):
        assert set(TINY_XLMR_CLIP_CONFIG[tower]) == set(real[tower]), tower
    assert TINY_XLMR_CLIP_CONFIG["text_cfg"] == real["text_cfg"]  # the Hub id, the pooler; projection by default


def test_built_by_create_model_and_transforms_from_the_cache(hf_cache, tmp_path):
    snapshot, _ = hf_cache
    assert snapshot.parent.parent.name == "models--xlm-roberta-base" and (snapshot / "config.json").is_symlink()
    model, _, preprocess = open_clip.create_model_and_transforms(NAME)  # default: text weights from the cache
    from open_clip.hf_model import HFTextEncoder, MeanPooler
    from transformers import AutoModel

    text = model.text
    assert isinstance(text, HFTextEncoder) and isinstance(text.pooler, MeanPooler)
    assert isinstance(text.proj, torch.nn.Sequential)  # open_clip's default hf_proj_type: mlp
    assert text.transformer.config.model_type == "xlm-roberta" and len(text.transformer.encoder.layer) == 4
    reference = AutoModel.from_pretrained("xlm-roberta-base", add_pooling_layer=False)
    for name, value in reference.state_dict().items():  # the Hub cache's text weights were loaded
        assert torch.equal(text.transformer.state_dict()[name], value), name
    tokenizer = open_clip.get_tokenizer(NAME)
    assert tokenizer.context_length == 77  # open_clip's default, as for the real model
    ids = tokenizer(TEXTS)
    assert ids.shape == (3, 77) and (ids[:, 0] == 0).all() and (ids == 1).any()  # <s> first, <pad> = 1
    assert 3 not in ids[0].tolist()  # the German caption is in the vocabulary (no <unk>)
    assert preprocess.transforms[0].size == 32


def test_loader_and_student_from_a_local_clip_checkpoint(hf_cache, tmp_path, monkeypatch):
    from safetensors.torch import save_file

    torch.manual_seed(3)
    model, _, _ = open_clip.create_model_and_transforms(NAME)
    weights = tmp_path / "open_clip_model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    teacher = load_model({"name": "xlmr-tiny", "family": "clip", "source": "open_clip", "checkpoint": NAME,
                          "pretrained": str(weights)})
    assert teacher.context_length == 77 and teacher.text_layer_count() == 4
    tokens = teacher.tokenize(TEXTS)
    assert torch.equal(tokens["input_ids"], open_clip.get_tokenizer(NAME)(TEXTS))
    images = tiny_images_and_captions(n_images=2)[0]
    model.eval()
    with torch.no_grad():
        # the project drops padding no caption uses; equal to open_clip's padded forward up to float rounding
        assert torch.allclose(teacher.encode_text(tokens),
                              torch.nn.functional.normalize(model.encode_text(tokens["input_ids"]), dim=-1),
                              atol=1e-6)
    student = build_student(teacher)
    assert student.text_layer_count() == 2 and student.meta["layer_map"] == [0, 2]
    save_model(student, tmp_path / "student")
    # the saved student carries its text config and tokenizer: it reloads without the Hub cache
    import huggingface_hub.constants as hub_constants

    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "empty" / "hub"))
    loaded = load_model({"source": "saved", "path": str(tmp_path / "student")})
    with torch.no_grad():
        for a, b in ((student.encode_text(student.tokenize(TEXTS)), loaded.encode_text(loaded.tokenize(TEXTS))),
                     (student.encode_image(student.preprocess(images)), loaded.encode_image(loaded.preprocess(images)))):
            assert torch.equal(a, b)
    assert loaded.fingerprint() == student.fingerprint()
    assert not any(p.requires_grad for p in loaded.image_tower().parameters())  # frozen, as built
