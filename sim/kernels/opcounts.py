"""Integer operation counts per kernel, for the vector-unit (and PE) timing/energy model.

Counts are taken line by line from the kernels in this package (the comments name the code);
they are what the hardware executes for the algorithm, not what numpy does. Operation types:

``add``   add / subtract / negate
``mul``   integer multiply
``shift`` shift by a constant or a variable amount
``cmp``   compare, min/max, select, saturate (one per bound)
``div``   integer division; a divmod (quotient and remainder from one divider) counts once
``logic`` and/or masks
``clz``   count-leading-zeros / bit length

Each kernel has ``per_element`` counts (including each element's share of a row reduction:
one ``cmp`` for a row max, one ``add`` for a row sum), ``per_row`` counts (once per row: the
reciprocal of a softmax, the mean division and sqrt set-up of a LayerNorm) and, for LayerNorm,
``per_sqrt_iteration`` counts times a data-dependent number of Newton iterations
(:func:`sqrt_iteration_counts`). ``OpCount.total`` combines them.

The I-ViT kernels use fewer multiplies than I-BERT's because of their algorithms: ShiftExp's
``2^p ~= 1 + p/2`` needs no multiply where i-exp evaluates ``(r + b) r`` (1 mul), and the
log2(e) factor is two shifts and two adds. Shiftmax: 1 mul per element vs i-softmax's 2.
ShiftGELU: 1 mul (``q * sig``) vs i-GELU's 2 (``u^2`` and ``q * t``) -- but ShiftGELU pays two
divisions per element (the exponent divmod and the sigmoid's ``num // den``), i-GELU none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ._common import isqrt_newton

__all__ = ["OP_COUNTS", "OP_TYPES", "OpCount", "op_counts", "sqrt_iteration_counts"]

OP_TYPES = ("add", "mul", "shift", "cmp", "div", "logic", "clz")


def _c(**kw: int) -> Mapping[str, int]:
    bad = set(kw) - set(OP_TYPES)
    if bad:
        raise ValueError(f"unknown op types {bad}")
    return MappingProxyType({k: kw.get(k, 0) for k in OP_TYPES})


@dataclass(frozen=True)
class OpCount:
    """Operation counts of one kernel in one mode."""

    kernel: str
    mode: str
    per_element: Mapping[str, int]
    per_row: Mapping[str, int] = field(default_factory=lambda: _c())
    per_sqrt_iteration: Mapping[str, int] = field(default_factory=lambda: _c())
    fixed_sqrt_iterations: int | None = None  # I-ViT reference: exactly 10
    notes: str = ""

    def total(self, elements: int, rows: int = 0, sqrt_iterations: int | None = None) -> dict[str, int]:
        """Total ops for ``elements`` elements in ``rows`` rows and ``sqrt_iterations`` Newton updates in all.

        ``sqrt_iterations`` defaults to ``fixed_sqrt_iterations * rows`` when the count is fixed, else 0.
        """
        if sqrt_iterations is None:
            sqrt_iterations = (self.fixed_sqrt_iterations or 0) * rows
        return {
            k: self.per_element[k] * elements + self.per_row[k] * rows + self.per_sqrt_iteration[k] * sqrt_iterations
            for k in OP_TYPES
        }


# round-half-even requantization (dyadic.round_shift): floor shift, remainder mask, 2*rem shift,
# compares with half (>, ==), odd test (and), increment
_RHE = {"shift": 2, "logic": 2, "cmp": 2, "add": 1}
# Newton step of int_sqrt (_common.isqrt_newton): n // x, x + ., >> 1, compare with previous x
_SQRT_ITER = _c(div=1, add=1, shift=1, cmp=1)

_TABLE: dict[str, dict[str, OpCount]] = {
    "ibert.int_gelu": {
        "clean": OpCount(
            "ibert.int_gelu", "clean",
            # mag=|q|: cmp 1 + negate add 1; saturating shift + min(., B): cmp 2, shift 1;
            # u = aw - B: add 1; v = u*u: mul 1; lmag = C - v: add 1; sign(q)*lmag: select cmp 1 +
            # negate add 1; e1 = C + .: add 1; t = e1 >> sh: shift 1; out = q * t: mul 1
            _c(add=5, mul=2, shift=2, cmp=4),
            notes="no division; two multiplies (u^2 and q*t)",
        ),
        "reference": OpCount(
            "ibert.int_gelu", "reference",
            # sign: cmp 1; |q|: cmp 1 + add 1; min(., -b): cmp 1; + b: add 1; ^2: mul 1; + c: add 1;
            # * sign: cmp 1 + add 1; >> 14: shift 1; + one: add 1; q * (.): mul 1
            _c(add=5, mul=2, shift=1, cmp=4),
        ),
    },
    "ibert.int_softmax": {
        "clean": OpCount(
            "ibert.int_softmax", "clean",
            # row max: cmp 1; d = q - max: add 1; working shift: shift 1 (checked, not saturated);
            # clamp at 16 x0: cmp 1; divmod by x0: div 1; P = (r + b) r + c: add 2, mul 1;
            # E = P >> (sh + z): add 1, shift 1; row sum: add 1;
            # normalise (_common.normalize_rows): E * f mul 1, + half add 1, >> 28 shift 1, saturate to
            # [0, 2^ob - 1] cmp 2 (one per bound)
            _c(add=6, mul=2, shift=3, cmp=4, div=1),
            per_row=_c(div=1),  # f = 2^36 // sum
        ),
        "reference": OpCount(
            "ibert.int_softmax", "reference",
            # row max cmp 1; sub add 1; clamp at 30 x0 cmp 1; divmod div 1; poly add 2 mul 1;
            # E = P << (30 - z): add 1, shift 1; max(E, 0): cmp 1; QuantAct(16): round(E / S_E) as a
            # constant multiply mul 1, then (m, e) requantization mul 1 + round half even + clamp cmp 2;
            # row sum add 1; E16 * f mul 1, >> 24 shift 1
            _c(add=5 + _RHE["add"], mul=4, shift=2 + _RHE["shift"], cmp=5 + _RHE["cmp"], div=1, logic=_RHE["logic"]),
            per_row=_c(div=1),
        ),
    },
    "ibert.int_layernorm": {
        "clean": OpCount(
            "ibert.int_layernorm", "clean",
            # row sum: add 1; y = (q << g) - mean: shift 1, add 1; y*y mul 1 + var sum add 1;
            # y * f: mul 1, >> (L + 4): shift 1; n * M_c: mul 1, + B_c: add 1;
            # round half even (dyadic.round_shift); saturate: cmp 2
            _c(add=4 + _RHE["add"], mul=3, shift=2 + _RHE["shift"], cmp=2 + _RHE["cmp"], logic=_RHE["logic"]),
            # mean: (total << g+1) + C: shift 1, add 1, // 2C: div 1; sqrt start 2^ceil(bits/2): clz 1,
            # add 1, shift 2; reciprocal: L = bits(std) clz 1, R + L add 1, 1 << (R+L) shift 1, // std div 1,
            # shift amount L + R - F add 1; zero-variance guard (std == 0 -> f = 0): cmp 1, select cmp 1
            per_row=_c(add=4, shift=4, div=2, clz=2, cmp=2),
            per_sqrt_iteration=_SQRT_ITER,
            notes="sqrt iterations: Newton (Algorithm 1) from 2^ceil(bits(var)/2), data-dependent",
        ),
        "reference": OpCount(
            "ibert.int_layernorm", "reference",
            # row sum add 1; y = q - mean add 1; y >> shift: shift 1; ys^2 mul 1, var sum add 1;
            # y * f mul 1; >> 1 shift 1; + bias_i add 1
            _c(add=4, mul=2, shift=2),
            # mean: div 1 + round (add 1, cmp 1); std << shift: shift 1; f = 2^31 // std: div 1;
            # sqrt as Algorithm 1 (the reference's float sqrt "to be replaced with integer sqrt")
            per_row=_c(add=2, shift=3, cmp=1, div=2, clz=1),
            per_sqrt_iteration=_SQRT_ITER,
        ),
    },
    "ivit.shiftmax": {
        "clean": OpCount(
            "ivit.shiftmax", "clean",
            # row max cmp 1; d = q - max add 1; saturating working shift cmp 1, shift 1;
            # ShiftExp (ivit._shift_exp_clean): clamp cmp 1, x + x>>1 - x>>4 shift 2 add 2, clamp cmp 1,
            # divmod div 1, ((r - 2 x0) << 7) >> z add 1 shift 2; row sum add 1;
            # normalise (_common.normalize_rows): E * f mul 1, + half add 1, >> 28 shift 1, saturate to
            # [0, 2^ob - 1] cmp 2 (one per bound)
            _c(add=6, mul=1, shift=6, cmp=6, div=1),
            per_row=_c(div=1),
            notes="one multiply per element (the normalisation); the exponential has none",
        ),
        "reference": OpCount(
            "ivit.shiftmax", "reference",
            # row max cmp 1; sub add 1; shift-add log2e shift 2 add 2; clamp cmp 1; divmod div 1;
            # r - 2 x0 add 1; << (n - z): add 1 shift 1; >> 1 shift 1; row sum add 1; E * f mul 1;
            # >> 24 shift 1
            _c(add=6, mul=1, shift=5, cmp=2, div=1),
            per_row=_c(cmp=1, div=1),  # min(sum, 2^31 - 1); f = (2^31 - 1) // sum
        ),
    },
    "ivit.shift_gelu": {
        "clean": OpCount(
            "ivit.shift_gelu", "clean",
            # -|q|: cmp 1, add 1; saturating working shift: cmp 1, shift 1;
            # ShiftExp: clamp cmp 1, shift-add shift 2 add 2, clamp cmp 1, divmod div 1,
            # (r - 2 x0) >> z add 1 shift 1; num = q > 0 ? one : E: cmp 1; num << 15: shift 1;
            # den = one + E: add 1; sig = num // den: div 1; q * sig: mul 1
            _c(add=5, mul=1, shift=5, cmp=5, div=2),
            notes="one multiply but two divisions per element (exponent divmod, sigmoid)",
        ),
        "reference": OpCount(
            "ivit.shift_gelu", "reference",
            # row max cmp 1; q - max add 1; ShiftExp (n = 23): shift-add shift 2 add 2, clamp cmp 1,
            # divmod div 1, r - 2 x0 add 1, << (n - z) add 1 shift 1, >> 1 shift 1;
            # E + E_m add 1; min(., 2^31 - 1) cmp 1; f = (2^31 - 1) // sum div 1; E * f mul 1;
            # >> 24 shift 1; q * sig mul 1
            _c(add=6, mul=2, shift=5, cmp=3, div=2),
            # E_m = ShiftExp(-rowmax): negate add 1 + one ShiftExp (add 4, shift 4, cmp 1, div 1)
            per_row=_c(add=5, shift=4, cmp=1, div=1),
        ),
    },
    "ivit.int_layernorm": {
        "clean": OpCount(
            "ivit.int_layernorm", "clean",
            _c(add=4 + _RHE["add"], mul=3, shift=2 + _RHE["shift"], cmp=2 + _RHE["cmp"], logic=_RHE["logic"]),
            # as ibert clean but the sqrt starts at the constant 2^16 (no clz/shift set-up);
            # the unconditional first Newton step is counted as one sqrt iteration; zero-variance guard cmp 2
            per_row=_c(add=3, shift=2, div=2, clz=1, cmp=2),
            per_sqrt_iteration=_SQRT_ITER,
            notes="sqrt iterations: from 2^16 to convergence, data-dependent",
        ),
        "reference": OpCount(
            "ivit.int_layernorm", "reference",
            # row sum add 1; y = q - mean add 1; y^2 mul 1, var sum add 1; y * f mul 1; >> 1 shift 1;
            # + bias_i add 1
            _c(add=4, mul=2, shift=1),
            per_row=_c(add=1, cmp=1, div=2),  # mean (div + round), f = (2^31 - 1) // std
            per_sqrt_iteration=_c(div=1, add=1, shift=1),  # no convergence compare
            fixed_sqrt_iterations=10,
        ),
    },
    "gemm.int_gemm": {
        "clean": OpCount(
            "gemm.int_gemm", "clean",
            _c(mul=1, add=1),  # per multiply-accumulate (m * k * n of them)
            notes="per_element = per MAC",
        ),
    },
    "gemm.gobo_gemm": {
        "clean": OpCount(
            "gemm.gobo_gemm", "clean",
            _c(add=1),  # per (m, k, n): add x[m, k] into the bin selected by idx[k, n]
            per_row=_c(mul=1, add=1),  # per (m, n, bin): bin_sum * centroid, accumulate
            notes="per_element = per (m, k, n) inlier; per_row = per (m, n, centroid); "
            "each outlier adds one mul and one add per row m of x",
        ),
    },
}
#: kernel name -> mode ("clean"/"reference") -> OpCount
OP_COUNTS: Mapping[str, Mapping[str, OpCount]] = MappingProxyType(
    {k: MappingProxyType(v) for k, v in _TABLE.items()}
)


def op_counts(kernel: str, mode: str = "clean") -> OpCount:
    """The :class:`OpCount` of ``kernel`` (e.g. ``"ibert.int_softmax"``) in ``mode`` ("clean" or "reference")."""
    try:
        return OP_COUNTS[kernel][mode]
    except KeyError:
        raise KeyError(
            f"no op counts for kernel {kernel!r} in mode {mode!r}; kernels: {sorted(OP_COUNTS)}"
        ) from None


def sqrt_iteration_counts(var: np.ndarray, variant: str = "ibert") -> np.ndarray:
    """Newton iterations the clean LayerNorm sqrt takes for each variance ``var`` (int64 >= 0).

    ``variant="ibert"`` starts at ``2^ceil(bits(var)/2)``, ``"ivit"`` at 2^16 (its first step included).
    """
    if variant == "ibert":
        _, it = isqrt_newton(np.asarray(var, dtype=np.int64))
    elif variant == "ivit":
        _, it = isqrt_newton(np.asarray(var, dtype=np.int64), np.int64(1 << 16))
    else:
        raise ValueError(f"variant must be 'ibert' or 'ivit', got {variant!r}")
    return it
