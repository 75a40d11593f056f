"""Dyadic numbers and integer requantization.

A dyadic number is ``m / 2^e`` with an integer mantissa ``m`` of at most ``mantissa_bits`` bits
(31 by default, as in I-BERT/I-ViT's ``batch_frexp``). Requantizing an integer ``q`` held at scale
``s_in`` to scale ``s_out`` multiplies it by the dyadic approximation of ``s_in / s_out``::

    q_out = saturate(round_half_even(q * m / 2^e), out_bits)

Exactness. The reference code evaluates ``round(q * m / 2^e)`` in float64 (half to even). Here the
product ``q * m`` is formed exactly: in int64 when ``max|q| * max|m| < 2^63`` (checked from the
actual operands before multiplying), otherwise in Python integers (numpy object arrays), so no
bound on the operands is needed. The rounding of ``p / 2^e`` is done with shifts and masks
(:func:`round_shift`), never in floating point. Where ``|q * m| < 2^53`` the float64 reference
and this exact form agree bit for bit; beyond that the reference's float64 product is itself
rounded, and the exact form is what integer hardware computes.

Saturation. The hardware requantizer saturates its output to the ``out_bits`` range
(``[-2^(b-1), 2^(b-1) - 1]`` signed, ``[0, 2^b - 1]`` unsigned), as the reference ``FixedPointMul``
clamps; :func:`requantize` does the same (it never raises on an out-of-range output).
"""

from __future__ import annotations

import math

import numpy as np

from .widths import int_range, saturate

__all__ = [
    "fixedpoint_mul_reference",
    "requantize",
    "rescale",
    "round_shift",
    "to_dyadic",
]

_INT64_LIMIT = 1 << 63


