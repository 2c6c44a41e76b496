"""pretrain_teacher: the family's own loss goes down, runs are deterministic, the log is written."""

import csv

import pytest
import torch

from mvlm_distill.models import pretrain_teacher
from mvlm_distill.models.pretrain import _BatchSampler, hard_negative_loss

from tiny_models import tiny_images_and_captions, tiny_teacher


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("pretrain")


@pytest.fixture(scope="module")
def data():
    return tiny_images_and_captions(n_images=16)


@pytest.mark.parametrize("family", ["clip", "siglip2"])
def test_pretraining_lowers_the_loss(family, work, data):
    images, pairs = data
    model = tiny_teacher(family, work, seed=0)
    log = work / f"{family}.csv"
    out = pretrain_teacher(model, images, pairs, steps=60, batch_size=16, lr=3e-3, seed=0,
                           log_path=log, progress=False)
    assert out["loss_last10"] < 0.8 * out["loss_first10"], out
    rows = list(csv.DictReader(open(log)))
    assert rows[0].keys() >= {"step", "lr", "loss", "logit_scale", "logit_bias", "seconds"}
    assert rows[-1]["step"] == "60"
    assert (out["logit_bias"] is None) == (family == "clip")
    assert not model.model.training  # left in eval mode


def test_pretraining_is_deterministic(work, data):
    images, pairs = data
    runs = []
    for _ in range(2):
        model = tiny_teacher("clip", work, seed=5)
        out = pretrain_teacher(model, images, pairs, steps=5, batch_size=8, lr=1e-3, seed=7, progress=False)
        runs.append((out["final_loss"], model.fingerprint()))
    assert runs[0] == runs[1]


def test_pretraining_accepts_preprocessed_pixels(work, data):
    images, pairs = data
    model = tiny_teacher("siglip2", work, seed=0)
    pixels = model.preprocess(images)
    # the fixed-resolution SiglipImageProcessor's output (the paper's SigLIP2 checkpoint's), as a dict
    assert isinstance(pixels, dict) and set(pixels) == {"pixel_values"} and pixels["pixel_values"].ndim == 4
    out = pretrain_teacher(model, pixels, pairs[:20], steps=2, batch_size=4, lr=1e-3, seed=0, progress=False)
    assert out["steps"] == 2


def test_bad_arguments(work, data):
    images, pairs = data
    model = tiny_teacher("clip", work)
    with pytest.raises(ValueError, match="steps"):
        pretrain_teacher(model, images, pairs, steps=0, batch_size=4, lr=1e-3, seed=0)
    with pytest.raises(ValueError, match="out of range"):
        pretrain_teacher(model, images[:2], pairs, steps=1, batch_size=4, lr=1e-3, seed=0, progress=False)


def test_hard_negative_loss_extends_the_family_loss():
    from open_clip.loss import ClipLoss, SigLipLoss

    g = torch.Generator().manual_seed(0)
    txt = torch.nn.functional.normalize(torch.randn(6, 8, generator=g), dim=-1)
    img = torch.nn.functional.normalize(txt + 0.3 * torch.randn(6, 8, generator=g), dim=-1)  # matched pairs
    far = -txt[:2]  # two negatives unlike their captions and images
    scale, bias = torch.tensor(10.0), torch.tensor(-5.0)
    # without negatives it is the family's own loss (open_clip's), with them it only adds terms
    assert torch.allclose(hard_negative_loss("clip", img, txt, scale), ClipLoss()(img, txt, scale))
    assert torch.allclose(hard_negative_loss("siglip2", img, txt, scale, bias), SigLipLoss()(img, txt, scale, bias))
    for family in ("clip", "siglip2"):
        base, with_far, with_copy = (hard_negative_loss(family, img, torch.cat([txt, neg]), scale, bias)
                                     for neg in (txt[:0], far, txt[:2]))
        assert base < with_far < with_copy  # a negative as close as its caption costs most


