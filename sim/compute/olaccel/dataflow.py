"""OLAccel's functional dataflow: dense 4-bit lanes plus the sparse outlier MACs, from the packed arrays.

:class:`OlaccelDatapath` computes ``x @ W^T`` the way the lane groups do: the dense part from the packed 4-bit
nibbles (outlier slots 0), plus every outlier's products from the sparse list (row pointers, column indices,
int8 values) added into its lane's accumulator; every accumulator is checked against int32. It is compared bit
for bit with :func:`sim.kernels.gemm.int_gemm` on the quantizer's own integers. Attention matmuls: two nibble
passes of the 4-bit weight port, merged per output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.kernels.widths import check_width


def _nibbles(dense: np.ndarray, cols: int) -> np.ndarray:
    d = dense.astype(np.int64)
    lo, hi = d & 0xF, d >> 4
    out = np.empty((d.shape[0], 2 * d.shape[1]), dtype=np.int64)
    out[:, 0::2] = np.where(lo >= 8, lo - 16, lo)
    out[:, 1::2] = np.where(hi >= 8, hi - 16, hi)
    return out[:, :cols]


class OlaccelDatapath:
    """GEMMs of the integer forward on OLAccel lane groups."""

    name = "olaccel"
    key: tuple[Any, ...] = ("olaccel",)

    def linear(self, x: np.ndarray, lin: Any, in_bits: int) -> tuple[np.ndarray, str] | None:
        """Dense nibbles on the lanes + the outlier list on the outlier MACs (``lin.packed``)."""
        p = getattr(lin, "packed", None)
        if p is None or not hasattr(p, "row_ptr"):
            return self.bmm(x, lin.matrix_nk().T, in_bits), "olaccel-nibbles(int8 weight)"
        xi = np.asarray(x).astype(np.int64)
        check_width(xi, in_bits, True, kernel="olaccel_gemm", what="activations")
        acc = xi @ _nibbles(p.dense, p.cols).T  # the lanes (exact: int64)
        ptr = p.row_ptr.astype(np.int64)
        rows = np.repeat(np.arange(p.rows), ptr[1:] - ptr[:-1])
        cols = p.col.astype(np.int64)
        vals = p.val.astype(np.int64)
        contrib = xi[..., cols] * vals  # [m, outliers]: every outlier's products
        np.add.at(acc.T, rows, contrib.T)  # each into its lane (output column), repeated lanes summed
        check_width(acc, 32, True, kernel="olaccel_gemm", what="lane accumulator")
        return acc, "olaccel-lanes+outlier-macs"

    def bmm(self, a: np.ndarray, b: np.ndarray, in_bits: int) -> np.ndarray:
        """``a @ b`` of activations: ``b`` in two nibble passes, merged per output."""
        ai = np.asarray(a).astype(np.int64)
        bi = np.asarray(b).astype(np.int64)
        out = np.matmul(ai, bi >> 4) * 16 + np.matmul(ai, bi & 0xF)
        return check_width(out, 32, True, kernel="olaccel_bmm", what="merged nibble accumulator")
