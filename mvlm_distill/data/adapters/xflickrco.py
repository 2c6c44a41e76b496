"""xFlickr&CO (IGLUE): 1000 Flickr30K + 1000 COCO images, one caption per image and language.

Published layout (https://github.com/e-bug/iglue, folder ``datasets/xFlickrCO``):

- ``annotations/<lang>/test.jsonl`` for ``de en es id ja ru tr zh``; one JSON object a line::

      {"sentences": ["A man with pierced ears ..."], "id": "1007129816", "img_path": "1007129816.jpg"}
      {"sentences": ["..."], "id": 571641, "img_path": "COCO_val2014_000000571641.jpg"}

  ``id`` is a string for Flickr30K images and an integer for COCO ones; ``sentences`` is a
  list (one caption in the test files). Few-shot files ``annotations/<lang>/train_<n>.jsonl``
  share the format.
- Images are not redistributed: Flickr30K (``flickr30k-images/<id>.jpg``) and COCO 2014
  validation (``val2014/COCO_val2014_<12 digits>.jpg``).

The captions of one image in different languages describe the same picture but are not
guaranteed to be translations; ``parallel_id`` is the image id (``parallel="image"``) so that
cross-lingual consistency compares captions of the same image, or empty (``parallel=None``).
"""

from __future__ import annotations

from pathlib import Path

from mvlm_distill.data.adapters import _common as C
from mvlm_distill.data.languages import XFLICKRCO_LANGUAGES, normalize_language

NAME = "xflickrco"
LANGUAGES = XFLICKRCO_LANGUAGES
ANNOTATION_URL = (
    "https://raw.githubusercontent.com/e-bug/iglue/main/datasets/xFlickrCO/annotations/{lang}/{split}.jsonl"
)
COCO_VAL2014_URL = "http://images.cocodataset.org/zips/val2014.zip"
HOMEPAGE = "https://github.com/e-bug/iglue"


def _annotation_root(source: Path) -> Path:
    for candidate in (source / "datasets" / "xFlickrCO" / "annotations", source / "xFlickrCO" / "annotations",
                      source / "annotations", source):  # fmt: skip
        if candidate.is_dir() and any(p.is_dir() and any(p.glob("*.jsonl*")) for p in candidate.iterdir()):
            return candidate
    raise C.AdapterError(
        f"Dataset {NAME!r}: no annotations/<lang>/*.jsonl under {source} "
        "(expected IGLUE's datasets/xFlickrCO/annotations folder)."
    )


def benchmark_split(split: str) -> str:
    """``test`` stays the test split; a few-shot ``train_<n>`` file is training data."""
    return "test" if split == "test" else "train"


def prepare(
    source: str | Path,
    out_dir: str | Path,
    *,
    languages=None,
    split: str = "test",
    images_dir=None,
    max_images: int | None = None,
    parallel: str | None = "image",
    link: str = "copy",
    missing_images: str = "error",
    name: str = NAME,
) -> dict:
    """Convert a local copy of IGLUE's xFlickr&CO annotations (+ images) into the benchmark format.

    ``split`` is the annotation file stem (``test``, or a few-shot ``train_<n>``). ``images_dir``
    is one folder or a list (Flickr30K images and COCO ``val2014``); default ``<source>/images``.
    """
    source, out_dir = Path(source), Path(out_dir)
    if parallel not in ("image", None):
        raise ValueError(f"parallel must be 'image' or None, not {parallel!r}.")
    ann_root = _annotation_root(source)
    offered: dict[str, Path] = {}
    for folder in sorted(p for p in ann_root.iterdir() if p.is_dir()):
        found = C.find_variant(folder / f"{split}.jsonl")
        if found:
            offered[normalize_language(folder.name, NAME)] = found
    if not offered:
        raise C.AdapterError(f"Dataset {NAME!r}: no annotations/<lang>/{split}.jsonl under {ann_root}.")
    offered_ordered = [lang for lang in LANGUAGES if lang in offered] + [l for l in offered if l not in LANGUAGES]
    wanted_langs = C.select_languages(languages, offered_ordered, NAME)

    image_names: dict[str, str] = {}
    rows: list[tuple[str, str, int, str]] = []  # image_id, lang, index, text
    for lang in wanted_langs:
        for record in C.iter_jsonl(offered[lang]):
            img_path = record.get("img_path")
            if not img_path:
                raise C.AdapterError(f"{offered[lang]}: a record has no 'img_path'.")
            image_id = Path(str(img_path)).stem
            image_names.setdefault(image_id, str(img_path))
            sentences = record.get("sentences", [])
            if isinstance(sentences, str):
                sentences = [sentences]
            for k, text in enumerate(sentences):
                if isinstance(text, str) and text.strip():
                    rows.append((image_id, lang, k, text.strip()))

    keep = C.first_images((r[0] for r in rows), max_images)
    finder = C.ImageFinder(
        C.as_dirs(images_dir, [source]),
        subdirs=("", "images", "flickr30k-images", "flickr30k_images", "val2014", "train2014"),
    )
    files = C.resolve_images(
        {i: [image_names[i]] for i in keep}, finder, out_dir, dataset=NAME, link=link, missing=missing_images
    )
    bsplit = benchmark_split(split)
    images = [{"image_id": i, "split": bsplit, "file": files[i]} for i in keep if i in files]
    captions = []
    seen: set[str] = set()
    for image_id, lang, k, text in rows:
        if image_id not in files:
            continue
        caption_id = f"{image_id}_{lang}_{k}"
        while caption_id in seen:  # an image listed twice in one file
            k += 1
            caption_id = f"{image_id}_{lang}_{k}"
        seen.add(caption_id)
        captions.append({
            "image_id": image_id, "split": bsplit, "language": lang, "caption_id": caption_id,
            "parallel_id": image_id if parallel == "image" else "", "text": text,
        })  # fmt: skip
    return C.write(
        out_dir, name=name, images=images, captions=captions, vqa=None,
        languages=wanted_langs, source=f"xFlickr&CO from IGLUE, {split} ({HOMEPAGE})",
    )  # fmt: skip


def download(dest: str | Path, *, languages=None, split: str = "test", include_coco_images: bool = False,
             fetch=None) -> Path:  # fmt: skip
    """Fetch the annotation files into ``dest/annotations/<lang>/``; return ``dest``.

    COCO val2014 images (6.2 GiB zip) are fetched only with ``include_coco_images``; Flickr30K
    images must be requested from their owners.
    """
    dest = Path(dest)
    langs = C.select_languages(languages, LANGUAGES, NAME)
    items = [(ANNOTATION_URL.format(lang=lang, split=split), dest / "annotations" / lang / f"{split}.jsonl")
             for lang in langs]  # fmt: skip
    if include_coco_images:
        items.append((COCO_VAL2014_URL, dest / "val2014.zip", C.COCO_2014_ZIPS["val"]))
    for path in C.fetch_all(items, fetch):
        if path.name == "val2014.zip" and not (dest / "images" / "val2014").is_dir():
            C.extract(path, dest / "images")
    return dest
