"""The GOBO PE's functional dataflow: GEMMs on GOBO weights computed as the PE computes them, bit for bit.

:func:`gobo_pe_gemm`, vectorised: per output ``(m, n)`` one 32-bit bin accumulator per centroid sums the
activations whose weight index selects it (additions only, outliers excluded), then one multiply per bin by
the int8 centroid, plus the int8 x int16 outlier products, into the 32-bit output accumulator. The same
dataflow and declared widths as :func:`sim.kernels.gemm.gobo_gemm` (``GOBO_WIDTHS``; tests assert equal
results). Vectorised per block of output columns as one float32 BLAS product of stacked planes with the
activations: ``B`` one-hot index planes (the bin sums) and one plane holding the outlier values at their
positions (the per-output sums of the outlier products), all exact (bounds in the code); the centroid products
are summed in one exact contraction and the product width is checked from the bin extremes
(``max|bin| * max|c|``) before falling back to an element-wise check. :class:`GoboDatapath` runs the weight
GEMMs of the integer forward this way (attention BMMs are int8 MACs on the PE multipliers: the reference
kernel computes them).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.errors import SimInputError
from sim.kernels.gemm import GOBO_WIDTHS
from sim.kernels.widths import IntegerOverflowError, check_bound, check_width
from sim.quant.integer import IntegerGobo

_F32_EXACT = 1 << 24

#: Plane entries (planes x n-block x k float32 values) built at once by :func:`gobo_pe_gemm` (8 MiB: the planes of
#: a block stay in the last-level cache while BLAS reads them).
GOBO_BLOCK_ELEMS = 1 << 21


def _max_abs(a: np.ndarray) -> int:
    return 0 if a.size == 0 else max(abs(int(a.min())), abs(int(a.max())))


def gobo_pe_gemm(x: np.ndarray, w: IntegerGobo, *, block_elems: int = GOBO_BLOCK_ELEMS,
                 kernel: str = "gobo_pe_gemm", bin_bits: int | None = None) -> np.ndarray:
    """``x @ W`` for a GOBO tensor ``w`` (a ``k x n`` GEMM weight) as the GOBO PE computes it; int64 ``(..., m, n)``.

    ``x``: int8 activations ``(..., m, k)``. ``w``: :class:`~sim.quant.integer.IntegerGobo` in either
    orientation ("nk" as stored, ``[n, k]``; or "kn"), with int8 centroids and int16 outliers in one
    per-tensor scale (the caller multiplies by it). Dataflow and checks as
    :func:`sim.kernels.gemm.gobo_gemm` (see the module docstring for the vectorisation).
    ``block_elems`` bounds the plane entries built at once (float32). ``bin_bits`` (default: the
    declared ``GOBO_WIDTHS`` bin width, 32) is the width the bin accumulators are checked against: a design
    with narrower bins (``compute.bin_bits``) raises :class:`~sim.kernels.widths.IntegerOverflowError` when
    a bin sum does not fit.
    """
    bin_width, bin_signed = GOBO_WIDTHS["bin accumulator"]
    if bin_bits is not None:
        bin_width = bin_bits
    if w.orientation != "nk":
        w = w.transposed()
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise TypeError(f"{kernel}: activations must be integers, got {x.dtype}")
    n, k = w.shape
    if x.ndim < 2 or x.shape[-1] != k:
        raise ValueError(f"{kernel}: x of shape {x.shape} does not multiply a {k} x {n} weight")
    if k >= (1 << 17):
        raise ValueError(f"{kernel}: k = {k} >= 2^17 exceeds the int32 bin/product bound of this model")
    check_width(x, *GOBO_WIDTHS["activation"], kernel=kernel, what="activation")
    cent = np.asarray(w.centroid_ints).astype(np.int64).reshape(-1)
    check_width(cent, *GOBO_WIDTHS["centroid"], kernel=kernel, what="centroid")
    vals = np.asarray(w.outlier_ints).astype(np.int64).reshape(-1)
    check_width(vals, *GOBO_WIDTHS["outlier value"], kernel=kernel, what="outlier value")
    idx = np.asarray(w.indices)  # [n, k]
    nbins = cent.size
    if idx.size and int(idx.max()) >= nbins:
        raise ValueError(f"{kernel}: index {int(idx.max())} >= {nbins} centroids")
    ocol = np.asarray(w.outlier_rows, dtype=np.int64)  # output column n of each outlier
    ok = np.asarray(w.outlier_cols, dtype=np.int64)  # its reduction index k

    lead = x.shape[:-1]
    x2 = x.reshape(-1, k)
    mrows = x2.shape[0]
    max_x = _max_abs(x2)
    xt = np.ascontiguousarray(x2.T, dtype=np.float32)  # k x m
    centf = cent.astype(np.float64)
    cent32 = cent.astype(np.float32)
    max_c = _max_abs(cent)
    sum_c = int(np.abs(cent).sum())
    if ocol.size:
        check_bound(max_x * _max_abs(vals), *GOBO_WIDTHS["outlier product"], kernel=kernel, what="outlier product")
    # The outlier plane (value v at each outlier's (n, k), else 0) times x^T gives, per output, the sum of its
    # outlier products. Any partial sum of a column's terms is bounded by max|x| * sum_k |v| of that column: exact
    # in float32 (with the bin planes, one product) when that is <= 2^24, else the plane is multiplied on its own
    # in float64 (bound <= 2^7 * 2^15 * 2^17 = 2^39 < 2^53).
    col_l1 = np.bincount(ocol, weights=np.abs(vals), minlength=n) if ocol.size else np.zeros(0)
    stacked = bool(ocol.size) and max_x * int(col_l1.max()) <= _F32_EXACT
    planes = nbins + 1 if stacked else nbins
    xt64 = xt if stacked or not ocol.size else xt.astype(np.float64)  # for the float64 outlier plane
    nb = max(1, min(n, block_elems // max(1, k * planes)))
    order = np.argsort(ocol, kind="stable") if ocol.size else ocol
    cs, rs, vs = ocol[order], ok[order], vals[order]  # the outliers by output column
    out = np.empty((n, mrows), dtype=np.int64)  # transposed once at the end
    plane_buf = np.empty(planes * nb * k, dtype=np.float32)
    prod_buf = np.empty(planes * nb * mrows, dtype=np.float32)
    for n0 in range(0, n, nb):
        n1 = min(n, n0 + nb)
        j = n1 - n0
        mk = plane_buf[: planes * j * k].reshape(planes, j, k)
        for b in range(nbins):  # one-hot planes: mk[b, c, k] = 1 where weight (k, n0 + c) selects bin b
            np.equal(idx[n0:n1], b, out=mk[b], casting="unsafe")
        lo_o, hi_o = np.searchsorted(cs, n0), np.searchsorted(cs, n1)
        oc, ork = cs[lo_o:hi_o] - n0, rs[lo_o:hi_o]
        mk[:nbins, oc, ork] = 0.0  # outlier positions are in no bin
        if stacked:
            mk[nbins] = 0.0
            mk[nbins, oc, ork] = vs[lo_o:hi_o]
        # prod[b, c, m]: the PE's bin accumulators (exact: 0/1 planes, |partial sums| <= 128 k <= 2^24), then the
        # outlier sums; (planes) @ x^T, the faster orientation for BLAS with few activation rows
        prod = prod_buf[: planes * j * mrows].reshape(planes, j, mrows)
        np.matmul(mk.reshape(-1, k), xt, out=prod.reshape(-1, mrows))
        bins = prod[:nbins]
        check_width(bins, bin_width, bin_signed, kernel=kernel, what="bin accumulator")
        max_bin = int(max(abs(float(bins.min())), abs(float(bins.max())))) if bins.size else 0
        if max_bin * max_c > (1 << 31) - 1:  # the extremes' bound fails: check the products themselves
            check_width(bins.astype(np.int64) * cent[:, None, None], *GOBO_WIDTHS["centroid product"],
                        kernel=kernel, what="centroid product")
        # one multiply per bin, summed: exact in float32 when max|bin| * sum|c| <= 2^24, else in float64
        # (|sum| <= B * 2^14 * k < 2^53)
        flat = bins.reshape(nbins, -1)
        if max_bin * sum_c <= _F32_EXACT:
            acc = (cent32 @ flat).astype(np.int64)
        else:
            acc = (centf @ flat.astype(np.float64)).astype(np.int64)
        block = out[n0:n1]
        block[...] = acc.reshape(j, mrows)
        if stacked:
            block += prod[nbins].astype(np.int64)
        elif hi_o > lo_o:  # the outlier plane on its own, in float64
            vplane = np.zeros((j, k), dtype=np.float64)
            vplane[oc, ork] = vs[lo_o:hi_o]
            block += (vplane @ xt64).astype(np.int64)
    check_width(out, *GOBO_WIDTHS["accumulator"], kernel=kernel, what="accumulator")
    return np.ascontiguousarray(out.T).reshape(lead + (n,))


class GoboDatapath:
    """GOBO weights through the GOBO PE dataflow; other products (attention, unquantized tensors) are int8 MACs
    that the reference kernel computes."""

    name = "gobo"

    def __init__(self, bin_bits: int = 32) -> None:
        self.bin_bits = bin_bits
        """Width of the PE's bin accumulators (``compute.bin_bits``); sums are checked against it."""
        self.key: tuple[Any, ...] = ("gobo",) if bin_bits == 32 else ("gobo", bin_bits)

    def linear(self, x: np.ndarray, lin: Any, in_bits: int) -> tuple[np.ndarray, str] | None:
        """``x @ W^T`` on the PE bins when ``lin`` holds GOBO weights, else None (int8 MACs)."""
        if lin.gobo is None:
            return None
        try:
            return gobo_pe_gemm(x, lin.gobo, bin_bits=self.bin_bits), "gobo-pe"
        except IntegerOverflowError as exc:
            if exc.what != "bin accumulator" or self.bin_bits >= 32:
                raise
            k = lin.gobo.shape[1] if lin.gobo.orientation == "nk" else lin.gobo.shape[0]
            need = math.ceil(math.log2(max(k, 2))) + 8 + 1
            raise SimInputError(
                f"compute.bin_bits: a bin sum ({int(exc.value)}) of a {k}-deep product does not fit "
                f"{self.bin_bits} bits; int8 activations over K = {k} need up to ceil(log2 K) + 8 + 1 = {need} "
                "bits") from None

    def bmm(self, a: np.ndarray, b: np.ndarray, in_bits: int) -> np.ndarray | None:
        """Attention runs as int8 MACs on the PE multipliers: the reference kernel's product (None)."""
        return None
