"""I-ViT integer-only kernels: Shiftmax, ShiftGELU and I-LayerNorm.

Integers in, integers out (int64 arrays), plus the float scale (real value = ``q * s``).

The shared primitive is I-ViT's shift-based exponential (``ShiftExp``): ``e^x = 2^(x log2 e)``,
with ``x * log2 e`` approximated by shift-adds ``x + (x >> 1) - (x >> 4)`` (= 1.4375 x), the
power split as ``2^(-z) * 2^p`` with ``p`` in (-1, 0] by one divmod by ``x0 = -1/s``, and
``2^p ~= 1 + p/2`` (linear). No multiplies in the exponential except ``x0 * z`` for the remainder,
which a divider delivers with the quotient.

Modes, selected by ``compat``:

* ``compat=None`` (or ``"clean"``): the papers' algorithms as the vector unit executes them, with
  declared widths (``WIDTHS``) checked at every intermediate.
* ``compat="reference"``: zkkli/I-ViT ``models/quantization_utils/quant_modules.py``
  arithmetic on float64 tensors, bit for bit (integer-exact steps in int64, whose float64 values
  are exact integers; bounds checked), quirks included.

Differences between the modes
=============================

===================  ==========================================  ==========================================
kernel / item        clean (hardware)                            reference (zkkli/I-ViT)
===================  ==========================================  ==========================================
ShiftExp: scale      input shifted to a working scale s_w in     input scale; ``E`` up to ``|x0| 2^n``
                     (2^-13, 2^-12] first; ``x0 = -round(1/s_w)``  (unbounded as S -> 0); ``x0 = floor(-1/S)``
ShiftExp: 2^-z       ``E = ((r - 2 x0) << p) >> z``, p = 7 for    ``floor((r/2 - x0) 2^(n - z))``, n = 15
                     Shiftmax (uint22, exp(0) = 2^20..2^21),     (softmax) / 23 (GELU) = clamp of z
                     p = 0 for ShiftGELU (uint15, exp(0) =
                     2^13..2^14); z clamped at 22 / 15
Shiftmax: sum        uint32, checked                             ``min(sum, 2^31 - 1)`` (silent clamp)
Shiftmax: normalise  f = floor(2^36 / sum); (E f + 2^27) >> 28   f = floor((2^31-1)/sum); floor(E f / 2^24)
Shiftmax: output     [0, 2^ob - 1] saturated, scale 2^-ob        [0, 2^(ob-1)] (127 observed), scale
                                                                 2^-(ob-1): one bit less
ShiftGELU: sigmoid   per element: E = ShiftExp(-|1.702 x|),      E = ShiftExp(x - rowmax), E_m = ShiftExp
                     sig = (x > 0 ? 1 : E) / (1 + E), one        (-rowmax): the row max over channels
                     division ``(num << 15) // (one + E)``       couples elements; ``sum`` clamped to
                                                                 2^31-1, f = floor((2^31-1)/sum),
                                                                 sig = floor(E f / 2^24)
ShiftGELU: output    q * sig, sig <= 2^15, scale s / 2^15         q * sig, scale s / 2^7; at fine scales
                                                                 the sum clamps and sig exceeds 1
LN: sqrt             Newton from 2^16 iterated to convergence    exactly 10 iterations from 2^16, no
                     (one step, then while decreasing) = isqrt   convergence test (may stop short)
LN: rest             as ``ibert.int_layernorm`` clean (integer   as I-BERT's reference but no shift and
                     mean, normalised reciprocal, per-channel    ``f = floor((2^31 - 1)/std)``; zero
                     dyadic affine, saturated output_bits)       variance gives output = bias_i
===================  ==========================================  ==========================================
"""

from __future__ import annotations

import math

import numpy as np

from . import _common
from ._common import as_int64, check_scale, resolve_compat, shift_by, working_shift
from .ibert import layernorm_clean
from .widths import IntegerOverflowError, check_bound, check_width

__all__ = ["SIGMOID_SCALE", "WIDTHS", "int_layernorm", "shift_exp", "shift_gelu", "shiftmax"]

#: ShiftGELU's sigmoid approximation GELU(x) ~ x * sigmoid(1.702 x).
SIGMOID_SCALE = 1.702

