"""widths, quant, dyadic and opcounts: exact rounding, saturation, declared-width errors."""

from __future__ import annotations

import math
import pickle
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.kernels import dyadic, opcounts, quant, widths
from sim.kernels.widths import IntegerOverflowError

# ---------------------------------------------------------------------------------------------
# widths
# ---------------------------------------------------------------------------------------------


def test_check_width_messages():
    a = np.array([0, 2_200_000_000], dtype=np.int64)
    with pytest.raises(IntegerOverflowError) as ei:
        widths.check_width(a, 32, True, kernel="int_gemm", what="accumulator")
    assert str(ei.value) == "int_gemm: accumulator exceeds int32 (max |value| 2.2e+09 > 2147483647)"
    assert isinstance(ei.value, ArithmeticError) and ei.value.bits == 32 and ei.value.kernel == "int_gemm"
    again = pickle.loads(pickle.dumps(ei.value))
    assert str(again) == str(ei.value) and again.what == "accumulator"
    with pytest.raises(IntegerOverflowError, match=r"k: e exceeds uint16 \(min value -1 < 0\)"):
        widths.check_width(np.array([-1, 3]), 16, False, kernel="k", what="e")
    with pytest.raises(IntegerOverflowError, match=r"uint4 \(max value 16 > 15\)"):
        widths.check_width(np.array([16]), 4, False, kernel="k", what="e")
    assert widths.check_width(np.array([], dtype=np.int64), 8, kernel="k", what="e").size == 0
    assert widths.int_range(8, True) == (-128, 127) and widths.int_range(8, False) == (0, 255)
    assert widths.saturate(np.array([-300, 5, 300]), 8).tolist() == [-128, 5, 127]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 2**63 - 1), min_size=1, max_size=20))
def test_bit_length(ns):
    assert widths.bit_length(np.array(ns, dtype=np.int64)).tolist() == [n.bit_length() for n in ns]


# ---------------------------------------------------------------------------------------------
# quant
# ---------------------------------------------------------------------------------------------


def test_quant_ranges_and_scales():
    x = np.array([-10.0, -1.0, 0.0, 0.5, 10.0])
    s = quant.symmetric_scale(x, 8)
    assert s == 10.0 / 127
    assert quant.quantize(x, s, 8).tolist() == [-127, -13, 0, 6, 127]
    assert quant.quantize(x, s, 8, qrange="ibert").tolist() == [-127, -13, 0, 6, 126]  # I-BERT quirk
    assert quant.quantize(x * 1.1, s, 8, qrange="full").tolist()[0] == -128
    assert quant.quantize(x, s, 8).dtype == np.int8 and quant.quantize(x, s, 16).dtype == np.int16
    assert quant.qrange_bounds(4, "ibert") == (-7, 6)
    # round half to even
    assert quant.quantize(np.array([0.5, 1.5, 2.5, -0.5]), 1.0, 8).tolist() == [0, 2, 2, 0]
    w = np.array([[1.0, -2.0, 0.5], [0.1, 0.2, -0.3]])
    sc = quant.symmetric_scale(w, 8, channel_axis=0)
    assert sc.shape == (2, 1)
    np.testing.assert_allclose(sc[:, 0], [2.0 / 127, 0.3 / 127])
    qw = quant.quantize(w, sc, 8)
    assert qw[0].tolist() == [64, -127, 32] and qw[1, 2] == -127
    np.testing.assert_allclose(quant.dequantize(qw, sc), w, atol=sc.max() / 2)
    assert quant.symmetric_scale(np.zeros(3), 8) == 1e-8 / 127
    with pytest.raises(ValueError):
        quant.quantize(x, 0.0, 8)


# ---------------------------------------------------------------------------------------------
# dyadic
# ---------------------------------------------------------------------------------------------


