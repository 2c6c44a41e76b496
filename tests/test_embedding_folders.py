"""Text embeddings as a folder of per-language files (rule embed_texts): a per-language job reads its own
files only, and scores exactly as from one matrix holding every text of the benchmark."""

import shutil

import numpy as np
import pandas as pd
import pytest

from mvlm_distill.data.formats import benchmark_checksum, read_benchmark
from mvlm_distill.data.synthetic import generate_benchmark
from mvlm_distill.distill.encode import _unique_texts
from mvlm_distill.evaluate.texts import evaluation_files, evaluation_texts
from mvlm_distill.evaluate.consistency import consistency
from mvlm_distill.evaluate.pipeline import cluster_row, parallel_pairs, score_row_language
from mvlm_distill.evaluate.score import metrics_table, score_language
from mvlm_distill.io import (
    CacheMismatchError,
    load_compact_embeddings,
    load_embeddings,
    load_manifest,
    save_embeddings,
    save_text_embeddings,
)

LANGUAGES = ["en", "de", "th"]
N_BOOT = 50


@pytest.fixture(scope="module")
def row(tmp_path_factory):
    """A small synthetic benchmark, random vectors per distinct text (as encode_distinct gives), the folder."""
    work = tmp_path_factory.mktemp("folders")
    root = work / "synthetic"
    generate_benchmark(root, seed=0, n_images={"train": 4, "test": 16}, languages=LANGUAGES)
    bench = read_benchmark(root)
    captions = bench.split_captions("test")
    ids, texts = evaluation_texts(captions, bench.vqa)
    unique, inverse = _unique_texts(texts)
    rng = np.random.default_rng(0)
    distinct = rng.normal(size=(len(unique), 8)).astype(np.float32)
    checksum = benchmark_checksum(root)
    meta = {"fingerprint": "f1", "teacher_fingerprint": "t1", "checksum": checksum, "kind": "text", "text_layers": 2,
            "text_parameters": 100, "total_parameters": 300}
    files, file_of_row = evaluation_files(captions, bench.vqa, bench.languages)
    save_text_embeddings(work / "texts", distinct, inverse, ids, files, file_of_row, meta)
    image_ids = bench.split_images("test")["image_id"].tolist()
    image_emb = rng.normal(size=(len(image_ids), 8)).astype(np.float32)
    save_embeddings(work / "images.npz", image_emb, image_ids,
                    {"fingerprint": "t1", "teacher_fingerprint": "t1", "checksum": checksum, "kind": "image"})
    return {"work": work, "bench": bench, "texts": work / "texts", "images": work / "images.npz",
            "all": (distinct[inverse], ids), "image": (image_emb, image_ids), "meta": meta}


def _score(row, language, texts=None):
    return score_row_language(row["bench"], texts or row["texts"], row["images"], language=language, split="test",
                              n_boot=N_BOOT)


def test_folder_holds_one_file_per_language_and_part(row):
    manifest = load_manifest(row["texts"])
    assert manifest["languages"] == LANGUAGES
    assert {k: manifest[k] for k in row["meta"]} == row["meta"]
    names = [f"{lang}.{part}.npz" for lang in LANGUAGES for part in ("captions", "vqa")]
    assert [f["file"] for f in manifest["files"]] == names
    assert sorted(p.name for p in row["texts"].iterdir()) == sorted(names + ["manifest.json"])
    full, ids = row["all"]
    position = {i: n for n, i in enumerate(ids)}
    seen = []
    for entry in manifest["files"]:
        emb, file_ids, meta = load_embeddings(row["texts"] / entry["file"],
                                              expect={"checksum": row["meta"]["checksum"]})
        assert meta["language"] == entry["language"] and entry["ids"] == len(file_ids)
        assert np.array_equal(emb, full[[position[i] for i in file_ids]])  # the same vector for every id
        seen += file_ids
    assert sorted(seen) == sorted(ids)  # every id in exactly one file
    # the templated VQA prompts repeat: their files store each distinct prompt once plus a row index
    stored, vqa_ids, rows, _ = load_compact_embeddings(row["texts"] / "de.vqa.npz")
    assert rows is not None and len(stored) < len(vqa_ids)
    assert all(i.startswith(tuple(row["bench"].split_vqa("de")["question_id"])) for i in vqa_ids)


def test_scores_equal_scoring_from_one_matrix(row):
    """Ranks, metrics and consistency are those of the one-file layout (every text in one matrix)."""
    bench, (full, ids), (image_emb, image_ids) = row["bench"], row["all"], row["image"]
    position = {i: n for n, i in enumerate(ids)}
    for language in LANGUAGES:
        ranks, metrics, cons = _score(row, language)
        captions = bench.split_captions("test", language)
        expected = score_language(full, ids, image_emb, image_ids, captions, bench.split_vqa(language))
        assert set(expected["task"]) == {"t2i", "i2t", "vqa"}
        pd.testing.assert_frame_equal(ranks, expected, check_exact=True)
        pd.testing.assert_frame_equal(metrics, metrics_table(expected, n_boot=N_BOOT), check_exact=True)
        if language == "en":
            assert cons.empty
            continue
        pairs = parallel_pairs(captions, bench.split_captions("test", "en"))
        image_position = {i: n for n, i in enumerate(image_ids)}
        values = consistency(full[[position[c] for c in pairs["caption_id"]]],
                             full[[position[c] for c in pairs["caption_id_en"]]],
                             image_emb, np.array([image_position[i] for i in pairs["image_id"]]),
                             texts_lang=pairs["text"].tolist(), texts_en=pairs["text_en"].tolist())
        assert cons["metric"].tolist() == list(values) and cons["value"].tolist() == list(values.values())


