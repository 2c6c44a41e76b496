"""mvlm_distill.models: tokenizer, both toy families, save/load through the real library loaders."""

import json

import pytest
import torch

from mvlm_distill.models import ModelLoadError, load_model, save_model
from mvlm_distill.models.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID

from tiny_models import tiny_images_and_captions, tiny_teacher, tiny_tokenizer

FAMILIES = ["clip", "siglip2"]
TEXTS = ["a red square on the left", "ein grünes Quadrat rechts", "左边有一个红色的正方形",
         "右に青い四角があります", "มีสี่เหลี่ยมจัตุรัสสีแดงอยู่ทางซ้าย"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def images():
    return tiny_images_and_captions(n_images=6)[0]


@pytest.fixture(scope="module", params=FAMILIES)
def saved(request, work):
    """(family, teacher, folder it was saved to)."""
    family = request.param
    teacher = tiny_teacher(family, work, seed=1)
    folder = work / f"saved-{family}"
    save_model(teacher, folder)
    return family, teacher, folder


# ---------------------------------------------------------------------------- tokenizer

def test_tokenizer_round_trip_multilingual(work):
    from open_clip.tokenizer import HFTokenizer
    from transformers import AutoTokenizer

    folder = tiny_tokenizer(work / "tok")
    tok = AutoTokenizer.from_pretrained(folder)
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (BOS_ID, PAD_ID, EOS_ID, UNK_ID)
    for text in TEXTS:
        ids = tok(text)["input_ids"]
        assert ids[0] == BOS_ID and ids[-1] == EOS_ID and UNK_ID not in ids, (text, tok.convert_ids_to_tokens(ids))
        assert tok.decode(ids, skip_special_tokens=True) == text
        assert len(ids) <= 12  # lexicon pieces, not characters
    # zh/ja/th: known words are single pieces even without spaces
    assert "红色" in tok.convert_ids_to_tokens(tok(TEXTS[2])["input_ids"])
    # open_clip's tokenizer wrapper reads the same folder, padded to a fixed length
    ids = HFTokenizer(str(folder), context_length=16)(TEXTS)
    assert ids.shape == (len(TEXTS), 16)
    assert ids[0, 0] == BOS_ID and (ids[0] == PAD_ID).any()


def test_tokenizer_unknown_characters_become_unk(work):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_tokenizer(work / "tok"))
    ids = tok("a red Ω square")["input_ids"]
    assert UNK_ID in ids


def test_trained_tokenizer_fragments_the_scarce_language(work):
    """BPE trained on skewed captions (English plenty, Swahili scarce) splits Swahili into more pieces."""
    import itertools

    from transformers import AutoTokenizer

    from mvlm_distill.data import lexicon
    from mvlm_distill.data.lexicon import COLOURS, POSITIONS, SHAPES, Mention
    from mvlm_distill.models.tokenizer import build_toy_tokenizer

    contents = [[Mention(s, c, "small", p)] for s, c, p in itertools.product(SHAPES, COLOURS, POSITIONS)]
    en = [lexicon.caption("en", m, t) for m in contents for t in range(lexicon.N_TEMPLATES)]
    sw = [lexicon.caption("sw", m, 0) for m in contents]
    pieces = lexicon.surface_forms("en") + lexicon.surface_forms("sw")
    build_toy_tokenizer(en + sw[::20], pieces, work / "bpe", vocab_size=220)
    tok = AutoTokenizer.from_pretrained(work / "bpe")
    assert len(tok) <= 220  # fewer when the texts run out of pairs to merge

    def pieces_per_word(texts):
        return sum(len(tok(t)["input_ids"]) - 2 for t in texts) / sum(len(t.split()) for t in texts)

    assert pieces_per_word(sw) > 1.5 * pieces_per_word(en[::lexicon.N_TEMPLATES])
    for text in sw[:5] + en[:5]:  # still a lossless, <unk>-free tokenizer
        ids = tok(text)["input_ids"]
        assert UNK_ID not in ids and tok.decode(ids, skip_special_tokens=True) == text


# ---------------------------------------------------------------------------- interface

@pytest.mark.parametrize("family", FAMILIES)
def test_encode_text_is_normalised_and_differentiable(family, work, images):
    model = tiny_teacher(family, work)
    tokens = model.tokenize(TEXTS)
    assert set(tokens) >= {"input_ids", "attention_mask"}
    assert tokens["input_ids"].shape == (len(TEXTS), model.context_length)
    emb = model.encode_text(tokens)
    assert emb.shape == (len(TEXTS), 32)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(len(TEXTS)), atol=1e-5)
    emb.sum().backward()
    grads = [p.grad for p in model.text_parameters()]
    assert grads and any(g is not None and g.abs().sum() > 0 for g in grads)
    img = model.encode_image(model.preprocess(images))
    assert img.shape == (len(images), 32)
    assert torch.allclose(img.norm(dim=-1), torch.ones(len(images)), atol=1e-5)
    assert model.logit_scale > 1
    assert (model.logit_bias is None) == (family == "clip")
    assert model.text_layer_count() == 4
    assert 0 < model.text_parameter_count() < model.total_parameter_count()
    assert len(model.fingerprint()) == 16


