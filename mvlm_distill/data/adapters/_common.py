"""Shared plumbing of the dataset adapters: language checks, image lookup, writing, fetching.

Adapters read a release exactly as it is published and hand rows to :func:`write`, which
builds the DataFrames of the benchmark format (docs/formats.md) and calls
:func:`mvlm_distill.data.formats.write_benchmark`. Nothing here touches the network except
:func:`fetch_url`, which only ``download()`` functions call.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import http.client
import io
import json
import logging
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from mvlm_distill.data.languages import check_languages

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
ImagesDir = PathLike | Sequence[PathLike] | None

LINK_MODES = ("copy", "hardlink", "symlink")
MISSING_POLICIES = ("error", "skip")


class AdapterError(ValueError):
    """A release on disk does not look like the published layout the adapter reads."""


# --- languages ---------------------------------------------------------------------------------


def select_languages(requested, available: Iterable[str], dataset: str) -> list[str]:
    """Check ``requested`` against what ``dataset`` offers (``None`` = all); error names both."""
    return check_languages(requested, list(available), where=f"Dataset {dataset!r}")


# --- reading text files (plain, .gz or .bz2) -----------------------------------------------------


def open_text(path: PathLike) -> io.TextIOBase:
    """Open a UTF-8 text file, transparently decompressing ``.gz`` and ``.bz2``."""
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    if path.suffix == ".bz2":
        return bz2.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def find_variant(path: PathLike) -> Path | None:
    """``path`` itself, or the same name with ``.gz``/``.bz2`` appended, whichever exists."""
    path = Path(path)
    for candidate in (path, path.with_name(path.name + ".gz"), path.with_name(path.name + ".bz2")):
        if candidate.is_file():
            return candidate
    return None


def read_lines(path: PathLike) -> list[str]:
    """Lines of a text file without their line endings (a trailing empty line is dropped)."""
    with open_text(path) as handle:
        lines = handle.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def iter_jsonl(path: PathLike) -> Iterator[dict]:
    """Records of a JSON-lines file (blank lines skipped), with the line number in errors."""
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as err:
                raise AdapterError(f"{path}: line {number} is not valid JSON ({err.msg}).") from err


def load_json(path: PathLike):
    with open_text(path) as handle:
        return json.load(handle)


# --- images --------------------------------------------------------------------------------------


def as_dirs(images_dir: ImagesDir, default: Iterable[PathLike] = ()) -> list[Path]:
    """``images_dir`` as a list of folders (a single path or several); ``default`` when ``None``."""
    if images_dir is None:
        return [Path(p) for p in default]
    if isinstance(images_dir, (str, os.PathLike)):
        return [Path(images_dir)]
    return [Path(p) for p in images_dir]


class ImageFinder:
    """Look image files up by name in a list of folders (and a few conventional sub-folders)."""

    def __init__(self, dirs: Sequence[PathLike], subdirs: Sequence[str] = ("",)):
        self.dirs = [Path(d) for d in dirs]
        self.subdirs = list(subdirs)
        self._roots = [d / s if s else d for d in self.dirs for s in self.subdirs]
        self._roots = [r for r in self._roots if r.is_dir()]

    def find(self, names: Iterable[str]) -> Path | None:
        for name in names:
            for root in self._roots:
                candidate = root / name
                if candidate.is_file():
                    return candidate
        return None

    def describe(self) -> str:
        return ", ".join(str(d) for d in self.dirs) or "(no folder given)"


def place_image(src: Path, out_dir: Path, image_id: str, link: str = "copy") -> str:
    """Put ``src`` at ``out_dir/images/<image_id><suffix>``; return that path relative to ``out_dir``."""
    if link not in LINK_MODES:
        raise ValueError(f"link must be one of {', '.join(LINK_MODES)}, not {link!r}.")
    rel = Path("images") / f"{safe_name(image_id)}{src.suffix.lower() or '.jpg'}"
    dest = out_dir / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() or dest.is_symlink():
        dest.unlink()
    if link == "symlink":
        os.symlink(src.resolve(), dest)
    elif link == "hardlink":
        try:
            os.link(src, dest)
        except OSError:  # another filesystem: fall back to a copy
            shutil.copyfile(src, dest)
    else:
        shutil.copyfile(src, dest)
    return rel.as_posix()


def safe_name(image_id: str) -> str:
    """A file name for an image id (ids are kept as they are; only path separators are replaced)."""
    return str(image_id).replace("/", "_").replace("\\", "_")


def resolve_images(
    wanted: dict[str, list[str]],
    finder: ImageFinder,
    out_dir: Path,
    *,
    dataset: str,
    link: str = "copy",
    missing: str = "error",
) -> dict[str, str]:
    """Place every wanted image; return ``{image_id: file relative to out_dir}``.

    ``wanted`` maps an image id to the file names it may have in the release (tried in order).
    Missing files raise (``missing="error"``) or drop the image and everything attached to it
    (``missing="skip"``, with a warning).
    """
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing_images must be one of {', '.join(MISSING_POLICIES)}, not {missing!r}.")
    files: dict[str, str] = {}
    absent: list[str] = []
    for image_id, names in wanted.items():
        src = finder.find(names)
        if src is None:
            absent.append(names[0] if names else image_id)
            continue
        files[image_id] = place_image(src, out_dir, image_id, link)
    if absent:
        shown = ", ".join(absent[:5]) + (" ..." if len(absent) > 5 else "")
        message = (
            f"Dataset {dataset!r}: {len(absent)} of {len(wanted)} images not found in {finder.describe()} "
            f"(e.g. {shown}); point images_dir at the folder holding them"
        )
        if missing == "error":
            raise FileNotFoundError(message + " or pass missing_images='skip'.")
        log.warning("%s; skipping them (missing_images='skip').", message)
    return files


def first_images(image_ids: Iterable[str], max_images: int | None = None) -> list[str]:
    """Distinct image ids in first-seen order, cut to ``max_images``."""
    seen: dict[str, None] = {}
    for image_id in image_ids:
        if image_id not in seen:
            if max_images is not None and len(seen) >= max_images:
                continue
            seen[image_id] = None
    return list(seen)


# --- VQA candidates -------------------------------------------------------------------------------


def answer_vocabulary(answers: Iterable[str], top_n: int | None) -> list[str]:
    """The ``top_n`` most frequent answers (ties broken alphabetically, for reproducibility)."""
    counts = Counter(answers)
    ranked = sorted(counts, key=lambda a: (-counts[a], a))
    return ranked if top_n is None else ranked[:top_n]


def read_vocab_file(path: PathLike) -> list[str]:
    """An answer vocabulary from a JSON list, a JSON ``{answer: index}`` map or a text file (one a line)."""
    path = Path(path)
    if path.suffix == ".json":
        data = load_json(path)
        if isinstance(data, dict):
            return [a for a, _ in sorted(data.items(), key=lambda kv: kv[1])]
        return [str(a) for a in data]
    return [line.strip() for line in read_lines(path) if line.strip()]


# --- writing -------------------------------------------------------------------------------------


def write(
    out_dir: PathLike,
    *,
    name: str,
    images: list[dict],
    captions: list[dict] | None,
    vqa: list[dict] | None,
    languages: list[str],
    source: str,
    extra_meta: dict | None = None,
) -> dict:
    """Build the benchmark DataFrames and write them with ``formats.write_benchmark``; return meta."""
    import pandas as pd

    from mvlm_distill.data import formats

    out_dir = Path(out_dir)
    images_df = pd.DataFrame(images, columns=formats.IMAGE_COLUMNS)
    captions_df = pd.DataFrame(captions or [], columns=formats.CAPTION_COLUMNS)
    vqa_df = pd.DataFrame(vqa, columns=formats.VQA_COLUMNS) if vqa else None
    present = set(captions_df["language"]) | (set(vqa_df["language"]) if vqa_df is not None else set())
    if not present or images_df.empty:
        raise AdapterError(
            f"Dataset {name!r}: nothing to write for language(s) {', '.join(languages)} "
            f"(no {'questions' if vqa is not None else 'captions'} with an image found in {source})."
        )
    meta = {
        "name": name,
        "languages": [lang for lang in languages if lang in present],
        "splits": sorted(set(images_df["split"])),
        "source": source,
    }
    if extra_meta:
        meta.update(extra_meta)
    formats.write_benchmark(out_dir, images_df, captions_df, vqa_df, meta)
    return meta


# --- downloading (tests use a local HTTP server, never the network) ----------------------------------

Fetcher = Callable[..., None]

DOWNLOAD_ATTEMPTS = 6
#: the COCO 2014 image zips as published (unchanged since 2014): size in bytes and MD5
COCO_2014_ZIPS = {
    "train": {"size": 13_510_573_713, "checksum": "md5:0da8c0bd3d6becc4dcb32757491aca88"},
    "val": {"size": 6_645_013_297, "checksum": "md5:a3d79f5ed8d289b7a7554ce06a5782b3"},
}
#: HTTP statuses worth another try (the server is busy or briefly broken)
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


class DownloadError(OSError):
    """A download failed for good, or its file is not the one the adapter or the server announced."""


class _Retry(Exception):
    """One attempt failed in a way another attempt may not (network, server busy, short read)."""


def fetch_url(url: str, dest: Path, *, size: int | None = None, checksum: str | None = None,
              attempts: int = DOWNLOAD_ATTEMPTS, backoff: float = 5.0, timeout: float = 60.0) -> None:
    """Download ``url`` to ``dest``: resumable, retried, checked, atomic.

    Bytes go to ``<dest>.part``; a lost connection, a server error or a killed process leaves it
    there and the next attempt (or the next run) asks only for the rest (HTTP Range, bound to the
    server's ETag or Last-Modified so a changed file starts over). Up to ``attempts`` attempts,
    ``backoff`` seconds before the second, doubling after. The file must have ``size`` bytes (else
    the server's Content-Length) and match ``checksum`` (``"md5:<hex>"``, ``"sha256:<hex>"``) where
    the adapter knows one; only then is it renamed to ``dest``, so ``dest`` is always complete."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    log.info("downloading %s -> %s", url, dest)
    for attempt in range(1, attempts + 1):
        try:
            announced = _fetch_once(url, part, timeout)
            break
        except _Retry as err:
            if attempt == attempts:
                kept = part.stat().st_size if part.exists() else 0
                tries = f"{attempts} attempt{'s' * (attempts > 1)}"
                raise DownloadError(
                    f"Download of {url} to {dest} failed after {tries} (last: {err}); {kept:,} bytes are kept in "
                    f"{part}, rerun to resume from there."
                ) from None
            wait = backoff * 2 ** (attempt - 1)
            log.warning("%s: attempt %d of %d failed (%s); retrying in %.0f s", url, attempt, attempts, err, wait)
            time.sleep(wait)
    _check_download(url, part, dest, size if size is not None else announced, checksum)
    os.replace(part, dest)
    _validator_file(part).unlink(missing_ok=True)


def _validator_file(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _fetch_once(url: str, part: Path, timeout: float) -> int | None:
    """One attempt: append the missing bytes to ``part``; return the full size the server announced."""
    have = part.stat().st_size if part.exists() else 0
    saved = _read_validator(part, url) if have else None
    headers = {"User-Agent": "mvlm-distill"}
    if have:
        headers["Range"] = f"bytes={have}-"
        if saved:
            headers["If-Range"] = saved
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)  # noqa: S310
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing after byte `have`: complete already, or the file shrank
            if _range_total(err.headers.get("Content-Range")) == have:
                return have
            part.unlink()
            raise _Retry(f"the server has no byte {have:,} of the file any more; starting over") from None
        if err.code in RETRY_STATUSES:
            raise _Retry(f"HTTP {err.code} {err.reason}") from None
        raise DownloadError(f"Download of {url} failed: HTTP {err.code} {err.reason}.") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise _Retry(f"{type(err).__name__}: {getattr(err, 'reason', err)}") from None
    with response:
        if response.status == 206:
            start = _range_start(response.headers.get("Content-Range"))
            if start != have:
                part.unlink()
                raise _Retry(f"the server sent bytes from {start} instead of {have:,}; starting over")
            total, mode = _range_total(response.headers.get("Content-Range")), "ab"
        else:  # the whole file: the server ignores ranges, or the file changed since the partial download
            length = response.headers.get("Content-Length")
            total, mode = (int(length) if length and length.isdigit() else None), "wb"
            _write_validator(part, url, response.headers)
        with open(part, mode) as out:
            try:
                shutil.copyfileobj(response, out, length=1 << 20)
            except (OSError, http.client.HTTPException) as err:
                raise _Retry(f"connection lost after {out.tell():,} bytes ({type(err).__name__})") from None
    got = part.stat().st_size
    if total is not None and got < total:
        raise _Retry(f"connection closed after {got:,} of {total:,} bytes")
    return total


def _range_start(content_range: str | None) -> int | None:
    try:  # "bytes 100-199/200"
        return int(content_range.split()[1].split("-")[0])
    except (AttributeError, IndexError, ValueError):
        return None


def _range_total(content_range: str | None) -> int | None:
    total = (content_range or "").rpartition("/")[2]
    return int(total) if total.isdigit() else None


def _write_validator(part: Path, url: str, headers) -> None:
    """Remember what identifies this version of the file, so that a resume never mixes two versions."""
    etag = headers.get("ETag")
    validator = etag if etag and not etag.startswith("W/") else headers.get("Last-Modified")
    _validator_file(part).write_text(json.dumps({"url": url, "validator": validator}))


def _read_validator(part: Path, url: str) -> str | None:
    try:
        saved = json.loads(_validator_file(part).read_text())
    except (OSError, ValueError):
        return None
    return saved.get("validator") if saved.get("url") == url else None


def _check_download(url: str, part: Path, dest: Path, size: int | None, checksum: str | None) -> None:
    """Refuse (and delete) a download that is not the announced file; a rerun then fetches it anew."""
    got = part.stat().st_size
    problem = None
    if size is not None and got != size:
        problem = f"has {got:,} bytes, expected {size:,}"
    elif checksum:
        algorithm, _, expected = checksum.partition(":")
        digest = hashlib.new(algorithm)
        with open(part, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != expected.lower():
            problem = f"has {algorithm} {digest.hexdigest()}, expected {expected}"
    if problem:
        part.unlink()
        _validator_file(part).unlink(missing_ok=True)
        raise DownloadError(
            f"Download of {url} to {dest} {problem}; the file was deleted: rerun to fetch it again, and if "
            "this repeats the server no longer serves the release the adapter knows."
        )


def fetch_all(items: Iterable[tuple], fetch: Fetcher | None = None) -> list[Path]:
    """Fetch each ``(url, destination)`` or ``(url, destination, {"size": ..., "checksum": ...})`` not
    already on disk (what the adapter knows of the file is handed to the fetcher)."""
    fetch = fetch or fetch_url
    done = []
    for url, dest, *known in items:
        if not dest.exists():
            fetch(url, dest, **(known[0] if known else {}))
        done.append(dest)
    return done


def extract(archive: Path, dest: Path) -> None:
    """Unpack a ``.zip``, ``.tgz``/``.tar.gz`` or ``.bz2`` file into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    name = archive.name
    if name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)
    elif name.endswith((".tgz", ".tar.gz", ".tar")):
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")
    elif name.endswith(".bz2"):
        with bz2.open(archive, "rb") as src, open(dest / name[: -len(".bz2")], "wb") as out:
            shutil.copyfileobj(src, out)
    else:
        raise ValueError(f"Do not know how to unpack {archive}.")
