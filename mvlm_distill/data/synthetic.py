"""The embedded synthetic multilingual benchmark and its oracle ceiling.

Each image (32 px by default) shows 1-3 objects on a noisy grey background.
An object has a shape (6), a colour (8), a size (2) and one of 5 named
positions (left, right, top, bottom, centre); objects of one image have
distinct positions and distinct (colour, shape) pairs.

A caption mentions one object, and a second one with probability ``second``; a
mentioned object always has its shape, and its colour, size and position with
probabilities ``colour``, ``size``, ``position`` (``caption_detail``; by default
:data:`CAPTION_DETAIL`: two objects, every attribute). A third object is never
mentioned, so captions stay ambiguous: :func:`oracle_ceiling` measures what a
model that knows every scene and the generator's likelihood reaches (the
Bayes-optimal ranking, its ties broken at random, in expectation) and the generator stores it in
``meta.json`` (``ceiling``), beside the logical-consistency count
(:func:`consistency_oracle`, ``consistency_oracle``). Partial captions (:data:`PARTIAL_DETAIL`) lower the
ceiling further but act as false negatives in training: the toy SigLIP2 teacher's
sigmoid loss learns little from them (docs/notes/toy_teachers.md).

A caption states the number of objects with probability ``count`` (a count frame).
Paraphrase ``j`` of an image has the same content (mentions, template, stated count)
in every language, so its captions share ``parallel_id = f"{image_id}-{j}"``; each
language words it with its own synonyms (:mod:`mvlm_distill.data.lexicon`). The val and
test splits are written first and no train caption repeats one of their texts.

VQA questions (colour, size, count, position) are asked in every language about
the images of the ``vqa_val`` and ``vqa`` splits (:data:`VQA_SPLITS`: the val and
the test split's VQA; no captions), drawn from a shifted distribution
(:data:`_SHIFT`: tinted backgrounds with a gradient, 2-5 clutter lines, twice the
position and scale jitter, more noise); without those splits, about the test images. A question's ``parallel_id`` is shared across
languages; its templates never occur in captions.

Besides the benchmark format (``images.parquet``, ``captions.parquet``, ``vqa.parquet``,
``meta.json``) the folder holds the scene records that make the ceiling and the
VQA answers checkable: ``scenes.csv`` (one row per object), ``mentions.csv``
(one row per mentioned object of each paraphrase) and ``questions.csv`` (one
row per language-independent question).

Everything is a function of ``seed``: the same arguments give byte-identical
files. Each split draws from its own random streams, so changing the size of one
split leaves the others unchanged.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mvlm_distill.data import lexicon
from mvlm_distill.data.formats import Benchmark, read_benchmark, write_benchmark
from mvlm_distill.definitions import expected_metric_values
from mvlm_distill.data.lexicon import (
    COLOURS, LANGUAGES, POSITIONS, QUESTION_KINDS, SHAPES, SIZES, Mention, vqa_prompt,
)
from mvlm_distill.io import write_csv

__all__ = [
    "DEFAULT_N_IMAGES", "DEFAULT_LANGUAGES", "generate_benchmark", "oracle_ceiling", "consistency_oracle",
    "caption_likelihood", "likelihood_ties",
    "read_scene_records", "vqa_prompt",
]

GENERATOR_VERSION = 7  # 3: meta ceiling = the Bayes-optimal ranking; 4: synonyms, count frames, no held-out text in train; 5: German colour nouns (answers, "in Blau"); 6: a vqa_val split (the VQA scored with val); 7: size questions instead of shape
#: the last version that changed any scene, image or caption of the captioned splits (what a teacher
#: learns from; version 6 only added a VQA split)
CAPTIONS_VERSION = 5
DEFAULT_N_IMAGES: dict[str, int] = {"train": 6000, "val": 500, "test": 1000, "vqa_val": 500, "vqa": 500}
DEFAULT_LANGUAGES: list[str] = list(LANGUAGES)
#: the retrieval test split (its ceiling goes into meta.json)
TEST_SPLIT = "test"
#: images of a shifted distribution, without captions, that the VQA questions are asked about, one
#: split per evaluation split (``vqa`` for ``test``; without these splits, VQA is asked about the
#: evaluation split's own images)
VQA_SPLITS: dict[str, str] = {"val": "vqa_val", "test": "vqa"}

# caption content: probabilities of mentioning a second object and each attribute
#: and of stating the number of objects in the image (a count frame)
CAPTION_DETAIL: dict[str, float] = {"second": 1.0, "colour": 1.0, "size": 1.0, "position": 1.0, "count": 0.5}
PARTIAL_DETAIL: dict[str, float] = {"second": 0.8, "colour": 0.9, "size": 0.5, "position": 0.7, "count": 0.5}
#: splits whose caption texts the train split never repeats
HELD_OUT_SPLITS = ("val", "test")
_MAX_REDRAWS = 1000

# rendering, as fractions of the image side
_CENTRES = {"left": (0.2, 0.5), "right": (0.8, 0.5), "top": (0.5, 0.2), "bottom": (0.5, 0.8),
            "centre": (0.5, 0.5)}
_RADIUS = {"small": 0.085, "large": 0.145}
_JITTER = 0.035          # centre jitter
_SCALE_JITTER = 0.1      # radius x U(1 - j, 1 + j)
_RGB = {
    "red": (215, 35, 35), "green": (35, 165, 55), "blue": (40, 70, 220), "yellow": (235, 215, 40),
    "purple": (140, 55, 190), "orange": (245, 135, 25), "white": (245, 245, 245), "black": (20, 20, 20),
}
_COLOUR_JITTER = 18
_BACKGROUND = (85, 170)  # grey level range
_NOISE_STD = 9.0
# the VQA split's shift: tinted backgrounds with a gradient, clutter lines, larger jitter, more noise
_SHIFT = {"tint": 28, "gradient": 40, "clutter": (2, 5), "jitter": 0.06, "scale_jitter": 0.25, "noise": 14.0}
_SUPERSAMPLE = 4

SCENE_COLUMNS = ["image_id", "split", "object", "shape", "colour", "size", "position", "x", "y", "radius"]
MENTION_COLUMNS = ["parallel_id", "image_id", "split", "paraphrase", "template", "count", "mention",
                   "shape", "colour", "size", "position"]
QUESTION_COLUMNS = ["parallel_id", "image_id", "kind", "object", "answer_key"]
CEILING_METRICS = ("R@1", "R@5", "R@10", "MRR@10")


def generator_identity(spec: Mapping) -> dict:
    """What decides a generated benchmark's captioned splits (images and captions): a synthetic
    benchmark spec's generator arguments with their defaults, the sizes of its captioned splits and
    :data:`CAPTIONS_VERSION`. Two specs with equal identities generate the same train, val and test
    splits (a shipped teacher records the one it learnt from); the VQA splits and questions may differ."""
    import inspect

    defaults = {k: p.default for k, p in inspect.signature(generate_benchmark).parameters.items()}
    n_images = dict(DEFAULT_N_IMAGES if spec.get("n_images") is None else spec["n_images"])
    return {"captions_version": CAPTIONS_VERSION,
            **{k: int(spec.get(k, defaults[k])) for k in ("seed", "paraphrases", "image_size")},
            "n_images": {k: int(v) for k, v in sorted(n_images.items()) if k not in VQA_SPLITS.values()},
            "languages": sorted(spec.get("languages") or DEFAULT_LANGUAGES)}


def _rng(seed: int, split: str, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(split.encode("utf-8")), stream])


# --------------------------------------------------------------------------- scenes

def _sample_scene(rng: np.random.Generator) -> list[dict]:
    n = int(rng.integers(1, 4))
    positions = rng.choice(len(POSITIONS), size=n, replace=False)
    pairs = rng.choice(len(COLOURS) * len(SHAPES), size=n, replace=False)
    sizes = rng.integers(0, len(SIZES), size=n)
    return [
        {"shape": SHAPES[int(p) % len(SHAPES)], "colour": COLOURS[int(p) // len(SHAPES)],
         "size": SIZES[int(s)], "position": POSITIONS[int(q)]}
        for p, s, q in zip(pairs, sizes, positions)
    ]


def _shape_polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]] | None:
    if shape == "square":
        h = r * 0.85
        return [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    if shape == "diamond":
        return [(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)]
    if shape == "triangle":
        return [(cx, cy - r), (cx + r * 0.95, cy + r * 0.8), (cx - r * 0.95, cy + r * 0.8)]
    if shape == "star":
        pts = []
        for k in range(10):
            rad = r if k % 2 == 0 else r * 0.45
            ang = -np.pi / 2 + k * np.pi / 5
            pts.append((cx + rad * np.cos(ang), cy + rad * np.sin(ang)))
        return pts
    if shape == "cross":
        a = r * 0.33
        return [(cx - a, cy - r), (cx + a, cy - r), (cx + a, cy - a), (cx + r, cy - a), (cx + r, cy + a),
                (cx + a, cy + a), (cx + a, cy + r), (cx - a, cy + r), (cx - a, cy + a), (cx - r, cy + a),
                (cx - r, cy - a), (cx - a, cy - a)]
    return None  # circle


def _render(objects: list[dict], rng: np.random.Generator, size: int, shifted: bool = False
            ) -> tuple[np.ndarray, list[tuple]]:
    from PIL import Image, ImageDraw

    big = size * _SUPERSAMPLE
    grey = int(rng.integers(_BACKGROUND[0], _BACKGROUND[1] + 1))
    tint = rng.integers(-_SHIFT["tint"], _SHIFT["tint"] + 1, size=3) if shifted else rng.integers(-8, 9, size=3)
    bg = tuple(min(255, max(0, grey + int(t))) for t in tint)
    canvas = Image.new("RGB", (big, big), bg)
    draw = ImageDraw.Draw(canvas)
    jitter, scale_jitter = (_SHIFT["jitter"], _SHIFT["scale_jitter"]) if shifted else (_JITTER, _SCALE_JITTER)
    if shifted:
        ramp = np.linspace(-1.0, 1.0, big)[None, :, None] * rng.uniform(-1, 1, size=3) * _SHIFT["gradient"]
        arr = np.clip(np.asarray(canvas, dtype=np.float32) + ramp, 0, 255).astype(np.uint8)
        canvas = Image.fromarray(np.ascontiguousarray(arr.transpose(1, 0, 2) if rng.random() < 0.5 else arr))
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(rng.integers(_SHIFT["clutter"][0], _SHIFT["clutter"][1] + 1))):
            x0, y0, x1, y1 = rng.uniform(0, big, size=4)
            level = int(rng.integers(40, 216))
            draw.line([(x0, y0), (x1, y1)], fill=(level, level, level), width=max(1, _SUPERSAMPLE // 2))
    geometry = []
    for obj in objects:
        fx, fy = _CENTRES[obj["position"]]
        jx, jy = rng.uniform(-jitter, jitter, size=2)
        scale = rng.uniform(1 - scale_jitter, 1 + scale_jitter)
        cj = rng.integers(-_COLOUR_JITTER, _COLOUR_JITTER + 1, size=3)
        colour = tuple(min(255, max(0, c + int(j))) for c, j in zip(_RGB[obj["colour"]], cj))
        cx, cy, r = (fx + jx) * big, (fy + jy) * big, _RADIUS[obj["size"]] * scale * big
        poly = _shape_polygon(obj["shape"], cx, cy, r)
        if poly is None:
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        else:
            draw.polygon(poly, fill=colour)
        geometry.append((cx / _SUPERSAMPLE, cy / _SUPERSAMPLE, r / _SUPERSAMPLE))
    small = canvas.resize((size, size), Image.Resampling.BOX)
    arr = np.asarray(small, dtype=np.float32)
    arr = arr + rng.normal(0.0, _SHIFT["noise"] if shifted else _NOISE_STD, size=arr.shape)
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8), geometry


# --------------------------------------------------------------------------- captions

def _sample_mentions(objects: list[dict], rng: np.random.Generator, detail: Mapping[str, float]
                     ) -> tuple[list[Mention], int, int | None]:
    order = rng.permutation(len(objects))
    n_mentions = 2 if len(objects) >= 2 and rng.random() < detail["second"] else 1
    mentions = []
    for idx in order[:n_mentions]:
        obj = objects[int(idx)]
        u = rng.random(3)
        mentions.append(Mention(
            shape=obj["shape"],
            colour=obj["colour"] if u[0] < detail["colour"] else None,
            size=obj["size"] if u[1] < detail["size"] else None,
            position=obj["position"] if u[2] < detail["position"] else None,
        ))
    template = int(rng.integers(0, lexicon.N_TEMPLATES))
    count = len(objects) if rng.random() < detail["count"] else None
    return mentions, template, count


def _sample_caption(objects, rng, detail, languages, held_out: set | None):
    """One paraphrase's content and its text per language; in train, redrawn while a text is held
    out (None when no draw avoids them)."""
    for _ in range(_MAX_REDRAWS):
        mentions, template, count = _sample_mentions(objects, rng, detail)
        variants = rng.integers(0, 2**31, size=len(languages))
        texts = [lexicon.caption(lang, mentions, template, count, int(v)) for lang, v in zip(languages, variants)]
        if not held_out or not any(t in held_out for t in texts):
            return mentions, template, count, texts
    return None


def _sample_scene_and_captions(scene_rng, caption_rng, n_captions, detail, languages, held_out: set | None):
    """A scene and its captions. A train scene is drawn again when its captions cannot avoid the
    held-out texts: a one-object scene has a single text per caption frame in some languages, so
    a large test split can hold every caption it has."""
    for _ in range(_MAX_REDRAWS):
        objects = _sample_scene(scene_rng)
        contents = [_sample_caption(objects, caption_rng, detail, languages, held_out) for _ in range(n_captions)]
        if all(c is not None for c in contents):
            return objects, contents
    raise RuntimeError(f"no scene's captions avoid the held-out texts after {_MAX_REDRAWS} scenes")


# --------------------------------------------------------------------------- generator

def generate_benchmark(
    root: str | os.PathLike,
    *,
    seed: int = 0,
    n_images: Mapping[str, int] | None = None,
    languages: Sequence[str] | None = None,
    paraphrases: int = 2,
    image_size: int = 32,
    caption_detail: Mapping[str, float] | None = None,
) -> dict:
    """Write the synthetic benchmark under ``root`` and return its meta.

    ``n_images`` defaults to :data:`DEFAULT_N_IMAGES` (train, val, test and the
    caption-less ``vqa`` split) and ``languages`` to all nine of
    :data:`mvlm_distill.data.lexicon.LANGUAGES`. VQA questions are asked about the
    ``vqa`` split (else the ``test`` split); the oracle ceiling is made for the
    ``test`` split when there is one. ``caption_detail``: probabilities ``second``, ``colour``, ``size``,
    ``position`` (default :data:`CAPTION_DETAIL`).
    """
    from PIL import Image

    root = Path(root)
    n_images = dict(DEFAULT_N_IMAGES if n_images is None else n_images)
    languages = list(DEFAULT_LANGUAGES if languages is None else languages)
    unknown = [lang for lang in languages if lang not in LANGUAGES]
    if unknown or not languages or len(set(languages)) != len(languages):
        raise ValueError(f"languages must be distinct codes among {', '.join(LANGUAGES)}; got {languages}")
    if paraphrases < 1:
        raise ValueError(f"paraphrases must be >= 1, not {paraphrases}")
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8, not {image_size}")
    for split, n in n_images.items():
        if int(n) < 1:
            raise ValueError(f"split {split!r} needs at least one image, not {n}")
    detail = {**CAPTION_DETAIL, **(caption_detail or {})}
    if set(detail) != set(CAPTION_DETAIL) or not all(0.0 <= float(p) <= 1.0 for p in detail.values()):
        raise ValueError(f"caption_detail needs probabilities in [0, 1] for {', '.join(CAPTION_DETAIL)}; got {detail}")
    detail = {k: float(v) for k, v in detail.items()}

    vqa_splits = {ev: s for ev, s in VQA_SPLITS.items() if s in n_images} or {TEST_SPLIT: TEST_SPLIT}
    shifted_splits = set(VQA_SPLITS.values())
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, list]] = {}
    held_out: set[str] = set()
    # held-out splits first, so that train can avoid their caption texts
    for split in sorted(n_images, key=lambda s: s not in HELD_OUT_SPLITS):
        n = n_images[split]
        out = rows[split] = {k: [] for k in ("image", "caption", "scene", "mention", "question", "vqa")}
        scene_rng, render_rng, caption_rng, vqa_rng = (_rng(seed, split, k) for k in range(4))
        width = max(5, len(str(n - 1)))
        for i in range(int(n)):
            image_id = f"{split}-{i:0{width}d}"
            avoid = held_out if split not in HELD_OUT_SPLITS else None
            objects, contents = _sample_scene_and_captions(
                scene_rng, caption_rng, 0 if split in shifted_splits else paraphrases, detail, languages, avoid)
            pixels, geometry = _render(objects, render_rng, image_size, shifted=split in shifted_splits)
            rel = f"images/{image_id}.png"
            buffer = io.BytesIO()
            Image.fromarray(pixels, "RGB").save(buffer, format="PNG", compress_level=1)
            (root / rel).write_bytes(buffer.getvalue())
            out["image"].append((image_id, split, rel))
            for k, (obj, (x, y, r)) in enumerate(zip(objects, geometry)):
                out["scene"].append((image_id, split, k, obj["shape"], obj["colour"], obj["size"],
                                     obj["position"], f"{x:.2f}", f"{y:.2f}", f"{r:.2f}"))
            for j, (mentions, template, count, _) in enumerate(contents):
                pid = f"{image_id}-{j}"
                for k, m in enumerate(mentions):
                    out["mention"].append((pid, image_id, split, j, template, "" if count is None else count, k,
                                           m.shape, m.colour or "", m.size or "", m.position or ""))
            for li, lang in enumerate(languages):
                for j, (*_, texts) in enumerate(contents):
                    out["caption"].append((image_id, split, lang, f"{image_id}-{lang}-{j}", f"{image_id}-{j}",
                                           texts[li]))
            if split in vqa_splits.values():
                for kind in QUESTION_KINDS:
                    k = int(vqa_rng.integers(0, len(objects)))
                    obj = objects[k]
                    key = {"colour": obj["colour"], "size": obj["size"], "count": len(objects),
                           "position": obj["position"]}[kind]
                    pid = f"{image_id}-{kind}"
                    out["question"].append((pid, image_id, kind, k if kind != "count" else "", str(key)))
                    for lang in languages:
                        text = lexicon.question(lang, kind, position=obj["position"], shape=obj["shape"],
                                                colour=obj["colour"])
                        out["vqa"].append((f"{image_id}-{lang}-{kind}", pid, image_id, lang, text,
                                           lexicon.answer(lang, kind, key), lexicon.candidates(lang, kind)))
        if split in HELD_OUT_SPLITS:
            held_out.update(row[-1] for row in out["caption"])
    image_rows, caption_rows, scene_rows, mention_rows, question_rows, vqa_rows = (
        [row for split in n_images for row in rows[split][k]]
        for k in ("image", "caption", "scene", "mention", "question", "vqa"))

    images = pd.DataFrame(image_rows, columns=["image_id", "split", "file"])
    captions = pd.DataFrame(caption_rows, columns=["image_id", "split", "language", "caption_id",
                                                   "parallel_id", "text"])
    scenes = pd.DataFrame(scene_rows, columns=SCENE_COLUMNS)
    mentions = pd.DataFrame(mention_rows, columns=MENTION_COLUMNS)
    questions = pd.DataFrame(question_rows, columns=QUESTION_COLUMNS)
    vqa = None
    if vqa_rows:
        vqa = pd.DataFrame(vqa_rows, columns=["question_id", "parallel_id", "image_id", "language",
                                              "question", "answer", "candidates"])

    meta = {
        "name": "synthetic",
        "source": "synthetic",
        "description": "Embedded synthetic multilingual image-caption benchmark (mvlm_distill.data.synthetic).",
        "languages": languages,
        "splits": list(n_images),
        "generator": {
            "version": GENERATOR_VERSION, "seed": int(seed), "n_images": {k: int(v) for k, v in n_images.items()},
            "paraphrases": int(paraphrases), "image_size": int(image_size),
            "caption_detail": detail,
        },
        # the VQA split each evaluation split is scored with (Benchmark.evaluation_vqa)
        "vqa_splits": vqa_splits if vqa is not None else None,
        "scene_files": ["scenes.csv", "mentions.csv", "questions.csv"],
    }
    if TEST_SPLIT in n_images:
        records = {"scenes": scenes, "mentions": mentions, "captions": captions, "vqa": vqa, "questions": questions}
        meta["ceiling"] = oracle_ceiling(records, split=TEST_SPLIT, caption_detail=detail)
        meta["consistency_oracle"] = consistency_oracle(records, split=TEST_SPLIT)
    write_csv(root / "scenes.csv", scenes)
    write_csv(root / "mentions.csv", mentions)
    write_csv(root / "questions.csv", questions)
    write_benchmark(root, images, captions, vqa, meta)
    return meta


# --------------------------------------------------------------------------- scene records

def read_scene_records(root: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """scenes.csv, mentions.csv and questions.csv of a generated benchmark (str columns)."""
    root = Path(root)
    out = {}
    for name in ("scenes", "mentions", "questions"):
        path = root / f"{name}.csv"
        if not path.is_file():
            from mvlm_distill.data.formats import BenchmarkError
            raise BenchmarkError(f"{path}: file does not exist (only synthetic benchmarks have scene records).")
        out[name] = pd.read_csv(path, dtype=str, keep_default_na=False)
    return out


def swapped_attribute_captions(root: str | os.PathLike, captions: pd.DataFrame, seed: int,
                               attributes: Sequence[str] = ("colour", "size", "position")) -> list[str | None]:
    """A hard negative per caption of ``captions`` (rows of the benchmark at ``root``): the same
    caption with one attribute swapped between its two mentioned objects, in its own language.

    The attribute is drawn (``seed``) among those both mentions state and that differ, so the
    result describes no object of the image (objects differ in position and in (colour, shape));
    None for a caption of one object or with nothing to swap. The text is realised by
    :func:`lexicon.caption` from the caption's recorded content (``mentions.csv``: template, count)
    with its own synonym draw."""
    mentions = read_scene_records(root)["mentions"]
    content = {}
    for pid, rows in mentions.groupby("parallel_id", sort=False):
        rows = rows.sort_values("mention")
        content[pid] = ([Mention(r.shape, r.colour or None, r.size or None, r.position or None)
                         for r in rows.itertuples()], int(rows["template"].iloc[0]),
                        int(rows["count"].iloc[0]) if rows["count"].iloc[0] else None)
    rng = np.random.default_rng([seed, 7])
    out = []
    for pid, lang in zip(captions["parallel_id"], captions["language"]):
        found, template, count = content[pid]
        draw = rng.integers(0, 2**31, size=2)
        choices = [a for a in attributes if len(found) == 2 and None not in (getattr(found[0], a), getattr(found[1], a))
                   and getattr(found[0], a) != getattr(found[1], a)]
        if not choices:
            out.append(None)
            continue
        attr = choices[int(draw[0]) % len(choices)]
        a, b = found
        swapped = [dataclasses.replace(a, **{attr: getattr(b, attr)}), dataclasses.replace(b, **{attr: getattr(a, attr)})]
        out.append(lexicon.caption(lang, swapped, template, count, int(draw[1])))
    return out


def _assignment_counts(scenes: pd.DataFrame, mentions: pd.DataFrame, image_ids: list[str],
                       parallel_ids: list[str]) -> np.ndarray:
    """(len(parallel_ids), len(image_ids)) int: in how many ways caption content p fits image i,
    i.e. ordered assignments of distinct objects of the image to the mentions, each object
    matching its mention in every attribute the caption states, and the image having the number
    of objects the caption states, if it states one (> 0: consistent)."""
    n_img = len(image_ids)
    index = {iid: k for k, iid in enumerate(image_ids)}
    objs_by_img: dict[int, list[tuple]] = {}
    for iid, shape, colour, size, pos in zip(scenes["image_id"], scenes["shape"], scenes["colour"],
                                             scenes["size"], scenes["position"]):
        if iid in index:
            objs_by_img.setdefault(index[iid], []).append((shape, colour, size, pos))
    max_obj = max([len(v) for v in objs_by_img.values()] + [1])
    attrs = {name: np.full((n_img, max_obj), "", dtype=object) for name in ("shape", "colour", "size", "position")}
    present = np.zeros((n_img, max_obj), dtype=bool)
    for i, objs in objs_by_img.items():
        for k, (shape, colour, size, pos) in enumerate(objs):
            attrs["shape"][i, k], attrs["colour"][i, k] = shape, colour
            attrs["size"][i, k], attrs["position"][i, k] = size, pos
            present[i, k] = True
    # encode as integer codes for fast comparison
    codes = {}
    for name, arr in attrs.items():
        values = {v: c for c, v in enumerate(sorted(set(arr.ravel())))}
        codes[name] = (np.vectorize(values.get, otypes=[np.int64])(arr), values)

    by_pid: dict[str, list[dict]] = {}
    for rec in mentions.to_dict("records"):
        by_pid.setdefault(rec["parallel_id"], []).append(rec)
    out = np.zeros((len(parallel_ids), n_img), dtype=np.int64)
    offdiag = ~np.eye(max_obj, dtype=bool)
    for p, pid in enumerate(parallel_ids):
        recs = sorted(by_pid.get(pid, []), key=lambda r: int(r["mention"]))
        if not recs:
            raise ValueError(f"mentions.csv: no mention records for parallel_id {pid!r}")
        matches = []
        for rec in recs:
            m = present.copy()
            for name in ("shape", "colour", "size", "position"):
                value = rec[name]
                if value:
                    code_arr, table = codes[name]
                    m &= code_arr == table.get(value, -1)
            matches.append(m)
        if len(matches) == 1:
            out[p] = matches[0].sum(axis=1)
        elif len(matches) == 2:
            out[p] = (matches[0][:, :, None] & matches[1][:, None, :] & offdiag).sum(axis=(1, 2))
        else:  # general case: brute force over assignments of distinct objects
            from itertools import permutations
            count = np.zeros(n_img, dtype=np.int64)
            for perm in permutations(range(max_obj), len(matches)):
                cur = np.ones(n_img, dtype=bool)
                for m, k in zip(matches, perm):
                    cur &= m[:, k]
                count += cur
            out[p] = count
        stated = str(recs[0].get("count", "") or "")
        if stated:  # a count frame fits only images with that many objects
            out[p] *= present.sum(axis=1) == int(stated)
    return out


def _tied(ranks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ahead, wrong_tied, own_tied)`` per query (``definitions.expected_metric_values``); plain
    ranks (no ties left to break) become ``(rank - 1, 0, 1)``."""
    if isinstance(ranks, tuple):
        return tuple(np.asarray(x, dtype=np.int64) for x in ranks)
    ranks = np.asarray(ranks, dtype=np.int64)
    return ranks - 1, np.zeros_like(ranks), np.ones_like(ranks)