def test_a_language_job_reads_only_its_own_files(row, monkeypatch):
    opened = []
    load = np.load

    def recording(path, *args, **kwargs):
        opened.append(getattr(path, "name", str(path).rsplit("/", 1)[-1]))
        return load(path, *args, **kwargs)

    monkeypatch.setattr(np, "load", recording)
    _score(row, "de")
    assert sorted(opened) == ["de.captions.npz", "de.vqa.npz", "en.captions.npz", "images.npz"]
    opened.clear()
    _score(row, "en")
    assert sorted(opened) == ["en.captions.npz", "en.vqa.npz", "images.npz"]
    opened.clear()
    cluster_row(row["bench"], row["texts"], split="test", languages=["de", "th"])
    assert sorted(opened) == ["de.captions.npz", "th.captions.npz"]


def test_other_languages_files_are_not_needed(row, tmp_path):
    texts = tmp_path / "texts"
    shutil.copytree(row["texts"], texts)
    for path in texts.glob("th.*.npz"):
        path.unlink()
    ranks, metrics, cons = _score(row, "de", texts)
    expected = _score(row, "de")
    pd.testing.assert_frame_equal(ranks, expected[0], check_exact=True)
    pd.testing.assert_frame_equal(cons, expected[2], check_exact=True)
    with pytest.raises(CacheMismatchError, match=r"th\.captions\.npz: file does not exist "
                                                 r"\(the folder has the languages en, de, th\)$"):
        _score(row, "th", texts)


def test_bad_folders_name_the_file(row, tmp_path):
    texts = tmp_path / "texts"
    shutil.copytree(row["texts"], texts)
    # a language file of another model (or from another run) than the manifest says
    stored, ids, rows, meta = load_compact_embeddings(texts / "de.vqa.npz")
    save_embeddings(texts / "de.vqa.npz", stored, ids, {**meta, "fingerprint": "other"}, rows=rows)
    with pytest.raises(CacheMismatchError, match=r"de\.vqa\.npz: made with fingerprint='other' but 'f1' is "
                                                 r"expected; delete the folder .*texts to rebuild$"):
        _score(row, "de", texts)
    # a damaged file
    (texts / "de.vqa.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CacheMismatchError, match=r"de\.vqa\.npz: not a readable embedding file \("):
        _score(row, "de", texts)
    # a folder made from other data
    manifest = load_manifest(texts)
    (texts / "manifest.json").write_text('{"checksum": "stale", "languages": ["en", "de", "th"]}')
    with pytest.raises(CacheMismatchError, match=rf"texts/manifest\.json \(checksum 'stale'\) and .*synthetic/meta\.json "
                                                 rf"\(checksum '{manifest['checksum']}'\) come from different benchmark tables"):
        _score(row, "en", texts)
    (texts / "manifest.json").unlink()
    with pytest.raises(CacheMismatchError, match=r"texts/manifest\.json: not a readable embedding manifest"):
        _score(row, "en", texts)
    # the old layout: one .npz for the whole benchmark is not a folder
    full, ids = row["all"]
    save_embeddings(tmp_path / "old.npz", full, ids, row["meta"])
    with pytest.raises(CacheMismatchError, match=r"old\.npz/manifest\.json: not a readable embedding manifest"):
        _score(row, "en", tmp_path / "old.npz")
    # text and image embeddings of different dimensions
    small = tmp_path / "small"
    shutil.copytree(row["texts"], small)
    emb, ids, meta = load_embeddings(small / "de.captions.npz")
    save_embeddings(small / "de.captions.npz", emb[:, :4], ids, meta)
    with pytest.raises(CacheMismatchError, match=r"de\.captions\.npz: text embeddings of dimension 4 do not match "
                                                 r"the image embeddings of .*images\.npz \(8\)$"):
        _score(row, "de", small)


def test_clustering_can_be_limited_to_the_first_images(row, monkeypatch):
    """max_images clusters the captions (every language) of the first images by id, and k = their number."""
    import mvlm_distill.evaluate.clustering as clustering_module

    seen = []
    real = clustering_module.clustering

    def recording(emb, image_ids, language_ids, **kwargs):
        seen.append((list(image_ids), list(language_ids)))
        return real(emb, image_ids, language_ids, **kwargs)

    monkeypatch.setattr(clustering_module, "clustering", recording)
    cluster_row(row["bench"], row["texts"], split="test", languages=LANGUAGES, max_images=5)
    cluster_row(row["bench"], row["texts"], split="test", languages=LANGUAGES)
    (limited, limited_languages), (everything, _) = seen
    first = sorted(set(everything))[:5]
    assert len(set(everything)) == 16 and sorted(set(limited)) == first
    assert sorted(limited) == sorted(i for i in everything if i in first)  # all their captions
    assert set(limited_languages) == set(LANGUAGES)
