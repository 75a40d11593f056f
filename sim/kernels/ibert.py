"""I-BERT integer-only kernels: i-GELU, i-exp / i-softmax, integer sqrt and i-LayerNorm.

Integers in, integers out (int64 arrays), plus the float scale: real value = ``q * s``. Scales are
per-tensor floats except the LayerNorm output scale in reference mode (per channel). Scale
arithmetic (constants such as ``b_int``) is offline/per-tensor float work, as in the paper; the
per-element path is integer-only.

Two modes, selected by ``compat``:

* ``compat=None`` (or ``"clean"``): the paper's integer algorithm as the hardware vector unit
  executes it, with declared widths checked at every intermediate (see ``WIDTHS``) and the
  output in a declared range.
* ``compat="reference"``: the arithmetic of HF transformers ``models/ibert/quant_modules.py``
  (= the I-BERT authors' fairseq code) run on float64 tensors, bit for bit, quirks included.
  Its integer-exact steps are done in int64 (equal to the float64 values, which are exact integers
  below 2^53; the bound is checked and a violation raises ``IntegerOverflowError``); the steps
  whose float64 values are *not* integer-exact (the softmax's inner QuantAct(16)) are mirrored
  in float64 operation by operation.

Differences between the modes
=============================

==================  ==========================================  ==========================================
kernel / item       clean (hardware)                            reference (HF / I-BERT quant_modules)
==================  ==========================================  ==========================================
GELU: sqrt(2)       exact ``sqrt(2)`` folded into the scale     ``k = 1.4142``
GELU: input scale   input shifted by F bits to a working erf-   polynomial at the input scale itself;
                    argument scale s_w in (2^-13, 2^-12], so    valid only for int32-accumulator scales
                    int8-scale inputs work (S ~ 0.03-0.06)      (S <~ 1e-3; error 5.4 at S = 4/127)
GELU: constants     b = round(1.769/s_w), "1" = round(1/(       ``b_int = floor(-1.769/s)``,
                    0.2888 s_w^2)), same integer for the poly   ``c_int = floor((1/-0.2888)/s^2)`` and
                    and for the "1 +" term                      ``one = 1.0 // S_erf`` (two roundings)
GELU: erf scaling   ``>> sh`` with sh from the scale so that    fixed ``floor(y / 2^14)``
                    "1.0" = 2^14..2^15 units (15 bits kept)
GELU: output        q * t, t < 2^16: in_bits + 16 bits, scale   q * (y + one), up to ~2^53, NEGATIVE
                    positive                                    scale ``S * S_erf / 2``
exp: ln 2           exact ln 2                                  ``x0 = floor(-0.6931 / S)``
exp: input scale    working scale s_w in (2^-13, 2^-12] (shift) input scale (E reaches 2^51..2^69)
exp: range clamp    z <= 22 (E = 0 beyond)                      ``n = 30``
exp: 2^-z           ``E = P >> (sh + z)``: uint21, "1.0" = 2^20  ``E = P * 2^(30 - z)``: left shift, far
                    .. 2^21                                     beyond 64 bits at small S
softmax: E16        none (E is already 21 bits)                 QuantAct(16) on the integer E with
                                                                calibrated ``exp_scale`` (double
                                                                division bug, transformers #26767)
softmax: normalise  f = floor(2^36 / sum) per row, uint32 sum;  f = floor(2^32 / sum), float64;
                    q = (E f + 2^(35-ob)) >> (36-ob), round     q = floor(E16 * f / 2^(32-ob))
                    half up
softmax: output     saturated to [0, 2^ob - 1], scale 2^-ob     [0, 2^ob] (2^ob when a row's E16 sum is
                                                                a power of two), scale 2^-ob
sqrt                Newton integer sqrt (Algorithm 1)           ``floor(sqrt(float64(var)))`` (equal for
                                                                var < 2^52)
LN: mean            round half up with g = 0..4 fractional bits ``round_half_even(sum / C)`` in float64
                    (g from the declared in_bits; 0 at 32)
LN: variance        sum of y^2 in int64 (checked), no shift     sum of floor(y / 2^shift)^2, ``shift``
                                                                calibrated (passed in)
LN: zero variance   normalised value 0 (output = bias)          2^31/0 = inf, 0*inf = NaN: raises
                                                                ZeroDivisionError here
LN: 1/std           f = floor(2^(24+L)/std), L = bits(std):     ``floor(2^31 / std)``: only
                    25-26 significant bits for any std          ~31 - log2(std) bits (5 bits at 2^26)
LN: normalised      n = (y f) >> (L + 4): y/std in 2^-20 units  ``floor(y * f / 2)``: 2^-30 units
LN: affine          per-channel dyadic (w_c sqrt(C) 2^-20 /     ``bias_i = floor(f32(f32(b/w)/S_n))``,
                    s_out) and integer bias, one rounding       output ``yq + bias_i`` at the per-
                    (half even), saturated to output_bits       channel float32 scale ``S_n * w``; not
                    at the per-tensor ``out_scale``             requantized (``output_bits`` unused)
==================  ==========================================  ==========================================

Measured error of the clean kernels against float (tests/test_kernels_ibert.py states the bounds):
see the docstrings of each kernel.
"""