def _metrics(ranks, metrics=("R@1", "R@5", "R@10", "MRR@10")) -> dict:
    """Mean metrics of ranks, or the expected ones of ``(ahead, wrong_tied, own_tied)`` (random tie-breaks)."""
    ahead, wrong, own = _tied(ranks)
    out = {m: round(float(expected_metric_values(m, ahead, wrong, own).mean()), 6) for m in metrics}
    return {**out, "n_queries": int(len(ahead))}


def _vqa_metrics(ranks) -> dict:
    return _metrics(ranks, ("acc@1", "MRR@5"))


def _concat(parts: list):
    """Ranks, or ``(ahead, wrong_tied, own_tied)`` triples, of several groups as one."""
    return tuple(np.concatenate(x) for x in zip(*map(_tied, parts)))


def _records(source) -> dict:
    """Scene records (and captions, VQA and meta when known) of a Benchmark, a folder or a dict."""
    if isinstance(source, Benchmark):
        records = read_scene_records(source.root)
        records.update(captions=source.captions, vqa=source.vqa, meta=source.meta)
    elif isinstance(source, (str, os.PathLike)):
        bench = read_benchmark(source)
        records = read_scene_records(source)
        records.update(captions=bench.captions, vqa=bench.vqa, meta=bench.meta)
    else:
        records = dict(source)
    return records


