"""Scoring reads benchmarks produced by the real-dataset adapters (VQA-only and several captions)."""

from pathlib import Path

import numpy as np

from mvlm_distill.data.adapters import xgqa, xm3600
from mvlm_distill.data.formats import benchmark_checksum, read_benchmark
from mvlm_distill.evaluate.pipeline import score_row_language
from mvlm_distill.evaluate.texts import evaluation_files, evaluation_texts
from mvlm_distill.io import save_embeddings, save_text_embeddings

FIX = Path(__file__).parent / "fixtures"


def _fake_embeddings(bench, tmp_path, dim=8):
    """Random unit vectors for every text and image the scorer will look up (texts: an embed_texts folder)."""
    rng = np.random.default_rng(0)
    captions = bench.split_captions("test")
    ids, _ = evaluation_texts(captions, bench.vqa)
    meta = {"checksum": benchmark_checksum(bench.root), "teacher_fingerprint": "t1"}
    texts, images = tmp_path / "texts", tmp_path / "images.npz"
    unit = lambda n: (v := rng.normal(size=(n, dim))) / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    files, file_of_row = evaluation_files(captions, bench.vqa, bench.languages)
    save_text_embeddings(texts, unit(len(ids)), np.arange(len(ids)), ids, files, file_of_row, meta)
    image_ids = bench.images.loc[bench.images["split"] == "test", "image_id"].tolist()
    save_embeddings(images, unit(len(image_ids)), image_ids, meta)
    return texts, images


def test_vqa_only_benchmark_scores_vqa(tmp_path):
    xgqa.prepare(FIX / "xgqa", tmp_path / "xgqa", images_dir=FIX / "gqa" / "images")
    bench = read_benchmark(tmp_path / "xgqa")
    texts, images = _fake_embeddings(bench, tmp_path)
    ranks, metrics, consistency = score_row_language(bench, texts, images, language="de", split="test", n_boot=50)
    assert set(ranks["task"]) == {"vqa"}
    assert set(metrics["metric"]) == {"acc@1", "MRR@5"}
    assert (ranks["rank"] >= 1).all() and (ranks["rank"] <= ranks["n_candidates"]).all()
    assert consistency.empty  # no parallel captions to compare


def test_several_captions_per_image_and_language(tmp_path):
    xm3600.prepare(FIX / "xm3600", tmp_path / "xm", images_dir=FIX / "xm3600" / "images")
    bench = read_benchmark(tmp_path / "xm")
    texts, images = _fake_embeddings(bench, tmp_path)
    language = bench.captions.groupby("language")["caption_id"].count().idxmax()
    ranks, metrics, _ = score_row_language(bench, texts, images, language=language, split="test", n_boot=50)
    n_captions = len(bench.split_captions("test", language))
    n_images = bench.split_captions("test", language)["image_id"].nunique()
    assert (ranks["task"] == "t2i").sum() == n_captions > n_images == (ranks["task"] == "i2t").sum()


def test_benchmark_without_translations_gets_image_level_consistency_and_clustering(tmp_path):
    from mvlm_distill.definitions import IMAGE_CONSISTENCY_METRICS
    from mvlm_distill.evaluate.pipeline import cluster_row

    xm3600.prepare(FIX / "xm3600", tmp_path / "xm", images_dir=FIX / "xm3600" / "images")
    bench = read_benchmark(tmp_path / "xm")
    assert (bench.captions["parallel_id"] == "").all()  # captions written independently per language
    texts, images = _fake_embeddings(bench, tmp_path)
    other = next(lang for lang in bench.languages if lang != "en")
    _, _, consistency = score_row_language(bench, texts, images, language=other, split="test", n_boot=10)
    assert consistency["metric"].tolist() == list(IMAGE_CONSISTENCY_METRICS)
    assert consistency["value"].notna().all()
    table, (emb, ids, meta) = cluster_row(bench, texts, split="test", languages=bench.languages)
    assert table.set_index("metric")["value"].notna().any()
    assert set(meta["languages"]) == set(bench.languages) and len(ids) == len(emb) > 0
