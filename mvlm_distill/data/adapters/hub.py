"""Benchmarks from their Hugging Face Hub copies (``source: hf``), read with ``datasets``.

A benchmark spec of this form names the Hub repository and a pinned commit::

    xm3600:
      kind: xm3600
      source: hf
      hf: {dataset: floschne/xm3600, revision: 8d3e5665526c55a5855cd6ddfbaba2032bc7cee4}

:func:`download` (network; the fetch step) puts that commit into the Hugging Face cache with
``huggingface_hub.snapshot_download``; :func:`prepare` reads it offline
(``HF_DATASETS_OFFLINE=1``): the snapshot folder holds the repository's ``README.md``, whose
``configs`` map each split to its Parquet files, so ``datasets.load_dataset(<snapshot>, split=...)``
loads it without asking the Hub. The rows are written back into the official release's layout
(the files and fields the release adapter reads, images from the Parquet bytes) and converted by
that adapter, so ids, texts, language codes and answer vocabularies follow the same rules as
the official release.

The copies known here (:data:`HUB_COPIES`; their layout read in each repository's dataset card):
all are Parquet with the image embedded as a ``{bytes, path}`` struct and one split per
language, named by the release's language code (MaXM keeps ``iw`` for Hebrew).

==========  =========================  ==========================================================
kind        repository                 columns / how it differs from the official release
==========  =========================  ==========================================================
xm3600      floschne/xm3600            ``image_id, image_locale, captions, captions_tokenized,
                                       captions_tokenized_lowercase, image``; 3,600 rows a split.
                                       Same captions as ``captions.jsonl``.
xflickrco   floschne/xflickrco         ``sentences`` (one string), ``id`` (string), ``image``;
                                       2,000 rows a split. No ``img_path``: COCO images are named
                                       by their bare COCO id (the release: the file stem
                                       ``COCO_val2014_<12 digits>``), so their image ids differ.
xgqa        floschne/xgqa              ``question, answer, full_answer, image_id, image``; 9,666
                                       rows a split. No question ids: a question's id is its row
                                       number (the same question has the same row in every split),
                                       so question ids differ from GQA's while the parallel
                                       grouping is kept.
maxm        floschne/maxm              one row per question: ``image_id, image_url, image,
                                       image_locale, image_captions, question_id, question,
                                       answers, processed_answers, language, is_collection,
                                       method``; 257-284 rows a split. Same questions and ids.
==========  =========================  ==========================================================

Multi30K and COCO-35L have no Hub copy with images in this form; they are read from their
official releases only.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mvlm_distill.data.adapters import _common as C
from mvlm_distill.data.languages import normalize_language

REVISION = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class HubCopy:
    dataset: str
    revision: str
    columns: tuple[str, ...]  # the columns the conversion reads
    to_release: Callable[[dict, Path], None]  # {split name: datasets.Dataset} -> release layout


def _image_bytes(value) -> bytes:
    """The encoded image of a Parquet image cell (a ``{bytes, path}`` struct or a decoded image)."""
    if isinstance(value, dict) and value.get("bytes") is not None:
        return value["bytes"]
    if hasattr(value, "save"):  # a PIL image (a copy whose column is cast to datasets.Image)
        buf = io.BytesIO()
        value.save(buf, format=value.format or "PNG")
        return buf.getvalue()
    raise C.AdapterError(f"image cell of type {type(value).__name__} holds no encoded image")


def _write_image(dest: Path, image_id: str, value) -> None:
    path = dest / "images" / f"{C.safe_name(image_id)}.jpg"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_image_bytes(value))


def _xm3600_release(splits: dict, dest: Path) -> None:
    """captions.jsonl: one record per image with every split's captions under its language key."""
    records: dict[str, dict] = {}
    for lang, ds in splits.items():
        for row in ds:
            key = str(row["image_id"])
            record = records.setdefault(key, {"image/key": key, "image/locale": row["image_locale"]})
            record[lang] = {"caption": list(row["captions"]),
                            "caption/tokenized": list(row.get("captions_tokenized") or []),
                            "caption/tokenized/lowercase": list(row.get("captions_tokenized_lowercase") or [])}
            _write_image(dest, key, row["image"])
    with open(dest / "captions.jsonl", "w", encoding="utf-8") as f:
        for record in records.values():
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def _xflickrco_release(splits: dict, dest: Path) -> None:
    """annotations/<lang>/test.jsonl, ``img_path`` named after the Hub's ``id``."""
    for lang, ds in splits.items():
        folder = dest / "annotations" / lang
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "test.jsonl", "w", encoding="utf-8") as f:
            for row in ds:
                image_id = str(row["id"])
                sentences = row["sentences"]
                f.write(json.dumps({"sentences": [sentences] if isinstance(sentences, str) else list(sentences),
                                    "id": image_id, "img_path": f"{C.safe_name(image_id)}.jpg"},
                                   ensure_ascii=False) + "\n")
                _write_image(dest, image_id, row["image"])


def _xgqa_release(splits: dict, dest: Path) -> None:
    """zero_shot/testdev_balanced_questions_<lang>.json keyed by row number (the Hub has no ids)."""
    folder = dest / "zero_shot"
    folder.mkdir(parents=True, exist_ok=True)
    for lang, ds in splits.items():
        questions = {}
        for i, row in enumerate(ds):
            questions[str(i)] = {"imageId": str(row["image_id"]), "question": row["question"],
                                 "answer": row["answer"], "fullAnswer": row.get("full_answer")}
            _write_image(dest, str(row["image_id"]), row["image"])
        (folder / f"testdev_balanced_questions_{lang}.json").write_text(
            json.dumps(questions, ensure_ascii=False), encoding="utf-8")


