"""Multi30K (task 1): Flickr30K images, one English caption per image and its translations.

Published layout (https://github.com/multi30k/dataset, folder ``data/task1``):

- ``raw/<split>.<lang>.gz``: one caption per line, UTF-8, gzip-compressed; line *i* of every
  language is a translation of line *i* of the English file. Splits: ``train``, ``val``,
  ``test_2016_flickr``, ``test_2017_flickr``, ``test_2017_mscoco``, ``test_2018_flickr``;
  languages ``en``, ``de``, ``fr`` everywhere, ``cs`` for train/val/test_2016/test_2018.
- ``image_splits/<split>.txt``: the image of each line, one file name a line
  (``1000092795.jpg``; the MSCOCO test set writes ``COCO_val2014_000000398076.jpg#657409``,
  the part after ``#`` being the COCO caption id).

Images come from Flickr30K (``flickr30k-images/<id>.jpg``) and, for ``test_2017_mscoco``,
COCO 2014 (``train2014/``, ``val2014/``). ``parallel_id`` is the line index: the captions of
one line are translations of each other. Uncompressed copies (``raw/<split>.<lang>``) work too.
"""

from __future__ import annotations

from pathlib import Path

from mvlm_distill.data.adapters import _common as C
from mvlm_distill.data.languages import MULTI30K_LANGUAGES

NAME = "multi30k"
LANGUAGES = MULTI30K_LANGUAGES
SPLITS = ("train", "val", "test_2016_flickr", "test_2017_flickr", "test_2017_mscoco", "test_2018_flickr")
RAW_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/{split}.{lang}.gz"
SPLIT_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/image_splits/{split}.txt"
HOMEPAGE = "https://github.com/multi30k/dataset"
#: Which languages each split was released in (files that exist upstream).
SPLIT_LANGUAGES = {
    "train": ("en", "de", "fr", "cs"),
    "val": ("en", "de", "fr", "cs"),
    "test_2016_flickr": ("en", "de", "fr", "cs"),
    "test_2017_flickr": ("en", "de", "fr"),
    "test_2017_mscoco": ("en", "de", "fr"),
    "test_2018_flickr": ("en", "de", "fr", "cs"),
}


def _task1_dirs(source: Path) -> tuple[list[Path], list[Path]]:
    roots = [source / "data" / "task1", source / "task1", source]
    return [r / "raw" for r in roots] + roots, [r / "image_splits" for r in roots] + roots


def benchmark_split(split: str) -> str:
    """The benchmark split name of a Multi30K split (``test_2016_flickr`` -> ``test``)."""
    return "test" if split.startswith("test") else split


def prepare(
    source: str | Path,
    out_dir: str | Path,
    *,
    languages=None,
    split: str = "test_2016_flickr",
    images_dir=None,
    max_images: int | None = None,
    link: str = "copy",
    missing_images: str = "error",
    name: str = NAME,
) -> dict:
    """Convert a local Multi30K checkout (repository root, ``data/task1`` or a flat folder).

    ``images_dir`` holds the Flickr30K images (and COCO 2014 ``train2014``/``val2014`` for the
    MSCOCO test set); default ``<source>/flickr30k-images`` or ``<source>/images``.
    """
    source, out_dir = Path(source), Path(out_dir)
    if split not in SPLITS:
        raise ValueError(f"Dataset {NAME!r}: unknown split {split!r}; allowed values are: {', '.join(SPLITS)}.")
    text_dirs, split_dirs = _task1_dirs(source)

    offered = {}
    for lang in LANGUAGES:
        for d in text_dirs:
            found = C.find_variant(d / f"{split}.{lang}")
            if found:
                offered[lang] = found
                break
    if not offered:
        raise C.AdapterError(
            f"Dataset {NAME!r}: no caption files '{split}.<lang>[.gz]' under {source} "
            "(expected the repository's data/task1/raw folder)."
        )
    wanted_langs = C.select_languages(languages, list(offered), f"{NAME} (split {split})")

    split_file = next((f for d in split_dirs if (f := C.find_variant(d / f"{split}.txt"))), None)
    if split_file is None:
        raise C.AdapterError(f"Dataset {NAME!r}: no image list image_splits/{split}.txt under {source}.")
    image_names = [line.strip().split("#", 1)[0] for line in C.read_lines(split_file) if line.strip()]

    texts = {}
    for lang in wanted_langs:
        lines = C.read_lines(offered[lang])
        if len(lines) != len(image_names):
            raise C.AdapterError(
                f"Dataset {NAME!r}: {offered[lang].name} has {len(lines)} lines but {split_file.name} lists "
                f"{len(image_names)} images; the files must be line-aligned."
            )
        texts[lang] = lines

    image_ids = [Path(n).stem for n in image_names]
    keep = set(C.first_images(image_ids, max_images))
    finder = C.ImageFinder(
        C.as_dirs(images_dir, [source]),
        subdirs=("", "flickr30k-images", "flickr30k_images", "images", "train2014", "val2014"),
    )
    names = {}
    for image_id, file_name in zip(image_ids, image_names):
        if image_id in keep and image_id not in names:
            names[image_id] = [file_name, f"{image_id}.jpg"]
    files = C.resolve_images(names, finder, out_dir, dataset=NAME, link=link, missing=missing_images)

    bsplit = benchmark_split(split)
    images = [{"image_id": i, "split": bsplit, "file": files[i]} for i in names if i in files]
    captions = []
    for index, image_id in enumerate(image_ids):
        if image_id not in files:
            continue
        parallel = f"{split}_{index:05d}"
        for lang in wanted_langs:
            text = texts[lang][index].strip()
            if not text:
                continue
            captions.append({
                "image_id": image_id, "split": bsplit, "language": lang,
                "caption_id": f"{parallel}_{lang}", "parallel_id": parallel, "text": text,
            })  # fmt: skip
    return C.write(
        out_dir, name=name, images=images, captions=captions, vqa=None,
        languages=wanted_langs, source=f"Multi30K task 1, {split} ({HOMEPAGE})",
    )  # fmt: skip


def download(dest: str | Path, *, splits=("test_2016_flickr",), languages=None, fetch=None) -> Path:
    """Fetch the caption files and image lists into ``dest/data/task1``; return ``dest``.

    Flickr30K images are distributed under their own terms (request them at
    https://shannon.cs.illinois.edu/DenotationGraph/) and are not downloaded here.
    """
    dest = Path(dest)
    task1 = dest / "data" / "task1"
    items = []
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f"Dataset {NAME!r}: unknown split {split!r}; allowed values are: {', '.join(SPLITS)}.")
        langs = C.select_languages(languages, SPLIT_LANGUAGES[split], f"{NAME} (split {split})")
        items.append((SPLIT_URL.format(split=split), task1 / "image_splits" / f"{split}.txt"))
        items += [(RAW_URL.format(split=split, lang=lang), task1 / "raw" / f"{split}.{lang}.gz") for lang in langs]
    C.fetch_all(items, fetch)
    return dest