_W_BITS = 12  # working resolution: s_w in (2^-13, 2^-12]
_ZMAX_GELU = 15  # E = (r - 2 x0) >> z is 0 for z >= 15 (r - 2 x0 <= 2 |x0| <= 2^14)
_ZMAX_SOFTMAX = 22  # E = ((r - 2 x0) << 7) >> z is 0 for z >= 22
_SOFTMAX_EXP_SHIFT = 7  # Shiftmax keeps 7 more bits of exp: exp(0) = 2^20 .. 2^21
_SIG_BITS = 15  # sigmoid in 2^-15 units
_LN_SQRT_START = 1 << 16
_REF_LN_ITERS = 10
_F64_EXACT_BITS = 54

#: Declared widths (bits, signed) of the clean-mode intermediates.
WIDTHS: dict[str, dict[str, tuple[int, bool] | str]] = {
    "shift_exp": {
        "centered input": "in_bits + 1 signed",
        "working input": (19, True),  # clamped at zmax * x0 (<= 22 * 2^13 < 2^18) before the shift-add
        "log2e input": (19, True),  # x + x>>1 - x>>4 (>= 1.4375 * 22 * x0 > -2^18), clamped again
        "exp": "15 bits (ShiftGELU), 22 bits (Shiftmax), unsigned",
    },
    "shiftmax": {
        "exp": (22, False),  # ((r - 2 x0) << 7) >> z <= 2^21
        "exp sum": (32, False),  # rows up to 2^11 elements
        "reciprocal": (18, False),  # floor(2^36 / sum) <= 2^17 (sum >= 2^19)
        "normalisation product": (37, False),
        "output": "output_bits unsigned, saturated",
    },
    "shift_gelu": {
        "exp": (15, False),
        "sigmoid numerator": (30, False),  # num << 15, num <= 2^14
        "sigmoid denominator": (16, False),  # one + E <= 2^15
        "sigmoid": (16, False),  # <= 2^15
        "output": "in_bits + 16 signed",
    },
    "int_layernorm": {"see": "ibert.WIDTHS['int_layernorm']"},
}


def _shift_exp_clean(
    xw: np.ndarray, s_w: float, kernel: str, *, pre_shift: int, zmax: int, e_bits: int
) -> tuple[np.ndarray, int]:
    """Clean ShiftExp of ``xw <= 0`` already at the working scale ``s_w``: returns (E, one) with exp(0) = one.

    ``E = ((r - 2 x0) << pre_shift) >> z``: ``(1 + p/2) 2^-z`` in units of ``1 / (2 |x0| 2^pre_shift)``.
    """
    x0 = -round(1.0 / s_w)
    xw = np.maximum(xw, zmax * x0)  # saturate first: keeps the shift-add in 19 bits
    check_width(xw, *WIDTHS["shift_exp"]["working input"], kernel=kernel, what="working input")
    xl = xw + (xw >> 1) - (xw >> 4)  # x * log2(e) ~ 1.4375 x
    check_width(xl, *WIDTHS["shift_exp"]["log2e input"], kernel=kernel, what="log2e input")
    xl = np.maximum(xl, zmax * x0)
    z = xl // x0  # divmod by the constant x0 < 0: z in [0, zmax], r in (x0, 0]
    r = xl - x0 * z
    e = ((r - 2 * x0) << pre_shift) >> z
    check_width(e, e_bits, False, kernel=kernel, what="exp")
    return e, (-2 * x0) << pre_shift


def shift_exp(q: np.ndarray, s: float, *, in_bits: int = 32) -> tuple[np.ndarray, float]:
    """Clean I-ViT ShiftExp of non-positive ``q`` (scale ``s``), as Shiftmax uses it; returns ``(E, s_E)``.

    ``exp(q s) ~= E * s_E``; exp(0) is ``2|x0| 2^7`` in [2^20, 2^21] units (E is uint22). Values
    with ``z >= 22`` flush to 0. Measured max |error| against exp on [-10, 0]: 0.044 (the linear
    ``2^p ~= 1 + p/2``, 6.1% relative at worst, and 1.4375 for log2 e).
    """
    kernel = "ivit.shift_exp"
    s = check_scale(s, kernel)
    qi = as_int64(q, in_bits, kernel)
    if qi.size and int(qi.max()) > 0:
        raise ValueError(f"{kernel}: input must be <= 0 (subtract the row max first)")
    f = working_shift(s, _W_BITS)
    s_w = math.ldexp(s, -f)
    xw = _saturating_shift(qi, f, round(1.0 / s_w) * _ZMAX_SOFTMAX, kernel)
    e, one = _shift_exp_clean(xw, s_w, kernel, pre_shift=_SOFTMAX_EXP_SHIFT, zmax=_ZMAX_SOFTMAX, e_bits=22)
    return e, 1.0 / one