class _SplitRecords:
    """The split's images, caption contents and how many ways each content fits each image."""

    def __init__(self, records: dict, split: str):
        scenes = records["scenes"].astype({"image_id": str, "split": str})
        mentions = records["mentions"].astype({"parallel_id": str, "split": str}).fillna("")
        mentions = mentions.astype(str).replace({"None": "", "nan": ""})
        self.scenes = scenes[scenes["split"] == split]
        self.image_ids = list(dict.fromkeys(self.scenes["image_id"]))
        if not self.image_ids:
            raise ValueError(f"no images of split {split!r} in the scene records")
        self.mentions = mentions[mentions["split"] == split]
        self.parallel_ids = list(dict.fromkeys(self.mentions["parallel_id"]))
        owner = dict(zip(self.mentions["parallel_id"], self.mentions["image_id"]))
        self.counts = _assignment_counts(self.scenes, self.mentions, self.image_ids, self.parallel_ids)
        img_index = {iid: k for k, iid in enumerate(self.image_ids)}
        self.owner = np.array([img_index[owner[p]] for p in self.parallel_ids])
        if not (self.counts[np.arange(len(self.parallel_ids)), self.owner] > 0).all():
            raise ValueError("a caption is inconsistent with its own image: the scene records are corrupt")
        pid_index = {pid: k for k, pid in enumerate(self.parallel_ids)}
        captions = records.get("captions")
        if captions is not None:
            caps = captions[captions["split"] == split]
            self.groups = [(lang, [pid_index[p] for p in caps.loc[caps["language"] == lang, "parallel_id"]])
                           for lang in dict.fromkeys(caps["language"])]
        else:
            self.groups = [("", list(range(len(self.parallel_ids))))]

    def metrics(self, task_ranks) -> dict:
        """``{"overall": {task: metrics}, "by_language": {...}}`` of ``task_ranks(rows) -> {task: ranks}``."""
        by_language, pooled = {}, {}
        for lang, rows in self.groups:
            ranks = task_ranks(np.asarray(rows, dtype=int))
            for task, r in ranks.items():
                pooled.setdefault(task, []).append(r)
            if lang:
                by_language[lang] = {task: _metrics(r) for task, r in ranks.items()}
        return {"overall": {task: _metrics(_concat(r)) for task, r in pooled.items()},
                "by_language": by_language}


