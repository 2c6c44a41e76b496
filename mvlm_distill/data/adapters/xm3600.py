"""Crossmodal-3600 (XM3600): 3600 images, human captions in 36 languages -> benchmark format.

Published layout (https://google.github.io/crossmodal-3600/):

- ``captions.jsonl`` (inside ``captions.zip``): one JSON object per image::

      {"image/key": "000411001ff7dd4f", "image/locale": "ar",
       "ar": {"caption": ["...", "..."], "caption/tokenized": [...], "caption/tokenized/lowercase": [...]},
       "bn": {...}, ..., "zh": {...}}

  Every language key holds the captions written independently by native speakers for that
  image (usually two; more for some languages). ``image/locale`` is the language of the
  region the image was taken in.
- ``images.tgz``: ``<image/key>.jpg`` files (Open Images).

Captions are not translations of each other, so ``parallel_id`` is left empty.
"""

from __future__ import annotations

from pathlib import Path

from mvlm_distill.data.adapters import _common as C
from mvlm_distill.data.languages import XM3600_LANGUAGES, normalize_language

NAME = "xm3600"
LANGUAGES = XM3600_LANGUAGES
CAPTIONS_URL = "https://google.github.io/crossmodal-3600/web-data/captions.zip"
IMAGES_URL = "https://open-images-dataset.s3.amazonaws.com/crossmodal-3600/images.tgz"
HOMEPAGE = "https://google.github.io/crossmodal-3600/"
_META_KEYS = ("image/key", "image/locale")


def _captions_file(source: Path) -> Path:
    if source.is_file():
        return source
    for rel in ("captions.jsonl", "captions/captions.jsonl"):
        found = C.find_variant(source / rel)
        if found:
            return found
    raise C.AdapterError(f"Dataset {NAME!r}: no captions.jsonl in {source} (unzip {CAPTIONS_URL} there).")


def prepare(
    source: str | Path,
    out_dir: str | Path,
    *,
    languages=None,
    split: str = "test",
    images_dir=None,
    max_images: int | None = None,
    caption_field: str = "caption",
    link: str = "copy",
    missing_images: str = "error",
    name: str = NAME,
) -> dict:
    """Convert a local XM3600 release (folder with ``captions.jsonl``) into the benchmark format.

    ``images_dir`` defaults to ``<source>/images``. ``caption_field`` picks ``caption`` (raw)
    or ``caption/tokenized``. ``split`` is the split name written (XM3600 is test-only).
    Returns the benchmark's meta.
    """
    source, out_dir = Path(source), Path(out_dir)
    wanted_langs = C.select_languages(languages, LANGUAGES, NAME)
    captions_path = _captions_file(source)
    root = captions_path.parent

    per_image: dict[str, list[tuple[str, list[str]]]] = {}
    order: list[str] = []
    for record in C.iter_jsonl(captions_path):
        key = record.get("image/key")
        if key is None:
            raise C.AdapterError(f"{captions_path}: a record has no 'image/key'.")
        key = str(key)
        entries = []
        for raw_lang, value in record.items():
            if raw_lang in _META_KEYS or not isinstance(value, dict):
                continue
            lang = normalize_language(raw_lang, NAME)
            if lang not in wanted_langs:
                continue
            texts = value.get(caption_field)
            if texts is None:
                raise C.AdapterError(
                    f"{captions_path}: image {key} language {raw_lang!r} has no {caption_field!r} field."
                )
            if isinstance(texts, str):
                texts = [texts]
            texts = [t.strip() for t in texts if isinstance(t, str) and t.strip()]
            if texts:
                entries.append((lang, texts))
        if entries:
            if key not in per_image:
                order.append(key)
            per_image.setdefault(key, []).extend(entries)

    keep = C.first_images(order, max_images)
    finder = C.ImageFinder(C.as_dirs(images_dir, [root]), subdirs=("", "images"))
    files = C.resolve_images(
        {k: [f"{k}.jpg", f"{k}.jpeg", f"{k}.png"] for k in keep},
        finder, out_dir, dataset=NAME, link=link, missing=missing_images,
    )  # fmt: skip

    images, captions = [], []
    for key in keep:
        if key not in files:
            continue
        images.append({"image_id": key, "split": split, "file": files[key]})
        counters: dict[str, int] = {}
        for lang, texts in per_image[key]:
            for text in texts:
                k = counters.get(lang, 0)
                counters[lang] = k + 1
                captions.append({
                    "image_id": key, "split": split, "language": lang,
                    "caption_id": f"{key}_{lang}_{k}", "parallel_id": "", "text": text,
                })  # fmt: skip
    return C.write(
        out_dir, name=name, images=images, captions=captions, vqa=None,
        languages=wanted_langs, source=f"Crossmodal-3600 ({HOMEPAGE})",
    )  # fmt: skip


def download(dest: str | Path, *, include_images: bool = True, fetch=None) -> Path:
    """Fetch the official captions (and images) into ``dest``; return the folder for :func:`prepare`."""
    dest = Path(dest)
    items = [(CAPTIONS_URL, dest / "captions.zip")]
    if include_images:
        items.append((IMAGES_URL, dest / "images.tgz"))
    for archive in C.fetch_all(items, fetch):
        if archive.name == "captions.zip" and not (dest / "captions.jsonl").exists():
            C.extract(archive, dest)
        if archive.name == "images.tgz" and not (dest / "images").is_dir():
            C.extract(archive, dest / "images")
    return dest
