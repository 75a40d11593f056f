"""The weight-format registry and the ternary and BCQ quantizers: values, packed bytes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from sim.quant.bcq import CODE_MAX, bcq, bcq_bytes, bcq_embedding
from sim.quant.errors import QuantError, QuantParamError
from sim.quant.formats import formats, get_format, quantize_tensor
from sim.quant.ternary import ternarize, ternary_bytes


def test_ternary_matches_a_hand_computed_twn():
    w = np.array([[0.9, -0.1, 0.5, -0.6], [0.0, 0.2, -0.2, 0.05]], dtype=np.float32)
    t = ternarize(w, granularity="row")
    # row 0: delta = 0.7 * 0.525 = 0.3675 -> keep 0.9, 0.5, -0.6, a = 2.0 / 3
    # row 1: delta = 0.7 * 0.1125 = 0.07875 -> keep 0.2, -0.2, a = 0.2
    assert t.ints().tolist() == [[1, 0, 1, -1], [0, 1, -1, 0]]
    np.testing.assert_allclose(t.row_scales(), [2.0 / 3, 0.2], rtol=1e-6)
    np.testing.assert_allclose(t.dequantized(), t.ints() * t.row_scales()[:, None], rtol=1e-6)
    whole = ternarize(w, granularity="tensor")  # delta = 0.7 * 0.31875 = 0.223125: keep 0.9, 0.5, -0.6
    assert whole.ints().tolist() == [[1, 0, 1, -1], [0, 0, 0, 0]] and whole.scales.size == 1


@pytest.mark.parametrize("shape", [(7, 13), (64, 768), (3, 4, 5)])
@pytest.mark.parametrize("gran", ["row", "tensor"])
def test_ternary_packed_bytes_are_the_buffers(shape, gran):
    w = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    t = ternarize(w, granularity=gran)
    assert t.packed_bytes == t.codes.nbytes + t.scales.nbytes == ternary_bytes(shape[0], w.size // shape[0], gran)
    assert t.dequantized().shape == shape
    assert 2.0 <= t.bits_per_weight < 2.0 + 64.0 / (w.size // shape[0]) + 1e-9
    s = t.stats()
    assert s["zero_fraction"] + s["plus_fraction"] + s["minus_fraction"] == pytest.approx(1.0)
    # TWN on a Gaussian: about 42 % zeros at delta = 0.7 mean|w|
    if w.size > 10_000:
        assert 0.38 < s["zero_fraction"] < 0.46


def test_bcq_one_bit_is_sign_times_mean_abs():
    w = np.random.default_rng(2).standard_normal((5, 40))
    b = bcq(w, 1)
    alpha = np.abs(w).mean(axis=1)
    unit = alpha / CODE_MAX
    np.testing.assert_allclose(b.units, unit.astype(np.float32), rtol=1e-6)
    assert (b.codes == CODE_MAX).all()
    np.testing.assert_allclose(b.dequantized(), np.where(w >= 0, 1, -1) * (CODE_MAX * b.units[:, None]), rtol=1e-6)


def test_bcq_error_falls_with_bits_and_bytes_are_the_buffers():
    w = np.random.default_rng(3).standard_normal((32, 256)).astype(np.float32)
    errs = []
    for q in (1, 2, 3, 4):
        b = bcq(w, q)
        assert b.packed_bytes == bcq_bytes(32, 256, q)
        assert np.abs(b.int_matrix()).max() <= CODE_MAX * q
        m = b.int_matrix().astype(np.float64) * b.units[:, None]
        assert b.rel_l2_error == pytest.approx(np.linalg.norm(m - w) / np.linalg.norm(w), rel=1e-6)
        errs.append(b.rel_l2_error)
    assert errs == sorted(errs, reverse=True) and errs[2] < 0.25  # 3-bit BCQ of a Gaussian: ~0.20
    assert bcq(w, 3, iterations=4).rel_l2_error < bcq(w, 3, iterations=0).rel_l2_error


def test_mixed_bit_embedding_gives_frequent_rows_more_bits():
    rng = np.random.default_rng(4)
    table = rng.standard_normal((200, 32))
    freq = np.zeros(200)
    freq[[5, 7]] = 100.0  # the two most frequent rows (1% of 200) get the top tier
    t = bcq_embedding(table, freq, ((0.01, 4), (0.1, 3), (1.0, 2)))
    assert t.row_groups[4].tolist() == [5, 7] and len(t.row_groups[3]) == 18 and len(t.row_groups[2]) == 180
    err4 = np.linalg.norm(t.dequantized()[5] - table[5]) / np.linalg.norm(table[5])
    err2 = np.linalg.norm(t.dequantized()[0] - table[0]) / np.linalg.norm(table[0])
    assert err4 < err2
    assert t.packed_bytes == sum(bcq_bytes(len(r), 32, b) for b, r in t.row_groups.items()) + 200
    with pytest.raises(QuantParamError, match="last tier"):
        bcq_embedding(table, freq, ((0.5, 3),))


def test_registry_and_bad_input():
    assert list(formats())[:5] == ["gobo", "ternary", "bcq", "olive", "olaccel"]
    w = np.random.default_rng(5).standard_normal((16, 64)).astype(np.float32)
    for name in formats():
        q = quantize_tensor(name, w)
        assert q.dequantized().shape == w.shape and q.packed_bytes > 0
        assert q.bits_per_weight == pytest.approx(8 * q.packed_bytes / w.size)
        assert 0 < q.rel_l2_error < 1 and q.stats()["packed_bytes"] == q.packed_bytes
    with pytest.raises(QuantParamError, match="unknown weight format 'olive4'"):
        get_format("olive4")
    with pytest.raises(QuantParamError, match="unknown option"):
        quantize_tensor("ternary", w, bits=2)
    with pytest.raises(QuantError, match="NaN"):
        ternarize(np.array([[np.nan, 1.0]]))
    with pytest.raises(QuantParamError, match="granularity"):
        ternarize(w, granularity="column")