def consistency_oracle(source, split: str = "test") -> dict:
    """Retrieval metrics of an oracle that only checks logical consistency (``meta["consistency_oracle"]``).

    ``source`` is a :class:`Benchmark`, a benchmark folder, or a dict with
    DataFrames ``scenes`` and ``mentions`` (and optionally ``captions``, for the
    per-language breakdown). For each query the oracle scores every candidate
    that is logically consistent with it equally (and the rest lower), so with
    pessimistic ties:

    * t2i (query = caption): rank = number of ``split`` images consistent with the caption;
    * i2t (query = image, candidates = the split's captions of one language): the
      oracle puts the captions consistent with the image first, the more specific
      ones (consistent with fewer images) before the vaguer ones; rank = 1 + number
      of other images' consistent captions at least as specific as the image's most
      specific own caption.

    It ignores how captions are generated (a one-object caption can only come from a
    one-object image; two-object images are likelier than three-object ones), so it is
    not an upper bound: :func:`oracle_ceiling` is.
    Returns ``{"split", "ties", "overall": {task: metrics}, "by_language": {lang: {task: metrics}}}``
    with metrics R@1, R@5, R@10, MRR@10 and n_queries.
    """
    recs = _SplitRecords(_records(source), split)
    consistent = recs.counts > 0

    def task_ranks(rows: np.ndarray) -> dict:
        sub = consistent[rows]                      # (captions, images)
        t2i = sub.sum(axis=1)                       # consistent images per caption = its rank
        owners = recs.owner[rows]
        i2t = []
        for q in np.unique(owners):
            cons = sub[:, q]
            mine = owners == q
            best = t2i[mine].min()                  # the image's most specific own caption
            i2t.append(1 + int(np.sum(cons & ~mine & (t2i <= best))))
        return {"t2i": t2i, "i2t": np.asarray(i2t)}

    return {"split": split, "ties": "pessimistic", **recs.metrics(task_ranks)}


