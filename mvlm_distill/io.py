"""Atomic file writes, embedding files and fingerprints.

Every file a workflow rule declares is written through these helpers: a job
killed half-way leaves a ``*.tmp-*`` file, never a plausible-looking partial
output.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np


class CacheMismatchError(RuntimeError):
    """A cached file was made from another model or other data."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent, suffix=path.suffix)
    os.close(fd)
    tmp = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; results are shared like any other output
    try:
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


def save_embeddings(path: str | os.PathLike, embeddings: np.ndarray, ids: list[str], meta: dict) -> None:
    """Save an (N, D) float32 matrix with its row ids and provenance, without pickle."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or embeddings.shape[0] != len(ids):
        raise ValueError(f"{path}: embeddings of shape {embeddings.shape} do not match {len(ids)} ids")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(
                f,
                embeddings=embeddings,
                ids=np.asarray(ids, dtype=str),
                meta=np.asarray(json.dumps(meta, sort_keys=True)),
            )


def load_embeddings(path: str | os.PathLike, expect: dict | None = None) -> tuple[np.ndarray, list[str], dict]:
    """Load an embedding file; ``expect`` lists meta fields that must match (fingerprint, checksum)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            emb, ids, meta = z["embeddings"], z["ids"].tolist(), json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as err:
        raise CacheMismatchError(f"{path}: not a readable embedding file ({err})") from None
    if emb.ndim != 2 or emb.shape[0] != len(ids):
        raise CacheMismatchError(f"{path}: embeddings of shape {emb.shape} do not match {len(ids)} ids")
    for key, value in (expect or {}).items():
        if meta.get(key) != value:
            raise CacheMismatchError(
                f"{path}: made with {key}={meta.get(key)!r} but {value!r} is expected; delete it to rebuild"
            )
    return emb, ids, meta