from __future__ import annotations

import math

import numpy as np

from . import _common
from ._common import as_int64, check_scale, resolve_compat, shift_by, working_shift
from .dyadic import round_shift, to_dyadic
from .widths import IntegerOverflowError, bit_length, check_bound, check_width, saturate

__all__ = [
    "EXP_COEFFS",
    "GELU_COEFFS",
    "WIDTHS",
    "calibrate_softmax_exp_scale",
    "int_exp",
    "int_gelu",
    "int_layernorm",
    "int_softmax",
    "int_sqrt",
    "int_sqrt_with_count",
]

#: i-GELU polynomial of the paper: erf(x) ~ sgn(x) [a (min(|x|, -b) + b)^2 + 1].
GELU_COEFFS = (-0.2888, -1.769)
#: i-exp polynomial of the reference code: exp(p) ~ a p^2 + b p + c on (-ln2, 0].
EXP_COEFFS = (0.35815147, 0.96963238, 1.0)

# Clean-mode design constants.
_W_BITS = 12  # working resolution: s_w in (2^-13, 2^-12]
_GELU_K = 14  # erf fixed point: "1.0" is 2^14 .. 2^15 - 1 units
_EXP_ONE_BITS = 21  # exp fixed point: "1.0" is 2^20 .. 2^21 - 1 units
_EXP_ZMAX = 22  # z clamp: E = P >> (sh + z) is 0 for z >= 22
_LN_F = 20  # normalised y/std in 2^-20 units
_LN_R = 24  # reciprocal precision: f in (2^24, 2^25]
_LN_ECAP = 40  # cap on the per-channel requantization shift

_F64_EXACT_BITS = 54  # signed 54-bit = |v| <= 2^53: float64 integers exact

#: Declared widths (bits, signed) of the clean-mode intermediates, per kernel. in_bits is the
#: caller's declared input width (default 32).
WIDTHS: dict[str, dict[str, tuple[int, bool] | str]] = {
    "int_gelu": {
        "input": "in_bits signed",
        "working |x|": (15, False),  # min(|q| shifted, B), B < 1.769 * 2^13 < 2^14.5
        "u^2": (28, False),  # (B - a)^2 <= B^2 < 2^27.6
        "1 + erf": (30, False),  # e1 in [0, 2C], C < 2^27.8
        "erf term t": (16, False),  # e1 >> sh < 2^16
        "output": "in_bits + 16 signed",
    },
    "int_exp": {
        "centered input": "in_bits + 1 signed",
        "working input": (18, True),  # clamped at 22 * x0, |x0| < 2^13 ln2 -> > -2^17
        "poly": (29, False),  # P <= c < 2.8 * 2^26
        "exp": (21, False),  # E = P >> (sh + z) < 2^21
    },
    "int_softmax": {
        "exp": (21, False),
        "exp sum": (32, False),  # rows up to 2^11 elements
        "reciprocal": (19, False),  # floor(2^36 / sum) <= 2^16 (sum >= 2^20)
        "normalisation product": (37, False),  # E f <= 2^36
        "output": "output_bits unsigned, saturated",
    },
    "int_layernorm": {
        "input": "in_bits signed",
        "row sum": (64, True),
        "centered y": "in_bits + g + 1 signed (g = mean_frac_bits(in_bits, C))",
        "variance sum": (63, False),  # checked before summing (C * max y^2 < 2^63)
        "std": (32, False),
        "reciprocal": (26, False),  # f in (2^24, 2^25]
        "y * f": (63, True),  # |y| <= std -> |y f| <= 2^(24 + L) <= 2^56
        "normalised": (22, True),  # |n| <= 2^20
        "affine accumulator": (63, True),  # n * M_c + B_c
        "output": "output_bits signed, saturated",
    },
}


