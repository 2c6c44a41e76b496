"""Multiple-choice VQA scored as image-text matching.

Each question has candidate prompts (one per candidate answer, embedded by the
text encoder); the prediction is the candidate whose prompt is most similar to
the image. The rank of the correct candidate is 1 + #(wrong candidates with
similarity >= the correct one's), ties pessimistic as in retrieval. Similarities are
float64 cosines in which an identical (prompt, image) pair always gets the same score
(``similarity.paired_cosines``), so identical prompts tie exactly.

Pure numpy: no torch import here.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .similarity import paired_cosines


def _flatten(prompt_emb, n_questions: int) -> tuple[np.ndarray, np.ndarray]:
    """(all prompts stacked, question position of each prompt)."""
    if isinstance(prompt_emb, np.ndarray) and prompt_emb.ndim == 3:
        n_q, n_c, d = prompt_emb.shape
        if n_q != n_questions:
            raise ValueError(f"{n_q} prompt groups for {n_questions} questions")
        return prompt_emb.reshape(n_q * n_c, d), np.repeat(np.arange(n_q), n_c)
    groups = [np.asarray(g) for g in prompt_emb]
    if len(groups) != n_questions:
        raise ValueError(f"{len(groups)} prompt groups for {n_questions} questions")
    if not groups:
        return np.zeros((0, 0)), np.zeros(0, dtype=np.int64)
    sizes = np.array([g.shape[0] for g in groups])
    if (sizes == 0).any() or any(g.ndim != 2 for g in groups):
        raise ValueError("every question needs a (n_candidates, D) array of at least one prompt")
    return np.concatenate(groups, axis=0), np.repeat(np.arange(len(groups)), sizes)


def vqa_ranks(image_emb: np.ndarray, prompt_emb: np.ndarray | Sequence[np.ndarray], answer_index) -> np.ndarray:
    """Rank of the correct candidate of each question (1-based, ties pessimistic).

    ``image_emb``: (n_questions, D), the image of each question (rows may repeat).
    ``prompt_emb``: either a (n_questions, n_candidates, D) array or a sequence of
    (n_candidates_q, D) arrays, one per question (candidate counts may differ).
    ``answer_index[q]``: position of the correct candidate within question q's group.
    """
    img = np.asarray(image_emb)
    if img.ndim != 2:
        raise ValueError("image_emb must be (n_questions, D)")
    n_q = img.shape[0]
    prompts, group = _flatten(prompt_emb, n_q)
    answer = np.asarray(answer_index, dtype=np.int64)
    if answer.shape != (n_q,):
        raise ValueError(f"answer_index must have one entry per question ({n_q})")
    if n_q == 0:
        return np.zeros(0, dtype=np.int64)
    if prompts.shape[1] != img.shape[1]:
        raise ValueError(f"prompt dimension {prompts.shape[1]} != image dimension {img.shape[1]}")
    sizes = np.bincount(group, minlength=n_q)
    if (answer < 0).any() or (answer >= sizes).any():
        raise ValueError("answer_index outside a question's candidates")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    scores = paired_cosines(prompts, img[group])
    true = scores[starts + answer]
    return np.bincount(group, weights=(scores >= true[group]), minlength=n_q).astype(np.int64)


__all__ = ["vqa_ranks"]