def caption_likelihood(counts: np.ndarray, n_objects: np.ndarray, n_mentions: np.ndarray,
                       second: float) -> np.ndarray:
    """P(caption content | scene) up to a factor of the caption alone, (captions, images).

    The generator picks 2 objects with probability ``second`` (if the scene has 2+), else 1, as the
    first ones of a uniform random order, and states each attribute independently of the scene:
    P = P(n_mentions | n_objects) * (matching ordered assignments) / (ordered choices of n_mentions
    of the n_objects). The attribute probabilities and the template are the same for every image.
    """
    n = np.asarray(n_objects, dtype=np.float64)[None, :]
    m = np.asarray(n_mentions)[:, None]
    p_count = np.where(m == 1, np.where(n == 1, 1.0, 1.0 - second), np.where(n >= 2, second, 0.0))
    choices = np.where(m == 1, n, n * (n - 1))
    return p_count * counts / np.maximum(choices, 1.0)


def _posterior_rows(likelihood: np.ndarray) -> np.ndarray:
    """P(image | caption) per row; identical rows give bit-identical posteriors (each computed once)."""
    distinct, inverse = np.unique(likelihood, axis=0, return_inverse=True)
    return (distinct / distinct.sum(axis=1, keepdims=True))[inverse.reshape(-1)]


