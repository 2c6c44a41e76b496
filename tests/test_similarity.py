"""Cosine helpers: the hashed distinct-row search returns exactly what np.unique(axis=0) returns."""

import numpy as np
import pytest

from mvlm_distill.evaluate.similarity import cosine_matrix, paired_cosines, unique_rows


def _with_repeats(rng, n=2000, distinct=150, d=16):
    base = rng.standard_normal((distinct, d))
    x = base[rng.integers(0, distinct, n)]
    x[::5, 2] = base[0, 2]  # rows that agree on leading columns: the sort must look past them
    x[::9, 0] = 0.0
    return x


@pytest.mark.parametrize("case", ["repeats", "negative zero", "nan", "one row", "no columns"])
def test_unique_rows_equals_numpy_unique(case):
    rng = np.random.default_rng(0)
    x = _with_repeats(rng)
    if case == "negative zero":  # np.unique treats -0.0 and 0.0 as one value
        x[::11, 0] = -0.0
    elif case == "nan":
        x[3, 1] = np.nan
    elif case == "one row":
        x = x[:1]
    elif case == "no columns":
        x = x[:, :0]
    expected, expected_inverse = np.unique(x, axis=0, return_inverse=True)
    distinct, inverse = unique_rows(x)
    np.testing.assert_array_equal(distinct, expected)
    np.testing.assert_array_equal(inverse, expected_inverse.reshape(-1))


def test_cosines_tie_exactly_and_match_the_direct_computation():
    rng = np.random.default_rng(1)
    a = _with_repeats(rng, n=300)
    b = a[:, ::-1] * 2.0  # repeats where a repeats: equal pairs at different positions
    unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(cosine_matrix(a, b), unit(a) @ unit(b).T, rtol=0, atol=1e-12)
    pairs = paired_cosines(a, b)
    np.testing.assert_allclose(pairs, np.einsum("nd,nd->n", unit(a), unit(b)), rtol=0, atol=1e-12)
    same = [(i, j) for i in range(50) for j in range(i) if (a[i] == a[j]).all() and (b[i] == b[j]).all()]
    assert same and all(pairs[i] == pairs[j] for i, j in same)