# --------------------------------------------------------------------------------------------
# i-GELU
# --------------------------------------------------------------------------------------------


def int_gelu(
    q: np.ndarray, s: float, *, compat: str | None = None, in_bits: int = 32
) -> tuple[np.ndarray, float]:
    """Integer GELU ``x/2 * (1 + erf(x / sqrt 2))`` with the I-BERT polynomial erf; returns ``(q_out, s_out)``.

    ``q``: integer array whose values fit signed ``in_bits`` (default 32: an int32 accumulator;
    int8 inputs work too); ``s``: its positive scale.

    Clean (default): the erf argument ``|q| s / sqrt 2`` is brought to a working scale
    ``s_w = s / sqrt2 * 2^-F`` in (2^-13, 2^-12] by a shift of ``|q|`` (left for coarse int8
    scales, right for fine accumulator scales), clipped at ``B = round(1.769 / s_w)``, and the
    polynomial ``e1 = C + sgn(q) (C - (a - B)^2)`` (``C = round(1 / (0.2888 s_w^2))``, the "1" of
    ``1 + erf``) is formed in 30 bits, shifted right by ``sh`` so that "1.0" keeps 15 bits
    (``t < 2^16``), and multiplied by ``q``. Output: int64 holding ``in_bits + 16``-bit values,
    scale ``s * 0.2888 * s_w^2 * 2^sh / 2`` (positive). Measured max |error| against exact GELU
    (math.erf) of the dequantized input on |x| <= 8: 0.0182 at int8 scales and accumulator scales
    alike (the polynomial's own error; I-BERT reports 1.8e-2).

    Reference (``compat="reference"``): HF ``IntGELU`` exactly (see the module table), including
    the negative output scale; meaningful only for fine scales (S <~ 1e-3).
    """
    kernel = "ibert.int_gelu"
    mode = resolve_compat(compat, kernel)
    s = check_scale(s, kernel)
    qi = as_int64(q, in_bits, kernel)
    if mode == _common.REFERENCE:
        return _gelu_reference(qi, s, kernel)
    a_coef, b_coef = GELU_COEFFS
    s_e = s / math.sqrt(2.0)
    f = working_shift(s_e, _W_BITS)
    s_w = math.ldexp(s_e, -f)
    big_b = round(-b_coef / s_w)  # clip point |x| = 1.769
    big_c = round(1.0 / (-a_coef * s_w * s_w))  # "1.0" in units of 0.2888 s_w^2
    sh = max(0, big_c.bit_length() - (_GELU_K + 1))
    # per element
    mag = np.abs(qi)
    if f >= 0:
        # saturating left shift: anything at or beyond B clips to B anyway
        lim = (big_b >> f) + 1
        aw = np.minimum(np.minimum(mag, lim) << f, big_b)
    else:
        aw = np.minimum(mag >> (-f), big_b)
    check_width(aw, *WIDTHS["int_gelu"]["working |x|"], kernel=kernel, what="working |x|")
    u = aw - big_b  # in [-B, 0]
    v = u * u
    check_width(v, *WIDTHS["int_gelu"]["u^2"], kernel=kernel, what="u^2")
    lmag = big_c - v  # |erf| in units 0.2888 s_w^2 (> 0)
    e1 = big_c + np.sign(qi) * lmag  # 1 + erf(x / sqrt2), in [0, 2C]
    check_width(e1, *WIDTHS["int_gelu"]["1 + erf"], kernel=kernel, what="1 + erf")
    t = e1 >> sh
    check_width(t, *WIDTHS["int_gelu"]["erf term t"], kernel=kernel, what="erf term t")
    out = qi * t
    check_width(out, in_bits + 16, True, kernel=kernel, what="output")
    s_out = s * (-a_coef) * s_w * s_w * float(1 << sh) / 2.0
    return out, s_out