def _vqa_ranks(records: dict, split: str, scenes: pd.DataFrame) -> dict[str, tuple]:
    """Per language, ``(ahead, wrong_tied, own_tied)`` of the right answer under the scene's answer
    posterior (the expected metrics break its ties at random).

    A candidate text's score is the posterior mass of the answers written that way; the posterior is
    the share of the scene's objects fitting the question that have each answer."""
    vqa, questions = records.get("vqa"), records.get("questions")
    if vqa is None or questions is None or not len(vqa):
        return {}
    questions = questions.astype(str).set_index("parallel_id")
    objects = {iid: g.to_dict("records") for iid, g in scenes.groupby("image_id")}
    out: dict[str, list[tuple[int, int, int]]] = {}
    for row in vqa.itertuples(index=False):
        if row.image_id not in objects:
            continue
        q = questions.loc[row.parallel_id]
        objs = objects[row.image_id]
        if q["kind"] == "count":
            answers = [len(objs)]
        elif q["kind"] in ("colour", "size"):
            where = objs[int(q["object"])]["position"]
            answers = [o[q["kind"]] for o in objs if o["position"] == where]
        else:
            target = objs[int(q["object"])]
            answers = [o["position"] for o in objs if (o["colour"], o["shape"]) == (target["colour"], target["shape"])]
        mass: dict[str, float] = {}
        for a in answers:
            text = lexicon.answer(row.language, q["kind"], a)
            mass[text] = mass.get(text, 0.0) + 1.0 / len(answers)
        candidates = json.loads(row.candidates) if isinstance(row.candidates, str) else list(row.candidates)
        scores, right = np.array([mass.get(c, 0.0) for c in candidates]), mass.get(row.answer, 0.0)
        out.setdefault(row.language, []).append((int((scores > right).sum()), int((scores == right).sum()) - 1, 1))
    return {lang: tuple(np.asarray(x) for x in zip(*r)) for lang, r in out.items()}