@pytest.mark.parametrize("family", FAMILIES)
def test_unused_padding_is_not_computed_and_changes_nothing(family, work):
    """The backends drop padding columns no caption of a batch uses; the embeddings must equal the
    full padded forward of the library itself (which for SigLIP pools the last, padding, position)."""
    from mvlm_distill.models.base import drop_unused_padding

    model = tiny_teacher(family, work, seed=2)
    tokens = model.tokenize(TEXTS[:2])  # short captions: most columns are padding
    ids, mask = tokens["input_ids"], tokens["attention_mask"]
    assert int(mask.sum(1).max()) < ids.shape[1] - 1
    with torch.no_grad():
        if family == "clip":
            full = model.model.encode_text(ids)  # open_clip's own forward on every column
        else:
            full = model.model.get_text_features(input_ids=ids, attention_mask=mask).pooler_output
        assert torch.allclose(model._text_features(tokens), full, atol=1e-5)
    kept, kept_mask, positions = drop_unused_padding(ids, mask, keep_last=True)
    assert kept.shape[1] == int(mask.sum(1).max()) + 1 and positions[0, -1] == ids.shape[1] - 1
    left = torch.flip(mask, dims=[1])  # left padding is left alone
    assert drop_unused_padding(ids, left)[0] is ids


@pytest.mark.parametrize("family", FAMILIES)
def test_encode_tokens_batches_by_length_and_keeps_the_input_order(family, work):
    """encode_tokens draws its batches in order of token count; every row must still be its own
    text's embedding, in input order, whatever the batch size."""
    from mvlm_distill.distill.encode import encode_tokens

    model = tiny_teacher(family, work, seed=3)
    texts = [TEXTS[i % len(TEXTS)] * (1 + i % 3) for i in range(11)]  # lengths out of order
    tokens = model.tokenize(texts)
    lengths = tokens["attention_mask"].sum(1)
    assert not bool((lengths[1:] >= lengths[:-1]).all())
    with torch.no_grad():
        alone = torch.cat([model.encode_text({k: v[i:i + 1] for k, v in tokens.items()}) for i in range(len(texts))])
    for batch_size in (1, 4, 64):
        assert torch.allclose(torch.from_numpy(encode_tokens(model, tokens, batch_size, "cpu")), alone, atol=1e-5)


def test_freeze_image_tower(work):
    model = tiny_teacher("siglip2", work).freeze_image_tower()
    assert not any(p.requires_grad for p in model.image_tower().parameters())
    assert all(p.requires_grad for p in model.text_parameters())


# ---------------------------------------------------------------------------- save / load

def _embeddings(model, images):
    with torch.no_grad():
        return model.encode_text(model.tokenize(TEXTS)), model.encode_image(model.preprocess(images))


def test_save_load_identical_embeddings(saved, images):
    family, teacher, folder = saved
    manifest = json.loads((folder / "mvlm_model.json").read_text())
    assert manifest["family"] == family and manifest["text_layers"] == 4
    assert (folder / manifest["processor_config"]).is_file()
    assert (folder / manifest["weights"]).suffix == ".safetensors"
    loaded = load_model({"source": "saved", "path": str(folder)})
    assert loaded.family == family
    teacher.eval()
    for a, b in zip(_embeddings(teacher, images), _embeddings(loaded, images)):
        assert torch.equal(a, b)
    assert loaded.fingerprint() == teacher.fingerprint() == manifest["fingerprint"]
    assert loaded.logit_scale == pytest.approx(teacher.logit_scale)
    assert loaded.logit_bias == (pytest.approx(teacher.logit_bias) if family == "siglip2" else None)


def test_saved_files_hold_no_absolute_paths(saved, work):
    _, _, folder = saved
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".txt", ".model", ""):
            text = path.read_text(encoding="utf-8", errors="ignore")
            assert str(work) not in text and "/tmp" not in text, path


def test_saved_clip_opens_with_open_clip_itself(saved, images):
    """The clip folder is an open_clip model: its config + safetensors load with create_model."""
    family, teacher, folder = saved
    if family != "clip":
        pytest.skip("clip only")
    spec = {"name": "toy", "family": "clip", "source": "open_clip", "checkpoint": "toy-clip-local",
            "config": str(folder / "open_clip_config.json"),
            "pretrained": str(folder / "open_clip_model.safetensors")}
    loaded = load_model(spec)
    teacher.eval()
    for a, b in zip(_embeddings(teacher, images), _embeddings(loaded, images)):
        assert torch.equal(a, b)