def test_pretraining_with_hard_negatives(work, data):
    images, pairs = data
    negatives = [None if k % 3 else f"not {text}" for k, (_, text) in enumerate(pairs)]
    runs = []
    for _ in range(2):
        model = tiny_teacher("siglip2", work, seed=0)
        out = pretrain_teacher(model, images, pairs, steps=3, batch_size=8, lr=1e-3, seed=0, progress=False,
                               hard_negatives=negatives)
        runs.append((out["final_loss"], model.fingerprint()))
    assert runs[0] == runs[1]
    plain = pretrain_teacher(tiny_teacher("siglip2", work, seed=0), images, pairs, steps=3, batch_size=8, lr=1e-3,
                             seed=0, progress=False)
    assert plain["final_loss"] != runs[0][0]  # the negatives entered the loss
    with pytest.raises(ValueError, match="one entry"):
        pretrain_teacher(tiny_teacher("clip", work), images, pairs, steps=1, batch_size=4, lr=1e-3, seed=0,
                         hard_negatives=negatives[:-1])


def test_batches_hold_distinct_images():
    image_idx = torch.tensor([i // 5 for i in range(50)])  # 10 images x 5 captions
    sampler = _BatchSampler(image_idx, 8, torch.Generator().manual_seed(0))
    seen = []
    for _ in range(30):
        batch = sampler.next()
        images = image_idx[batch].tolist()
        assert len(batch) == 8 and len(set(images)) == 8
        seen += batch.tolist()
    assert set(seen) == set(range(50))  # every pair is used
    assert len(_BatchSampler(image_idx, 64, torch.Generator()).next()) == 10  # capped at the image count


def test_shift_augmentation_matches_the_naflex_patch_order():
    from transformers.models.siglip2.image_processing_siglip2 import convert_image_to_patches

    from mvlm_distill.models import pretrain

    image = torch.randn(3, 32, 32)
    pixels = {"pixel_values": convert_image_to_patches(image, 8)[None], "spatial_shapes": torch.tensor([[4, 4]]),
              "pixel_attention_mask": torch.ones(1, 16, dtype=torch.int32)}
    g = torch.Generator().manual_seed(0)
    shifted = pretrain.shift_pixels(pixels, 2, g)
    g = torch.Generator().manual_seed(0)
    expected = pretrain.shift_images(image[None], 2, g)[0]
    assert torch.equal(shifted["pixel_values"][0], convert_image_to_patches(expected, 8))
    assert pretrain.shift_pixels(pixels, 0, g) is pixels
    batch = torch.randn(4, 3, 32, 32)
    out = pretrain.shift_images(batch, 2, torch.Generator().manual_seed(1))
    assert out.shape == batch.shape and not torch.equal(out, batch)


@pytest.mark.parametrize("family", ["clip", "siglip2"])
def test_every_toy_teacher_is_set_up_by_one_function(family, tmp_path, data):
    """pretrain_toy_teacher (the recipe's, rule pretrain_teacher's and tune_teachers' setup): a tokenizer
    that keeps the lexicon's pieces whole, lower-cased with its text for SigLIP2, the toy, pretraining."""
    import json
    from types import SimpleNamespace

    import pandas as pd

    from mvlm_distill.models import pretrain_toy_teacher
    from tiny_models import TINY_SIZE

    images, pairs = data
    for i, im in enumerate(images):
        im.save(tmp_path / f"img{i}.png")
    bench = SimpleNamespace(languages=["en", "de"], image_path=lambda image_id: tmp_path / f"{image_id}.png")
    frame = pd.DataFrame({"image_id": [f"img{i}" for i, _ in pairs[::2]], "text": [t.upper() for _, t in pairs[::2]]})
    seen = []
    teacher, summary = pretrain_toy_teacher(family, bench, frame, tmp_path / "work", size=TINY_SIZE, steps=2,
                                            batch_size=4, lr=1e-3, seed=0, progress=False, configure=seen.append)
    assert seen == [teacher]
    assert summary["pairs"] == len(frame) and summary["images"] == frame["image_id"].nunique()
    assert summary["steps"] == 2 and (tmp_path / "work" / "pretrain_log.csv").exists()
    vocab = json.loads((tmp_path / "work" / "tokenizer" / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    tokens = vocab if isinstance(vocab, dict) else [piece for piece, *_ in vocab]
    cased = [t for t in tokens if t != t.lower()]
    assert (cased == []) == (family == "siglip2"), cased[:5]
