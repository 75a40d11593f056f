"""The GOBO PE's functional dataflow: GEMMs on GOBO weights computed as the PE computes them, bit for bit.

:func:`gobo_pe_gemm`, vectorised: per output ``(m, n)`` one 32-bit bin accumulator per centroid sums the
activations whose weight index selects it (additions only, outliers excluded), then one multiply per bin by
the int8 centroid, plus the int8 x int16 outlier products, into the 32-bit output accumulator. The same
dataflow and declared widths as :func:`sim.kernels.gemm.gobo_gemm` (``GOBO_WIDTHS``; tests assert equal
results), vectorised the same way (bin sums = exact float32 BLAS products of the activations with one-hot
index planes; the last bin derived from the inlier sum, see the code) but with the planes written in place per
bin (no boolean temporaries), the centroid products
summed in one exact float64 contraction, and the product width checked from the bin extremes
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

#: One-hot mask entries (k x B x n-block float32 values) built at once by :func:`gobo_pe_gemm` (32 MiB).
GOBO_BLOCK_ELEMS = 1 << 23


def _max_abs(a: np.ndarray) -> int:
    return 0 if a.size == 0 else max(abs(int(a.min())), abs(int(a.max())))


def gobo_pe_gemm(x: np.ndarray, w: IntegerGobo, *, block_elems: int = GOBO_BLOCK_ELEMS,
                 kernel: str = "gobo_pe_gemm", bin_bits: int | None = None) -> np.ndarray:
    """``x @ W`` for a GOBO tensor ``w`` (a ``k x n`` GEMM weight) as the GOBO PE computes it; int64 ``(..., m, n)``.

    ``x``: int8 activations ``(..., m, k)``. ``w``: :class:`~sim.quant.integer.IntegerGobo` in either
    orientation ("nk" as stored, ``[n, k]``; or "kn"), with int8 centroids and int16 outliers in one
    per-tensor scale (the caller multiplies by it). Dataflow and checks as
    :func:`sim.kernels.gemm.gobo_gemm` (see the module docstring for the vectorisation).
    ``block_elems`` bounds the one-hot mask built at once (float32 entries). ``bin_bits`` (default: the
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
    xt = np.ascontiguousarray(x2.T, dtype=np.float32)  # k x m
    centf = cent.astype(np.float64)
    cent32 = cent.astype(np.float32)
    max_c = _max_abs(cent)
    sum_c = int(np.abs(cent).sum())
    out = np.empty((mrows, n), dtype=np.int64)
    nb = max(1, min(n, block_elems // max(1, k * nbins)))
    order = np.argsort(ocol, kind="stable") if ocol.size else ocol
    cs, rs = ocol[order], ok[order]
    # the outliers grouped by output column (cs sorted): group g covers cs[starts[g]:starts[g + 1]], column ucol[g]
    starts = np.flatnonzero(np.r_[True, cs[1:] != cs[:-1]]) if cs.size else cs
    ucol = cs[starts]
    # x at each outlier's reduction index, one row per outlier (contiguous, so the per-column sums below are
    # reductions over consecutive rows)
    xo = np.ascontiguousarray(x2.T[rs]) if cs.size else np.zeros((0, mrows), dtype=x2.dtype)
    # The last bin is derived instead of multiplied: the bins partition the inlier weights of a column, so
    # bin_{B-1} = (sum of the inlier activations) - sum_{b < B-1} bin_b, an integer identity; every term and
    # partial sum is an integer of magnitude <= 128 k (a sum over a subset of the k activations), the
    # difference <= 256 k, all exact in float32 while 256 k <= 2^24 (checked here, else all B planes are
    # multiplied). It saves one of the B products.
    derive = nbins > 1 and 256 * k <= _F32_EXACT
    planes = nbins - 1 if derive else nbins
    xsum = x2.sum(axis=1, dtype=np.int64).astype(np.float32)  # per activation row (|.| <= 128 k: exact)
    mask = np.empty((planes, nb, k), dtype=np.float32)
    for n0 in range(0, n, nb):
        n1 = min(n, n0 + nb)
        sub = idx[n0:n1]
        mk = mask[:, : n1 - n0]
        for b in range(planes):  # one-hot planes: mk[b, j, k] = 1 where weight (k, n0 + j) selects bin b
            np.equal(sub, b, out=mk[b], casting="unsafe")
        lo_o, hi_o = np.searchsorted(cs, n0), np.searchsorted(cs, n1)
        if hi_o > lo_o:
            mk[:, cs[lo_o:hi_o] - n0, rs[lo_o:hi_o]] = 0.0  # outlier positions are in no bin
        # bins[b, j, m]: the PE's bin accumulators (exact: 0/1 mask, |partial sums| <= 128 k <= 2^24);
        # computed as (one-hot planes) @ x^T, the faster orientation for BLAS with few activation rows
        bins = np.empty((nbins, n1 - n0, mrows), dtype=np.float32)
        np.matmul(mk.reshape(-1, k), xt, out=bins[:planes].reshape(-1, mrows))
        if derive:
            inlier_sum = np.repeat(xsum[None, :], n1 - n0, axis=0)  # [j, m]
            if hi_o > lo_o:  # minus the activations at the column's outlier positions (int64 sums: exact)
                g0, g1 = np.searchsorted(starts, lo_o), np.searchsorted(starts, hi_o)
                osum = np.add.reduceat(xo[lo_o:hi_o], starts[g0:g1] - lo_o, axis=0, dtype=np.int64)
                inlier_sum[ucol[g0:g1] - n0] -= osum.astype(np.float32)
            bins[nbins - 1] = inlier_sum - bins[:planes].sum(axis=0)
        check_width(bins, bin_width, bin_signed, kernel=kernel, what="bin accumulator")
        max_bin = int(max(abs(float(bins.min())), abs(float(bins.max())))) if bins.size else 0
        if max_bin * max_c > (1 << 31) - 1:  # the extremes' bound fails: check the products themselves
            check_width(bins.astype(np.int64) * cent[:, None, None], *GOBO_WIDTHS["centroid product"],
                        kernel=kernel, what="centroid product")
        # one multiply per bin, summed: exact in float32 when max|bin| * sum|c| <= 2^24, else in float64
        # (|sum| <= B * 2^14 * k < 2^53)
        flat = bins.reshape(nbins, -1)
        if max_bin * sum_c <= _F32_EXACT:
            acc = cent32 @ flat
        else:
            acc = centf @ flat.astype(np.float64)
        out[:, n0:n1] = acc.reshape(n1 - n0, mrows).T.astype(np.int64)
    if ocol.size:
        vs = vals[order]
        check_bound(_max_abs(x2) * _max_abs(vs), *GOBO_WIDTHS["outlier product"], kernel=kernel,
                    what="outlier product")
        contrib = xo.astype(np.int64) * vs[:, None]  # [outlier, m]
        out[:, ucol] += np.add.reduceat(contrib, starts, axis=0).T
    check_width(out, *GOBO_WIDTHS["accumulator"], kernel=kernel, what="accumulator")
    return out.reshape(lead + (n,))


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