def to_dyadic(
    ratio: float | np.ndarray, mantissa_bits: int = 31, *, compat: str | None = None
) -> tuple[int, int] | tuple[np.ndarray, np.ndarray]:
    """Dyadic approximation ``ratio ~= m / 2^e``.

    ``(mant, exp) = frexp(ratio)`` with ``|mant|`` in [0.5, 1); ``m = round_half_away(mant *
    2^mantissa_bits)``; ``e = mantissa_bits - exp``. This is I-BERT's ``batch_frexp`` (Python
    ``decimal`` ROUND_HALF_UP, i.e. ties away from zero), computed exactly in float64 (``|mant| *
    2^31`` has at most 53 significant bits, so adding 0.5 and flooring is exact).

    ``compat=None`` (clean): when rounding carries ``|m|`` up to ``2^mantissa_bits`` it is
    renormalised to ``2^(mantissa_bits-1)`` with ``e - 1``, so ``|m| < 2^mantissa_bits`` always
    (a 31-bit mantissa fits an int32 register). ``compat="reference"`` keeps the reference's
    ``m = 2^31`` in that case. ``ratio = 0`` gives ``(0, mantissa_bits)``. ``e`` may be negative
    for ratios >= 2^mantissa_bits.

    Returns Python ints for a scalar ``ratio``, int64 arrays otherwise.
    """
    if compat not in (None, "clean", "reference"):
        raise ValueError(f"to_dyadic: compat must be None, 'clean' or 'reference', got {compat!r}")
    r = np.asarray(ratio, dtype=np.float64)
    if not np.all(np.isfinite(r)):
        raise ValueError("to_dyadic: ratio must be finite")
    mant, ex = np.frexp(r)
    scaled = np.abs(mant) * float(1 << mantissa_bits)
    m = (np.sign(mant) * np.floor(scaled + 0.5)).astype(np.int64)
    e = (mantissa_bits - ex).astype(np.int64)
    if compat != "reference":
        carry = np.abs(m) == (1 << mantissa_bits)
        m = np.where(carry, m // 2, m)
        e = np.where(carry, e - 1, e)
    if r.ndim == 0:
        return int(m), int(e)
    return m, e


def _as_exact(p: np.ndarray) -> np.ndarray:
    return np.asarray(p, dtype=object) if np.asarray(p).dtype != object else np.asarray(p)


def round_shift(p: np.ndarray | int, e: np.ndarray | int) -> np.ndarray:
    """Exact ``round_half_even(p / 2^e)`` for integer ``p`` and integer ``e`` (negative ``e`` = left shift).

    ``p`` may be an int64 array or an object array of Python ints; ``e`` broadcasts against it.
    int64 inputs with ``0 <= e <= 62`` stay int64 (the result is no larger than ``|p|``); otherwise
    the computation uses Python integers. Returns int64 when every result fits, else object.
    """
    p = np.asarray(p)
    e = np.asarray(e, dtype=np.int64)
    if p.dtype.kind not in "iuO":
        raise TypeError(f"round_shift needs integers, got dtype {p.dtype}")
    emax = int(e.max()) if e.size else 0
    emin = int(e.min()) if e.size else 0
    if p.dtype != object and emin >= 0 and emax <= 62:
        p = p.astype(np.int64, copy=False)
        fl = p >> e
        rem2 = (p & ((np.int64(1) << e) - 1)) << 1  # 2 * remainder, < 2^63
        one = np.int64(1) << e
        up = (rem2 > one) | ((rem2 == one) & ((fl & 1) == 1))
        return fl + up
    # exact path: Python integers
    po = _as_exact(p)
    eo = np.broadcast_to(e, np.broadcast_shapes(po.shape, e.shape)).astype(object)
    po = np.broadcast_to(po, eo.shape)
    out = np.empty(eo.shape, dtype=object)
    flat_p, flat_e, flat_o = po.reshape(-1), eo.reshape(-1), out.reshape(-1)
    for i in range(flat_p.size):
        flat_o[i] = _round_shift_int(int(flat_p[i]), int(flat_e[i]))
    return _narrow(out)


def _round_shift_int(p: int, e: int) -> int:
    if e <= 0:
        return p << (-e)
    fl = p >> e
    rem2 = (p - (fl << e)) << 1
    one = 1 << e
    return fl + (1 if rem2 > one or (rem2 == one and fl & 1) else 0)


def _narrow(a: np.ndarray) -> np.ndarray:
    """Object array of ints -> int64 when all values fit, else keep object."""
    if a.dtype != object:
        return a
    if a.size == 0:
        return a.astype(np.int64)
    mn, mx = min(a.reshape(-1)), max(a.reshape(-1))
    if mn >= -_INT64_LIMIT and mx < _INT64_LIMIT:
        return a.astype(np.int64)
    return a


def _max_abs(a: np.ndarray) -> int:
    a = np.asarray(a)
    if a.size == 0:
        return 0
    if a.dtype == object:
        return max(abs(int(v)) for v in a.reshape(-1))
    return max(abs(int(a.min())), abs(int(a.max())))


def requantize(
    q: np.ndarray,
    m: int | np.ndarray,
    e: int | np.ndarray,
    out_bits: int,
    *,
    signed: bool = True,
) -> np.ndarray:
    """``saturate(round_half_even(q * m / 2^e), out_bits)`` computed exactly; returns int64.

    ``q``: integer array (any width; int64 or object). ``m``, ``e``: dyadic multiplier from
    :func:`to_dyadic` (scalars, or arrays broadcasting against ``q`` for per-channel scales).
    The product ``q * m`` is formed in int64 when ``max|q| * max|m| < 2^63``, else in Python ints.
    The output saturates to the ``out_bits`` range (the hardware requantizer saturates).
    """
    q = np.asarray(q)
    if q.dtype.kind not in "iuO":
        raise TypeError(f"requantize needs an integer array, got dtype {q.dtype}")
    m_arr = np.asarray(m)
    if m_arr.dtype.kind not in "iuO":
        raise TypeError(f"requantize needs an integer mantissa, got dtype {m_arr.dtype}")
    if _max_abs(q) * _max_abs(m_arr) < _INT64_LIMIT and q.dtype != object and m_arr.dtype != object:
        p = q.astype(np.int64) * m_arr.astype(np.int64)
    else:
        p = _as_exact(q) * _as_exact(m_arr)
    r = round_shift(p, e)
    lo, hi = int_range(out_bits, signed)
    if r.dtype == object:
        r = np.clip(r, lo, hi).astype(np.int64)
    return saturate(r, out_bits, signed).astype(np.int64)


def rescale(
    q: np.ndarray,
    s_in: float | np.ndarray,
    s_out: float | np.ndarray,
    out_bits: int,
    *,
    signed: bool = True,
    mantissa_bits: int = 31,
) -> np.ndarray:
    """Requantize ``q`` from scale ``s_in`` to ``s_out`` (real value ``q * s_in`` ~= ``q_out * s_out``).

    The multiplier is ``to_dyadic(s_in / s_out)`` (float64 ratio, clean mode). Scales may be
    per-channel arrays broadcasting against ``q``. Output saturates to ``out_bits``; int64.
    """
    ratio = np.asarray(s_in, dtype=np.float64) / np.asarray(s_out, dtype=np.float64)
    m, e = to_dyadic(ratio, mantissa_bits)
    return requantize(q, m, e, out_bits, signed=signed)


def fixedpoint_mul_reference(z: np.ndarray, s_in: float, s_out: float, bits: int) -> np.ndarray:
    """The reference ``FixedPointMul`` integer path in float64, bit for bit (I-BERT / I-ViT quant_utils).

    ``z`` is the already-rounded integer ``round(x / s_in)`` (float64 or int array). Computes
    ``r = float64(s_in) / float64(float32(s_out))``, ``(m, e) = batch_frexp(r)`` (which may give
    ``m = 2^31``), ``out = round_half_even((z * m) / 2^e)`` in float64 (the product is rounded to
    53 bits when it exceeds 2^53, as in the reference) and clamps to ``[-2^(bits-1), 2^(bits-1)-1]``.
    Returns float64 holding integers (the reference casts to float32, exact for bits <= 24).
    """
    ratio = float(s_in) / float(np.float32(s_out))
    m, e = to_dyadic(ratio, 31, compat="reference")
    zf = np.asarray(z, dtype=np.float64)
    out = np.round((zf * float(m)) / math.ldexp(1.0, int(e)))
    lo, hi = int_range(bits, True)
    return np.asarray(np.clip(out, lo, hi))