def _gelu_reference(qi: np.ndarray, s: float, kernel: str) -> tuple[np.ndarray, float]:
    a_coef, b_coef = GELU_COEFFS
    s_e = s / 1.4142
    b_int = math.floor(b_coef / s_e)
    c_int = math.floor((1.0 / a_coef) / (s_e * s_e))
    check_bound(abs(c_int), _F64_EXACT_BITS, True, kernel=kernel, what="c_int (float64-exact range)")
    check_bound(b_int * b_int, _F64_EXACT_BITS, True, kernel=kernel, what="(|q| + b_int)^2 (float64-exact range)")
    sign = np.sign(qi)
    abs_c = np.minimum(np.abs(qi), -b_int)
    y = sign * ((abs_c + b_int) ** 2 + c_int)
    y = y >> 14  # floor(y / 2^14), exact
    s_erf = s_e * s_e * a_coef * float(1 << 14)
    one = 1.0 // s_erf  # Python float floor division, = torch.floor_divide(1.0, S_erf)
    one_i = int(one)
    bound = (int(np.abs(qi).max()) if qi.size else 0) * (int(np.abs(y).max() if y.size else 0) + abs(one_i))
    check_bound(bound, 64, True, kernel=kernel, what="q * (y + one) (int64)")
    out = qi * (y + one_i)
    check_width(out, _F64_EXACT_BITS, True, kernel=kernel, what="output (float64-exact range)")
    s_out = s * s_erf / 2.0
    return out, s_out


# --------------------------------------------------------------------------------------------
# i-exp and i-softmax
# --------------------------------------------------------------------------------------------


def _exp_constants(s: float) -> dict[str, int | float]:
    """Clean i-exp constants for input scale ``s`` (offline, per tensor)."""
    a, b, c = EXP_COEFFS
    f = working_shift(s, _W_BITS)
    s_w = math.ldexp(s, -f)
    x0 = -round(math.log(2.0) / s_w)
    b_int = round((b / a) / s_w)
    c_int = round((c / a) / (s_w * s_w))  # = "1.0" of the polynomial, exp(0)
    sh = c_int.bit_length() - _EXP_ONE_BITS
    return {"f": f, "s_w": s_w, "x0": x0, "b": b_int, "c": c_int, "sh": sh}


def _exp_clean(d: np.ndarray, s: float, kernel: str) -> tuple[np.ndarray, float]:
    """Clean i-exp of ``d * s`` for ``d <= 0``: returns (E < 2^21 as int64, scale)."""
    k = _exp_constants(s)
    x0, sh = int(k["x0"]), int(k["sh"])
    xw = shift_by(d, int(k["f"]), bound_bits=64, kernel=kernel, what="working input")
    xw = np.maximum(xw, _EXP_ZMAX * x0)
    check_width(xw, *WIDTHS["int_exp"]["working input"], kernel=kernel, what="working input")
    z = xw // x0  # one divmod by the constant x0 (< 0): z in [0, 22], r in (x0, 0]
    r = xw - x0 * z
    p = (r + int(k["b"])) * r + int(k["c"])
    check_width(p, *WIDTHS["int_exp"]["poly"], kernel=kernel, what="poly")
    e = p >> (z + sh)
    check_width(e, *WIDTHS["int_exp"]["exp"], kernel=kernel, what="exp")
    scale = EXP_COEFFS[0] * float(k["s_w"]) ** 2 * math.ldexp(1.0, sh)
    return e, scale


def int_exp(q: np.ndarray, s: float, *, in_bits: int = 32) -> tuple[np.ndarray, float]:
    """Clean integer exp of non-positive inputs (I-BERT i-exp); returns ``(E, s_E)``, ``E`` < 2^21.

    ``q <= 0`` (e.g. ``x - max``) of declared width ``in_bits``. ``exp(q s) ~= E * s_E``, with
    ``exp(0) ~= 2^20 .. 2^21`` units; values below ``~2^-21`` flush to 0. See :func:`int_softmax`.
    Measured: max |error| 2.0e-3 against exp on [-10, 0] (the polynomial's; I-BERT reports 1.9e-3),
    max relative error 3.5e-3 on the reduced range (-ln2, 0].
    """
    kernel = "ibert.int_exp"
    s = check_scale(s, kernel)
    qi = as_int64(q, in_bits, kernel)
    if qi.size and int(qi.max()) > 0:
        raise ValueError(f"{kernel}: input must be <= 0 (subtract the row max first)")
    return _exp_clean(qi, s, kernel)


