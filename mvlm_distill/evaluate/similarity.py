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
    distinct, inverse = np.unique(x, axis=0, return_inverse=True)
    norms = np.sqrt(np.einsum("nd,nd->n", distinct, distinct))[:, None]
    return distinct / np.where(norms > 0, norms, 1.0), inverse.reshape(-1).astype(np.int64)


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
    pairs, inverse = np.unique(np.stack([ia, ib], axis=1), axis=0, return_inverse=True)
    scores = np.einsum("pd,pd->p", da[pairs[:, 0]], db[pairs[:, 1]])
    return scores[inverse.reshape(-1)]


__all__ = ["distinct_unit_rows", "cosine_matrix", "paired_cosines"]
