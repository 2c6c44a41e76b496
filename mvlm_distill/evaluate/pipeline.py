"""Glue between embedding files and the pure metric functions (one call per workflow job)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mvlm_distill.evaluate.consistency import consistency, image_consistency
from mvlm_distill.evaluate.score import IdIndex, empty_ranks, metrics_table, score_language
from mvlm_distill.progress import progress_log
from mvlm_distill.data.formats import META_JSON, benchmark_checksum
from mvlm_distill.io import (
    MANIFEST,
    CacheMismatchError,
    check_same_source,
    load_caption_embeddings,
    load_embeddings,
    load_manifest,
    load_text_file,
    text_embedding_file,
)

PROJECTION_SAMPLE = 60  # parallel caption groups kept for the 2-D projection in the index report


def score_row_language(bench, texts_dir, images_path, *, language: str, split: str, n_boot: int, seed: int = 0,
                       protocol: dict | None = None, progress: str | None = "scoring"):
    """Ranks, metrics with bootstrap intervals, and consistency against English for one language.

    ``texts_dir``: the row's text embedding folder (rule embed_texts); only this language's files are
    read, and English captions' when there are parallel captions to compare with. ``protocol``: the
    retrieval protocol (``score.score_language``); consistency always uses every caption. Progress
    lines (queries: captions, then VQA questions) under ``progress`` and the language (None: none).
    """
    bench.require_languages(split, [language])  # else the language would be left out of the tables
    # both caches must come from this very benchmark (a stale cache would score the wrong data)
    # and from one teacher (a row's texts against another teacher's images are no result at all)
    tables = _benchmark_provenance(bench)
    manifest = load_manifest(texts_dir)
    image_emb, image_ids, image_meta = load_embeddings(images_path)
    check_same_source("checksum", Path(texts_dir) / MANIFEST, manifest, *tables)
    check_same_source("checksum", images_path, image_meta, *tables)
    check_same_source("teacher_fingerprint", Path(texts_dir) / MANIFEST, manifest, images_path, image_meta)

    def texts(lang: str, part: str):
        """One text file, each distinct text stored once, and the index of its ids into it."""
        emb, ids, rows, _ = load_text_file(texts_dir, manifest, lang, part)
        if emb.shape[1] != image_emb.shape[1]:
            raise CacheMismatchError(
                f"{text_embedding_file(texts_dir, lang, part)}: text embeddings of dimension {emb.shape[1]} "
                f"do not match the image embeddings of {images_path} ({image_emb.shape[1]})"
            )
        return emb, ids, IdIndex(ids, rows=rows)

    captions = bench.split_captions(split, language)
    vqa = bench.evaluation_vqa(split, language) if bench.vqa is not None else None
    frames = []
    log = progress_log(progress and f"{progress} {language}", len(captions) + (len(vqa) if vqa is not None else 0),
                       "queries")
    if len(captions):
        caption_emb, caption_ids, caption_index = texts(language, "captions")
        # the gallery is the split's images (the cache may also hold the VQA split's)
        gallery = bench.split_images(split)["image_id"].astype(str).tolist()
        frames.append(score_language(caption_emb, caption_ids, image_emb, image_ids, captions,
                                     gallery_ids=gallery, text_index=caption_index, protocol=protocol))
        log.update(len(captions))
    if vqa is not None and len(vqa):
        prompt_emb, prompt_ids, prompt_index = texts(language, "vqa")
        frames.append(score_language(prompt_emb, prompt_ids, image_emb, image_ids, captions.iloc[:0], vqa,
                                     text_index=prompt_index))
        log.update(len(vqa))
    ranks = pd.concat(frames, ignore_index=True) if frames else empty_ranks()
    log.finish()
    metrics = metrics_table(ranks, n_boot=n_boot, seed=seed, protocol=protocol)
    consistency_rows = pd.DataFrame(columns=["language", "metric", "value"])
    if language != "en" and len(captions):
        english = bench.split_captions(split, "en")
        pairs = parallel_pairs(captions, english)
        values = None
        if len(pairs):
            en_emb, _, en_index = texts("en", "captions")
            values = consistency(
                caption_emb[caption_index.rows(pairs["caption_id"])],
                en_emb[en_index.rows(pairs["caption_id_en"])],
                image_emb,
                IdIndex(image_ids, "image").rows(pairs["image_id"]),
                texts_lang=pairs["text"].tolist(),
                texts_en=pairs["text_en"].tolist(),
            )
        elif len(english):  # no translations (XM3600): captions of the same image in both languages
            en_emb, _, en_index = texts("en", "captions")
            values = image_consistency(
                caption_emb[caption_index.rows(captions["caption_id"])], captions["image_id"].to_numpy(),
                captions["text"].tolist(), en_emb[en_index.rows(english["caption_id"])],
                english["image_id"].to_numpy(), english["text"].tolist(), image_emb,
            )
        if values is not None:
            consistency_rows = pd.DataFrame(
                {"language": language, "metric": list(values), "value": list(values.values())}
            )
    return ranks, metrics, consistency_rows


def score_language_job(inputs, outputs, language: str, *, split: str, n_boot: int, protocol: dict | None = None):
    """Rule score_language's work: read this language's rows (and English's), score, write the three files."""
    from mvlm_distill.data.formats import read_benchmark
    from mvlm_distill.io import write_csv
    from mvlm_distill.paths import benchmark_folder

    bench = read_benchmark(benchmark_folder(inputs.benchmark), validate=False, languages=sorted({language, "en"}))
    ranks, metrics, consistency_rows = score_row_language(bench, inputs.texts, inputs.images, language=language,
                                                          split=split, n_boot=n_boot, protocol=protocol)
    for path, table in ((outputs.ranks, ranks), (outputs.metrics, metrics), (outputs.consistency, consistency_rows)):
        write_csv(path, table)


def _benchmark_provenance(bench) -> tuple:
    """``(meta.json path, {"checksum": ...})`` of a benchmark, for ``check_same_source``."""
    return Path(bench.root) / META_JSON, {"checksum": benchmark_checksum(bench.root)}


def parallel_pairs(captions: pd.DataFrame, english: pd.DataFrame) -> pd.DataFrame:
    """Captions of a language joined to their English translations by parallel_id."""
    captions = captions[captions["parallel_id"] != ""]
    en = english[english["parallel_id"] != ""][["parallel_id", "caption_id", "text"]].drop_duplicates("parallel_id")
    return captions.merge(en, on="parallel_id", suffixes=("", "_en"))


def cluster_row(bench, texts_dir, *, split: str, languages: list[str], seed: int = 0,
                max_images: int | None = None):
    """Clustering metrics over all languages' parallel captions, and a sample kept for the projection.

    ``texts_dir``: the row's text embedding folder; the caption files of ``languages`` are read.
    ``max_images``: cluster the captions of the first this many images (by image id) only; k-means
    costs grow with captions x clusters, and k is the number of images (None: all)."""
    from mvlm_distill.evaluate.clustering import clustering, clustering_references  # sklearn: only here

    captions = bench.split_captions(split)
    captions = captions[captions["language"].isin(languages)]
    if (captions["parallel_id"] != "").any():
        captions = captions[captions["parallel_id"] != ""]
        group = "parallel_id"
    else:  # no translations (XM3600): one caption per image and language stands in for a parallel group
        captions = captions.sort_values("caption_id", kind="stable").drop_duplicates(["image_id", "language"])
        captions = captions.assign(parallel_id=captions["image_id"])
        group = "image_id"
    # keep groups present in every language so that language and meaning are balanced
    complete = captions.groupby(group)["language"].nunique()
    groups = sorted(complete[complete == len(set(captions["language"]))].index)
    captions = captions[captions[group].isin(groups)]
    if max_images is not None:
        kept = sorted(set(captions["image_id"]))[:max_images]
        captions = captions[captions["image_id"].isin(kept)]
        groups = sorted(set(captions[group]))
    # the caption files of these languages only (no VQA prompts, no other language)
    check_same_source("checksum", Path(texts_dir) / MANIFEST, load_manifest(texts_dir), *_benchmark_provenance(bench))
    text_emb, text_ids, meta = load_caption_embeddings(texts_dir, list(dict.fromkeys(captions["language"])))
    text_index = IdIndex(text_ids)
    emb = text_emb[text_index.rows(captions["caption_id"])]
    image_ids, language_ids = captions["image_id"].to_numpy(), captions["language"].to_numpy()
    values, labels = clustering(emb, image_ids, language_ids, seed=seed, return_labels=True)
    references = clustering_references(image_ids, language_ids, labels, seed=seed)
    table = pd.DataFrame({"metric": list(values), "value": list(values.values()),
                          "random_baseline": [references[m][0] for m in values],
                          "perfect_reference": [references[m][1] for m in values]})
    sample = captions[captions["parallel_id"].isin(groups[:PROJECTION_SAMPLE])]
    sample_meta = {
        "languages": sample["language"].tolist(),
        "parallel_ids": sample["parallel_id"].tolist(),
        "fingerprint": meta.get("fingerprint"),
    }
    return table, (text_emb[text_index.rows(sample["caption_id"])], sample["caption_id"].tolist(), sample_meta)
