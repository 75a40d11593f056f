"""Embedding-table lookups of GOBO tables rebuild only the rows they read, with the values of the whole table."""

from __future__ import annotations

import numpy as np
import pytest

from sim.functional.qweights import IntTable
from sim.quant.integer import IntegerGobo


def _table(rng: np.random.Generator, rows: int = 50, hidden: int = 12, outliers: int = 40) -> IntegerGobo:
    lin = rng.choice(rows * hidden, outliers, replace=False)
    r, c = np.divmod(np.sort(lin), hidden)
    return IntegerGobo(scale=0.5, indices=rng.integers(0, 16, (rows, hidden)).astype(np.uint8),
                       centroid_ints=np.sort(rng.integers(-127, 128, 16)).astype(np.int8), outlier_rows=r,
                       outlier_cols=c, outlier_ints=rng.integers(-32768, 32768, outliers).astype(np.int16),
                       saturated=0, orientation="nk")


def test_gobo_rows_equal_the_whole_tables_rows():
    rng = np.random.default_rng(0)
    g = _table(rng)
    whole = g.matrix(np.int16)
    lazy = IntTable("t", g, g.scale)
    ids = np.array([[3, 3, 49, 0, 7], [7, 1, 2, 3, 48]])  # repeats, both ends, a 2-D batch
    out = lazy.rows(ids)
    assert out.dtype == np.int16 and out.shape == (2, 5, 12)
    assert np.array_equal(out, whole[ids])
    assert np.array_equal(lazy.rows(np.array([-1, -50])), whole[[-1, -50]])  # negative rows as numpy indexes them
    assert np.array_equal(lazy.rows(np.unique(g.outlier_rows)), whole[np.unique(g.outlier_rows)])  # outlier rows
    assert "_ints" not in lazy.__dict__  # nothing but the rows was built
    assert np.array_equal(lazy.ints, whole) and np.array_equal(lazy.rows(ids), whole[ids])
    assert np.array_equal(IntTable("t", whole, 1.0).rows(ids), whole[ids])  # a stored table indexes itself


def test_gobo_rows_outside_the_table_are_an_error():
    g = _table(np.random.default_rng(1))
    with pytest.raises(IndexError, match="t: a row outside the matrix's 50 rows"):
        IntTable("t", g, g.scale).rows(np.array([0, 50]))
    with pytest.raises(IndexError):
        IntTable("t", g, g.scale).rows(np.array([-51]))


def test_matrix_rows_in_either_orientation_and_dtype():
    g = _table(np.random.default_rng(2))
    for t in (g, g.transposed()):
        rows = np.array([[0, 5, 5], [t.shape[0] - 1, 2, 0]])
        assert np.array_equal(t.matrix_rows(rows), t.matrix()[rows])
        assert t.matrix_rows(rows, np.int32).dtype == np.int32
