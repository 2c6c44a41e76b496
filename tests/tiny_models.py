"""Tiny fixtures for the tests: images, captions in five languages, teachers.

Everything is built in well under a second once torch/open_clip/transformers are
imported::

    from tiny_models import tiny_teacher
    teacher = tiny_teacher("clip", tmp_path)          # random weights, 4 text layers
"""

from __future__ import annotations

import os
from pathlib import Path

#: a size config small enough for unit tests (4 text layers, so the half student keeps 2)
TINY_SIZE: dict = {
    "text_width": 32,
    "text_layers": 4,
    "text_heads": 2,
    "text_mlp_ratio": 2.0,
    "vision_width": 32,
    "vision_layers": 1,
    "vision_heads": 2,
    "vision_mlp_ratio": 2.0,
    "patch_size": 8,
    "image_size": 32,
    "embed_dim": 32,
    "context_length": 16,
}

COLOURS = {"red": (220, 30, 30), "green": (30, 170, 60), "blue": (40, 70, 220), "yellow": (235, 215, 40),
           "purple": (140, 55, 190), "orange": (245, 135, 25), "white": (245, 245, 245), "black": (20, 20, 20)}
_NAMES = {
    "en": {"red": "red", "green": "green", "blue": "blue", "yellow": "yellow", "purple": "purple",
           "orange": "orange", "white": "white", "black": "black", "left": "on the left", "right": "on the right",
           "square": "a {c} square {p}"},
    "de": {"red": "rotes", "green": "grünes", "blue": "blaues", "yellow": "gelbes", "purple": "lila",
           "orange": "orangefarbenes", "white": "weißes", "black": "schwarzes", "left": "links", "right": "rechts",
           "square": "ein {c} Quadrat {p}"},
    "zh": {"red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "purple": "紫色", "orange": "橙色",
           "white": "白色", "black": "黑色", "left": "左边", "right": "右边", "square": "{p}有一个{c}的正方形"},
    "ja": {"red": "赤い", "green": "緑の", "blue": "青い", "yellow": "黄色い", "purple": "紫の", "orange": "オレンジの",
           "white": "白い", "black": "黒い", "left": "左に", "right": "右に", "square": "{p}{c}四角があります"},
    "th": {"red": "สีแดง", "green": "สีเขียว", "blue": "สีน้ำเงิน", "yellow": "สีเหลือง", "purple": "สีม่วง",
           "orange": "สีส้ม", "white": "สีขาว", "black": "สีดำ", "left": "ทางซ้าย", "right": "ทางขวา",
           "square": "มีสี่เหลี่ยมจัตุรัส{c}อยู่{p}"},
}
LANGUAGES = tuple(_NAMES)


def tiny_images_and_captions(n_images: int = 16, languages=LANGUAGES):
    """``(images, pairs)``: 32 px PIL images of one coloured square (colour x side) and
    ``(image index, caption)`` pairs in each language."""
    from PIL import Image, ImageDraw

    colours = list(COLOURS)
    images, pairs = [], []
    for i in range(n_images):
        colour, side = colours[i % len(colours)], ("left", "right")[(i // len(colours)) % 2]
        im = Image.new("RGB", (32, 32), (128, 128, 128))
        x0 = 3 if side == "left" else 19
        ImageDraw.Draw(im).rectangle([x0, 10, x0 + 10, 20], fill=COLOURS[colour])
        images.append(im)
        for lang in languages:
            names = _NAMES[lang]
            pairs.append((i, names["square"].format(c=names[colour], p=names[side])))
    return images, pairs


def tiny_lexicon(languages=LANGUAGES) -> list[str]:
    """The surface forms of the tiny captions (what ``build_toy_tokenizer`` takes as ``pieces``)."""
    pieces = []
    for lang in languages:
        names = _NAMES[lang]
        pieces += [v for k, v in names.items() if k != "square"]
        pieces += [w for w in names["square"].replace("{c}", " ").replace("{p}", " ").split()]
    return pieces


def tiny_tokenizer(out_dir: str | os.PathLike) -> Path:
    from mvlm_distill.models.tokenizer import build_toy_tokenizer

    out_dir = Path(out_dir)
    if not (out_dir / "tokenizer.json").exists():
        _, pairs = tiny_images_and_captions()
        build_toy_tokenizer([t for _, t in pairs], tiny_lexicon(), out_dir)
    return out_dir


def tiny_teacher(family: str, work_dir: str | os.PathLike, seed: int = 0, size: dict | None = None):
    """A randomly initialised toy teacher of ``family`` with :data:`TINY_SIZE` (tokenizer under ``work_dir``)."""
    from mvlm_distill.models.toy import build_toy_teacher

    tok = tiny_tokenizer(Path(work_dir) / "tiny_tokenizer")
    return build_toy_teacher(family, tok, {**TINY_SIZE, **(size or {})}, seed=seed)
