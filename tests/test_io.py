"""Atomic writes and embedding caches that refuse to be reused for other models or data."""

import re

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


def test_row_index_round_trip(tmp_path):
    """Each distinct vector stored once plus an int32 row index; readers still get one row per id."""
    from mvlm_distill.io import load_compact_embeddings

    path = tmp_path / "e.npz"
    distinct = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    save_embeddings(path, distinct, ["a", "b", "c", "d"], {"checksum": "c1"}, rows=[1, 0, 1, 1])
    out, ids, meta = load_embeddings(path, expect={"checksum": "c1"})
    assert ids == ["a", "b", "c", "d"] and out.shape == (4, 4) and meta == {"checksum": "c1"}
    assert np.array_equal(out, distinct[[1, 0, 1, 1]])
    stored, ids, rows, _ = load_compact_embeddings(path)
    assert np.array_equal(stored, distinct) and rows.dtype == np.int32 and rows.tolist() == [1, 0, 1, 1]
    # a file without a row index (as written before there was one) reads as it always did
    save_embeddings(path, distinct, ["a", "b"], {})
    assert load_compact_embeddings(path)[2] is None and np.array_equal(load_embeddings(path)[0], distinct)


def test_bad_row_index_is_refused(tmp_path):
    path = tmp_path / "e.npz"
    with pytest.raises(ValueError, match=r"e.npz: a row index of shape \(2,\) does not match 3 ids"):
        save_embeddings(path, np.zeros((2, 2)), ["a", "b", "c"], {}, rows=[0, 1])
    with pytest.raises(ValueError, match=r"e.npz: the row index points outside the embeddings of shape \(2, 2\)"):
        save_embeddings(path, np.zeros((2, 2)), ["a", "b", "c"], {}, rows=[0, 1, 2])
    with pytest.raises(ValueError, match="points outside"):
        save_embeddings(path, np.zeros((2, 2)), ["a"], {}, rows=[-1])
    assert not path.exists()
    # files damaged on disk: one sentence naming the file
    for rows, message in (([0, 1], r"a row index of shape \(2,\) does not match 3 ids"),
                          ([0, 1, 5], r"the row index points outside the embeddings of shape \(2, 2\)"),
                          ([0.0, 1.0, 1.0], r"a row index of dtype float64 is not integer")):
        with open(path, "wb") as f:
            np.savez(f, embeddings=np.zeros((2, 2), np.float32), ids=np.asarray(["a", "b", "c"]),
                     meta=np.asarray("{}"), rows=np.asarray(rows))
        with pytest.raises(CacheMismatchError, match=rf"^{re.escape(str(path))}: {message}$"):
            load_embeddings(path)


def test_atomic_directory_leaves_nothing_on_failure(tmp_path):
    from mvlm_distill.io import atomic_directory

    target = tmp_path / "texts"
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as tmp:
            (tmp / "en.captions.npz").write_bytes(b"half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with atomic_directory(target) as tmp:
        (tmp / "manifest.json").write_text("{}")
    assert [p.name for p in tmp_path.iterdir()] == ["texts"] and (target / "manifest.json").exists()
    with atomic_directory(target) as tmp:  # a rerun replaces the folder whole
        (tmp / "other").write_text("x")
    assert sorted(p.name for p in target.iterdir()) == ["other"]


def test_text_folder_stores_a_row_index_only_when_smaller(tmp_path):
    from mvlm_distill.io import load_compact_embeddings, load_manifest, save_text_embeddings

    distinct = np.arange(12, dtype=np.float32).reshape(3, 4)
    ids = ["c1", "c2", "q1::0", "q1::1", "q2::0", "q2::1", "c3"]
    inverse = [0, 1, 2, 2, 2, 2, 1]
    files = [("en", "captions"), ("en", "vqa"), ("de", "captions"), ("de", "vqa")]
    file_of_row = [0, 0, 1, 1, 1, 1, 2]
    manifest = save_text_embeddings(tmp_path / "t", distinct, inverse, ids, files, file_of_row, {"fingerprint": "f"})
    assert manifest == load_manifest(tmp_path / "t")
    assert manifest["languages"] == ["en", "de"] and manifest["fingerprint"] == "f"
    assert [(f["file"], f["ids"], f["vectors"]) for f in manifest["files"]] == [
        ("en.captions.npz", 2, 2), ("en.vqa.npz", 4, 1), ("de.captions.npz", 1, 1), ("de.vqa.npz", 0, 0)]
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == sorted(
        ["manifest.json", "en.captions.npz", "en.vqa.npz", "de.captions.npz", "de.vqa.npz"])
    stored, vqa_ids, rows, meta = load_compact_embeddings(tmp_path / "t" / "en.vqa.npz")
    assert stored.shape == (1, 4) and rows.tolist() == [0, 0, 0, 0] and vqa_ids == ids[2:6]
    assert meta == {"fingerprint": "f", "language": "en", "part": "vqa"}
    assert load_compact_embeddings(tmp_path / "t" / "en.captions.npz")[2] is None  # all distinct: no index
    emb, de_ids, _ = load_embeddings(tmp_path / "t" / "de.captions.npz")
    assert de_ids == ["c3"] and np.array_equal(emb, distinct[[1]])
    assert load_embeddings(tmp_path / "t" / "de.vqa.npz")[0].shape == (0, 4)
    with pytest.raises(ValueError, match="7 ids, 6 rows and 7 file numbers do not match"):
        save_text_embeddings(tmp_path / "u", distinct, inverse[:-1], ids, files, file_of_row, {})
    assert not (tmp_path / "u").exists()


def test_bad_manifest_names_the_file(tmp_path):
    from mvlm_distill.io import load_manifest

    folder = tmp_path / "t"
    folder.mkdir()
    with pytest.raises(CacheMismatchError, match=r"t/manifest.json: not a readable embedding manifest \("):
        load_manifest(folder)
    (folder / "manifest.json").write_text("{oops")
    with pytest.raises(CacheMismatchError, match=r"t/manifest.json: not a readable embedding manifest \("):
        load_manifest(folder)
    (folder / "manifest.json").write_text('{"checksum": "c"}')
    with pytest.raises(CacheMismatchError,
                       match=r"t/manifest.json: not an embedding manifest \(no list of languages\)$"):
        load_manifest(folder)
    (folder / "manifest.json").write_text('{"checksum": "c", "languages": ["en"]}')
    with pytest.raises(CacheMismatchError, match=r"t/manifest.json: made with checksum='c' but 'd' is expected; "
                                                 r"delete the folder .*t to rebuild$"):
        load_manifest(folder, expect={"checksum": "d"})