def calibrate_softmax_exp_scale(q: np.ndarray, s: float) -> float:
    """The reference softmax's QuantAct(16) scale after one training-mode (calibration) pass on ``q``.

    The first training-mode call sets the range to ``[-1e-5 + min(E), 1e-5 + max(E)]`` of the
    integer i-exp values ``E`` (quirk: they are integers, not real values), so the scale is
    ``max(|-1e-5 + min E|, |1e-5 + max E|) / 32767`` (float64, clamped below at 1e-8/32767).
    Pass the result as ``exp_scale`` to ``int_softmax(..., compat="reference")``.
    """
    kernel = "ibert.int_softmax"
    s = check_scale(s, kernel)
    qi = as_int64(q, 62, kernel)
    e, _ = _exp_reference(qi - qi.max(axis=-1, keepdims=True), s)
    lo = -1e-5 + float(e.min())
    hi = 1e-5 + float(e.max())
    return max(abs(lo), abs(hi), 1e-8) / 32767.0


def _exp_reference(d: np.ndarray, s: float) -> tuple[np.ndarray, float]:
    """HF ``int_exp`` on integer ``d <= 0``: E as float64 (exact: P < 2^53 times a power of two)."""
    a, b, c = EXP_COEFFS
    x0 = math.floor(-0.6931 / s)
    b_int = math.floor((b / a) / s)
    c_int = math.floor((c / a) / (s * s))
    check_bound(abs(c_int) + abs(x0 * b_int) + x0 * x0, _F64_EXACT_BITS, True,
                kernel="ibert.int_softmax", what="i-exp polynomial (float64-exact range)")
    xc = np.maximum(d, 30 * x0)
    z = xc // x0
    r = xc - x0 * z
    p = (r + b_int) * r + c_int
    e = np.maximum(np.ldexp(p.astype(np.float64), (30 - z).astype(np.int32)), 0.0)
    s_e = (a * (s * s)) / float(1 << 30)
    return e, s_e


def int_softmax(
    q: np.ndarray,
    s: float,
    output_bits: int = 8,
    *,
    compat: str | None = None,
    exp_scale: float | None = None,
    in_bits: int = 32,
) -> tuple[np.ndarray, float]:
    """Integer softmax over the last axis (I-BERT); returns ``(q_out, 2^-output_bits)``.

    Clean (default): ``d = q - rowmax``; i-exp at a working scale in (2^-13, 2^-12] (shift),
    ``x0 = -round(ln2 / s_w)``, ``z, r = divmod(d, x0)`` with z clamped to 22,
    ``P = (r + b) r + c`` (29 bits), ``E = P >> (sh + z)`` (uint21, exp(0) ~ 2^20..2^21); the row sum
    (uint32: rows up to 2048 long), one reciprocal ``f = floor(2^36 / sum)`` per row,
    ``q_out = (E f + 2^27) >> 28`` (output_bits=8) saturated to ``[0, 2^output_bits - 1]`` (a
    one-hot row would give 2^ob; the hardware saturates). Measured max |error| against float
    softmax with output_bits=8: 2.5e-3 (half an LSB of rounding plus the i-exp polynomial's
    relative error of up to 3.5e-3), and up to one LSB (3.9e-3) where p -> 1 saturates at 255/256.

    Reference (``compat="reference"``): HF ``IntSoftmax(output_bit)`` on float64, with the inner
    QuantAct(16)'s calibrated scale passed as ``exp_scale`` (see
    :func:`calibrate_softmax_exp_scale`); output in ``[0, 2^output_bits]``: 256 when a row's E16 sum is
    a power of two (e.g. a one-hot row whose peak E16 is 2^14).
    """
    kernel = "ibert.int_softmax"
    mode = resolve_compat(compat, kernel)
    s = check_scale(s, kernel)
    qi = as_int64(q, in_bits, kernel)
    if qi.ndim == 0 or qi.shape[-1] == 0:
        raise ValueError(f"{kernel}: need at least one element on the last axis")
    d = qi - qi.max(axis=-1, keepdims=True)
    if mode == _common.REFERENCE:
        if exp_scale is None:
            raise ValueError(
                f"{kernel}: compat='reference' needs exp_scale (the calibrated QuantAct(16) scale); "
                "see ibert.calibrate_softmax_exp_scale"
            )
        return _softmax_reference(d, s, output_bits, float(exp_scale))
    check_width(d, in_bits + 1, True, kernel=kernel, what="centered input")
    e, _ = _exp_clean(d, s, kernel)
    out = _common.normalize_rows(e, output_bits, kernel=kernel, e_bits=_EXP_ONE_BITS)
    return out, math.ldexp(1.0, -output_bits)


