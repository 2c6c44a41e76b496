"""Glue between embedding files and the pure metric functions (one call per workflow job)."""

from __future__ import annotations

import pandas as pd

from mvlm_distill.evaluate.consistency import consistency
from mvlm_distill.evaluate.score import IdIndex, metrics_table, score_language
from mvlm_distill.data.formats import benchmark_checksum
from mvlm_distill.io import CacheMismatchError, load_embeddings

PROJECTION_SAMPLE = 60  # parallel caption groups kept for the 2-D projection in the index report


def score_row_language(bench, texts_path, images_path, *, language: str, split: str, n_boot: int, seed: int = 0):
    """Ranks, metrics with bootstrap intervals, and consistency against English for one language."""
    # both caches must come from this very benchmark (a stale cache would score the wrong data)
    expect = {"checksum": benchmark_checksum(bench.root)}
    text_emb, text_ids, _ = load_embeddings(texts_path, expect=expect)
    image_emb, image_ids, _ = load_embeddings(images_path, expect=expect)
    if text_emb.shape[1] != image_emb.shape[1]:
        raise CacheMismatchError(
            f"{texts_path}: text embeddings of dimension {text_emb.shape[1]} do not match the image "
            f"embeddings of {images_path} ({image_emb.shape[1]})"
        )
    captions = bench.split_captions(split, language)
    vqa = None
    if bench.vqa is not None:
        vqa = bench.vqa[bench.vqa["language"] == language]
    text_index = IdIndex(text_ids)  # one pass over the file's ids, shared by every lookup below
    ranks = score_language(text_emb, text_ids, image_emb, image_ids, captions, vqa, text_index=text_index)
    metrics = metrics_table(ranks, n_boot=n_boot, seed=seed)
    consistency_rows = pd.DataFrame(columns=["language", "metric", "value"])
    if language != "en":
        pairs = parallel_pairs(captions, bench.split_captions(split, "en"))
        if len(pairs):
            values = consistency(
                text_emb[text_index.rows(pairs["caption_id"])],
                text_emb[text_index.rows(pairs["caption_id_en"])],
                image_emb,
                IdIndex(image_ids, "image").rows(pairs["image_id"]),
            )
            consistency_rows = pd.DataFrame(
                {"language": language, "metric": list(values), "value": list(values.values())}
            )
    return ranks, metrics, consistency_rows


def parallel_pairs(captions: pd.DataFrame, english: pd.DataFrame) -> pd.DataFrame:
    """Captions of a language joined to their English translations by parallel_id."""
    captions = captions[captions["parallel_id"] != ""]
    en = english[english["parallel_id"] != ""][["parallel_id", "caption_id"]].drop_duplicates("parallel_id")
    return captions.merge(en, on="parallel_id", suffixes=("", "_en"))


def cluster_row(bench, texts_path, *, split: str, languages: list[str], seed: int = 0):
    """Clustering metrics over all languages' parallel captions, and a sample kept for the projection."""
    from mvlm_distill.evaluate.clustering import clustering  # sklearn: seconds to import, only here

    text_emb, text_ids, meta = load_embeddings(texts_path)
    captions = bench.split_captions(split)
    captions = captions[captions["language"].isin(languages) & (captions["parallel_id"] != "")]
    # keep parallel groups present in every language so that language and meaning are balanced
    complete = captions.groupby("parallel_id")["language"].nunique()
    groups = sorted(complete[complete == len(set(captions["language"]))].index)
    captions = captions[captions["parallel_id"].isin(groups)]
    text_index = IdIndex(text_ids)
    emb = text_emb[text_index.rows(captions["caption_id"])]
    values = clustering(emb, captions["image_id"].to_numpy(), captions["language"].to_numpy(), seed=seed)
    table = pd.DataFrame({"metric": list(values), "value": list(values.values())})
    sample = captions[captions["parallel_id"].isin(groups[:PROJECTION_SAMPLE])]
    sample_meta = {
        "languages": sample["language"].tolist(),
        "parallel_ids": sample["parallel_id"].tolist(),
        "fingerprint": meta.get("fingerprint"),
    }
    return table, (text_emb[text_index.rows(sample["caption_id"])], sample["caption_id"].tolist(), sample_meta)
