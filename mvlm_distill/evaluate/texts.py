"""What is embedded to evaluate a row on a benchmark: its captions and every VQA (question, candidate) prompt.

``evaluation_texts`` lists the ids and texts (captions by ``caption_id``, VQA prompts by
``"{question_id}::{candidate index}"``, the ids ``evaluate.score`` looks up), ``evaluation_files``
the per-language files they are written to (rule ``embed_texts``), ``vqa_prompt`` the text of one
prompt. No torch: the embedding itself is ``mvlm_distill.distill.encode``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def vqa_prompt(language: str, question: str, answer: str) -> str:
    """The text embedded for one (question, candidate answer) pair: the synthetic lexicon's
    per-language prompt where it has one, else the question and the answer side by side."""
    from mvlm_distill.data import lexicon

    if language in lexicon.LANGUAGES:
        return lexicon.vqa_prompt(language, question, answer)
    return f"{question}{'' if language in ('zh', 'ja') else ' '}{answer}"


def evaluation_texts(captions: pd.DataFrame, vqa: pd.DataFrame | None, prompt=vqa_prompt) -> tuple[list[str], list[str]]:
    """Ids and texts to embed for one benchmark: captions, then every VQA (question, candidate) prompt."""
    ids = captions["caption_id"].tolist()
    texts = captions["text"].tolist()
    if vqa is not None and len(vqa):
        columns = [vqa[c].tolist() for c in ("question_id", "language", "question", "candidates")]
        for question_id, language, question, candidates in zip(*columns):
            for j, candidate in enumerate(candidates):
                ids.append(f"{question_id}::{j}")
                texts.append(prompt(language, question, candidate))
    return ids, texts


def evaluation_files(
    captions: pd.DataFrame, vqa: pd.DataFrame | None, languages=()
) -> tuple[list[tuple[str, str]], np.ndarray]:
    """The per-language files of a benchmark's text embeddings and the file of each ``evaluation_texts`` row.

    Files are ``(language, "captions")`` and, when the benchmark has VQA (``vqa`` not None),
    ``(language, "vqa")`` for every language of ``languages`` (the benchmark's, in its order; a file may
    get no rows) and any other language the rows have; rows get their position in that list
    (``mvlm_distill.io.save_text_embeddings``'s ``files`` and ``file_of_row``).
    """
    caption_languages = captions["language"].tolist()
    vqa_languages = []
    if vqa is not None and len(vqa):
        vqa_languages = [lang for lang, cands in zip(vqa["language"].tolist(), vqa["candidates"].tolist())
                         for _ in cands]
    all_languages = dict.fromkeys([*languages, *caption_languages, *vqa_languages])
    parts = ("captions", "vqa") if vqa is not None else ("captions",)
    files = [(lang, part) for lang in all_languages for part in parts]
    number = {f: k for k, f in enumerate(files)}
    file_of_row = [number[(lang, "captions")] for lang in caption_languages]
    file_of_row += [number[(lang, "vqa")] for lang in vqa_languages]
    return files, np.asarray(file_of_row, dtype=np.int64)
