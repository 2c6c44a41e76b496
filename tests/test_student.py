"""build_student: half the text layers, copied weights, shared frozen image tower, save/load."""

import json

import pytest
import torch

from mvlm_distill.models import build_student, default_layer_map, load_model, save_model

from tiny_models import tiny_images_and_captions, tiny_teacher

TEXTS = ["a red square on the left", "左边有一个红色的正方形", "มีสี่เหลี่ยมจัตุรัสสีแดงอยู่ทางซ้าย"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("student")


@pytest.fixture(scope="module", params=["clip", "siglip2"])
def pair(request, work):
    teacher = tiny_teacher(request.param, work, seed=3)
    return teacher, build_student(teacher, [0, 2])


def _text_state(model):
    """Text-tower tensors by name, with the block index stripped out of block parameters."""
    return {k: v for k, v in model.text_encoder.state_dict().items()}


def _block_states(model):
    return [layer.state_dict() for layer in model.text_layers()]


def test_default_layer_map():
    assert default_layer_map(4) == [0, 2]
    assert default_layer_map(12) == [0, 2, 4, 6, 8, 10]


def test_student_keeps_listed_layers_with_teacher_weights(pair):
    teacher, student = pair
    assert teacher.text_layer_count() == 4 and student.text_layer_count() == 2
    t_blocks, s_blocks = _block_states(teacher), _block_states(student)
    for s_idx, t_idx in enumerate([0, 2]):
        assert s_blocks[s_idx].keys() == t_blocks[t_idx].keys()
        for k in s_blocks[s_idx]:
            assert torch.equal(s_blocks[s_idx][k], t_blocks[t_idx][k]), k
    # everything of the text tower outside the blocks (embeddings, final norm, pooler, projection) is copied
    layer_words = (".layer.", ".layers.", ".resblocks.")
    t_rest = {k: v for k, v in _text_state(teacher).items() if not any(w in k for w in layer_words)}
    s_rest = {k: v for k, v in _text_state(student).items() if not any(w in k for w in layer_words)}
    assert t_rest.keys() == s_rest.keys() and t_rest
    for k in t_rest:
        assert torch.equal(t_rest[k], s_rest[k]), k
    assert student.logit_scale == teacher.logit_scale and student.logit_bias == teacher.logit_bias


def test_student_shares_the_frozen_image_tower(pair):
    teacher, student = pair
    assert student.image_tower() is teacher.image_tower()
    assert not any(p.requires_grad for p in student.image_tower().parameters())
    images = tiny_images_and_captions(n_images=3)[0]
    with torch.no_grad():
        assert torch.equal(teacher.eval().encode_image(teacher.preprocess(images)),
                           student.encode_image(student.preprocess(images)))


def test_student_text_tower_is_independent(pair):
    teacher, student = pair
    before = [p.detach().clone() for p in teacher.text_parameters()]
    with torch.no_grad():
        for p in student.text_parameters():
            p.add_(1.0)
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.text_parameters()))
    with torch.no_grad():
        for p in student.text_parameters():
            p.sub_(1.0)


def test_student_parameter_counts_and_meta(pair):
    teacher, student = pair
    assert student.text_parameter_count() < teacher.text_parameter_count()
    assert student.total_parameter_count() < teacher.total_parameter_count()
    assert student.meta["role"] == "student" and student.meta["layer_map"] == [0, 2]
    assert student.meta["teacher_fingerprint"] == teacher.fingerprint()


def test_student_save_load_in_library_format(pair, work):
    teacher, student = pair
    folder = work / f"student-{student.family}"
    save_model(student, folder)
    if student.family == "clip":
        text_cfg = json.loads((folder / "text_config" / "config.json").read_text())
        assert text_cfg["num_hidden_layers"] == 2
    else:
        assert json.loads((folder / "config.json").read_text())["text_config"]["num_hidden_layers"] == 2
    loaded = load_model({"source": "saved", "path": str(folder)})
    assert loaded.text_layer_count() == 2
    assert loaded.meta["layer_map"] == [0, 2]
    with torch.no_grad():
        assert torch.equal(student.eval().encode_text(student.tokenize(TEXTS)),
                           loaded.encode_text(loaded.tokenize(TEXTS)))
    assert loaded.fingerprint() == student.fingerprint()


@pytest.mark.parametrize("bad", [[0, 4], [-1], [], [1, 1], ["x"]])
def test_bad_layer_map(pair, bad):
    teacher, _ = pair
    with pytest.raises(ValueError, match=r"layer_map.*0\.\.3"):
        build_student(teacher, bad)


def test_other_layer_maps(pair):
    teacher, _ = pair
    assert build_student(teacher, [1, 3]).text_layer_count() == 2
    assert build_student(teacher, [3]).text_layer_count() == 1
    assert build_student(teacher).meta["layer_map"] == [0, 2]


def test_open_clip_native_text_tower(tmp_path):
    """An open_clip model with its own TextTransformer (not HF): load from a local file, student, save/load."""
    from safetensors.torch import save_file

    from mvlm_distill.models.openclip_backend import build_from_cfg

    cfg = {"embed_dim": 16,
           "vision_cfg": {"image_size": 32, "patch_size": 16, "width": 16, "layers": 1, "head_width": 8},
           "text_cfg": {"context_length": 12, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 4}}
    (tmp_path / "native.json").write_text(json.dumps(cfg))
    first = build_from_cfg(cfg, family="clip", stem="native", seed=0)
    save_file({k: v.contiguous() for k, v in first.model.state_dict().items()}, str(tmp_path / "w.safetensors"))
    model = load_model({"family": "clip", "source": "open_clip", "checkpoint": "native-test",
                        "config": str(tmp_path / "native.json"), "pretrained": str(tmp_path / "w.safetensors")})
    assert model.fingerprint() == first.fingerprint()
    assert model.text_layer_count() == 4
    student = build_student(model, [1, 3])
    assert torch.equal(student.text_layers()[0].state_dict()["attn.in_proj_weight"],
                       model.text_layers()[1].state_dict()["attn.in_proj_weight"])
    save_model(student, tmp_path / "student")
    loaded = load_model({"source": "saved", "path": str(tmp_path / "student")})
    assert loaded.text_layer_count() == 2
    with torch.no_grad():
        assert torch.equal(student.eval().encode_text(student.tokenize(TEXTS[:1])),
                           loaded.encode_text(loaded.tokenize(TEXTS[:1])))