def _softmax_reference(d: np.ndarray, s: float, output_bits: int, s16: float) -> tuple[np.ndarray, float]:
    e, s_e = _exp_reference(d, s)
    # QuantAct(16) with pre_act_scaling_factor = S_E applied to the *integer* E (the double division):
    z_int = np.round(e / s_e)
    ratio = float(s_e) / float(np.float32(s16))
    m, ex = to_dyadic(ratio, 31, compat="reference")
    e16 = np.clip(np.round((z_int * float(m)) / math.ldexp(1.0, int(ex))), -32768.0, 32767.0)
    e16 = e16.astype(np.float32).astype(np.float64)
    # QuantAct returns E16 * S16; IntSoftmax divides by S16 again (float64, not always exact)
    e_int = (e16 * s16) / s16
    total = e_int.sum(axis=-1, keepdims=True)
    factor = np.floor(float(1 << 32) / total)
    out = np.floor((e_int * factor) / float(1 << (32 - output_bits)))
    return out.astype(np.int64), 1.0 / float(1 << output_bits)


# --------------------------------------------------------------------------------------------
# integer sqrt
# --------------------------------------------------------------------------------------------


def int_sqrt(n: np.ndarray | int) -> np.ndarray:
    """``floor(sqrt(n))`` by Newton's iteration (I-BERT Algorithm 1), vectorised over int64 (n >= 0).

    Start ``2^ceil(bits(n)/2)``; ``x <- floor((x + floor(n/x)) / 2)`` until it stops decreasing.
    Exact for every 0 <= n < 2^63. Returns an int64 array of ``n``'s shape.
    """
    root, _ = _common.isqrt_newton(np.asarray(n, dtype=np.int64))
    return root


