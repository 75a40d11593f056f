"""The ternary design's functional dataflow: weight GEMMs as sums and differences of activations, attention
bit-serially, every accumulator width checked.

:func:`ternary_gemm` computes ``x @ W^T`` as the add/subtract lanes do: for each output the sum of the
activations whose weight is +1 minus the sum of those whose weight is -1 (no multiplication; a weight outside
{-1, 0, +1} is an error). :func:`bitserial_gemm` computes ``a @ b`` of two activation operands as the lanes'
bit-serial mode: ``b``'s two's-complement bit planes, most significant first (subtracted), each a pass of
adds, the accumulator doubled between planes. Both check every running accumulator against ``acc_bits``.
Sums are exact: float64 BLAS on integers below 2^53 (asserted).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.kernels.widths import check_bound, check_width

_F64_EXACT = 1 << 53


def _max_abs(a: np.ndarray) -> int:
    return 0 if a.size == 0 else max(abs(int(a.min())), abs(int(a.max())))


def ternary_gemm(x: np.ndarray, w_nk: np.ndarray, *, in_bits: int = 8, acc_bits: int = 32) -> np.ndarray:
    """``x [m, k] @ w_nk.T`` for a ternary ``w_nk [n, k]``: selected sums minus selected sums; int64."""
    x = np.asarray(x)
    w = np.asarray(w_nk)
    if x.dtype.kind not in "iu" or w.dtype.kind not in "iu":
        raise TypeError(f"ternary_gemm: operands must be integer arrays, got {x.dtype} and {w.dtype}")
    if x.shape[-1] != w.shape[-1]:
        raise ValueError(f"ternary_gemm: shapes {x.shape} and {w.shape} do not multiply")
    if w.size and not np.isin(w, (-1, 0, 1)).all():
        raise ValueError("ternary_gemm: weights must be in {-1, 0, +1}")
    check_width(x, in_bits, True, kernel="ternary_gemm", what="activations")
    bound = int(np.abs(x.astype(np.int64)).sum(axis=-1).max(initial=0))  # the largest running |sum|
    check_bound(bound, acc_bits, True, kernel="ternary_gemm", what="accumulator")
    xf = x.astype(np.float64)
    plus = (w == 1).astype(np.float64).T
    minus = (w == -1).astype(np.float64).T
    return (xf @ plus - xf @ minus).astype(np.int64)


def bitserial_gemm(a: np.ndarray, b: np.ndarray, *, in_bits: int = 8, b_bits: int = 8,
                   acc_bits: int = 32) -> np.ndarray:
    """``a @ b`` (batched), bit-serial over ``b``'s ``b_bits`` two's-complement planes; int64."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.dtype.kind not in "iu" or b.dtype.kind not in "iu":
        raise TypeError(f"bitserial_gemm: operands must be integer arrays, got {a.dtype} and {b.dtype}")
    check_width(a, in_bits, True, kernel="bitserial_gemm", what="operand A")
    check_width(b, b_bits, True, kernel="bitserial_gemm", what="operand B")
    row = int(np.abs(a.astype(np.int64)).sum(axis=-1).max(initial=0))
    check_bound(row * (1 << (b_bits - 1)), acc_bits, True, kernel="bitserial_gemm", what="accumulator")
    if row * (1 << b_bits) >= _F64_EXACT:
        raise ValueError("bitserial_gemm: sums exceed float64's exact range")
    af = a.astype(np.float64)
    bu = b.astype(np.int64) & ((1 << b_bits) - 1)
    acc = None
    for plane in range(b_bits - 1, -1, -1):
        bits = ((bu >> plane) & 1).astype(np.float64)
        part = np.matmul(af, bits)
        acc = -part if plane == b_bits - 1 else acc * 2 + part  # type: ignore[operator]
        check_width(np.array([acc.min(initial=0), acc.max(initial=0)]), acc_bits, True, kernel="bitserial_gemm",
                    what="accumulator")
    assert acc is not None
    return acc.astype(np.int64)


class TernaryDatapath:
    """Weight GEMMs on the add/subtract lanes (ternary weights), attention BMMs bit-serially."""

    name = "ternary"
    key: tuple[Any, ...] = ("ternary",)

    def linear(self, x: np.ndarray, lin: Any, in_bits: int) -> tuple[np.ndarray, str] | None:
        """``x @ W^T`` for a ternary linear; None (the reference kernel) for a linear that is not ternary."""
        w = lin.matrix_nk()
        if w.size and not np.isin(w, (-1, 0, 1)).all():
            return None
        return ternary_gemm(x, w, in_bits=in_bits), "ternary-addsub"

    def bmm(self, a: np.ndarray, b: np.ndarray, in_bits: int) -> np.ndarray:
        """Attention ``a @ b``, bit-serial over ``b`` (int8; wider when it does not fit)."""
        b_bits = 8 if (b.size == 0 or (int(b.min()) >= -128 and int(b.max()) <= 127)) else in_bits
        return bitserial_gemm(a, b, in_bits=in_bits, b_bits=b_bits)