def _maxm_release(splits: dict, dest: Path) -> None:
    """One MaXM json per split: questions grouped under their image, in first-seen order."""
    for lang, ds in splits.items():
        annotations: dict[str, dict] = {}
        for row in ds:
            image_id = str(row["image_id"])
            entry = annotations.setdefault(image_id, {"image_id": image_id, "image_url": row.get("image_url"),
                                                      "qa_pairs": []})
            entry["qa_pairs"].append({"question_id": str(row["question_id"]), "question": row["question"],
                                      "answers": list(row["answers"]),
                                      "processed_answers": list(row.get("processed_answers") or []),
                                      "is_collection": bool(row.get("is_collection"))})
            _write_image(dest, image_id, row["image"])
        (dest / f"maxm_v1_{lang}.json").write_text(json.dumps(
            {"dataset": "maxm", "version": "v1", "split": lang, "annotations": list(annotations.values())},
            ensure_ascii=False), encoding="utf-8")


HUB_COPIES: dict[str, HubCopy] = {
    "xm3600": HubCopy("floschne/xm3600", "8d3e5665526c55a5855cd6ddfbaba2032bc7cee4",
                      ("image_id", "image_locale", "captions", "image"), _xm3600_release),
    "xflickrco": HubCopy("floschne/xflickrco", "0af2c2eba58b27a71898787e286be04befdd7a20",
                         ("sentences", "id", "image"), _xflickrco_release),
    "xgqa": HubCopy("floschne/xgqa", "b8a124018a849e6957c9de0db7a523bf6561536a",
                    ("question", "answer", "image_id", "image"), _xgqa_release),
    "maxm": HubCopy("floschne/maxm", "169afacfb848a1a4dab6b2aaaa149841cd643961",
                    ("image_id", "question_id", "question", "answers", "image"), _maxm_release),
}


def check_spec(kind: str, hf: dict | None, where: str) -> dict:
    """The ``hf`` block of a ``source: hf`` benchmark, checked: ``{dataset, revision, config}``."""
    if kind not in HUB_COPIES:
        raise ValueError(f"{where}.source: hf is available for {', '.join(sorted(HUB_COPIES))}, not {kind!r}.")
    if not isinstance(hf, dict) or not hf.get("dataset") or not hf.get("revision"):
        copy = HUB_COPIES[kind]
        raise ValueError(f"{where}.hf: source hf needs a dataset id and a pinned revision, e.g. "
                         f"{{dataset: {copy.dataset}, revision: {copy.revision}}}.")
    if not REVISION.match(str(hf["revision"])):
        raise ValueError(f"{where}.hf.revision: {hf['revision']!r} is not a 40-digit commit hash; pin one.")
    return {"dataset": str(hf["dataset"]), "revision": str(hf["revision"]), "config": str(hf.get("config", "default"))}


def snapshot(hf: dict) -> Path:
    """The cached snapshot folder of ``hf['dataset']`` at ``hf['revision']`` (no network)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(hf["dataset"], repo_type="dataset", revision=hf["revision"],
                                      local_files_only=True))
    except LocalEntryNotFoundError:
        raise FileNotFoundError(
            f"Hub dataset {hf['dataset']} at revision {hf['revision']} is not in the Hugging Face cache "
            f"({os.environ.get('HF_HOME', '~/.cache/huggingface')}); fetch it first (download: true on a machine "
            "with network)."
        ) from None


def download(hf: dict) -> Path:
    """Put the pinned snapshot into the Hugging Face cache (network); return its folder."""
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(hf["dataset"], repo_type="dataset", revision=hf["revision"]))


def load_splits(kind: str, hf: dict, languages=None) -> dict:
    """``{Hub split name: datasets.Dataset}`` of the requested languages, from the cached snapshot."""
    import datasets

    folder = snapshot(hf)
    names = datasets.get_dataset_split_names(str(folder), hf["config"])
    by_language = {normalize_language(name, kind): name for name in names}
    wanted = C.select_languages(languages, list(by_language), f"{kind} ({hf['dataset']})")
    splits = {}
    for lang in wanted:
        ds = datasets.load_dataset(str(folder), hf["config"], split=by_language[lang])
        missing = [c for c in HUB_COPIES[kind].columns if c not in ds.column_names]
        if missing:
            raise C.AdapterError(f"Hub dataset {hf['dataset']}@{hf['revision']} split {by_language[lang]!r}: no "
                                 f"column {missing[0]!r} (has {', '.join(ds.column_names)}); it is not laid out like "
                                 f"{HUB_COPIES[kind].dataset}.")
        splits[by_language[lang]] = ds
    return splits


def prepare(kind: str, hf: dict, out_dir: str | os.PathLike, *, languages=None, **options) -> dict:
    """Convert the cached Hub copy into the benchmark format via the release adapter; returns meta."""
    from mvlm_distill.data import formats
    from mvlm_distill.data.adapters import get_adapter
    from mvlm_distill.io import write_json

    out_dir = Path(out_dir)
    splits = load_splits(kind, hf, languages)
    with tempfile.TemporaryDirectory(prefix=f"mvlm-hub-{kind}-") as tmp:
        HUB_COPIES[kind].to_release(splits, Path(tmp))
        meta = get_adapter(kind).prepare(tmp, out_dir, languages=languages, **options)
    meta["source"] = f"{meta['source']}; Hugging Face copy {hf['dataset']}@{hf['revision']}"
    meta["hub"] = dict(hf)
    formats.read_meta(out_dir)  # the adapter wrote a valid one; only the provenance changes
    write_json(out_dir / formats.META_JSON, meta)
    return meta