def oracle_ceiling(source, split: str = "test", caption_detail: Mapping[str, float] | None = None) -> dict:
    """The Bayes-optimal ceiling: the expected score of ranking by the generator's own likelihood,
    ties broken at random.

    ``source`` as for :func:`consistency_oracle` (a dict may add ``vqa`` and ``questions`` for the VQA
    ceiling). ``caption_detail``: the generator's probabilities (default: the benchmark's
    ``meta["generator"]["caption_detail"]``, else :data:`CAPTION_DETAIL`).

    * t2i: images ranked by P(caption | scene), the posterior under a uniform prior over images;
    * i2t: the split's captions of one language ranked by P(image | caption);
    * vqa: candidate answers ranked by their posterior given the scene (the questions about the
      ``vqa`` split's images if the records have that split, else about ``split``'s).

    Candidates tied with the best right one are ordered at random and each metric is its expected
    value over those orders (``definitions.expected_metric_values``): tied candidates are equally
    likely to be right, so no tie-break, and no scorer of the images, beats this in expectation
    (tests/test_synthetic.py checks both); charging ties the worst rank, as the study's pessimistic
    scoring does, is not an upper bound. Generic over the likelihood: any generator's P(caption |
    scene) matrix gives its ceiling the same way. Metrics as :func:`consistency_oracle`, plus
    ``acc@1`` and ``MRR@5`` for vqa.
    """
    records = _records(source)
    if caption_detail is None:
        caption_detail = (records.get("meta") or {}).get("generator", {}).get("caption_detail", CAPTION_DETAIL)
    recs = _SplitRecords(records, split)
    n_objects = recs.scenes.groupby("image_id").size().reindex(recs.image_ids).to_numpy()
    n_mentions = recs.mentions.groupby("parallel_id").size().reindex(recs.parallel_ids).to_numpy()
    likelihood = caption_likelihood(recs.counts, n_objects, n_mentions, float(caption_detail["second"]))
    posterior = _posterior_rows(likelihood)

    def task_ranks(rows: np.ndarray) -> dict:
        return {"t2i": likelihood_ties(likelihood[rows], recs.owner[rows]),
                "i2t": likelihood_ties(posterior[rows].T, recs.owner[rows], by_candidate=True)}

    result = {"split": split, "ties": "random (expected)", "ranking": "likelihood", **recs.metrics(task_ranks)}
    scenes = records["scenes"].astype({"split": str})
    vqa_split = VQA_SPLITS.get(split, split)
    vqa_split = vqa_split if (scenes["split"] == vqa_split).any() else split
    vqa = _vqa_ranks(records, vqa_split, scenes[scenes["split"] == vqa_split])
    if vqa:
        result["overall"]["vqa"] = _vqa_metrics(_concat(list(vqa.values())))
        for lang, ranks in vqa.items():
            result["by_language"].setdefault(lang, {})["vqa"] = _vqa_metrics(ranks)
    return result


