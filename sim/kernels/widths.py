"""Declared integer widths and their checks.

Every integer intermediate of a kernel has a declared width (bits, signed or not). Kernels call
:func:`check_width` on each one; a value outside the declared range raises
:class:`IntegerOverflowError`, whose message names the kernel, the intermediate and the width::

    int_gemm: accumulator exceeds int32 (max |value| 2.2e+09 > 2147483647)

Where the hardware saturates (requantizer outputs, softmax outputs), kernels call :func:`saturate`
instead and say so in their docstrings. Nothing is ever wrapped silently.

Widths up to 64 bits are supported; arrays may be any integer dtype, float64 holding integers
(reference modes), or object arrays of Python ints.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "IntegerOverflowError",
    "bit_length",
    "check_bound",
    "check_width",
    "int_range",
    "saturate",
    "type_name",
]


class IntegerOverflowError(ArithmeticError):
    """An integer intermediate left its declared width.

    Attributes: ``kernel`` (e.g. ``"int_gemm"``), ``what`` (the intermediate, e.g. ``"accumulator"``),
    ``bits``, ``signed`` and ``value`` (the offending extreme value, a Python int or float).
    """

    def __init__(self, kernel: str, what: str, bits: int, signed: bool, value: float) -> None:
        self.kernel = kernel
        self.what = what
        self.bits = bits
        self.signed = signed
        self.value = value
        lo, hi = int_range(bits, signed)
        name = type_name(bits, signed)
        if value > hi:
            detail = f"max |value| {float(abs(value)):.3g} > {hi}" if signed else f"max value {float(value):.3g} > {hi}"
        else:
            detail = f"min value {float(value):.3g} < {lo}"
        super().__init__(f"{kernel}: {what} exceeds {name} ({detail})")

    def __reduce__(self) -> tuple[type, tuple[str, str, int, bool, float]]:
        # picklable (e.g. across dask workers) despite the custom constructor
        return (type(self), (self.kernel, self.what, self.bits, self.signed, self.value))


def int_range(bits: int, signed: bool = True) -> tuple[int, int]:
    """Inclusive range ``(lo, hi)`` of a two's-complement (``signed``) or unsigned ``bits``-bit integer."""
    if bits < 1:
        raise ValueError(f"width must be >= 1 bit, got {bits}")
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def type_name(bits: int, signed: bool = True) -> str:
    """``"int32"`` / ``"uint16"`` style name of a width."""
    return f"{'int' if signed else 'uint'}{bits}"


def _extremes(arr: np.ndarray) -> tuple[int | float, int | float] | None:
    a = np.asarray(arr)
    if a.size == 0:
        return None
    mn, mx = a.min(), a.max()
    if a.dtype.kind == "f":
        if not (np.isfinite(mn) and np.isfinite(mx)):
            # inf / nan: report as out of any range
            return (float(mn) if np.isfinite(mn) else -np.inf, float(mx) if np.isfinite(mx) else np.inf)
        return float(mn), float(mx)
    return int(mn), int(mx)


def check_width(arr: np.ndarray | int, bits: int, signed: bool = True, *, kernel: str, what: str) -> np.ndarray:
    """Check that every element of ``arr`` fits the declared width; return ``arr`` unchanged.

    Raises :class:`IntegerOverflowError` naming ``kernel``, ``what`` and the width otherwise.
    """
    ext = _extremes(np.asarray(arr))
    if ext is None:
        return arr  # type: ignore[return-value]
    lo, hi = int_range(bits, signed)
    mn, mx = ext
    if mx > hi:
        raise IntegerOverflowError(kernel, what, bits, signed, mx)
    if mn < lo:
        raise IntegerOverflowError(kernel, what, bits, signed, mn)
    return arr  # type: ignore[return-value]


def check_bound(bound: int, bits: int, signed: bool = True, *, kernel: str, what: str) -> None:
    """Check a precomputed worst-case magnitude ``bound`` (a Python int) against a width.

    Used *before* an int64 numpy computation whose overflow would otherwise wrap silently.
    """
    if bound > int_range(bits, signed)[1]:
        raise IntegerOverflowError(kernel, what, bits, signed, bound)


def saturate(arr: np.ndarray, bits: int, signed: bool = True) -> np.ndarray:
    """Clamp ``arr`` to the range of the width (what a saturating hardware register does)."""
    lo, hi = int_range(bits, signed)
    return np.clip(arr, lo, hi)


def bit_length(n: np.ndarray) -> np.ndarray:
    """Exact vectorised ``int.bit_length`` of non-negative int64 values (0 -> 0), as int64.

    Binary search on shifts, no float conversion, so it is exact up to 2^63 - 1.
    """
    x = np.asarray(n, dtype=np.int64)
    if x.size and int(x.min()) < 0:
        raise ValueError("bit_length needs non-negative values")
    bl = np.zeros(x.shape, dtype=np.int64)
    for s in (32, 16, 8, 4, 2, 1):
        big = (x >> s) > 0
        x = np.where(big, x >> s, x)
        bl += np.where(big, s, 0)
    return bl + (x > 0)
