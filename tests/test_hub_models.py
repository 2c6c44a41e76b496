"""The paper's real teacher layouts, offline: tiny checkpoints built like the published ones.

* ``google/siglip2-base-patch16-224`` (fixed resolution): ``model_type: siglip`` -> ``SiglipModel``;
* ``google/siglip2-base-patch16-naflex``: ``model_type: siglip2`` -> ``Siglip2Model``.

Both must tokenise exactly as transformers' own processor does with the model card's settings
(lower-cased text, ``padding="max_length"``, 64 tokens, no attention mask where the tokenizer
declares none) and preprocess images exactly as ``AutoProcessor``.
"""

import json

import pytest
import torch
import transformers

from mvlm_distill.models import ModelLoadError, build_student, load_model, save_model

from tiny_hub import tiny_siglip2_checkpoint
from tiny_models import tiny_images_and_captions

#: the token-parity sample: an XM3600-style German caption (capitalised nouns, umlaut, full stop)
GERMAN = "Ein brauner Hund rennt über die Wiese."
TEXTS = [GERMAN, "Zwei Kinder spielen am Strand mit einem Ball.", "A woman rides a bicycle in the city.",
         "一只棕色的狗在草地上跑。", "Ωmega ÄÖÜ unseen words"]
FORMS = {"fixed": ("SiglipModel", "SiglipImageProcessor"), "naflex": ("Siglip2Model", "Siglip2ImageProcessor")}


@pytest.fixture(scope="module", params=sorted(FORMS))
def checkpoint(request, tmp_path_factory):
    form = request.param
    return form, tiny_siglip2_checkpoint(tmp_path_factory.mktemp(f"siglip2-{form}"), naflex=form == "naflex")


@pytest.fixture(scope="module")
def images():
    return tiny_images_and_captions(n_images=3)[0]


def _spec(folder):
    return {"name": "siglip2-base", "family": "siglip2", "source": "hf", "checkpoint": str(folder)}