def _saturating_shift(x: np.ndarray, f: int, sat: int, kernel: str) -> np.ndarray:
    """Shift non-positive ``x`` by ``f``, saturating at ``-sat`` (the exp clamp makes the rest irrelevant)."""
    if f >= 0:
        lim = (sat >> f) + 1
        return np.maximum(x, -lim) << f
    return shift_by(x, f, bound_bits=64, kernel=kernel, what="working input")


def shiftmax(
    q: np.ndarray,
    s: float,
    output_bits: int = 8,
    *,
    compat: str | None = None,
    in_bits: int = 32,
) -> tuple[np.ndarray, float]:
    """Shiftmax (I-ViT integer softmax) over the last axis; returns ``(q_out, s_out)``.

    Clean (default): ``d = q - rowmax``; ShiftExp at a working scale in (2^-13, 2^-12] (uint22
    ``E``, exp(0) = 2^20..2^21); row sum (uint32, rows up to 2048 long); one reciprocal
    ``floor(2^36 / sum)`` per row; ``q_out = (E f + 2^27) >> 28`` (output_bits=8) saturated to
    ``[0, 2^output_bits - 1]``; ``s_out = 2^-output_bits``. Measured max |error| against float
    softmax: 0.016 (the linear 2^p and 1.4375 log2 e approximations, i.e. the paper's algorithm,
    not an implementation loss).

    Reference (``compat="reference"``): zkkli/I-ViT ``IntSoftmax`` (n = 15): ``q_out`` in
    ``[0, 2^(ob-1)]``, ``s_out = 2^-(ob-1)``.
    """
    kernel = "ivit.shiftmax"
    mode = resolve_compat(compat, kernel)
    s = check_scale(s, kernel)
    qi = as_int64(q, in_bits, kernel)
    if qi.ndim == 0 or qi.shape[-1] == 0:
        raise ValueError(f"{kernel}: need at least one element on the last axis")
    d = qi - qi.max(axis=-1, keepdims=True)
    if mode == _common.REFERENCE:
        e = _shift_exp_reference(d, s, 15, kernel)
        check_width(e, 62, False, kernel=kernel, what="exp (int64)")
        total = np.minimum(_exact_sum(e), (1 << 31) - 1)
        factor = ((1 << 31) - 1) // total
        out = (e * factor) >> (31 - output_bits + 1)
        check_width(out, _F64_EXACT_BITS, True, kernel=kernel, what="output (float64-exact range)")
        return out, 1.0 / float(1 << (output_bits - 1))
    check_width(d, in_bits + 1, True, kernel=kernel, what="centered input")
    f = working_shift(s, _W_BITS)
    s_w = math.ldexp(s, -f)
    xw = _saturating_shift(d, f, round(1.0 / s_w) * _ZMAX_SOFTMAX, kernel)
    e, _ = _shift_exp_clean(xw, s_w, kernel, pre_shift=_SOFTMAX_EXP_SHIFT, zmax=_ZMAX_SOFTMAX, e_bits=22)
    out = _common.normalize_rows(e, output_bits, kernel=kernel, e_bits=22)
    return out, math.ldexp(1.0, -output_bits)


def _exact_sum(e: np.ndarray) -> np.ndarray:
    """Row sums that cannot wrap: int64 when the bound allows, else Python ints (then clamped by callers)."""
    mx = 0 if e.size == 0 else int(e.max())
    if mx * e.shape[-1] < (1 << 63):
        return e.sum(axis=-1, keepdims=True)
    return np.asarray(e, dtype=object).sum(axis=-1, keepdims=True)


