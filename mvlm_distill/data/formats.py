"""The on-disk benchmark format: read, write, validate.

A benchmark is a folder (the full contract is in ``docs/formats.md``)::

    images/            image files (any format Pillow reads)
    images.parquet     image_id, split, file          (file relative to the folder)
    captions.parquet   image_id, split, language, caption_id, parallel_id, text
    vqa.parquet        question_id, parallel_id, image_id, language, question, answer, candidates
                       (optional; candidates is a list of strings that contains answer)
    meta.json          name, languages, splits, source, optional ceiling, ...,
                       and the checksums of the tables as written (verified when read)

Tables are Parquet with one row group per language, so that the many per-language jobs read
only their language (``read_benchmark(root, languages=[...])``): on a table of xGQA's size that is
~19x faster than reading the whole CSV (benchmarks/README.md, item 6).

Every problem is reported as a :class:`BenchmarkError` whose message is one
sentence that starts with the offending file's path.
"""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mvlm_distill.io import atomic_path, file_checksum, write_json

IMAGE_COLUMNS = ["image_id", "split", "file"]
CAPTION_COLUMNS = ["image_id", "split", "language", "caption_id", "parallel_id", "text"]
VQA_COLUMNS = ["question_id", "parallel_id", "image_id", "language", "question", "answer", "candidates"]
META_FIELDS = ["name", "languages", "splits", "source"]

IMAGES_TABLE = "images.parquet"
CAPTIONS_TABLE = "captions.parquet"
VQA_TABLE = "vqa.parquet"
META_JSON = "meta.json"
TABLES = (IMAGES_TABLE, CAPTIONS_TABLE, VQA_TABLE)
CHECKSUMS = "checksums"  # meta.json field: {table file name: file_checksum} as write_benchmark wrote them


class BenchmarkError(ValueError):
    """A benchmark folder or table breaks the format; the message names the file."""


#: Unicode categories that show nothing: format (zero-width space, BOM), separators, controls
INVISIBLE = ("Cf", "Cc", "Zs", "Zl", "Zp")


def is_blank(text: str) -> bool:
    """True for a text that shows nothing: empty, whitespace, or only invisible characters."""
    return all(char.isspace() or unicodedata.category(char) in INVISIBLE for char in text)


def _blank(column: pd.Series) -> pd.Series:
    return column.map(is_blank).astype(bool)


def _fmt_ids(values, limit: int = 3) -> str:
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


@dataclass
class Benchmark:
    """A benchmark loaded into memory (all id columns are ``str``; VQA candidates are lists)."""

    root: Path
    images: pd.DataFrame
    captions: pd.DataFrame
    vqa: pd.DataFrame | None
    meta: dict
    _files: dict = field(default=None, init=False, repr=False, compare=False)

    def image_path(self, image_id: str) -> Path:
        if self._files is None:
            self._files = dict(zip(self.images["image_id"], self.images["file"]))
        try:
            return Path(self.root) / self._files[str(image_id)]
        except KeyError:
            raise KeyError(f"{Path(self.root) / IMAGES_TABLE}: no image with image_id {image_id!r}") from None

    @property
    def languages(self) -> list[str]:
        """Languages that have captions or VQA questions, in the order of ``meta['languages']``."""
        present = set(self.captions["language"]) | (set(self.vqa["language"]) if self.vqa is not None else set())
        return [lang for lang in self.meta.get("languages", []) if lang in present]

    @property
    def name(self) -> str:
        return self.meta.get("name", Path(self.root).name)

    def split_captions(self, split: str, language: str | None = None) -> pd.DataFrame:
        """Captions of one split (and language), in file order, with a fresh index."""
        mask = self.captions["split"] == split
        if language is not None:
            mask &= self.captions["language"] == language
        return self.captions[mask].reset_index(drop=True)

    def split_images(self, split: str) -> pd.DataFrame:
        """Images of one split, in file order, with a fresh index."""
        return self.images[self.images["split"] == split].reset_index(drop=True)

    def require_languages(self, split: str, languages) -> None:
        """Each evaluated language has ``split`` captions or VQA questions (else it would be missing
        from the tables without a word)."""
        vqa = set(self.vqa["language"]) if self.vqa is not None else set()
        present = set(self.captions.loc[self.captions["split"] == split, "language"]) | vqa
        missing = [lang for lang in languages if lang not in present]
        if missing:
            raise BenchmarkError(
                f"{Path(self.root) / CAPTIONS_TABLE}: the evaluated language {missing[0]!r} has no {split} captions "
                f"or VQA questions, so it would be missing from the tables; add them, or leave {missing[0]} out of languages or of "
                f"benchmarks.{Path(self.root).name}.languages."
            )

    def evaluation_vqa(self, split: str, language: str | None = None) -> pd.DataFrame:
        """The VQA questions (of one language) scored when evaluating ``split``: those about the images
        of the split meta.json's ``vqa_splits`` maps it to (none if it maps other splits only), or all
        of them when meta.json has no ``vqa_splits`` (a real benchmark's VQA is one set). The image
        cache, the text embeddings and the scores of ``split`` all take their questions from here."""
        vqa = self.split_vqa(language)
        mapping = self.meta.get("vqa_splits")
        if not mapping or not len(vqa):
            return vqa
        images = self.split_images(mapping[split]) if split in mapping else self.images.iloc[:0]
        return vqa[vqa["image_id"].isin(images["image_id"])].reset_index(drop=True)

    def split_vqa(self, language: str | None = None) -> pd.DataFrame:
        """VQA questions (of one language); an empty frame when the benchmark has none."""
        if self.vqa is None:
            return pd.DataFrame(columns=VQA_COLUMNS)
        if language is None:
            return self.vqa.reset_index(drop=True)
        return self.vqa[self.vqa["language"] == language].reset_index(drop=True)


