"""The systolic array's functional dataflow: GEMMs accumulated fold by fold, bit for bit, with widths checked.

:func:`systolic_gemm` computes as the weight-stationary array (``dataflow: ws``) does: the reduction dimension
K is cut into folds of ``rows`` (the PE rows holding one weight block); in a fold each output's partial sum
runs down a PE column (at most ``rows`` products: ``|.| <= rows * max|a| * max|b|``, a static bound checked
against the 32-bit column registers), and the fold results are added, in fold order, into the int32 output
accumulators below the array. Every running accumulator value (after each fold) is checked against
``acc_bits``: an overflow raises :class:`~sim.kernels.widths.IntegerOverflowError` even if a later fold would
bring it back into range (stricter than :func:`sim.kernels.gemm.int_gemm`, which checks the final value).
Tiling of N by the array's columns does not change any sum, so it is not modelled here (the timing does it).
:class:`SystolicDatapath` runs every GEMM and attention BMM of the integer forward this way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.kernels.widths import check_bound, check_width

_F32_EXACT = 1 << 24
_F64_EXACT = 1 << 53

def _max_abs(a: np.ndarray) -> int:
    return 0 if a.size == 0 else max(abs(int(a.min())), abs(int(a.max())))


def systolic_gemm(a: np.ndarray, b: np.ndarray, rows: int = 64, *, in_bits: int = 8, acc_bits: int = 32,
                  kernel: str = "systolic_gemm") -> np.ndarray:
    """``a @ b`` accumulated fold by fold as a weight-stationary ``rows``-row systolic array does; int64.

    ``a``: integer ``(..., m, k)`` (activations, streamed), ``b``: integer ``(k, n)`` or ``(..., k, n)``
    (the stationary operand; a transposed view of an ``[n, k]`` weight is fine and is not copied); values
    must fit signed ``in_bits`` (int8; 9 for uint8 probabilities times int8; 16 for decompressed GOBO
    weights with int16 outliers). ``rows``: PE rows = K per fold (the last fold may be partial: its
    unused PE rows hold zeros). Checks: operands fit ``in_bits``; the per-fold column sum bound
    ``rows * max|a| * max|b|`` fits ``acc_bits``; every post-fold accumulator value fits ``acc_bits``
    (raises ``IntegerOverflowError``).

    Exactness: fold products are float32 BLAS products (exact: ``|partial| <= rows * max|a| * max|b|
    <= 2^24`` is asserted, else float64), accumulated in float32 when ``max_m sum_k |a_mk| * max|b| <=
    2^24`` (every running sum exact), else in float64 (exact below 2^53, asserted).
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.dtype.kind not in "iu" or b.dtype.kind not in "iu":
        raise TypeError(f"{kernel}: operands must be integer arrays, got {a.dtype} and {b.dtype}")
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
        raise ValueError(f"{kernel}: shapes {a.shape} and {b.shape} do not multiply")
    if rows < 1:
        raise ValueError(f"{kernel}: rows must be >= 1, got {rows}")
    check_width(a, in_bits, True, kernel=kernel, what="operand A")
    check_width(b, in_bits, True, kernel=kernel, what="operand B")
    k = a.shape[-1]
    max_b = _max_abs(b)
    fold_bound = min(rows, k) * _max_abs(a) * max_b
    check_bound(fold_bound, acc_bits, True, kernel=kernel, what="PE column partial sum")
    run_bound = int(np.abs(a.astype(np.int64)).sum(axis=-1).max(initial=0)) * max_b
    if run_bound >= _F64_EXACT:
        raise ValueError(f"{kernel}: running sums up to {run_bound} exceed float64's exact range")
    ptype = np.float32 if fold_bound <= _F32_EXACT else np.float64
    atype = np.float32 if run_bound <= _F32_EXACT else np.float64
    af = a.astype(ptype)
    bf = b.astype(ptype)
    out_shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    acc = np.zeros(out_shape, dtype=atype)
    lo = hi = 0.0
    for k0 in range(0, k, rows):  # one fold: the PE rows hold b[k0:k0+rows, :]
        part = np.matmul(af[..., k0:k0 + rows], bf[..., k0:k0 + rows, :])
        acc += part
        lo = min(lo, float(acc.min(initial=0)))
        hi = max(hi, float(acc.max(initial=0)))
    check_width(np.array([lo, hi]), acc_bits, True, kernel=kernel, what="output accumulator")
    return acc.astype(np.int64)


class SystolicDatapath:
    """Every GEMM and attention BMM fold-wise on a weight-stationary array of ``rows`` PE rows: int8 weights, or
    GOBO weights decompressed to their integer matrix (int8 centroids, int16 outliers: 16-bit operands)."""

    name = "systolic"

    def __init__(self, rows: int = 64) -> None:
        self.rows = int(rows)
        self.key: tuple[Any, ...] = ("systolic", self.rows)

    def linear(self, x: np.ndarray, lin: Any, in_bits: int) -> tuple[np.ndarray, str]:
        """``x @ W^T`` fold by fold (``lin``: an integer linear with ``matrix_nk()`` and ``in_bits``)."""
        out = systolic_gemm(x, lin.matrix_nk().T, self.rows, in_bits=in_bits)
        return out, f"systolic-ws(rows={self.rows}, w{lin.in_bits})"

    def bmm(self, a: np.ndarray, b: np.ndarray, in_bits: int) -> np.ndarray:
        """Attention ``a @ b`` fold by fold."""
        return systolic_gemm(a, b, self.rows, in_bits=in_bits)
