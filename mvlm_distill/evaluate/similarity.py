"""Cosine similarities in which equal inputs get bit-identical scores, wherever they sit.

A float32 ``texts @ images.T`` gives two identical rows slightly different scores depending on
their position (BLAS blocks and vectorises by position), so a documented tie can come out as a
win or a loss. Here each distinct row is normalised and multiplied once, in float64, and the
result is expanded through the inverse index: identical rows are copies of one computed value,
so ties are exact and "ties pessimistic" holds. Pure numpy.
"""

from __future__ import annotations

import numpy as np


def distinct_unit_rows(x) -> tuple[np.ndarray, np.ndarray]:
    """``(unit rows, inverse)``: each distinct row of ``x`` once, L2-normalised in float64, and the
    row of each input among them (``x[i]`` is ``distinct[inverse[i]]`` up to normalisation).
    A zero row stays zero."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError("embeddings must be 2-D (n, D)")
    x = np.ascontiguousarray(x, dtype=np.float64)
    if x.shape[0] == 0:
        return x, np.zeros(0, dtype=np.int64)
    distinct, inverse = unique_rows(x)
    norms = np.sqrt(np.einsum("nd,nd->n", distinct, distinct))[:, None]
    return distinct / np.where(norms > 0, norms, 1.0), inverse.reshape(-1).astype(np.int64)


def unique_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(x, axis=0, return_inverse=True)`` of a 2-D float array, the same arrays: rows are
    hashed first so that only the distinct ones are sorted (np.unique sorts every row, slowly)."""
    zeros = x[x == 0]
    if 0 in x.shape or np.isnan(x).any() or np.signbit(zeros).any():  # np.unique's value comparison: -0.0 == 0.0, NaN
        distinct, inverse = np.unique(x, axis=0, return_inverse=True)
        return distinct, inverse.reshape(-1)
    x = np.ascontiguousarray(x)
    rows = x.view(np.dtype((np.void, x.dtype.itemsize * x.shape[1]))).ravel()
    first: dict[bytes, int] = {}
    seen = np.fromiter((first.setdefault(r, len(first)) for r in map(bytes, rows)), dtype=np.int64, count=rows.size)
    _, where = np.unique(seen, return_index=True)  # the first position of each distinct row
    candidates = x[where]
    order = np.lexsort(candidates.T[::-1])  # lexicographic, first column first, as np.unique sorts
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return candidates[order], rank[seen]


def cosine_matrix(a, b) -> np.ndarray:
    """(len(a), len(b)) float64 cosines; equal rows of ``a`` (or of ``b``) get bit-identical entries."""
    da, ia = distinct_unit_rows(a)
    db, ib = distinct_unit_rows(b)
    if da.shape[1] != db.shape[1]:
        raise ValueError(f"embedding dimensions differ ({da.shape[1]} vs {db.shape[1]})")
    return (da @ db.T)[np.ix_(ia, ib)]


def paired_cosines(a, b) -> np.ndarray:
    """float64 cos(a_i, b_i) per row; equal pairs (a_i, b_i) = (a_j, b_j) get bit-identical values."""
    da, ia = distinct_unit_rows(a)
    db, ib = distinct_unit_rows(b)
    if ia.shape != ib.shape:
        raise ValueError(f"paired embeddings need the same number of rows ({ia.size} vs {ib.size})")
    if ia.size == 0:
        return np.zeros(0)
    if da.shape[1] != db.shape[1]:
        raise ValueError(f"embedding dimensions differ ({da.shape[1]} vs {db.shape[1]})")
    # the distinct (ia, ib) pairs in np.unique(axis=0)'s order, as one integer each
    pairs, inverse = np.unique(ia * len(db) + ib, return_inverse=True)
    scores = np.einsum("pd,pd->p", da[pairs // len(db)], db[pairs % len(db)])
    return scores[inverse.reshape(-1)]


__all__ = ["unique_rows", "distinct_unit_rows", "cosine_matrix", "paired_cosines"]
