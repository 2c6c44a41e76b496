"""COCO-35L: COCO captions machine-translated into 34 languages (+ English) -> benchmark format.

The study's distillation corpus. Published layout (released with Crossmodal-3600,
https://google.github.io/crossmodal-3600/):

- ``coco_mt_train.jsonl.bz2`` and ``coco_mt_dev.jsonl.bz2`` (Karpathy train / dev splits), one
  JSON object per (English caption, target language)::

      {"image_id": "123456_0", "src_lang": "en", "caption_tokenized": "a man riding a horse .",
       "trg_lang": "de", "translation_tokenized": "ein mann reitet ein pferd .",
       "backtranslation_tokenized": "a man rides a horse ."}

  ``image_id`` is ``<COCO image id>_<caption index>``: all records sharing it are translations
  of one English caption, which becomes ``parallel_id``. The English caption is written once.
- Images: COCO 2014 (``train2014/COCO_train2014_<12 digits>.jpg``,
  ``val2014/COCO_val2014_<12 digits>.jpg``); the Karpathy train split takes images from both.

The texts are the released ``*_tokenized`` strings (tokens separated by spaces).
"""

from __future__ import annotations

from pathlib import Path

from mvlm_distill.data.adapters import _common as C
from mvlm_distill.data.languages import COCO35L_LANGUAGES, normalize_language

NAME = "coco35l"
LANGUAGES = COCO35L_LANGUAGES
SPLITS = {"train": "train", "dev": "val"}  # release split -> benchmark split
CAPTIONS_URL = "https://storage.googleapis.com/crossmodal-3600/coco_mt_{split}.jsonl.bz2"
COCO_IMAGES_URL = "http://images.cocodataset.org/zips/{part}2014.zip"
HOMEPAGE = "https://google.github.io/crossmodal-3600/"


def _captions_file(source: Path, split: str) -> Path:
    if source.is_file():
        return source
    found = C.find_variant(source / f"coco_mt_{split}.jsonl")
    if found is None:
        raise C.AdapterError(
            f"Dataset {NAME!r}: no coco_mt_{split}.jsonl[.bz2|.gz] in {source} "
            f"(download {CAPTIONS_URL.format(split=split)})."
        )
    return found


def image_file_names(coco_id: int) -> list[str]:
    """The names a COCO image may have on disk (2014 train/val, 2017)."""
    return [f"COCO_train2014_{coco_id:012d}.jpg", f"COCO_val2014_{coco_id:012d}.jpg", f"{coco_id:012d}.jpg"]


def benchmark_split(split: str) -> str:
    return SPLITS[split]


def prepare(
    source: str | Path,
    out_dir: str | Path,
    *,
    languages=None,
    split: str = "train",
    images_dir=None,
    max_images: int | None = None,
    max_captions_per_image: int | None = None,
    link: str = "copy",
    missing_images: str = "error",
    name: str = NAME,
) -> dict:
    """Convert ``coco_mt_<split>.jsonl`` (+ COCO images) into the benchmark format.

    ``split`` is ``train`` or ``dev`` (written as ``train``/``val``). ``images_dir`` holds
    ``train2014``/``val2014`` (default ``<source>/images``). ``max_captions_per_image`` keeps the
    first English captions of each image (COCO has five), with all their translations.
    For the full corpus (566k captions x 35 languages) prefer ``link="symlink"``.
    """
    source, out_dir = Path(source), Path(out_dir)
    if split not in SPLITS:
        raise ValueError(f"Dataset {NAME!r}: unknown split {split!r}; allowed values are: {', '.join(SPLITS)}.")
    wanted_langs = C.select_languages(languages, LANGUAGES, NAME)
    wanted = set(wanted_langs)
    path = _captions_file(source, split)

    image_order: list[str] = []
    image_ids: set[str] = set()
    parallels_of: dict[str, list[str]] = {}
    captions_raw: list[tuple[str, str, str, str]] = []  # image_id, parallel_id, lang, text
    english_done: set[str] = set()
    for record in C.iter_jsonl(path):
        try:
            parallel = str(record["image_id"])
            coco_id = str(int(parallel.split("_", 1)[0]))
        except (KeyError, ValueError) as err:
            raise C.AdapterError(f"{path}: record without a '<coco id>_<index>' image_id: {record!r:.200}") from err
        if coco_id not in image_ids:
            if max_images is not None and len(image_ids) >= max_images:
                continue
            image_ids.add(coco_id)
            image_order.append(coco_id)
        kept = parallels_of.setdefault(coco_id, [])
        if parallel not in kept:
            if max_captions_per_image is not None and len(kept) >= max_captions_per_image:
                continue
            kept.append(parallel)
        if "en" in wanted and parallel not in english_done:
            src_text = record.get("caption_tokenized", record.get("caption"))
            if isinstance(src_text, str) and src_text.strip():
                src_lang = normalize_language(record.get("src_lang", "en"), NAME)
                captions_raw.append((coco_id, parallel, src_lang, src_text.strip()))
            english_done.add(parallel)
        lang = normalize_language(record.get("trg_lang", ""), NAME)
        if lang not in wanted or lang == "en":
            continue
        text = record.get("translation_tokenized", record.get("translation"))
        if isinstance(text, str) and text.strip():
            captions_raw.append((coco_id, parallel, lang, text.strip()))

    finder = C.ImageFinder(
        C.as_dirs(images_dir, [source]),
        subdirs=("", "images", "train2014", "val2014", "images/train2014", "images/val2014", "train2017", "val2017"),
    )
    files = C.resolve_images(
        {i: image_file_names(int(i)) for i in image_order}, finder, out_dir,
        dataset=NAME, link=link, missing=missing_images,
    )  # fmt: skip
    bsplit = benchmark_split(split)
    images = [{"image_id": i, "split": bsplit, "file": files[i]} for i in image_order if i in files]
    captions = []
    seen: set[str] = set()
    for coco_id, parallel, lang, text in captions_raw:
        caption_id = f"{parallel}_{lang}"
        if coco_id not in files or caption_id in seen:  # duplicate records keep the first
            continue
        seen.add(caption_id)
        captions.append({
            "image_id": coco_id, "split": bsplit, "language": lang, "caption_id": caption_id,
            "parallel_id": parallel, "text": text,
        })  # fmt: skip
    return C.write(
        out_dir, name=name, images=images, captions=captions, vqa=None,
        languages=wanted_langs, source=f"COCO-35L coco_mt_{split} ({HOMEPAGE})",
    )  # fmt: skip


def download(dest: str | Path, *, splits=("train", "dev"), include_images: bool = False, fetch=None) -> Path:
    """Fetch ``coco_mt_<split>.jsonl.bz2`` (and, with ``include_images``, COCO 2014 zips: 19 GiB)."""
    dest = Path(dest)
    items = []
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f"Dataset {NAME!r}: unknown split {split!r}; allowed values are: {', '.join(SPLITS)}.")
        items.append((CAPTIONS_URL.format(split=split), dest / f"coco_mt_{split}.jsonl.bz2"))
    if include_images:
        items += [(COCO_IMAGES_URL.format(part=p), dest / f"{p}2014.zip", C.COCO_2014_ZIPS[p])
                  for p in ("train", "val")]  # fmt: skip
    for path in C.fetch_all(items, fetch):
        if path.name.endswith("2014.zip") and not (dest / "images" / path.name[:-4]).is_dir():
            C.extract(path, dest / "images")
    return dest