def likelihood_ties(scores: np.ndarray, owner: np.ndarray, by_candidate: bool = False) -> tuple:
    """``(ahead, wrong_tied, own_tied)`` per query of a score matrix, for expected metrics under
    random tie-breaks (``definitions.expected_metric_values``).

    ``by_candidate=False`` (t2i): ``scores`` is (queries, candidates), query q's one right candidate
    is ``owner[q]``. ``by_candidate=True`` (i2t): ``scores`` is (query images, captions), caption c
    is right for image ``owner[c]``; only images that own a caption are queries (ascending). Example::

        >>> likelihood_ties(np.array([[0.5, 0.5, 0.1], [0.2, 0.7, 0.7]]), np.array([0, 2]))
        (array([0, 0]), array([1, 1]), array([1, 1]))
    """
    scores = np.asarray(scores, dtype=np.float64)
    owner = np.asarray(owner, dtype=np.int64)
    if not by_candidate:
        own = scores[np.arange(len(owner)), owner]
        return ((scores > own[:, None]).sum(axis=1), (scores == own[:, None]).sum(axis=1) - 1, np.ones_like(owner))
    queries = np.unique(owner)
    mine = owner[None, :] == queries[:, None]
    sub = scores[queries]
    best = np.where(mine, sub, -np.inf).max(axis=1, keepdims=True)
    return (((sub > best) & ~mine).sum(axis=1), ((sub == best) & ~mine).sum(axis=1), ((sub == best) & mine).sum(axis=1))
