"""Packed storage format: bit packing, position stream, exact round trips, blocks and sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.quant.bitpack import pack_bits, packed_size, unpack_bit_range, unpack_bits
from sim.quant.errors import QuantError, QuantParamError
from sim.quant.outliers import detect_outliers
from sim.quant.packed import OUTLIER_BYTES, pack, unpack
from sim.quant.positions import ESCAPE, decode_positions, encode_positions


def reference_quantized(x: np.ndarray, p) -> np.ndarray:
    """Expected dequantized tensor: nearest fp32 centroid, outliers keep their fp32 value."""
    x32 = np.asarray(x, np.float32)
    c = p.centroids.astype(np.float64)
    d = np.abs(x32.reshape(-1, 1).astype(np.float64) - c[None, :])
    # nearest; ties to the upper centroid (argmin of reversed order)
    idx = c.size - 1 - np.argmin(d[:, ::-1], axis=1)
    q = p.centroids[idx]
    _, mask = detect_outliers(x32, p.threshold)
    q[mask.reshape(-1)] = x32.reshape(-1)[mask.reshape(-1)]
    return q.reshape(x32.shape)


def test_bit_order_is_little_endian_lsb_first() -> None:
    # 3-bit indices 1, 2, 7 -> bits 100 010 111 (LSB first) -> byte0 = 0b11_010_001, byte1 = 0b1
    data = pack_bits(np.array([1, 2, 7]), 3)
    assert data.tolist() == [0b11010001, 0b00000001]
    assert pack_bits(np.array([5]), 4).tolist() == [5]
    assert pack_bits(np.array([1, 2]), 4).tolist() == [0x21]


@settings(max_examples=60, deadline=None)
@given(bits=st.integers(1, 8), n=st.integers(0, 300), seed=st.integers(0, 1000))
def test_bitpack_round_trip_any_length(bits: int, n: int, seed: int) -> None:
    idx = np.random.default_rng(seed).integers(0, 1 << bits, n)
    data = pack_bits(idx, bits)
    assert data.size == packed_size(n, bits) == math.ceil(n * bits / 8)
    np.testing.assert_array_equal(unpack_bits(data, bits, n), idx)
    if n:
        a, b = sorted(np.random.default_rng(seed + 1).integers(0, n + 1, 2))
        np.testing.assert_array_equal(unpack_bit_range(data, bits, a, b - a), idx[a:b])
    # the reference: a Python big integer built index by index
    big = sum(int(v) << (i * bits) for i, v in enumerate(idx))
    assert int.from_bytes(data.tobytes(), "little") == big


def test_bitpack_matches_a_bit_by_bit_stream() -> None:
    """Against the layout written out one bit at a time (index i's bit j is stream bit i*b + j, LSB first)."""
    rng = np.random.default_rng(3)
    for bits in range(1, 9):
        for n in (1, 7, 8, 9, 63, 64, 65, 200):
            idx = rng.integers(0, 1 << bits, n)
            stream = [(int(v) >> j) & 1 for v in idx for j in range(bits)]
            stream += [0] * (-len(stream) % 8)
            expect = [sum(stream[8 * k + j] << j for j in range(8)) for k in range(len(stream) // 8)]
            assert pack_bits(idx, bits).tolist() == expect, (bits, n)
            tail = np.array(expect + [0xFF, 0xA5], dtype=np.uint8)  # bytes past the stream are never read
            assert unpack_bits(tail, bits, n).tolist() == idx.tolist(), (bits, n)


def test_bitpack_rejects_wide_values() -> None:
    with pytest.raises(QuantParamError):
        pack_bits(np.array([8]), 3)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 300_000), unique=True, max_size=40))
def test_position_stream_round_trip(pos: list[int]) -> None:
    p = np.array(sorted(pos), dtype=np.int64)
    s = encode_positions(p)
    assert s.dtype == np.uint16
    np.testing.assert_array_equal(decode_positions(s), p)
    assert np.count_nonzero(s != ESCAPE) == p.size


def test_position_escape_boundaries() -> None:
    for p in ([65534], [65535], [65536], [0, 65536], [0, 131071, 131072]):
        np.testing.assert_array_equal(decode_positions(encode_positions(np.array(p))), p)
    assert encode_positions(np.array([65535])).tolist() == [ESCAPE, 0]