def _shift_exp_reference(x: np.ndarray, s: float, n: int, kernel: str) -> np.ndarray:
    """zkkli/I-ViT ``int_exp_shift`` on integers; E saturated at 2^40 where the reference's E is larger.

    Every use of E in the reference clamps a sum containing it to 2^31 - 1, so any E >= 2^40
    stands for itself there (callers that use E directly only see it with z >= 0, where it is exact).
    """
    xl = x + (x >> 1) - (x >> 4)
    x0 = math.floor(-1.0 / s)
    check_bound(abs(x0) << (n + 1), 62, True, kernel=kernel, what="exp (int64)")
    xl = np.maximum(xl, n * x0)
    z = xl // x0
    r = xl - x0 * z
    sh = n - z  # >= 0 when x <= 0
    big = sh > 40
    shc = np.where(big, 0, sh)
    e = np.where(big, np.int64(1) << 40, ((r - 2 * x0) << shc) >> 1)
    return e


def shift_gelu(
    q: np.ndarray, s: float, *, compat: str | None = None, in_bits: int = 32
) -> tuple[np.ndarray, float]:
    """ShiftGELU: ``GELU(x) ~= x * sigmoid(1.702 x)`` with an integer sigmoid; returns ``(q_out, s_out)``.

    Clean (default): per element, ``E = ShiftExp(-|q|)`` at scale ``1.702 s`` (working scale in
    (2^-13, 2^-12]), ``one = exp(0)``, ``sig = ((q > 0 ? one : E) << 15) // (one + E)`` (sigmoid
    in 2^-15 units, one division), ``q_out = q * sig`` (in_bits + 16 bits), ``s_out = s / 2^15``.
    Measured max |error| against exact GELU: 0.024 on |x| <= 8 (the x sigmoid(1.702 x) form alone
    is 0.020 off; the rest is the shift-exp approximations).

    Reference (``compat="reference"``): zkkli/I-ViT ``IntGELU`` (n = 23): the exponentials are
    taken relative to the row max over the last axis, ``s_out = s / 2^7``.
    """
    kernel = "ivit.shift_gelu"
    mode = resolve_compat(compat, kernel)
    s = check_scale(s, kernel)
    qi = as_int64(q, in_bits, kernel)
    if mode == _common.REFERENCE:
        return _shift_gelu_reference(qi, s, kernel)
    s_sig = SIGMOID_SCALE * s
    f = working_shift(s_sig, _W_BITS)
    s_w = math.ldexp(s_sig, -f)
    xw = _saturating_shift(-np.abs(qi), f, round(1.0 / s_w) * _ZMAX_GELU, kernel)
    e, one = _shift_exp_clean(xw, s_w, kernel, pre_shift=0, zmax=_ZMAX_GELU, e_bits=15)
    num = np.where(qi > 0, one, e)
    num_s = num << _SIG_BITS
    check_width(num_s, *WIDTHS["shift_gelu"]["sigmoid numerator"], kernel=kernel, what="sigmoid numerator")
    den = one + e
    check_width(den, *WIDTHS["shift_gelu"]["sigmoid denominator"], kernel=kernel, what="sigmoid denominator")
    sig = num_s // den
    check_width(sig, *WIDTHS["shift_gelu"]["sigmoid"], kernel=kernel, what="sigmoid")
    out = qi * sig
    check_width(out, in_bits + 16, True, kernel=kernel, what="output")
    return out, s / float(1 << _SIG_BITS)


def _shift_gelu_reference(qi: np.ndarray, s: float, kernel: str) -> tuple[np.ndarray, float]:
    s_sig = s * SIGMOID_SCALE
    mx = qi.max(axis=-1, keepdims=True)
    e = _shift_exp_reference(qi - mx, s_sig, 23, kernel)
    e_m = _shift_exp_reference(-mx, s_sig, 23, kernel)
    total = np.minimum(e + e_m, (1 << 31) - 1)  # e, e_m <= 2^40: no wrap
    factor = ((1 << 31) - 1) // total
    sig = (e * factor) >> 24
    check_bound(_max_abs(qi) * _max_abs(sig), _F64_EXACT_BITS - 1, False, kernel=kernel,
                what="q * sigmoid (float64-exact range)")
    return qi * sig, s / 128.0