def dyadic_ref(r: float) -> tuple[int, int]:
    mant, ex = math.frexp(r)
    m = int(Decimal(mant * 2**31).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return m, 31 - ex


@settings(max_examples=60, deadline=None)
@given(st.floats(1e-12, 1e6, allow_nan=False) | st.floats(-1e6, -1e-12, allow_nan=False))
def test_to_dyadic_matches_batch_frexp(r):
    m, e = dyadic.to_dyadic(r, compat="reference")
    assert (m, e) == dyadic_ref(r)
    mc, ec = dyadic.to_dyadic(r)
    assert abs(mc) < 2**31 and Fraction(mc, 2**ec) == Fraction(m, 2**e)
    assert abs(mc / 2.0**ec - r) <= abs(r) * 2.0**-31


def test_to_dyadic_carry_and_arrays():
    r = 1.0 - 2.0**-40  # mant * 2^31 rounds up to 2^31
    assert dyadic.to_dyadic(r, compat="reference") == (2**31, 31)
    assert dyadic.to_dyadic(r) == (2**30, 30)
    assert dyadic.to_dyadic(0.0) == (0, 31)
    m, e = dyadic.to_dyadic(np.array([0.5, 0.25, 3.0]))
    assert m.tolist() == [2**30, 2**30, 3 * 2**29] and e.tolist() == [31, 32, 29]


@settings(max_examples=80, deadline=None)
@given(st.integers(-(2**62), 2**62), st.integers(-3, 70))
def test_round_shift_exact(p, e):
    got = dyadic.round_shift(np.array([p], dtype=np.int64), e)
    assert int(got[0]) == round(Fraction(p, 2**e) if e >= 0 else Fraction(p * 2 ** (-e)))


def test_round_shift_ties():
    p = np.arange(-12, 13, dtype=np.int64)
    assert dyadic.round_shift(p, 2).tolist() == [round(Fraction(int(v), 4)) for v in p]
    assert dyadic.round_shift(p, 0).tolist() == p.tolist()


@settings(max_examples=60, deadline=None)
@given(
    q=st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=10),
    ratio=st.floats(1e-9, 10.0),
    bits=st.sampled_from([8, 16, 32]),
)
def test_requantize_exact(q, ratio, bits):
    m, e = dyadic.to_dyadic(ratio)
    got = dyadic.requantize(np.array(q, dtype=np.int64), m, e, bits)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    assert got.tolist() == [min(max(round(Fraction(v * m, 2**e)), lo), hi) for v in q]


def test_requantize_big_products_and_per_channel():
    q = np.array([2**62, -(2**62), 3], dtype=np.int64)
    m, e = 2**31 - 1, 70  # product beyond int64: Python-int path
    got = dyadic.requantize(q, m, e, 32)
    assert got.tolist() == [round(Fraction(int(v) * m, 2**e)) for v in q]
    qc = np.array([[100, 100], [-7, 7]])
    s_in, s_out = np.array([0.5, 0.25]), 0.1
    out = dyadic.rescale(qc, s_in, s_out, 8)
    assert out.tolist() == [[127, 127], [-35, 18]]  # 500 and 250 saturate; -35, 17.5 -> 18 (even)
    assert dyadic.rescale(np.array([5]), 1.0, 2.0, 8, signed=False).tolist() == [2]  # 2.5 -> 2


def test_fixedpoint_mul_reference_matches_float_formula():
    rng = np.random.default_rng(0)
    z = rng.integers(-(2**31), 2**31, 1000).astype(np.float64)
    s_in, s_out = 3.7e-7, 0.031
    out = dyadic.fixedpoint_mul_reference(z, s_in, s_out, 8)
    m, e = dyadic_ref(s_in / float(np.float32(s_out)))
    exp = np.clip(np.round(z * m / 2.0**e), -128, 127)
    np.testing.assert_array_equal(out, exp)
    # agrees with the exact integer requantization where |z m| < 2^53
    small = np.abs(z) * m < 2**53
    exact = dyadic.requantize(z[small].astype(np.int64), m, e, 8)
    np.testing.assert_array_equal(out[small], exact)


# ---------------------------------------------------------------------------------------------
# op counts
# ---------------------------------------------------------------------------------------------


def test_op_counts_table():
    for kernel in ("ibert.int_gelu", "ibert.int_softmax", "ibert.int_layernorm", "ivit.shiftmax",
                   "ivit.shift_gelu", "ivit.int_layernorm"):
        for mode in ("clean", "reference"):
            c = opcounts.op_counts(kernel, mode)
            assert set(c.per_element) == set(opcounts.OP_TYPES)
            assert sum(c.per_element.values()) > 0
    # I-ViT's shift-based algorithms need fewer multiplies than I-BERT's polynomials
    assert opcounts.op_counts("ivit.shiftmax").per_element["mul"] < opcounts.op_counts("ibert.int_softmax").per_element["mul"]
    assert opcounts.op_counts("ivit.shift_gelu").per_element["mul"] < opcounts.op_counts("ibert.int_gelu").per_element["mul"]
    tot = opcounts.op_counts("ibert.int_softmax").total(elements=12 * 128 * 128, rows=12 * 128)
    assert tot["div"] == 12 * 128 * 128 + 12 * 128
    ln = opcounts.op_counts("ivit.int_layernorm", "reference")
    assert ln.total(elements=768, rows=1)["div"] == 2 + 10
    with pytest.raises(KeyError, match="no op counts"):
        opcounts.op_counts("ibert.nothing")


def test_sqrt_iteration_counts():
    var = np.array([0, 1, 100, 2**20, 2**40, 2**60], dtype=np.int64)
    ib = opcounts.sqrt_iteration_counts(var, "ibert")
    iv = opcounts.sqrt_iteration_counts(var, "ivit")
    assert ib[0] == 0 and iv[0] == 0
    assert (ib[1:] <= 7).all()
    assert iv[-1] > ib[-1]  # starting at 2^16 is far from sqrt(2^60) = 2^30
