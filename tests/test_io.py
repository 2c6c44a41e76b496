"""Atomic writes and embedding caches that refuse to be reused for other models or data."""

import numpy as np
import pytest

from mvlm_distill.io import CacheMismatchError, atomic_path, load_embeddings, save_embeddings, write_text


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    write_text(target, "whole")
    assert target.read_text() == "whole"


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        write_text(tmp_path / "report.html", "x")
    finally:
        os.umask(umask)
    assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o644


def test_embeddings_round_trip_without_pickle(tmp_path):
    path = tmp_path / "e.npz"
    emb = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    save_embeddings(path, emb, ["a", "ü", "日本"], {"fingerprint": "f1", "checksum": "c1"})
    out, ids, meta = load_embeddings(path, expect={"fingerprint": "f1", "checksum": "c1"})
    assert (out == emb).all() and ids == ["a", "ü", "日本"] and meta["fingerprint"] == "f1"


def test_cache_from_another_model_is_refused(tmp_path):
    path = tmp_path / "e.npz"
    save_embeddings(path, np.zeros((1, 2)), ["a"], {"fingerprint": "old", "checksum": "c"})
    with pytest.raises(CacheMismatchError, match=r"e.npz: made with fingerprint='old' but 'new' is expected"):
        load_embeddings(path, expect={"fingerprint": "new"})
    with pytest.raises(CacheMismatchError, match="checksum"):
        load_embeddings(path, expect={"checksum": "other"})


def test_truncated_cache_names_the_file(tmp_path):
    path = tmp_path / "e.npz"
    save_embeddings(path, np.zeros((5, 2)), list("abcde"), {})
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CacheMismatchError, match=r"e.npz: not a readable embedding file"):
        load_embeddings(path)


def test_shape_must_match_ids(tmp_path):
    with pytest.raises(ValueError, match="do not match 2 ids"):
        save_embeddings(tmp_path / "e.npz", np.zeros((3, 2)), ["a", "b"], {})