def int_layernorm(
    q: np.ndarray,
    s: float,
    weight: np.ndarray,
    bias: np.ndarray,
    output_bits: int = 8,
    *,
    compat: str | None = None,
    out_scale: float | None = None,
    in_bits: int = 32,
) -> tuple[np.ndarray, float | np.ndarray]:
    """I-ViT I-LayerNorm over the last axis; returns ``(q_out, s_out)``.

    Clean (default): identical arithmetic to ``ibert.int_layernorm`` clean except that the
    integer sqrt starts at 2^16 (one unconditional Newton step, then Newton while decreasing),
    which converges to the same ``isqrt(var)``; only the iteration count differs. Output int64 in
    the signed ``output_bits`` range at ``out_scale`` (worst-case bound if None).

    Reference (``compat="reference"``): zkkli/I-ViT ``IntLayerNorm``: float64 inputs, float32
    parameters; ``std`` after exactly 10 iterations from 2^16; ``f = floor((2^31 - 1) / std)``;
    returns ``yq + bias_i`` and the per-channel float32 scale ``sqrt(C)/2^30 * weight``.
    """
    kernel = "ivit.int_layernorm"
    mode = resolve_compat(compat, kernel)
    check_scale(s, kernel)
    qi = as_int64(q, in_bits, kernel)
    w = np.asarray(weight, dtype=np.float64).reshape(-1)
    b = np.asarray(bias, dtype=np.float64).reshape(-1)
    if qi.ndim == 0 or qi.shape[-1] != w.size or b.size != w.size:
        raise ValueError(f"{kernel}: last axis of q ({qi.shape}) must match weight ({w.size}) and bias ({b.size})")
    if mode == _common.REFERENCE:
        return _layernorm_reference(qi, w, b, kernel)
    return layernorm_clean(qi, w, b, output_bits, out_scale, sqrt_start=_LN_SQRT_START, kernel=kernel,
                           in_bits=in_bits)


def _layernorm_reference(qi: np.ndarray, w: np.ndarray, b: np.ndarray, kernel: str) -> tuple[np.ndarray, np.ndarray]:
    c = qi.shape[-1]
    total = qi.sum(axis=-1, keepdims=True)
    check_width(total, _F64_EXACT_BITS, True, kernel=kernel, what="row sum (float64-exact range)")
    mean = np.round(total.astype(np.float64) / float(c)).astype(np.int64)
    y = qi - mean
    ymax = _max_abs(y)
    check_bound(c * ymax * ymax, _F64_EXACT_BITS - 1, False, kernel=kernel, what="variance (float64-exact range)")
    var = (y * y).sum(axis=-1, keepdims=True)
    k = np.full(var.shape, _LN_SQRT_START, dtype=np.int64)
    for _ in range(_REF_LN_ITERS):
        k = (k + var // k) >> 1  # k stays >= 2^6 for var = 0 and >= 1 otherwise: no division by 0
    factor = ((1 << 31) - 1) // k
    check_bound(ymax * _max_abs(factor), 64, True, kernel=kernel, what="y * factor (int64)")
    yq = (y * factor) >> 1
    dim_sqrt = np.sqrt(np.float32(c))
    s_n = np.float32(dim_sqrt / np.float32(1 << 30))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        bw = b.astype(np.float32) / w.astype(np.float32)
        bias_f = np.floor((bw / s_n).astype(np.float32))
    if not np.all(np.isfinite(bias_f)) or np.any(np.abs(bias_f) >= 2.0**53):
        raise IntegerOverflowError(kernel, "bias_i (float64-exact range)", _F64_EXACT_BITS, True,
                                   float(np.nanmax(np.abs(np.where(np.isfinite(bias_f), bias_f, 2.0**80)))))
    out = yq + bias_f.astype(np.int64)
    s_out = (s_n * w.astype(np.float32)).astype(np.float32).astype(np.float64)
    return out, s_out


def _max_abs(a: np.ndarray) -> int:
    return 0 if a.size == 0 else max(abs(int(a.min())), abs(int(a.max())))