@pytest.mark.parametrize("bits", range(2, 9))
@pytest.mark.parametrize("shape", [(7, 13), (1, 1), (3,), (5, 3, 11), (64, 96)])
def test_round_trip_is_exact(bits: int, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(bits * 100 + len(shape))
    x = (rng.standard_t(3, shape) * 0.05).astype(np.float32)
    p = pack(x, bits)
    q = unpack(p)
    assert q.dtype == np.float32 and q.shape == x.shape
    np.testing.assert_array_equal(q, reference_quantized(x, p))
    _, mask = detect_outliers(x)
    np.testing.assert_array_equal(q[mask], x[mask])
    np.testing.assert_array_equal(p.outlier_mask(), mask)
    assert p.index_bytes.size == math.ceil(x.size * bits / 8)
    assert p.nbytes == p.index_bytes.size + 4 * (1 << bits) + 4 * p.n_outliers + 2 * p.outlier_skips.size
    assert p.bits_per_weight == pytest.approx(8 * p.nbytes / x.size)
    assert p.compression_ratio == pytest.approx(32 / p.bits_per_weight)
    err = np.linalg.norm(q.astype(np.float64) - x.astype(np.float64)) / np.linalg.norm(x.astype(np.float64))
    assert p.rel_l2_error == pytest.approx(err, rel=1e-9, abs=1e-12)


def test_zero_outliers_and_many_outliers() -> None:
    rng = np.random.default_rng(5)
    uniform = rng.uniform(-0.05, 0.05, (40, 50)).astype(np.float32)  # bounded: no tail beyond z*
    p = pack(uniform, 3)
    assert p.n_outliers == 0 and p.outlier_skips.size == 0
    np.testing.assert_array_equal(unpack(p), reference_quantized(uniform, p))
    heavy = rng.normal(0, 15.0, (40, 50)).astype(np.float32)  # sigma 15: z* ~ 0.86, ~39% outliers
    p = pack(heavy, 3)
    assert p.outlier_fraction > 0.3
    np.testing.assert_array_equal(unpack(p), reference_quantized(heavy, p))
    wide = rng.normal(0, 50.0, (9, 11)).astype(np.float32)  # sigma > 21.8: every weight is an outlier
    p = pack(wide, 4)
    assert p.n_outliers == wide.size
    np.testing.assert_array_equal(unpack(p), wide)


def test_outlier_index_is_nearest_centroid() -> None:
    x = np.random.default_rng(8).normal(0, 0.05, (50, 60)).astype(np.float32)
    x[3, 4], x[10, 0] = 2.0, -3.0
    p = pack(x, 3)
    idx = p.indices()
    assert idx[3, 4] == 7 and idx[10, 0] == 0
    assert p.lo >= -3.0 and p.hi <= 2.0 and p.n_outliers >= 2


def test_blocks_and_counts() -> None:
    rng = np.random.default_rng(9)
    x = (rng.standard_t(2, (37, 53)) * 0.05).astype(np.float32)
    p = pack(x, 3)
    q = unpack(p)
    mask = p.outlier_mask()
    counts = p.outlier_counts(8, 16)
    assert counts.shape == (5, 4) and counts.sum() == p.n_outliers
    bb = p.block_bytes(8, 16)
    for bi in range(5):
        for bj in range(4):
            r0, r1 = bi * 8, min(bi * 8 + 8, 37)
            c0, c1 = bj * 16, min(bj * 16 + 16, 53)
            blk = p.block(r0, r1, c0, c1)
            assert blk.n_outliers == counts[bi, bj] == mask[r0:r1, c0:c1].sum()
            np.testing.assert_array_equal(blk.indices(), p.indices()[r0:r1, c0:c1])
            np.testing.assert_array_equal(q[blk.outlier_rows, blk.outlier_cols], blk.outlier_values)
            assert bb.outliers[bi, bj] == OUTLIER_BYTES * counts[bi, bj]
            bit0 = [((r * 53 + c0) * 3, (r * 53 + c1) * 3) for r in range(r0, r1)]
            assert bb.index[bi, bj] == sum((e + 7) // 8 - s // 8 for s, e in bit0)
            assert blk.nbytes == blk.index_bytes.size + OUTLIER_BYTES * blk.n_outliers
    assert bb.index.sum() >= p.index_bytes.size
    np.testing.assert_array_equal(p.outlier_counts(8, 16, transpose=True), p.outlier_counts(16, 8).T)
    t = p.outlier_counts(16, 8, transpose=True)
    assert t.shape == (math.ceil(53 / 16), math.ceil(37 / 8))
    assert t[1, 2] == mask[16:24, 16:32].sum()
    np.testing.assert_array_equal(p.block_bytes(8, 16, transpose=True).index, p.block_bytes(16, 8).index.T)
    with pytest.raises(QuantError):
        p.block(0, 38, 0, 1)


def test_bad_inputs() -> None:
    with pytest.raises(QuantParamError, match="bits"):
        pack(np.ones((2, 2)), 1)
    with pytest.raises(QuantParamError, match="bits"):
        pack(np.ones((2, 2)), 9)
    with pytest.raises(QuantError, match="NaN"):
        pack(np.array([1.0, np.nan]), 3)
    with pytest.raises(QuantError, match="empty"):
        pack(np.zeros((0, 3)), 3)
    for bad in (1, 9):
        with pytest.raises(ValueError) as ei:
            pack(np.ones(4), bad)
        assert "\n" not in str(ei.value)


@pytest.mark.parametrize("field", ["bits", "embedding_bits"])
@pytest.mark.parametrize("value", [1, 9, 3.0, True])
def test_params_reject_bad_bits(field: str, value: object) -> None:
    from sim.quant.params import GoboParams

    with pytest.raises(ValueError, match=field) as ei:
        GoboParams(**{field: value})
    assert isinstance(ei.value, QuantParamError) and "\n" not in str(ei.value)


def test_params_other_checks() -> None:
    from sim.quant.params import GoboParams

    with pytest.raises(QuantParamError, match="max_iterations"):
        GoboParams(max_iterations=0)
    with pytest.raises(QuantParamError, match="outlier_threshold"):
        GoboParams(outlier_threshold=float("inf"))
    assert GoboParams(bits=np.int64(4)).bits == 4