# --------------------------------------------------------------------------- images

def load_image(path: str | os.PathLike):
    """Open an image as RGB; a missing, truncated or non-image file raises BenchmarkError naming it."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert("RGB")
    except FileNotFoundError:
        raise BenchmarkError(f"{path}: image file does not exist.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise BenchmarkError(f"{path}: not a readable image ({err}).") from None


# --------------------------------------------------------------------------- validation

def _require_columns(frame: pd.DataFrame, columns: list[str], path: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise BenchmarkError(f"{path}: missing column(s) {', '.join(missing)}.")


def _check_meta(meta: dict, path: Path) -> None:
    if not isinstance(meta, dict):
        raise BenchmarkError(f"{path}: must hold a JSON object, not {type(meta).__name__}.")
    missing = [k for k in META_FIELDS if k not in meta]
    if missing:
        raise BenchmarkError(f"{path}: missing field(s) {', '.join(missing)}.")
    for key in ("languages", "splits"):
        value = meta[key]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise BenchmarkError(f"{path}: field {key!r} must be a non-empty list of strings.")
        if len(set(value)) != len(value):
            raise BenchmarkError(f"{path}: field {key!r} lists {_fmt_ids(_dupes(value))} twice.")


def _dupes(values) -> list:
    s = pd.Series(list(values))
    return list(dict.fromkeys(s[s.duplicated()]))


def _validate(root: Path, images: pd.DataFrame, captions: pd.DataFrame,
              vqa: pd.DataFrame | None, meta: dict) -> None:
    """All table-level checks; frames must already be str-typed."""
    ipath, cpath, vpath, mpath = (root / IMAGES_TABLE, root / CAPTIONS_TABLE, root / VQA_TABLE, root / META_JSON)
    _check_meta(meta, mpath)
    _require_columns(images, IMAGE_COLUMNS, ipath)
    _require_columns(captions, CAPTION_COLUMNS, cpath)
    if vqa is not None:
        _require_columns(vqa, VQA_COLUMNS, vpath)

    splits, languages = meta["splits"], meta["languages"]

    # images table
    for col in IMAGE_COLUMNS:
        empty = images[col] == ""
        if empty.any():
            raise BenchmarkError(f"{ipath}: row {int(empty.idxmax()) + 1} has an empty {col}.")
    if images["image_id"].duplicated().any():
        raise BenchmarkError(f"{ipath}: duplicate image_id {_fmt_ids(_dupes(images['image_id']))}.")
    bad = ~images["split"].isin(splits)
    if bad.any():
        raise BenchmarkError(
            f"{ipath}: split {images['split'][bad].iloc[0]!r} is not listed in meta.json splits {splits}."
        )

    # captions table
    for col in ("image_id", "split", "language", "caption_id"):
        empty = captions[col] == ""
        if empty.any():
            raise BenchmarkError(f"{cpath}: row {int(empty.idxmax()) + 1} has an empty {col}.")
    if captions["caption_id"].duplicated().any():
        raise BenchmarkError(f"{cpath}: duplicate caption_id {_fmt_ids(_dupes(captions['caption_id']))}.")
    empty_text = _blank(captions["text"])
    if empty_text.any():
        raise BenchmarkError(
            f"{cpath}: caption {captions['caption_id'][empty_text].iloc[0]!r} has empty text."
        )
    image_split = dict(zip(images["image_id"].tolist(), images["split"].tolist()))
    unknown = ~captions["image_id"].isin(image_split.keys())
    if unknown.any():
        ids = list(dict.fromkeys(captions["image_id"][unknown]))
        raise BenchmarkError(f"{cpath}: image_id {_fmt_ids(ids)} is not in {IMAGES_TABLE}.")
    wrong_split = captions["image_id"].map(image_split) != captions["split"]
    if wrong_split.any():
        row = captions[wrong_split].iloc[0]
        raise BenchmarkError(
            f"{cpath}: caption {row['caption_id']!r} has split {row['split']!r} but its image "
            f"{row['image_id']!r} is in split {image_split[row['image_id']]!r}."
        )
    unlisted = sorted(set(captions["language"].unique()) - set(languages))
    if unlisted:
        raise BenchmarkError(f"{cpath}: language {_fmt_ids(unlisted)} is not listed in meta.json languages.")
    # a language needs captions or VQA questions (xGQA and MaXM have questions only)
    present = set(captions["language"].unique()) | (
        set(vqa["language"].unique()) if vqa is not None and "language" in vqa else set())
    empty_langs = [lang for lang in languages if lang not in present]
    if empty_langs:
        raise BenchmarkError(
            f"{cpath}: language {_fmt_ids(empty_langs)} is listed in meta.json but has no captions or questions."
        )

    # vqa table
    if vqa is None:
        return
    for col in ("question_id", "image_id", "language", "question", "answer"):
        empty = _blank(vqa[col])
        if empty.any():
            raise BenchmarkError(f"{vpath}: row {int(empty.idxmax()) + 1} has an empty {col}.")
    if vqa["question_id"].duplicated().any():
        raise BenchmarkError(f"{vpath}: duplicate question_id {_fmt_ids(_dupes(vqa['question_id']))}.")
    unknown = ~vqa["image_id"].isin(image_split.keys())
    if unknown.any():
        ids = list(dict.fromkeys(vqa["image_id"][unknown]))
        raise BenchmarkError(f"{vpath}: image_id {_fmt_ids(ids)} is not in {IMAGES_TABLE}.")
    unlisted = sorted(set(vqa["language"].unique()) - set(languages))
    if unlisted:
        raise BenchmarkError(f"{vpath}: language {_fmt_ids(unlisted)} is not listed in meta.json languages.")
    for qid, ans, cands in zip(vqa["question_id"].tolist(), vqa["answer"].tolist(), vqa["candidates"].tolist()):
        if not isinstance(cands, list) or not cands or not all(isinstance(c, str) for c in cands):
            raise BenchmarkError(f"{vpath}: candidates of question {qid!r} must be a non-empty list of strings.")
        if ans not in cands:
            raise BenchmarkError(f"{vpath}: answer {ans!r} of question {qid!r} is not among its candidates.")


def _as_str_frame(frame: pd.DataFrame, columns: list[str], skip: tuple[str, ...] = ()) -> pd.DataFrame:
    """A copy with the required columns first and every column (except ``skip``) as str."""
    frame = frame.copy()
    ordered = [c for c in columns if c in frame.columns] + [c for c in frame.columns if c not in columns]
    frame = frame[ordered]
    for col in frame.columns:
        if col in skip or pd.api.types.infer_dtype(frame[col], skipna=False) in ("string", "empty"):
            continue
        frame[col] = frame[col].map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v))
        frame[col] = frame[col].astype(object)
    return frame.reset_index(drop=True)


def _parse_candidates(vqa: pd.DataFrame, path: Path) -> pd.DataFrame:
    parsed = []
    # plain lists first: element access on pandas' (Arrow-backed) string columns is slow
    for qid, raw in zip(vqa["question_id"].tolist(), vqa["candidates"].tolist()):
        if isinstance(raw, (list, tuple)):
            parsed.append([str(c) for c in raw])
            continue
        try:
            value = json.loads(raw)
        except (TypeError, ValueError):
            raise BenchmarkError(f"{path}: candidates of question {qid!r} are not a JSON list.") from None
        if not isinstance(value, list):
            raise BenchmarkError(f"{path}: candidates of question {qid!r} are not a JSON list.")
        parsed.append(value)
    vqa = vqa.copy()
    vqa["candidates"] = pd.Series(parsed, index=vqa.index, dtype=object)
    return vqa


def _check_image_files(root: Path, images: pd.DataFrame, decode: bool) -> None:
    for image_id, rel in zip(images["image_id"], images["file"]):
        path = root / rel
        if not path.is_file():
            raise BenchmarkError(f"{path}: image file of {image_id!r} listed in {IMAGES_TABLE} does not exist.")
        if decode:
            load_image(path)


# --------------------------------------------------------------------------- write / read

def write_benchmark(root: str | os.PathLike, images: pd.DataFrame, captions: pd.DataFrame,
                    vqa: pd.DataFrame | None, meta: dict) -> None:
    """Validate and write the tables and meta.json of a benchmark folder.

    Image files must already be under ``root`` (normally ``root/images/``); their
    existence is checked, not their content. ``vqa['candidates']`` holds lists of
    strings (or JSON list strings); it is stored as a list column. Each file
    is written atomically, meta.json last, with the checksums of the tables
    (``read_benchmark`` refuses a table changed since); a stale vqa.parquet is removed
    when ``vqa`` is None.
    """
    root = Path(root)
    images = _as_str_frame(images, IMAGE_COLUMNS)
    captions = _as_str_frame(captions, CAPTION_COLUMNS)
    if vqa is not None:
        vqa = _as_str_frame(vqa, VQA_COLUMNS, skip=("candidates",))
        if "candidates" in vqa.columns:
            vqa = _parse_candidates(vqa, root / VQA_TABLE)
    meta = json.loads(json.dumps(meta))  # plain JSON types, and a copy
    _validate(root, images, captions, vqa, meta)
    _check_image_files(root, images, decode=False)

    _write_table(root / IMAGES_TABLE, images)
    _write_table(root / CAPTIONS_TABLE, captions)
    if vqa is not None:
        _write_table(root / VQA_TABLE, vqa)
    elif (root / VQA_TABLE).exists():
        (root / VQA_TABLE).unlink()
    meta[CHECKSUMS] = {name: file_checksum(root / name) for name in TABLES if (root / name).exists()}
    write_json(root / META_JSON, meta)


def _verify_checksums(root: Path, meta: dict) -> None:
    """Each table must be the file preparation wrote (meta.json ``checksums``); a benchmark folder
    made by hand without that field is read unchecked."""
    recorded = meta.get(CHECKSUMS)
    if recorded is None:
        return
    if not isinstance(recorded, dict):
        raise BenchmarkError(f"{root / META_JSON}: field {CHECKSUMS!r} must map table file names to checksums.")
    for name in TABLES:
        path = root / name
        if name not in recorded:
            if path.exists():
                raise BenchmarkError(f"{path}: not listed in the checksums of {root / META_JSON}, so it was added "
                                     f"after preparation; {REPREPARE}.")
            continue
        if not path.is_file():
            raise BenchmarkError(f"{path}: file does not exist.")
        if file_checksum(path) != recorded[name]:
            raise BenchmarkError(f"{path}: differs from the checksum that {root / META_JSON} recorded when the "
                                 f"benchmark was prepared (the table was changed or truncated); {REPREPARE}.")


REPREPARE = ("rerun the preparation (snakemake --forcerun prepare_benchmark) to rebuild the benchmark "
             "from its source and record new checksums")


def _write_table(path: Path, frame: pd.DataFrame) -> None:
    """Parquet, atomically: string columns (``candidates`` a list of strings), one row group per
    language in order of first appearance (rows keep their order within a language)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, pa.list_(pa.string()) if c == "candidates" else pa.string()) for c in frame.columns])
    if "language" in frame.columns:
        groups = [frame[frame["language"] == lang] for lang in dict.fromkeys(frame["language"])]
    else:
        groups = [frame]
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for group in groups or [frame]:
            writer.write_table(pa.Table.from_pandas(group, schema=schema, preserve_index=False))