def int_sqrt_with_count(n: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`int_sqrt` plus the number of Newton updates evaluated per element (for the op-count model)."""
    return _common.isqrt_newton(np.asarray(n, dtype=np.int64))


# --------------------------------------------------------------------------------------------
# i-LayerNorm
# --------------------------------------------------------------------------------------------


def int_layernorm(
    q: np.ndarray,
    s: float,
    weight: np.ndarray,
    bias: np.ndarray,
    output_bits: int = 8,
    *,
    compat: str | None = None,
    out_scale: float | None = None,
    shift: int = 0,
    in_bits: int = 32,
) -> tuple[np.ndarray, float | np.ndarray]:
    """Integer LayerNorm over the last axis (C channels) with affine ``weight``, ``bias`` (float, length C).

    Clean (default): mean with ``g`` fractional bits (round half up; ``g`` from the declared
    ``in_bits``, see :func:`mean_frac_bits`: 4 for int8/int16 inputs, 0 = the paper's integer mean
    for the default ``in_bits=32``), ``y = (q << g) - mean``, ``var = sum y^2`` (int64, checked),
    ``std = int_sqrt(var)`` (Newton), a normalised reciprocal ``f = floor(2^(24+L) / std)`` with
    ``L = bits(std)``, ``n = (y f) >> (L + 4)`` (y/std in 2^-20 units, 22 bits), then per channel
    ``q_out = sat(round_half_even((n M_c + B_c) / 2^E_c))`` where ``M_c / 2^E_c`` is the dyadic
    form of ``w_c sqrt(C) 2^-20 / out_scale`` and ``B_c = round(b_c / out_scale * 2^E_c)``.
    Returns int64 in the signed ``output_bits`` range (saturated) and the per-tensor ``out_scale``.
    If ``out_scale`` is None the worst case ``(max|w| sqrt(C) + max|b|) / (2^(ob-1) - 1)`` is used,
    which can never saturate but spends bits (pass a calibrated scale for accuracy). Zero-variance
    rows normalise to 0 (output = bias). The scale ``s`` cancels in the normalisation and is only validated.
    Measured max |error| vs float LayerNorm (C = 768,
    calibrated ``out_scale``): 0.50-0.56 output LSB with output_bits=8; with output_bits=16,
    2.5e-4 for 16/24-bit inputs and 2.9e-3 for int8 inputs (the mean keeps 4 fractional bits).

    Reference (``compat="reference"``): HF ``IntLayerNorm`` on float64 inputs with float32
    parameters: returns ``yq + bias_i`` (about 2^30 / sqrt(C) per unit) and the per-channel
    float32 scale ``sqrt(C)/2^30 * weight``; ``shift`` is the calibrated buffer; ``output_bits``
    and ``out_scale`` are unused (as in the reference).
    """
    kernel = "ibert.int_layernorm"
    mode = resolve_compat(compat, kernel)
    check_scale(s, kernel)
    qi = as_int64(q, in_bits, kernel)
    w = np.asarray(weight, dtype=np.float64).reshape(-1)
    b = np.asarray(bias, dtype=np.float64).reshape(-1)
    if qi.ndim == 0 or qi.shape[-1] != w.size or b.size != w.size:
        raise ValueError(f"{kernel}: last axis of q ({qi.shape}) must match weight ({w.size}) and bias ({b.size})")
    if mode == _common.REFERENCE:
        return _layernorm_reference(qi, w, b, shift, kernel)
    return layernorm_clean(qi, w, b, output_bits, out_scale, sqrt_start=None, kernel=kernel, in_bits=in_bits)


def mean_frac_bits(in_bits: int, c: int) -> int:
    """Fractional bits ``g`` of the clean LayerNorm mean: ``min(4, (61 - bits(C) - 2 (in_bits + 1)) // 2)``, >= 0.

    The centred value ``y = (q << g) - round(sum(q) 2^g / C)`` then has ``in_bits + g + 1`` bits and
    the variance sum ``C y^2`` stays below 2^61 for full-range inputs. ``g = 0`` (the paper's
    integer mean) for ``in_bits >= 24`` at C = 768 (2 at 22 bits); ``g = 4`` for int8/int16 inputs, which removes
    the mean-rounding error (up to half an input LSB, i.e. 0.5 s / sigma in normalised units).
    """
    return max(0, min(4, (61 - c.bit_length() - 2 * (in_bits + 1)) // 2))


def layernorm_clean(
    qi: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    output_bits: int,
    out_scale: float | None,
    *,
    sqrt_start: int | None,
    kernel: str,
    in_bits: int,
) -> tuple[np.ndarray, float]:
    """Clean integer LayerNorm shared by I-BERT and I-ViT (they differ only in the sqrt's start)."""
    if not 2 <= output_bits <= 32:
        raise ValueError(f"{kernel}: output_bits must be in [2, 32], got {output_bits}")
    c = qi.shape[-1]
    if out_scale is None:
        out_scale = (float(np.abs(w).max()) * math.sqrt(c) + float(np.abs(b).max())) / ((1 << (output_bits - 1)) - 1)
        if out_scale == 0.0:
            out_scale = 1.0
    out_scale = check_scale(out_scale, kernel)
    # per row: mean with g fractional bits (as many as the declared widths allow, at most 4), round half up
    g = mean_frac_bits(in_bits, c)
    total = qi.sum(axis=-1, keepdims=True)
    mean = (2 * (total << g) + c) // (2 * c)
    y = (qi << g) - mean
    check_width(y, in_bits + g + 1, True, kernel=kernel, what="centered y")
    ymax = _max_abs(y)
    check_bound(c * ymax * ymax, 63, False, kernel=kernel, what="variance sum")
    var = (y * y).sum(axis=-1, keepdims=True)
    if sqrt_start is None:
        std, _ = _common.isqrt_newton(var)
    else:
        std, _ = _common.isqrt_newton(var, np.int64(sqrt_start))
    check_width(std, 32, False, kernel=kernel, what="std")
    # normalised reciprocal: f in (2^R, 2^(R+1)] for std in [2^(L-1), 2^L)
    lbits = bit_length(std)
    safe = np.where(std == 0, 1, std)
    f = np.where(std == 0, 0, (np.int64(1) << (_LN_R + lbits)) // safe)
    check_width(f, _LN_R + 2, False, kernel=kernel, what="reciprocal")
    yf = y * f  # |y| <= std  ->  |y f| <= 2^(R + L) <= 2^56
    n = yf >> (lbits + _LN_R - _LN_F)
    check_width(n, _LN_F + 2, True, kernel=kernel, what="normalised")
    # per-channel affine + requantization, one rounding
    ratio = w * math.sqrt(c) * math.ldexp(1.0, -_LN_F) / out_scale
    m_c, e_c = to_dyadic(ratio, 31)
    m_c = np.asarray(m_c, dtype=np.int64)
    e_c = np.asarray(e_c, dtype=np.int64)
    over = np.maximum(e_c - _LN_ECAP, 0)
    m_c = np.asarray(round_shift(m_c, over), dtype=np.int64)  # tiny weights: drop mantissa bits, keep E <= 40
    e_c = e_c - over
    b_float = b / out_scale * np.ldexp(1.0, e_c)
    if not np.all(np.abs(b_float) < 2.0**62):
        bad = float(np.max(np.abs(b_float)))
        raise IntegerOverflowError(kernel, "affine bias constant", 63, True, int(min(bad, 2.0**70)))
    b_c = np.round(b_float).astype(np.int64)
    acc = n * m_c + b_c
    check_width(acc, 63, True, kernel=kernel, what="affine accumulator")
    out = saturate(np.asarray(round_shift(acc, e_c), dtype=np.int64), output_bits, True)
    return out, out_scale


def _layernorm_reference(
    qi: np.ndarray, w: np.ndarray, b: np.ndarray, shift: int, kernel: str
) -> tuple[np.ndarray, np.ndarray]:
    c = qi.shape[-1]
    total = qi.sum(axis=-1, keepdims=True)
    check_width(total, _F64_EXACT_BITS, True, kernel=kernel, what="row sum (float64-exact range)")
    mean = np.round(total.astype(np.float64) / float(c)).astype(np.int64)
    y = qi - mean
    shift = int(shift)
    if shift < 0:
        raise ValueError(f"{kernel}: shift must be >= 0")
    ys = y >> shift
    ymax = _max_abs(ys)
    check_bound(c * ymax * ymax, _F64_EXACT_BITS - 1, False, kernel=kernel, what="variance (float64-exact range)")
    var = (ys * ys).sum(axis=-1, keepdims=True)
    std = np.floor(np.sqrt(var.astype(np.float64))).astype(np.int64) << shift
    if np.any(std == 0):
        raise ZeroDivisionError(f"{kernel}: zero variance row (the reference computes 0 * inf = NaN)")
    factor = np.floor(float(1 << 31) / std.astype(np.float64)).astype(np.int64)
    check_bound(_max_abs(y) * _max_abs(factor), 64, True, kernel=kernel, what="y * factor (int64)")
    yq = (y * factor) >> 1
    dim_sqrt = np.sqrt(np.float32(c))
    s_n = np.float32(dim_sqrt / np.float32(1 << 30))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        bw = b.astype(np.float32) / w.astype(np.float32)  # float32 steps, as the float32 parameters
        bias_f = np.floor((bw / s_n).astype(np.float32))
    if not np.all(np.isfinite(bias_f)) or np.any(np.abs(bias_f) >= 2.0**53):
        raise IntegerOverflowError(kernel, "bias_i (float64-exact range)", _F64_EXACT_BITS, True,
                                   float(np.nanmax(np.abs(np.where(np.isfinite(bias_f), bias_f, 2.0**80)))))
    out = yq + bias_f.astype(np.int64)
    check_width(out, _F64_EXACT_BITS, True, kernel=kernel, what="output (float64-exact range)")
    s_out = (s_n * w.astype(np.float32)).astype(np.float32).astype(np.float64)
    return out, s_out


def _max_abs(a: np.ndarray) -> int:
    """max |a| as a Python int (0 for empty)."""
    return 0 if a.size == 0 else max(abs(int(a.min())), abs(int(a.max())))
