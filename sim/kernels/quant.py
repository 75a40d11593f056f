"""Symmetric uniform quantization (real value = q * s), per tensor or per channel.

``symmetric_scale(x, bits) = max(max|x|, floor) / (2^(bits-1) - 1)`` and
``quantize(x, s, bits) = clamp(round_half_even(x / s), lo, hi)``.

Clamp ranges (``qrange``), stated because the public references differ:

=============  ===========================  ===============================================
``qrange``     range (8 bits)               who
=============  ===========================  ===============================================
"symmetric"    [-127, 127]                  default (clean): symmetric, -128 never produced
"ibert"        [-127, 126]                  I-BERT / HF ``SymmetricQuantFunction`` quirk:
                                            ``clamp(q, -n, n-1)`` with ``n = 2^(b-1)-1``
"full"         [-128, 127]                  I-ViT, and every requantizer output
=============  ===========================  ===============================================

With ``qrange="ibert"`` or ``"full"`` the rounding argument is computed as the references do,
``round((1/s) * x)`` (a reciprocal multiply), which can differ from ``round(x / s)`` in the last
float64 bit; ``"symmetric"`` divides.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dequantize", "int_dtype_for", "qrange_bounds", "quantize", "symmetric_scale"]

_QRANGES = ("symmetric", "ibert", "full")


def qrange_bounds(bits: int, qrange: str = "symmetric") -> tuple[int, int]:
    """Inclusive integer range ``(lo, hi)`` of ``bits``-bit quantization under ``qrange`` (table above)."""
    if bits < 2:
        raise ValueError(f"quantization needs at least 2 bits, got {bits}")
    n = (1 << (bits - 1)) - 1
    if qrange == "symmetric":
        return -n, n
    if qrange == "ibert":
        return -n, n - 1
    if qrange == "full":
        return -n - 1, n
    raise ValueError(f"qrange must be one of {_QRANGES}, got {qrange!r}")


def int_dtype_for(bits: int) -> np.dtype:
    """Narrowest signed numpy integer dtype holding ``bits``-bit values (int8/16/32/64)."""
    for b, dt in ((8, np.int8), (16, np.int16), (32, np.int32), (64, np.int64)):
        if bits <= b:
            return np.dtype(dt)
    raise ValueError(f"no integer dtype holds {bits} bits")


def _reduce_axes(ndim: int, channel_axis: int | None) -> tuple[int, ...] | None:
    if channel_axis is None:
        return None
    ax = channel_axis % ndim
    return tuple(i for i in range(ndim) if i != ax)


def symmetric_scale(
    x: np.ndarray,
    bits: int,
    *,
    channel_axis: int | None = None,
    floor: float = 1e-8,
) -> float | np.ndarray:
    """Symmetric scale ``max(max|x|, floor) / (2^(bits-1) - 1)`` (float64; units of ``x`` per integer step).

    ``channel_axis=None``: one scale for the tensor (a Python float). Otherwise one scale per
    index along ``channel_axis`` (the max runs over all other axes), returned shaped to broadcast
    against ``x`` (size 1 on the reduced axes). ``floor`` is the reference's lower clamp on the
    range (I-BERT 1e-8; I-ViT uses float32 eps on the scale itself).
    """
    a = np.abs(np.asarray(x, dtype=np.float64))
    n = (1 << (bits - 1)) - 1
    axes = _reduce_axes(a.ndim, channel_axis)
    if axes is None:
        return float(max(float(a.max()) if a.size else 0.0, floor) / n)
    return np.maximum(a.max(axis=axes, keepdims=True), floor) / n


def quantize(
    x: np.ndarray,
    s: float | np.ndarray,
    bits: int,
    *,
    qrange: str = "symmetric",
) -> np.ndarray:
    """``clamp(round_half_even(x / s), lo, hi)`` as the narrowest signed integer dtype for ``bits``.

    ``s`` is a float or an array broadcasting against ``x`` (per channel, as returned by
    :func:`symmetric_scale`). ``(lo, hi)`` from :func:`qrange_bounds`; values beyond saturate.
    """
    lo, hi = qrange_bounds(bits, qrange)
    xf = np.asarray(x, dtype=np.float64)
    sf = np.asarray(s, dtype=np.float64)
    if np.any(sf <= 0):
        raise ValueError("quantize: scale must be positive")
    t = xf / sf if qrange == "symmetric" else (1.0 / sf) * xf
    q = np.clip(np.round(t), lo, hi)
    return q.astype(int_dtype_for(bits))


def dequantize(q: np.ndarray, s: float | np.ndarray) -> np.ndarray:
    """Real values ``q * s`` as float64."""
    return np.asarray(q, dtype=np.float64) * np.asarray(s, dtype=np.float64)