def test_open_clip_loads_a_torch_file_with_weights_only(saved, images, work):
    family, teacher, folder = saved
    if family != "clip":
        pytest.skip("clip only")
    pt = work / "weights.pt"
    torch.save(teacher.model.state_dict(), pt)
    loaded = load_model({"family": "clip", "source": "open_clip", "checkpoint": "toy-clip-pt",
                         "config": str(folder / "open_clip_config.json"), "pretrained": str(pt)})
    teacher.eval()
    assert torch.equal(_embeddings(teacher, images)[0], _embeddings(loaded, images)[0])


def test_saved_siglip2_opens_with_transformers_itself(saved):
    family, teacher, folder = saved
    if family != "siglip2":
        pytest.skip("siglip2 only")
    from transformers import AutoImageProcessor, AutoTokenizer, SiglipModel

    model = SiglipModel.from_pretrained(folder).eval()  # fixed resolution, as the paper's SigLIP2 checkpoint
    tok = AutoTokenizer.from_pretrained(folder / "tokenizer")
    assert AutoImageProcessor.from_pretrained(folder).size == {"height": 32, "width": 32}
    assert teacher.text_normalization == ("lowercase",)
    enc = tok([t.lower() for t in TEXTS], padding="max_length", max_length=teacher.context_length,
              return_tensors="pt")
    with torch.no_grad():
        ours = teacher.eval().encode_text(teacher.tokenize(TEXTS))
        theirs = torch.nn.functional.normalize(model.get_text_features(**enc).pooler_output, dim=-1)
    assert torch.allclose(ours, theirs, atol=1e-6)  # equal up to float rounding: unused padding is not computed
    # and as an hf-source folder
    assert load_model({"family": "siglip2", "source": "hf", "checkpoint": str(folder)}).fingerprint() == \
        teacher.fingerprint()


# ---------------------------------------------------------------------------- errors and safety

def test_offline_hub_names_fail_clearly():
    with pytest.raises(ModelLoadError, match="google/siglip2-base-patch16-224"):
        load_model({"name": "s", "family": "siglip2", "source": "hf", "checkpoint": "google/siglip2-base-patch16-224"})
    with pytest.raises(ModelLoadError, match="xlm-roberta-base-ViT-B-32"):
        load_model({"name": "c", "family": "clip", "source": "open_clip", "checkpoint": "xlm-roberta-base-ViT-B-32",
                    "pretrained": "laion5b_s13b_b90k"})


def test_trust_remote_code_only_when_asked(monkeypatch):
    import transformers

    calls = []

    def fake(*args, **kwargs):
        calls.append(kwargs)
        raise OSError("stop here")

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", fake)
    spec = {"family": "siglip2", "source": "hf", "checkpoint": "some-org/some-model"}
    with pytest.raises(ModelLoadError):
        load_model(spec)
    assert "trust_remote_code" not in calls[-1]
    with pytest.raises(ModelLoadError):
        load_model({**spec, "trust_remote_code": False})
    assert "trust_remote_code" not in calls[-1]
    with pytest.raises(ModelLoadError):
        load_model({**spec, "trust_remote_code": True})
    assert calls[-1]["trust_remote_code"] is True


def test_bad_specs(work):
    with pytest.raises(ModelLoadError, match="source"):
        load_model({"name": "x", "source": "ftp"})
    with pytest.raises(ModelLoadError, match="path"):
        load_model({"name": "x", "family": "clip", "source": "toy"})
    with pytest.raises(ModelLoadError, match="mvlm_model.json"):
        load_model({"source": "saved", "path": str(work)})
    with pytest.raises(ModelLoadError, match="pretrained"):
        load_model({"family": "clip", "source": "open_clip", "checkpoint": "ViT-B-32"})
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model({"family": "clip", "source": "open_clip", "checkpoint": "ViT-B-32",
                    "pretrained": str(work / "missing.safetensors")})


def test_toy_size_aliases_and_errors():
    from mvlm_distill.models.toy import resolve_size

    assert resolve_size({"layers": 6})["text_layers"] == 6
    size = resolve_size({"width": 64})
    assert size["text_width"] == size["vision_width"] == size["embed_dim"] == 64
    with pytest.raises(ValueError, match="unknown toy size"):
        resolve_size({"depth": 3})
    with pytest.raises(ValueError, match="divisible"):
        resolve_size({"text_width": 30, "text_heads": 4})
