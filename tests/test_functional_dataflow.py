"""The datapath GEMMs: GOBO PE dataflow and the weight-stationary systolic fold model equal int_gemm bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.compute.gobo.dataflow import gobo_pe_gemm
from sim.compute.systolic.dataflow import systolic_gemm
from sim.kernels.gemm import gobo_gemm, int_gemm
from sim.kernels.widths import IntegerOverflowError
from sim.quant.integer import IntegerGobo


def _gobo(rng, k, n, bits, outliers):
    nb = 1 << bits
    idx = rng.integers(0, nb, (n, k)).astype(np.uint8)
    cent = np.sort(rng.integers(-127, 128, nb)).astype(np.int8)
    lin = rng.choice(k * n, min(outliers, k * n), replace=False)
    rows, cols = np.divmod(lin, k)
    vals = rng.integers(-32768, 32768, lin.size).astype(np.int16)
    return IntegerGobo(scale=1.0, indices=idx, centroid_ints=cent, outlier_rows=rows.astype(np.int64),
                       outlier_cols=cols.astype(np.int64), outlier_ints=vals, saturated=0, orientation="nk")


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 9), k=st.integers(1, 70), n=st.integers(1, 40), bits=st.sampled_from([2, 3, 4]),
       outliers=st.integers(0, 12), seed=st.integers(0, 2**31 - 1), block=st.sampled_from([64, 1 << 23]))
def test_gobo_pe_equals_kernel_and_int_gemm(m, k, n, bits, outliers, seed, block):
    rng = np.random.default_rng(seed)
    g = _gobo(rng, k, n, bits, outliers)
    x = rng.integers(-128, 128, (m, k)).astype(np.int8)
    ours = gobo_pe_gemm(x, g, block_elems=block)
    kn = g.transposed()
    kernel = gobo_gemm(x, kn.indices, kn.centroid_ints, kn.outlier_rows, kn.outlier_cols, kn.outlier_ints, bits)
    ref = int_gemm(x, g.matrix_kn(), in_bits=16)
    assert np.array_equal(ours, ref)
    assert np.array_equal(ours, kernel)
    assert np.array_equal(gobo_pe_gemm(x, kn), ref)  # either orientation


def test_gobo_pe_batched_and_extreme_values():
    rng = np.random.default_rng(1)
    g = _gobo(rng, 300, 50, 3, 40)
    x = np.full((2, 3, 300), -128, dtype=np.int8)
    x[1] = rng.integers(-128, 128, (3, 300))
    assert np.array_equal(gobo_pe_gemm(x, g), int_gemm(x, g.matrix_kn(), in_bits=16))


def test_gobo_pe_rejects_wide_activations():
    g = _gobo(np.random.default_rng(2), 8, 4, 3, 0)
    with pytest.raises(IntegerOverflowError):
        gobo_pe_gemm(np.full((1, 8), 200), g)


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 9), k=st.integers(1, 200), n=st.integers(1, 30), rows=st.sampled_from([1, 7, 16, 64]),
       seed=st.integers(0, 2**31 - 1), wide=st.booleans())
def test_systolic_fold_model_equals_int_gemm(m, k, n, rows, seed, wide):
    rng = np.random.default_rng(seed)
    in_bits = 16 if wide else 8
    a = rng.integers(-128, 128, (m, k)).astype(np.int8)
    w_nk = rng.integers(-(1 << (in_bits - 1)), 1 << (in_bits - 1), (n, k))
    out = systolic_gemm(a, w_nk.T, rows, in_bits=in_bits)
    assert np.array_equal(out, int_gemm(a, w_nk.T, in_bits=in_bits))


def test_systolic_batched_bmm_and_uint8_probabilities():
    rng = np.random.default_rng(3)
    p = rng.integers(0, 256, (2, 3, 5, 70))
    v = rng.integers(-128, 128, (2, 3, 70, 4))
    assert np.array_equal(systolic_gemm(p, v, 64, in_bits=9), int_gemm(p, v, in_bits=9))


def test_systolic_detects_overflow_of_a_running_sum():
    # the first fold's sum exceeds int32 although the final value fits: the accumulator register overflows
    a = np.array([[30000, 30000, -30000, -30000]])
    b = np.array([[30000], [30000], [30000], [30000]])
    assert int(int_gemm(a, b, in_bits=16)[0, 0]) == 0
    with pytest.raises(IntegerOverflowError, match="output accumulator"):
        systolic_gemm(a, b, 1, in_bits=16, acc_bits=31)  # per fold 9e8 fits; after 2 folds 1.8e9 does not
    with pytest.raises(IntegerOverflowError, match="operand"):
        systolic_gemm(np.array([[128]]), np.array([[1]]), 64)


@pytest.mark.parametrize("bits", [1, 2, 3])
def test_gobo_pe_dense_outliers_and_a_full_last_bin(bits):
    """Exact with most weights outliers and whole columns of outliers (the outlier plane then exceeds float32's
    exact range and is multiplied in float64), and with every weight in the last bin."""
    rng = np.random.default_rng(7 + bits)
    g = _gobo(rng, 257, 33, bits, 257 * 20)
    x = rng.integers(-128, 128, (5, 257)).astype(np.int8)
    assert np.array_equal(gobo_pe_gemm(x, g, block_elems=3000), int_gemm(x, g.matrix_kn(), in_bits=16))
    last = IntegerGobo(scale=1.0, indices=np.full((9, 64), (1 << bits) - 1, np.uint8), centroid_ints=g.centroid_ints,
                       outlier_rows=np.zeros(0, np.int64), outlier_cols=np.zeros(0, np.int64),
                       outlier_ints=np.zeros(0, np.int16), saturated=0, orientation="nk")
    x = np.full((3, 64), -128, dtype=np.int8)
    assert np.array_equal(gobo_pe_gemm(x, last), int_gemm(x, last.matrix_kn(), in_bits=16))


def _one_column_outliers(vals: list[int], k: int = 16) -> IntegerGobo:
    """A 1 x k weight (one output column, nk) whose first len(vals) weights are outliers of the given values."""
    idx = (np.arange(k) % 8).astype(np.uint8)[None, :]
    return IntegerGobo(scale=1.0, indices=idx, centroid_ints=np.arange(-4, 4, dtype=np.int8),
                       outlier_rows=np.zeros(len(vals), np.int64), outlier_cols=np.arange(len(vals), dtype=np.int64),
                       outlier_ints=np.array(vals, np.int16), saturated=0, orientation="nk")


@pytest.mark.parametrize("vals, x", [
    ([-32768] * 4, -128),  # max|x| * sum|v| = 2^24 exactly: in float32 with the bins, exact
    ([32767] * 5, 127),  # 20,807,045: odd and above 2^24, which float32 cannot hold; multiplied in float64
    ([32767] * 5 + [-3], 127),
])
def test_gobo_pe_outlier_plane_at_the_float32_bound(vals, x):
    g = _one_column_outliers(vals)
    xs = np.full((2, 16), x, dtype=np.int8)
    xs[1, 8:] = -xs[1, 8:] - (1 if x > 0 else -1)  # inliers of both signs in the second row
    expect = int_gemm(xs, g.matrix_kn(), in_bits=16)
    assert np.array_equal(gobo_pe_gemm(xs, g), expect)
    assert int(expect[0, 0]) == x * sum(vals) + x * int(g.centroid_ints[np.arange(len(vals), 16) % 8].sum())


def test_gobo_pe_rejects_a_wrong_depth_and_an_index_past_the_dictionary():
    g = _gobo(np.random.default_rng(4), 8, 3, 3, 0)
    with pytest.raises(ValueError, match="does not multiply"):
        gobo_pe_gemm(np.zeros((2, 9), np.int8), g)
    bad = IntegerGobo(scale=1.0, indices=np.full((3, 8), 4, np.uint8), centroid_ints=np.arange(4, dtype=np.int8),
                      outlier_rows=np.zeros(0, np.int64), outlier_cols=np.zeros(0, np.int64),
                      outlier_ints=np.zeros(0, np.int16), saturated=0, orientation="nk")
    with pytest.raises(ValueError, match="index 4 >= 4 centroids"):
        gobo_pe_gemm(np.zeros((2, 8), np.int8), bad)


def _overflow(x, g) -> IntegerOverflowError:
    with pytest.raises(IntegerOverflowError) as info:
        gobo_pe_gemm(x, g)
    return info.value


def test_gobo_pe_overflow_errors_name_the_kernel_and_the_register():
    g = _gobo(np.random.default_rng(5), 8, 4, 3, 0)
    err = _overflow(np.full((1, 8), 200), g)
    assert (err.kernel, err.what) == ("gobo_pe_gemm", "activation") and "gobo_pe_gemm: activation" in str(err)
    wide = IntegerGobo(scale=1.0, indices=g.indices, centroid_ints=g.centroid_ints, outlier_rows=np.array([0]),
                       outlier_cols=np.array([0]), outlier_ints=np.array([40000], np.int32), saturated=0,
                       orientation="nk")
    err = _overflow(np.ones((1, 8), np.int8), wide)
    assert (err.kernel, err.what) == ("gobo_pe_gemm", "outlier value")
    # 1000 outliers of 32767 in one column, activations 127: the output 4.16e9 leaves the int32 accumulator
    k = 1000
    dense = IntegerGobo(scale=1.0, indices=np.zeros((1, k), np.uint8), centroid_ints=np.arange(-4, 4, dtype=np.int8),
                        outlier_rows=np.zeros(k, np.int64), outlier_cols=np.arange(k, dtype=np.int64),
                        outlier_ints=np.full(k, 32767, np.int16), saturated=0, orientation="nk")
    err = _overflow(np.full((1, k), 127, np.int8), dense)
    assert (err.kernel, err.what) == ("gobo_pe_gemm", "accumulator") and "gobo_pe_gemm: accumulator" in str(err)


def test_gobo_pe_centroid_products_summed_beyond_float32():
    """127 x 127 x 3001 = 48,403,129: odd and above 2^24, so the centroid contraction must not run in float32."""
    k = 3001
    g = IntegerGobo(scale=1.0, indices=np.full((2, k), 7, np.uint8),
                    centroid_ints=np.array([-127, -80, -40, -10, 10, 40, 80, 127], np.int8),
                    outlier_rows=np.zeros(0, np.int64), outlier_cols=np.zeros(0, np.int64),
                    outlier_ints=np.zeros(0, np.int16), saturated=0, orientation="nk")
    x = np.full((3, k), 127, np.int8)
    x[2, :1000] = -128
    out = gobo_pe_gemm(x, g)
    assert out[0, 0] == 127 * 127 * k and out[2, 1] == 127 * (127 * (k - 1000) - 128 * 1000)
    assert np.array_equal(out, int_gemm(x, g.matrix_kn(), in_bits=16))