def test_layout_is_the_published_one(checkpoint):
    form, folder = checkpoint
    config = json.loads((folder / "config.json").read_text())
    prefix = "siglip2" if form == "naflex" else "siglip"
    assert config["model_type"] == prefix
    assert config["text_config"]["model_type"] == f"{prefix}_text_model"
    assert config["vision_config"]["model_type"] == f"{prefix}_vision_model"
    processor = json.loads((folder / "preprocessor_config.json").read_text())
    assert processor["image_processor_type"] == FORMS[form][1]
    tok_config = json.loads((folder / "tokenizer_config.json").read_text())
    assert tok_config["tokenizer_class"] == "GemmaTokenizer" and tok_config["model_input_names"] == ["input_ids"]
    assert {p.name for p in folder.iterdir()} >= {"config.json", "model.safetensors", "preprocessor_config.json",
                                                  "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}


def test_fixture_is_deterministic(checkpoint, tmp_path):
    form, folder = checkpoint
    again = tiny_siglip2_checkpoint(tmp_path / "again", naflex=form == "naflex")
    for name in ("config.json", "tokenizer.json", "model.safetensors", "preprocessor_config.json"):
        assert (again / name).read_bytes() == (folder / name).read_bytes(), name


def test_loader_picks_the_library_class_and_lowercases(checkpoint):
    form, folder = checkpoint
    vlm = load_model(_spec(folder))
    assert type(vlm.model).__name__ == FORMS[form][0]
    assert type(vlm.image_processor).__name__.removesuffix("Fast") == FORMS[form][1]
    assert vlm.context_length == 64
    assert vlm.text_normalization == ("lowercase",)
    assert not vlm.uses_attention_mask  # the tokenizer declares input_ids only


def test_tokens_equal_transformers_processor_with_model_card_settings(checkpoint):
    """Token for token what ``AutoProcessor`` gives for lower-cased text padded to 64."""
    form, folder = checkpoint
    vlm = load_model(_spec(folder))
    processor = transformers.AutoProcessor.from_pretrained(folder)
    theirs = processor(text=[t.lower() for t in TEXTS], padding="max_length", max_length=64, truncation=True,
                       return_tensors="pt")
    assert "attention_mask" not in theirs  # the model card's processor passes none either
    ours = vlm.tokenize(TEXTS)
    assert torch.equal(ours["input_ids"], theirs["input_ids"])
    # transformers' Siglip2Tokenizer lower-cases inside the tokenizer: the same ids on the cased text
    siglip2_tok = transformers.Siglip2Tokenizer.from_pretrained(folder)
    reference = siglip2_tok(TEXTS, padding="max_length", max_length=64, truncation=True, return_tensors="pt")
    assert torch.equal(ours["input_ids"], reference["input_ids"])
    # AutoTokenizer: for model_type siglip the plain GemmaTokenizer the checkpoint names, which keeps
    # the case (so lower-casing changes the ids); transformers forces its lower-casing
    # Siglip2Tokenizer onto model_type siglip2 (NaFlex)
    auto = transformers.AutoTokenizer.from_pretrained(folder)
    auto_ids = auto([GERMAN], padding="max_length", max_length=64, return_tensors="pt")["input_ids"]
    assert type(auto).__name__ == ("Siglip2Tokenizer" if form == "naflex" else "GemmaTokenizer")
    assert torch.equal(auto_ids[0], ours["input_ids"][0]) == (form == "naflex")
    # the sample's ids (the fixture is deterministic): ein ▁brauner ▁hund ▁rennt ▁über ▁die ▁wiese. <eos>
    assert ours["input_ids"][0, :8].tolist() == [349, 474, 494, 439, 417, 432, 512, 1]
    # Gemma's conventions: no BOS, EOS (1) after the text, pad (0) to 64
    row = ours["input_ids"][0].tolist()
    n = row.index(1)
    assert row[0] != 2 and all(i == 0 for i in row[n + 1:]) and len(row) == 64


def test_text_and_image_features_equal_the_library_call(checkpoint, images):
    form, folder = checkpoint
    vlm = load_model(_spec(folder))
    processor = transformers.AutoProcessor.from_pretrained(folder)
    model = getattr(transformers, FORMS[form][0]).from_pretrained(folder).eval()
    pixels = vlm.preprocess(images)
    theirs = processor(images=images, return_tensors="pt")
    assert set(pixels) == {k for k, v in theirs.items() if isinstance(v, torch.Tensor)}
    for key in pixels:
        assert torch.equal(pixels[key], theirs[key]), key
    text_inputs = processor(text=[t.lower() for t in TEXTS], padding="max_length", max_length=64,
                            return_tensors="pt")
    with torch.no_grad():
        ours_text = vlm.encode_text(vlm.tokenize(TEXTS))
        ours_image = vlm.encode_image(pixels)
        ref_text = model.get_text_features(**text_inputs).pooler_output
        ref_image = model.get_image_features(**theirs).pooler_output
    assert torch.equal(ours_text, torch.nn.functional.normalize(ref_text, dim=-1))
    assert torch.equal(ours_image, torch.nn.functional.normalize(ref_image, dim=-1))


def test_half_depth_student_saves_and_reloads_identically(checkpoint, images, tmp_path):
    form, folder = checkpoint
    teacher = load_model(_spec(folder))
    student = build_student(teacher)
    assert student.text_layer_count() == 2 and student.meta["layer_map"] == [0, 2]
    assert student.text_normalization == ("lowercase",)
    save_model(student, tmp_path / "student")
    manifest = json.loads((tmp_path / "student" / "mvlm_model.json").read_text())
    assert manifest["text_normalization"] == ["lowercase"] and manifest["text_layers"] == 2
    assert manifest["model_type"] == ("siglip2" if form == "naflex" else "siglip")
    loaded = load_model({"source": "saved", "path": str(tmp_path / "student")})
    assert type(loaded.model).__name__ == FORMS[form][0]
    assert loaded.text_normalization == ("lowercase",)
    assert torch.equal(loaded.tokenize(TEXTS)["input_ids"], teacher.tokenize(TEXTS)["input_ids"])
    with torch.no_grad():
        for a, b in ((student.encode_text(student.tokenize(TEXTS)), loaded.encode_text(loaded.tokenize(TEXTS))),
                     (student.encode_image(student.preprocess(images)),
                      loaded.encode_image(loaded.preprocess(images)))):
            assert torch.equal(a, b)
    assert loaded.fingerprint() == student.fingerprint() == manifest["fingerprint"]


def test_text_normalization_is_part_of_the_model(checkpoint, tmp_path):
    form, folder = checkpoint
    cased = load_model({**_spec(folder), "text_normalization": []})
    lowered = load_model(_spec(folder))
    assert cased.text_normalization == ()
    assert cased.fingerprint() != lowered.fingerprint()  # caches keyed by the fingerprint are not shared
    same = torch.equal(cased.tokenize([GERMAN])["input_ids"], lowered.tokenize([GERMAN])["input_ids"])
    assert same == (form == "naflex")  # NaFlex's Siglip2Tokenizer lower-cases by itself
    save_model(lowered, tmp_path / "t")
    with pytest.raises(ModelLoadError, match="text_normalization"):
        load_model({"source": "saved", "path": str(tmp_path / "t"), "text_normalization": []})
    with pytest.raises(ModelLoadError, match="'titlecase' is not one of"):
        load_model({**_spec(folder), "text_normalization": "titlecase"})


def test_caches_training_and_evaluation_see_the_normalised_text(checkpoint, tmp_path):
    """Teacher caches and distillation batches (embed.tokenize_texts on the teacher) and evaluation
    (the saved student's tokenize) give the same ids: the lower-cased text's."""
    from mvlm_distill.distill.encode import tokenize_texts

    _, folder = checkpoint
    teacher = load_model(_spec(folder))
    save_model(build_student(teacher), tmp_path / "student")
    student = load_model({"source": "saved", "path": str(tmp_path / "student")})
    lowered = load_model({**_spec(folder), "text_normalization": []}).tokenize([t.lower() for t in TEXTS])
    for ids in (tokenize_texts(teacher, TEXTS, batch_size=2)["input_ids"], student.tokenize(TEXTS)["input_ids"]):
        assert torch.equal(ids, lowered["input_ids"])