def _read_table(path: Path, languages: list[str] | None = None) -> pd.DataFrame:
    """A table as str columns (``candidates`` as lists), only ``languages``' rows when given."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        raise BenchmarkError(f"{path}: file does not exist.")
    try:
        filters = None
        if languages is not None and "language" in pq.read_schema(path).names:
            filters = [("language", "in", list(languages))]
        table = pq.read_table(path, filters=filters)
    except (pa.ArrowException, OSError) as err:
        raise BenchmarkError(f"{path}: not a readable Parquet file ({err}).") from None
    frame = table.to_pandas()
    for col in frame.columns:
        if col == "candidates":
            # a list column as written; anything else (a table made by hand) is checked by _parse_candidates
            frame[col] = pd.Series([v if v is None or isinstance(v, str) else list(v) for v in frame[col]],
                                   index=frame.index, dtype=object)
        else:
            frame[col] = frame[col].fillna("").astype(str)
    return frame


def read_meta(root: str | os.PathLike) -> dict:
    """meta.json of a benchmark folder (checked for the required fields)."""
    path = Path(root) / META_JSON
    if not path.is_file():
        raise BenchmarkError(f"{path}: file does not exist.")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise BenchmarkError(f"{path}: not valid UTF-8 JSON ({err}).") from None
    _check_meta(meta, path)
    return meta


def read_benchmark(root: str | os.PathLike, check_images: bool = False, validate: bool = True,
                   languages: list[str] | None = None) -> Benchmark:
    """Read and validate a benchmark folder; ``check_images`` also opens every image file.

    Tables whose checksum differs from the one meta.json recorded at preparation are refused.

    ``validate=False`` checks only the columns: for the many light per-language jobs that read a
    benchmark already validated when it was written and when its embeddings were made. Those
    jobs pass ``languages`` too, to read only these languages' captions and questions (the
    tables' per-language row groups); the full validation needs every language.
    """
    if validate and languages is not None:
        raise ValueError("read_benchmark: validation needs every language; pass validate=False with languages")
    root = Path(root)
    meta = read_meta(root)
    _verify_checksums(root, meta)
    images = _read_table(root / IMAGES_TABLE)
    captions = _read_table(root / CAPTIONS_TABLE, languages)
    vqa = None
    if (root / VQA_TABLE).exists():
        vqa = _read_table(root / VQA_TABLE, languages)
        _require_columns(vqa, VQA_COLUMNS, root / VQA_TABLE)
        vqa = _parse_candidates(vqa, root / VQA_TABLE)
    if validate:
        _validate(root, images, captions, vqa, meta)
    else:
        _require_columns(images, IMAGE_COLUMNS, root / IMAGES_TABLE)
        _require_columns(captions, CAPTION_COLUMNS, root / CAPTIONS_TABLE)
    if check_images:
        _check_image_files(root, images, decode=True)
    return Benchmark(root=root, images=images, captions=captions, vqa=vqa, meta=meta)


def benchmark_checksum(root: str | os.PathLike) -> str:
    """Checksum of the tables and meta.json (not the image files): a cheap cache key."""
    root = Path(root)
    paths = [root / name for name in (IMAGES_TABLE, CAPTIONS_TABLE, VQA_TABLE, META_JSON)]
    missing = [p for p in paths if not p.exists() and p.name != VQA_TABLE]
    if missing:
        raise BenchmarkError(f"{missing[0]}: file does not exist.")
    return file_checksum(*[p for p in paths if p.exists()])
