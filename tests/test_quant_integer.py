"""Integer variant: int8 centroids, int16 outliers, one symmetric scale, both orientations."""

from __future__ import annotations

import numpy as np
import pytest

from sim.quant.errors import QuantError
from sim.quant.integer import INT16_MAX, integerize
from sim.quant.packed import pack


def make(seed: int = 0, shape: tuple[int, int] = (48, 80), bits: int = 3) -> tuple[np.ndarray, object]:
    rng = np.random.default_rng(seed)
    x = (rng.standard_t(3, shape) * 0.05).astype(np.float32)
    x[0, 0] = 2.5  # a far outlier (about 40 std)
    return x, pack(x, bits)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_integer_matrix_is_centroids_and_outliers(bits: int) -> None:
    x, p = make(bits, bits=bits)
    g = integerize(p)
    assert g.scale == pytest.approx(float(np.max(np.abs(p.centroids.astype(np.float64)))) / 127)
    assert g.centroid_ints.dtype == np.int8 and np.abs(g.centroid_ints.astype(int)).max() == 127
    assert g.outlier_ints.dtype == np.int16 and g.indices.dtype == np.uint8
    np.testing.assert_array_equal(g.centroid_ints, np.rint(p.centroids.astype(np.float64) / g.scale).astype(np.int8))
    m = g.matrix()
    assert m.dtype == np.int16 and m.shape == x.shape
    mask = p.outlier_mask()
    idx = p.indices()
    np.testing.assert_array_equal(m[~mask], g.centroid_ints.astype(np.int16)[idx[~mask]])
    np.testing.assert_array_equal(m[mask], np.rint(p.unpack()[mask].astype(np.float64) / g.scale).astype(np.int16))
    assert g.saturated == 0
    # integer weights reproduce the quantized tensor within half a step
    assert np.max(np.abs(g.dequantize() - p.unpack().astype(np.float64))) <= g.scale / 2 + 1e-12
    assert np.abs(m.astype(int)).max() > 127  # the far outlier needs int16
    np.testing.assert_array_equal(g.matrix(np.int32), m.astype(np.int32))


def test_orientations() -> None:
    x, p = make(1)
    g = integerize(p)
    t = g.transposed()
    assert g.orientation == "nk" and t.orientation == "kn" and t.shape == (80, 48)  # stored [n, k] = [48, 80]
    np.testing.assert_array_equal(t.matrix(), g.matrix().T)
    np.testing.assert_array_equal(g.matrix_kn(), g.matrix().T)
    np.testing.assert_array_equal(t.matrix_kn(), g.matrix().T)
    assert t.matrix_kn().flags.c_contiguous
    np.testing.assert_array_equal(t.transposed().matrix(), g.matrix())
    a = np.random.default_rng(2).integers(-128, 128, (5, 80))  # A is m x k, W is k x n
    out = a @ g.matrix_kn().astype(np.int64)
    assert out.shape == (5, 48)
    np.testing.assert_array_equal(out, (g.matrix().astype(np.int64) @ a.T).T)  # = Linear: W_nk @ a


def test_int16_saturation_is_reported() -> None:
    x = np.random.default_rng(3).normal(0, 0.01, (512, 512)).astype(np.float32)
    x[5, 5] = 20.0  # ~500 std of the tensor, ~85,000 steps of max|centroid|/127: beyond int16
    p = pack(x, 3)
    g = integerize(p)
    assert g.saturated == 1
    assert g.matrix()[5, 5] == INT16_MAX


def test_needs_2d() -> None:
    with pytest.raises(QuantError):
        integerize(pack(np.arange(10, dtype=np.float32), 3))


def test_all_outliers_scale_comes_from_outliers() -> None:
    x = np.random.default_rng(4).normal(0, 50.0, (6, 7)).astype(np.float32)  # sigma > 21.8: all outliers
    p = pack(x, 3)
    g = integerize(p)
    assert p.n_outliers == x.size
    assert not np.any(p.centroids) and not np.any(g.centroid_ints)  # empty Gaussian group: zero dictionary
    assert g.scale == pytest.approx(float(np.max(np.abs(x))) / INT16_MAX)
    assert g.saturated == 0
    assert np.max(np.abs(g.dequantize() - x.astype(np.float64))) <= g.scale / 2 + 1e-9
