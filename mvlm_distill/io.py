"""Atomic file writes, embedding files and fingerprints.

Every file a workflow rule declares is written through these helpers: a job
killed half-way leaves a temporary whose name carries :data:`TEMP_MARK` (file or
folder), never a plausible-looking partial output; a full disk is named as such.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np


# Every temporary the project writes beside a result is ``.{name}.mvlm-tmp`` or ``.{name}.mvlm-tmp-XXXX``:
# clean-up (results_folder.remove_stale_temporaries) removes these names and nothing else.
TEMP_MARK = ".mvlm-tmp"


def temporary_sibling(path: str | os.PathLike) -> Path:
    """The fixed temporary name beside ``path`` (for a job that rebuilds it from scratch on every attempt)."""
    path = Path(path)
    return path.parent / f".{path.name}{TEMP_MARK}"


# Under this many free bytes a failed write is blamed on the disk: libraries report a full disk in their
# own words (torch.save: "unexpected pos 576 vs 534"), never as ENOSPC.
NEARLY_FULL = 1 << 20


def _free_bytes(folder: Path) -> int | None:
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    return st.f_bfree * st.f_frsize if os.geteuid() == 0 else st.f_bavail * st.f_frsize


def disk_full_error(path: str | os.PathLike, err: BaseException) -> OSError | None:
    """An ``OSError(ENOSPC)`` naming ``path`` when ``err`` (from writing it) came from a full disk, else None."""
    path = Path(path)
    folder = next((p for p in [path.parent, *path.parents] if p.exists()), Path("."))
    free = _free_bytes(folder)
    if getattr(err, "errno", None) != errno.ENOSPC and (free is None or free >= NEARLY_FULL):
        return None
    left = f" ({free // 1024} KiB free)" if free is not None else ""
    return OSError(errno.ENOSPC, f"{path}: no space left on device{left} while writing it; free space on "
                                 f"that disk (or point results: elsewhere) and rerun; nothing finished was lost")


@contextlib.contextmanager
def naming_a_full_disk(path: str | os.PathLike) -> Iterator[None]:
    """Re-raise a write failure caused by a full disk as one sentence naming ``path``."""
    try:
        yield
    except (OSError, RuntimeError) as err:
        full = disk_full_error(path, err)
        if full is None:
            raise
        raise full from err


class CacheMismatchError(RuntimeError):
    """A cached file was made from another model or other data."""


class NonFiniteEmbeddingError(ValueError):
    """A model produced NaN or infinite embeddings (nothing is written)."""


# Provenance fields of every embedding file and manifest: ``fingerprint`` (the model that made the
# vectors), ``teacher_fingerprint`` (the teacher its row belongs to: the teacher itself, or the one a
# student was built from), ``checksum`` (mvlm_distill.data.formats.benchmark_checksum of the benchmark).
SOURCES = {"teacher_fingerprint": "teachers", "checksum": "benchmark tables"}


def check_same_source(key: str, first_path, first_meta: dict, second_path, second_meta: dict) -> None:
    """Refuse to combine two files whose ``key`` (a field of :data:`SOURCES`) differs, naming both."""
    first, second = first_meta.get(key), second_meta.get(key)
    if first is not None and first == second:
        return
    for path, value in ((first_path, first), (second_path, second)):
        if value is None:
            raise CacheMismatchError(f"{path}: records no {key} (made by an older version), so it cannot be "
                                     f"checked against {second_path if path == first_path else first_path}; "
                                     f"delete it to rebuild")
    hint = {"teacher_fingerprint": "the teacher changed after one of them was made; rebuild the stale one from the "
                                   "current teacher (snakemake --forcerun cache_images cache_teacher_text distill "
                                   "embed_texts) or restore the teacher's weights",
            "checksum": "the benchmark changed after one of them was made; rebuild the stale one "
                        "(snakemake --forcerun cache_images cache_teacher_text embed_texts)"}[key]
    raise CacheMismatchError(
        f"{first_path} ({key} {first!r}) and {second_path} ({key} {second!r}) come from different "
        f"{SOURCES[key]}, so they cannot be combined: {hint}"
    )


def _check_finite(path, embeddings: np.ndarray, ids: list[str], meta: dict, rows=None) -> None:
    """Refuse NaN or infinite vectors before anything is written, naming the model and the first bad id."""
    if embeddings.ndim != 2 or np.isfinite(embeddings).all():
        return
    bad = ~np.isfinite(embeddings).all(axis=1)
    if rows is not None:
        bad = bad[np.asarray(rows)]
    where = np.flatnonzero(bad)
    if not where.size:  # the bad vectors are used by no id
        return
    model = meta.get("model") or meta.get("fingerprint") or "the model"
    raise NonFiniteEmbeddingError(
        f"{path}: {model} gives NaN or infinite embeddings ({where.size} of {len(ids)} ids, the first "
        f"{ids[where[0]]!r}), so nothing was written; its weights are likely damaged"
    )


def ordinary_mode(path: Path, mode: int) -> None:
    """Give ``path`` the permissions a plain ``open``/``mkdir`` would (``mode`` less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


@contextlib.contextmanager
def _writable(path: Path) -> Iterator[None]:
    """One sentence instead of a traceback when the folder of ``path`` cannot be written (or its disk is full)."""
    try:
        with naming_a_full_disk(path):
            yield
    except PermissionError as err:
        folder = next(p for p in path.parents if p.exists())  # the folder that refused the new entry
        raise PermissionError(
            f"{folder}: folder is not writable, so {path} cannot be written; make it writable "
            f"(chmod u+w) or set results: to a folder you can write"
        ) from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    with _writable(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}-", dir=path.parent, suffix=path.suffix)
    os.close(fd)
    tmp = Path(tmp)
    ordinary_mode(tmp, 0o666)  # mkstemp makes 0600 files; results are shared like any other output
    try:
        with naming_a_full_disk(path):
            yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_csv(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as UTF-8 CSV, atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def file_checksum(*paths: str | os.PathLike) -> str:
    """SHA-256 over the bytes of the given files, in order (short hex)."""
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def save_embeddings(
    path: str | os.PathLike, embeddings: np.ndarray, ids: list[str], meta: dict, rows=None
) -> None:
    """Save an (N, D) float32 matrix with its row ids and provenance, without pickle.

    With ``rows`` (one integer per id), ``embeddings`` holds each distinct vector once and id ``i``'s
    vector is ``embeddings[rows[i]]``; the index is stored as int32 (``load_embeddings`` expands it).
    """
    embeddings = np.asarray(embeddings, dtype=np.float32)
    arrays = {}
    if rows is None:
        if embeddings.ndim != 2 or embeddings.shape[0] != len(ids):
            raise ValueError(f"{path}: embeddings of shape {embeddings.shape} do not match {len(ids)} ids")
    else:
        rows = np.asarray(rows)
        problem = _row_index_problem(rows, len(ids), embeddings.shape)
        if problem:
            raise ValueError(f"{path}: {problem}")
        arrays["rows"] = rows.astype(np.int32)
    _check_finite(path, embeddings, ids, meta, rows)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(
                f,
                embeddings=embeddings,
                ids=np.asarray(ids, dtype=str),
                meta=np.asarray(json.dumps(meta, sort_keys=True)),
                **arrays,
            )


def embedding_meta(path: str | os.PathLike) -> dict:
    """Only the provenance of an embedding file (the vectors are not read)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as err:
        raise CacheMismatchError(f"{path}: not a readable embedding file ({err})") from None


def load_embeddings(path: str | os.PathLike, expect: dict | None = None) -> tuple[np.ndarray, list[str], dict]:
    """Load an embedding file, one row per id; ``expect`` lists meta fields that must match (fingerprint, checksum)."""
    emb, ids, rows, meta = load_compact_embeddings(path, expect)
    return (emb if rows is None else emb[rows]), ids, meta


def load_compact_embeddings(
    path: str | os.PathLike, expect: dict | None = None
) -> tuple[np.ndarray, list[str], np.ndarray | None, dict]:
    """``load_embeddings`` without expanding a row index: ``(embeddings (M, D), ids, rows, meta)``, where id
    ``i``'s vector is ``embeddings[rows[i]]``, or ``embeddings[i]`` when ``rows`` is None (a file without one)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            emb, ids, meta = z["embeddings"], z["ids"].tolist(), json.loads(str(z["meta"]))
            rows = z["rows"] if "rows" in z.files else None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as err:
        raise CacheMismatchError(f"{path}: not a readable embedding file ({err})") from None
    if rows is None:
        if emb.ndim != 2 or emb.shape[0] != len(ids):
            raise CacheMismatchError(f"{path}: embeddings of shape {emb.shape} do not match {len(ids)} ids")
    else:
        problem = _row_index_problem(rows, len(ids), emb.shape)
        if problem:
            raise CacheMismatchError(f"{path}: {problem}")
    _check_meta(path, meta, expect)
    return emb, ids, rows, meta


def _row_index_problem(rows: np.ndarray, n_ids: int, shape: tuple) -> str | None:
    """What is wrong with a row index into embeddings of ``shape`` for ``n_ids`` ids (None: nothing)."""
    if rows.ndim != 1 or rows.shape[0] != n_ids:
        return f"a row index of shape {rows.shape} does not match {n_ids} ids"
    if rows.size and rows.dtype.kind not in "iu":
        return f"a row index of dtype {rows.dtype} is not integer"
    if len(shape) != 2 or (rows.size and not 0 <= rows.min() <= rows.max() < shape[0]):
        return f"the row index points outside the embeddings of shape {shape}"
    return None


def _check_meta(path, meta: dict, expect: dict | None, rebuild: str = "it") -> None:
    for key, value in (expect or {}).items():
        if meta.get(key) != value:
            raise CacheMismatchError(
                f"{path}: made with {key}={meta.get(key)!r} but {value!r} is expected; delete {rebuild} to rebuild"
            )


# --------------------------------------------------------------------------- text embedding folders
#
# A benchmark's text embeddings (rule embed_texts) are one folder: per language ``{language}.captions.npz``
# (ids = caption_id) and, when the benchmark has VQA, ``{language}.vqa.npz`` (ids = "{question_id}::{j}"),
# plus ``manifest.json`` (model and data provenance, parameter counts, languages and files). A scoring job
# reads the files of its language only.

MANIFEST = "manifest.json"
TEXT_PARTS = ("captions", "vqa")


def text_embedding_file(directory: str | os.PathLike, language: str, part: str = "captions") -> Path:
    """The file of one language's captions (``part="captions"``) or VQA prompts (``"vqa"``)."""
    if part not in TEXT_PARTS:
        raise ValueError(f"part must be one of {TEXT_PARTS}, got {part!r}")
    return Path(directory) / f"{language}.{part}.npz"


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; rename it onto ``path`` on success, remove it on failure."""
    path = Path(path)
    with _writable(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}{TEMP_MARK}-", dir=path.parent))
    ordinary_mode(tmp, 0o777)  # mkdtemp makes 0700 folders
    try:
        with naming_a_full_disk(path):
            yield tmp
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def save_text_embeddings(
    directory: str | os.PathLike,
    distinct: np.ndarray,
    inverse,
    ids: list[str],
    files: list[tuple[str, str]],
    file_of_row,
    meta: dict,
) -> dict:
    """Write a benchmark's text embeddings as one folder, atomically; returns the manifest.

    ``distinct`` (M, D) holds each distinct text's vector once and ``inverse[i]`` is id ``i``'s row among
    them. ``files`` lists the ``(language, part)`` files to write (each one, even if it gets no rows) and
    ``file_of_row[i]`` is id ``i``'s position in ``files``. A file keeps its ids in the given order; it stores
    the vectors they use once plus a row index when that is smaller than one vector per id.
    """
    distinct = np.asarray(distinct, dtype=np.float32)
    inverse, file_of_row = np.asarray(inverse, dtype=np.int64), np.asarray(file_of_row, dtype=np.int64)
    if not len(ids) == len(inverse) == len(file_of_row):
        raise ValueError(
            f"{directory}: {len(ids)} ids, {len(inverse)} rows and {len(file_of_row)} file numbers do not match"
        )
    if len(file_of_row) and not 0 <= file_of_row.min() <= file_of_row.max() < len(files):
        raise ValueError(f"{directory}: a file number is outside the {len(files)} files")
    _check_finite(directory, distinct, ids, meta, inverse)
    dim = distinct.shape[1] if distinct.ndim == 2 else 0
    order = np.argsort(file_of_row, kind="stable")  # each file's ids keep their relative order
    bounds = np.searchsorted(file_of_row[order], np.arange(len(files) + 1))
    listed = []
    with atomic_directory(directory) as tmp:
        for k, (language, part) in enumerate(files):
            positions = order[bounds[k] : bounds[k + 1]]
            path = text_embedding_file(tmp, language, part)
            file_ids = [ids[p] for p in positions]
            used, rows = np.unique(inverse[positions], return_inverse=True)
            file_meta = {**meta, "language": language, "part": part}
            if used.size * dim + rows.size < rows.size * dim:  # in 4-byte words: vectors + int32 index
                save_embeddings(path, distinct[used], file_ids, file_meta, rows=rows.reshape(-1))
                vectors = used.size
            else:
                save_embeddings(path, distinct[inverse[positions]], file_ids, file_meta)
                vectors = len(file_ids)
            listed.append({"file": path.name, "language": language, "part": part,
                           "ids": len(file_ids), "vectors": int(vectors)})
        manifest = {**meta, "languages": list(dict.fromkeys(language for language, _ in files)), "files": listed}
        write_json(tmp / MANIFEST, manifest)
    return manifest


def load_manifest(directory: str | os.PathLike, expect: dict | None = None) -> dict:
    """The ``manifest.json`` of a text embedding folder; ``expect`` as for ``load_embeddings``."""
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CacheMismatchError(f"{path}: not a readable embedding manifest ({err})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("languages"), list):
        raise CacheMismatchError(f"{path}: not an embedding manifest (no list of languages)")
    _check_meta(path, manifest, expect, rebuild=f"the folder {Path(directory)}")
    return manifest


def load_text_file(directory: str | os.PathLike, manifest: dict, language: str, part: str = "captions"):
    """One language's file of a text embedding folder, checked against the folder's ``manifest`` (same model
    and data), as ``load_compact_embeddings`` returns it: ``(embeddings, ids, rows, meta)``."""
    path = text_embedding_file(directory, language, part)
    if not path.exists():
        listed = ", ".join(manifest.get("languages", [])) or "none"
        raise CacheMismatchError(f"{path}: file does not exist (the folder has the languages {listed})")
    emb, ids, rows, meta = load_compact_embeddings(path)
    expect = {key: manifest.get(key) for key in ("fingerprint", "checksum")}
    _check_meta(path, meta, expect, rebuild=f"the folder {Path(directory)}")
    return emb, ids, rows, meta


def load_caption_embeddings(
    directory: str | os.PathLike, languages, expect: dict | None = None
) -> tuple[np.ndarray, list[str], dict]:
    """The caption embeddings of ``languages`` from a text embedding folder, one matrix (one row per id,
    languages in the given order), and the folder's manifest."""
    manifest = load_manifest(directory, expect)
    embeddings, ids = [], []
    for language in languages:
        emb, language_ids, rows, _ = load_text_file(directory, manifest, language, "captions")
        embeddings.append(emb if rows is None else emb[rows])
        ids += language_ids
    if not embeddings:
        return np.zeros((0, 0), dtype=np.float32), ids, manifest
    return np.concatenate(embeddings), ids, manifest
