"""int_gemm and gobo_gemm: exactness against int64 matmul, GOBO dataflow, widths and overflow."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.kernels import gemm
from sim.kernels.widths import IntegerOverflowError


def rand_gobo(rng: np.random.Generator, k: int, n: int, bits: int, n_out: int, heavy_block: bool = False):
    idx = rng.integers(0, 2**bits, (k, n)).astype(np.uint8)
    cent = np.sort(rng.choice(np.arange(-127, 128), 2**bits, replace=False)).astype(np.int8)
    lin = rng.choice(k * n, size=min(n_out, k * n), replace=False)
    if heavy_block:  # an outlier-dense block: every weight of a sub-block is an outlier
        r0, c0 = k // 3, n // 3
        blk = np.array([(r0 + i) * n + c0 + j for i in range(min(4, k - r0)) for j in range(min(5, n - c0))])
        lin = np.unique(np.concatenate([lin, blk]))
    rows, cols = lin // n, lin % n
    vals = rng.integers(-32768, 32768, lin.size).astype(np.int16)
    return idx, cent, rows, cols, vals


def gobo_scalar(x, idx, cent, rows, cols, vals):
    """Per output (m, n): per-bin Python-int accumulators, one multiply per bin, plus outliers."""
    k, n = idx.shape
    outl = {(int(r), int(c)): int(v) for r, c, v in zip(rows, cols, vals)}
    out = np.zeros((x.shape[0], n), dtype=object)
    for mi in range(x.shape[0]):
        for j in range(n):
            bins = [0] * len(cent)
            extra = 0
            for kk in range(k):
                if (kk, j) in outl:
                    extra += int(x[mi, kk]) * outl[(kk, j)]
                else:
                    bins[int(idx[kk, j])] += int(x[mi, kk])
            out[mi, j] = sum(bsum * int(c) for bsum, c in zip(bins, cent)) + extra
    return out


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 5, 7), (17, 64, 9), (8, 1500, 12), (2, 3, 4, 5)])
def test_int_gemm_exact(shape):
    rng = np.random.default_rng(1)
    if len(shape) == 4:
        b_, m, k, n = shape
        a = rng.integers(-128, 128, (b_, m, k)).astype(np.int8)
        b = rng.integers(-128, 128, (b_, k, n)).astype(np.int8)
    else:
        m, k, n = shape
        a = rng.integers(-128, 128, (m, k)).astype(np.int8)
        b = rng.integers(-128, 128, (k, n)).astype(np.int8)
    out = gemm.int_gemm(a, b)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, np.matmul(a.astype(np.int64), b.astype(np.int64)))


def test_int_gemm_extremes_k_blocked():
    # k = 3000 > 1024: float32 blocks of 1024, every product +-2^14
    k = 3000
    a = np.full((2, k), -128, dtype=np.int8)
    b = np.full((k, 3), -128, dtype=np.int8)
    b[:, 1] = 127
    out = gemm.int_gemm(a, b)
    assert out.tolist() == [[k * 16384, -k * 16256, k * 16384]] * 2


def test_int_gemm_wider_operands():
    # in_bits=16: products up to 2^30 exceed float32 exactness -> float64 path; in_bits=9: uint8 x int8
    rng = np.random.default_rng(2)
    a = rng.integers(-(2**15), 2**15, (5, 40))
    b = rng.integers(-(2**15), 2**15, (40, 6))
    np.testing.assert_array_equal(gemm.int_gemm(a, b, in_bits=16, acc_bits=64), a @ b)
    p = rng.integers(0, 256, (4, 128))
    v = rng.integers(-128, 128, (128, 8))
    np.testing.assert_array_equal(gemm.int_gemm(p, v, in_bits=9), p @ v)
    with pytest.raises(IntegerOverflowError, match="int_gemm: operand A exceeds int8"):
        gemm.int_gemm(p, v)


def test_int_gemm_overflow():
    k = 140_000  # 127 * 127 * k = 2.26e9 > 2^31 - 1
    a = np.full((1, k), 127, dtype=np.int8)
    b = np.full((k, 1), 127, dtype=np.int8)
    with pytest.raises(IntegerOverflowError, match=r"int_gemm: accumulator exceeds int32 \(max \|value\| 2\.26e\+09 > 2147483647\)"):
        gemm.int_gemm(a, b)
    assert gemm.int_gemm(a, b, acc_bits=64).item() == 127 * 127 * k
    with pytest.raises(IntegerOverflowError, match=r"int_gemm: operand A exceeds int8"):
        gemm.int_gemm(np.array([[300]]), np.array([[1]]))
    with pytest.raises(ValueError, match="do not multiply"):
        gemm.int_gemm(np.zeros((2, 3), np.int8), np.zeros((4, 2), np.int8))


@pytest.mark.parametrize("m,k,n,bits,n_out,heavy", [
    (1, 1, 1, 3, 0, False),
    (4, 9, 5, 3, 3, False),
    (16, 64, 48, 3, 60, True),
    (7, 130, 33, 4, 500, True),
    (5, 40, 40, 3, 1600, False),  # every weight an outlier
    (3, 50, 2000, 2, 1000, False),  # several column blocks
])
def test_gobo_gemm_equals_int64_matmul(m, k, n, bits, n_out, heavy):
    rng = np.random.default_rng(m * 1000 + k)
    idx, cent, rows, cols, vals = rand_gobo(rng, k, n, bits, n_out, heavy)
    x = rng.integers(-128, 128, (m, k)).astype(np.int8)
    w = gemm.gobo_reconstruct(idx, cent, rows, cols, vals)
    assert w.dtype == np.int16
    ref = x.astype(np.int64) @ w.astype(np.int64)
    out = gemm.gobo_gemm(x, idx, cent, rows, cols, vals, bits, block_elems=4096)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, ref)
    if m * k * n <= 40_000:
        np.testing.assert_array_equal(out, gobo_scalar(x, idx, cent, rows, cols, vals).astype(np.int64))


@settings(max_examples=25, deadline=None)
@given(
    m=st.integers(1, 6), k=st.integers(1, 40), n=st.integers(1, 12), bits=st.sampled_from([2, 3, 4]),
    frac=st.floats(0.0, 1.0), seed=st.integers(0, 2**31),
)
def test_gobo_gemm_hypothesis(m, k, n, bits, frac, seed):
    rng = np.random.default_rng(seed)
    idx, cent, rows, cols, vals = rand_gobo(rng, k, n, bits, int(frac * k * n))
    x = rng.integers(-128, 128, (m, k)).astype(np.int8)
    out = gemm.gobo_gemm(x, idx, cent, rows, cols, vals, bits)
    np.testing.assert_array_equal(out, gobo_scalar(x, idx, cent, rows, cols, vals).astype(np.int64))


def test_gobo_gemm_batched_and_validation():
    rng = np.random.default_rng(3)
    idx, cent, rows, cols, vals = rand_gobo(rng, 20, 6, 3, 5)
    x = rng.integers(-128, 128, (2, 3, 20)).astype(np.int8)
    out = gemm.gobo_gemm(x, idx, cent, rows, cols, vals, 3)
    w = gemm.gobo_reconstruct(idx, cent, rows, cols, vals).astype(np.int64)
    np.testing.assert_array_equal(out, x.astype(np.int64) @ w)
    with pytest.raises(ValueError, match="duplicate"):
        gemm.gobo_gemm(x, idx, cent, [0, 0], [1, 1], [5, 6], 3)
    with pytest.raises(IntegerOverflowError, match="gobo_gemm: centroid exceeds int8"):
        gemm.gobo_gemm(x, idx, np.array([0, 1, 2, 3, 4, 5, 6, 200]), rows, cols, vals, 3)
    with pytest.raises(ValueError, match="indices"):
        gemm.gobo_gemm(x, idx, cent[:4], rows, cols, vals, 3)


def test_gobo_gemm_overflow():
    k = 1000
    x = np.full((1, k), 127, dtype=np.int8)
    idx = np.zeros((k, 2), dtype=np.uint8)
    cent = np.array([1, 2], dtype=np.int8)
    rows = np.arange(k)
    cols = np.zeros(k, dtype=np.int64)
    vals = np.full(k, 32767, dtype=np.int16)  # column 0: 1000 * 127 * 32767 = 4.2e9
    with pytest.raises(IntegerOverflowError, match=r"gobo_gemm: accumulator exceeds int32"):
        gemm.gobo_gemm(x, idx, cent, rows, cols, vals, 1)
