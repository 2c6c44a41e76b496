"""The benchmark format: round trip, id types, checksum, and every validation error."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image

from mvlm_distill.data.formats import (
    CAPTION_COLUMNS,
    IMAGE_COLUMNS,
    VQA_COLUMNS,
    Benchmark,
    BenchmarkError,
    benchmark_checksum,
    load_image,
    read_benchmark,
    write_benchmark,
)


def _tables():
    images = pd.DataFrame(
        {"image_id": ["007", "12", "x3"], "split": ["train", "test", "test"],
         "file": ["images/007.png", "images/12.png", "images/x3.jpg"]}
    )
    captions = pd.DataFrame(
        [
            ("007", "train", "en", "c1", "p1", "a red circle"),
            ("007", "train", "de", "c2", "p1", "ein roter Kreis"),
            ("12", "test", "en", "c3", "p2", "a blue star, on the left"),
            ("12", "test", "de", "c4", "p2", "ein blauer Stern links"),
            ("x3", "test", "en", "5", "", "a \"quoted\" square"),
            ("x3", "test", "de", "6", "", "ein grünes Quadrat\nmit Zeilenumbruch"),
        ],
        columns=CAPTION_COLUMNS,
    )
    vqa = pd.DataFrame(
        [
            ("q1", "pq1", "12", "en", "what colour is it?", "blue", ["red", "blue"]),
            ("q2", "pq1", "12", "de", "welche Farbe?", "blau", ["rot", "blau"]),
        ],
        columns=VQA_COLUMNS,
    )
    meta = {"name": "tiny", "languages": ["en", "de"], "splits": ["train", "test"], "source": "unit test"}
    return images, captions, vqa, meta


def _write_images(root):
    (root / "images").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (200, 10, 10)).save(root / "images" / "007.png")
    Image.new("RGB", (8, 8), (10, 10, 200)).save(root / "images" / "12.png")
    Image.new("RGB", (8, 8), (10, 200, 10)).save(root / "images" / "x3.jpg", format="JPEG")


@pytest.fixture
def bench_dir(tmp_path):
    root = tmp_path / "bench"
    _write_images(root)
    write_benchmark(root, *_tables())
    return root


def test_round_trip_keeps_ids_as_str_and_text_utf8(bench_dir):
    bench = read_benchmark(bench_dir, check_images=True)
    assert isinstance(bench, Benchmark)
    for name in ("images.parquet", "captions.parquet", "vqa.parquet", "meta.json"):
        assert (bench_dir / name).is_file()
    assert list(bench.images["image_id"]) == ["007", "12", "x3"]
    # grouped by language (order of first appearance), file order within a language
    assert list(bench.captions["caption_id"]) == ["c1", "c3", "5", "c2", "c4", "6"]
    assert bench.captions.loc[5, "text"] == "ein grünes Quadrat\nmit Zeilenumbruch"
    assert bench.captions.loc[2, "text"] == 'a "quoted" square'
    assert bench.captions.loc[2, "parallel_id"] == ""
    assert all(isinstance(v, str) for col in CAPTION_COLUMNS for v in bench.captions[col])
    assert bench.vqa.loc[1, "candidates"] == ["rot", "blau"]
    stored = pd.read_parquet(bench_dir / "vqa.parquet")
    assert list(stored.loc[0, "candidates"]) == ["red", "blue"]  # a list column, not JSON text
    # one row group per language, so a per-language job reads only its own
    assert pq.ParquetFile(bench_dir / "captions.parquet").num_row_groups == 2
    assert bench.languages == ["en", "de"]
    assert bench.image_path("12") == bench_dir / "images" / "12.png"
    assert list(bench.split_captions("test", "de")["caption_id"]) == ["c4", "6"]
    assert len(bench.split_captions("test")) == 4
    assert load_image(bench.image_path("x3")).mode == "RGB"


def test_checksum_is_stable_and_tracks_tables(bench_dir):
    first = benchmark_checksum(bench_dir)
    assert first == benchmark_checksum(bench_dir)
    images, captions, vqa, meta = _tables()
    captions.loc[0, "text"] = "a crimson circle"
    write_benchmark(bench_dir, images, captions, vqa, meta)
    assert benchmark_checksum(bench_dir) != first


def test_write_without_vqa_removes_stale_vqa(bench_dir):
    images, captions, _, meta = _tables()
    write_benchmark(bench_dir, images, captions, None, meta)
    assert not (bench_dir / "vqa.parquet").exists()
    assert read_benchmark(bench_dir).vqa is None


def _rewrite(root, name, frame):
    """A table edited by hand, in a folder made by hand (no checksums in meta.json, so only validation applies)."""
    frame.to_parquet(root / name, index=False)
    meta = json.loads((root / "meta.json").read_text())
    meta.pop("checksums", None)
    (root / "meta.json").write_text(json.dumps(meta))


def _read(root, name):
    return pd.read_parquet(root / name)


def _expect(root, file_name, *fragments, check_images=False):
    with pytest.raises(BenchmarkError) as info:
        read_benchmark(root, check_images=check_images)
    message = str(info.value)
    assert file_name in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_missing_column_is_named(bench_dir):
    _rewrite(bench_dir, "captions.parquet", _read(bench_dir, "captions.parquet").drop(columns=["parallel_id", "text"]))
    _expect(bench_dir, "captions.parquet", "parallel_id", "text")


def test_missing_image_column_is_named(bench_dir):
    _rewrite(bench_dir, "images.parquet", _read(bench_dir, "images.parquet").drop(columns=["file"]))
    _expect(bench_dir, "images.parquet", "file")


def test_duplicate_caption_id(bench_dir):
    caps = _read(bench_dir, "captions.parquet")
    caps.loc[1, "caption_id"] = "c1"
    _rewrite(bench_dir, "captions.parquet", caps)
    _expect(bench_dir, "captions.parquet", "duplicate caption_id", "'c1'")


def test_duplicate_question_id(bench_dir):
    vqa = _read(bench_dir, "vqa.parquet")
    vqa.loc[1, "question_id"] = "q1"
    _rewrite(bench_dir, "vqa.parquet", vqa)
    _expect(bench_dir, "vqa.parquet", "duplicate question_id")


def test_caption_of_unknown_image(bench_dir):
    caps = _read(bench_dir, "captions.parquet")
    caps.loc[0, "image_id"] = "nope"
    _rewrite(bench_dir, "captions.parquet", caps)
    _expect(bench_dir, "captions.parquet", "'nope'", "images.parquet")


def test_empty_language(bench_dir):
    caps = _read(bench_dir, "captions.parquet")
    _rewrite(bench_dir, "captions.parquet", caps[caps["language"] != "de"])
    if (bench_dir / "vqa.parquet").exists():
        vqa = _read(bench_dir, "vqa.parquet")
        _rewrite(bench_dir, "vqa.parquet", vqa[vqa["language"] != "de"])
    _expect(bench_dir, "captions.parquet", "'de'", "no captions or questions")


def test_language_with_questions_only_is_not_empty(bench_dir):
    """VQA-only benchmarks (xGQA, MaXM) list languages that have questions but no captions."""
    caps = _read(bench_dir, "captions.parquet")
    vqa = _read(bench_dir, "vqa.parquet")
    assert "de" in set(vqa["language"])
    _rewrite(bench_dir, "captions.parquet", caps[caps["language"] != "de"])
    assert "de" in read_benchmark(bench_dir).languages


def test_empty_text(bench_dir):
    caps = _read(bench_dir, "captions.parquet")
    caps.loc[caps["caption_id"] == "c3", "text"] = "  "
    _rewrite(bench_dir, "captions.parquet", caps)
    _expect(bench_dir, "captions.parquet", "'c3'", "empty text")


@pytest.mark.parametrize("text", ["\u200b\u200b\u200b", "\ufeff", "\u00a0\u2060\u00ad", "\u200d \t\u3000"],
                         ids=["zero-width spaces", "BOM", "nbsp word-joiner soft-hyphen", "zwj and spaces"])
def test_text_of_invisible_characters_is_empty(bench_dir, text):
    caps = _read(bench_dir, "captions.parquet")
    caps.loc[caps["caption_id"] == "c3", "text"] = text
    _rewrite(bench_dir, "captions.parquet", caps)
    _expect(bench_dir, "captions.parquet", "'c3'", "empty text")


def test_invisible_answer_is_empty(bench_dir):
    vqa = _read(bench_dir, "vqa.parquet")
    vqa["answer"] = vqa["answer"].astype(object)
    vqa.at[0, "answer"] = "\u200b"
    _rewrite(bench_dir, "vqa.parquet", vqa)
    _expect(bench_dir, "vqa.parquet", "row 1 has an empty answer")


def test_text_with_invisible_characters_inside_is_kept():
    from mvlm_distill.data.formats import is_blank

    assert not is_blank("\u200bแมว\u200bสีดำ") and not is_blank("می\u200cخواهم") and is_blank("")


def test_an_evaluated_language_needs_text_in_the_evaluation_split(bench_dir):
    """Captions in train only would leave the language out of the tables without a word."""
    caps = _read(bench_dir, "captions.parquet")
    _rewrite(bench_dir, "captions.parquet", caps[(caps["language"] != "de") | (caps["split"] == "train")])
    bench = read_benchmark(bench_dir)
    bench.require_languages("train", ["en", "de"])
    bench.require_languages("test", ["en", "de"])  # de has VQA questions
    bench.vqa = None
    with pytest.raises(BenchmarkError) as info:
        bench.require_languages("test", ["en", "de"])
    assert str(info.value) == (
        f"{bench_dir / 'captions.parquet'}: the evaluated language 'de' has no test captions or VQA questions, so it "
        "would be missing from the tables; add them, or leave de out of languages or of benchmarks.bench.languages."
    )
    from mvlm_distill.evaluate.pipeline import score_row_language

    with pytest.raises(BenchmarkError, match="the evaluated language 'de' has no test captions"):  # the scoring job
        score_row_language(bench, bench_dir / "no-texts", bench_dir / "no-images", language="de", split="test", n_boot=0)


def test_answer_not_in_candidates(bench_dir):
    vqa = _read(bench_dir, "vqa.parquet")
    vqa.loc[0, "answer"] = "green"
    _rewrite(bench_dir, "vqa.parquet", vqa)
    _expect(bench_dir, "vqa.parquet", "'green'", "'q1'", "candidates")


def test_candidates_not_json(bench_dir):
    vqa = _read(bench_dir, "vqa.parquet")
    vqa["candidates"] = ["red|blue", '["rot", "blau"]']  # a table made by hand, candidates as text
    _rewrite(bench_dir, "vqa.parquet", vqa)
    _expect(bench_dir, "vqa.parquet", "JSON list")


def test_language_not_in_meta(bench_dir):
    caps = _read(bench_dir, "captions.parquet")
    caps.loc[0, "language"] = "fr"
    _rewrite(bench_dir, "captions.parquet", caps)
    _expect(bench_dir, "captions.parquet", "'fr'")


def test_meta_missing_field(bench_dir):
    meta = json.loads((bench_dir / "meta.json").read_text(encoding="utf-8"))
    del meta["splits"]
    (bench_dir / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    _expect(bench_dir, "meta.json", "splits")


def test_missing_table(bench_dir):
    (bench_dir / "captions.parquet").unlink()
    _expect(bench_dir, "captions.parquet", "does not exist")


def test_truncated_image(bench_dir):
    path = bench_dir / "images" / "12.png"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    read_benchmark(bench_dir)  # tables alone are fine
    _expect(bench_dir, "12.png", check_images=True)
    with pytest.raises(BenchmarkError, match="12.png"):
        load_image(path)


def test_non_image_file(bench_dir):
    (bench_dir / "images" / "x3.jpg").write_text("not an image at all", encoding="utf-8")
    _expect(bench_dir, "x3.jpg", "not a readable image", check_images=True)


def test_missing_image_file(bench_dir):
    (bench_dir / "images" / "007.png").unlink()
    _expect(bench_dir, "007.png", "does not exist", check_images=True)


def test_write_benchmark_validates_before_writing(tmp_path):
    root = tmp_path / "b"
    _write_images(root)
    images, captions, vqa, meta = _tables()
    vqa.at[0, "answer"] = "purple"
    with pytest.raises(BenchmarkError, match=r"vqa\.parquet.*'purple'"):
        write_benchmark(root, images, captions, vqa, meta)
    assert not (root / "captions.parquet").exists()
    images, captions, vqa, meta = _tables()
    with pytest.raises(BenchmarkError, match=r"meta\.json.*name"):
        write_benchmark(root, images, captions, vqa, {k: v for k, v in meta.items() if k != "name"})
    with pytest.raises(BenchmarkError, match=r"images\.parquet.*image_id"):
        write_benchmark(root, images.drop(columns=["image_id"]), captions, vqa, meta)


def test_write_benchmark_requires_image_files(tmp_path):
    root = tmp_path / "b"
    with pytest.raises(BenchmarkError, match=r"007\.png.*does not exist"):
        write_benchmark(root, *_tables())


def test_non_str_ids_are_written_as_str(tmp_path):
    root = tmp_path / "b"
    (root / "images").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(root / "images" / "1.png")
    images = pd.DataFrame({"image_id": [1], "split": ["test"], "file": ["images/1.png"]})
    captions = pd.DataFrame([(1, "test", "en", 10, None, "a dot")], columns=CAPTION_COLUMNS)
    write_benchmark(root, images, captions, None,
                    {"name": "n", "languages": ["en"], "splits": ["test"], "source": "s"})
    bench = read_benchmark(root)
    assert bench.captions.loc[0, "caption_id"] == "10"
    assert bench.captions.loc[0, "parallel_id"] == ""
    assert bench.images.loc[0, "image_id"] == "1"
    assert list(bench.images.columns) == IMAGE_COLUMNS
