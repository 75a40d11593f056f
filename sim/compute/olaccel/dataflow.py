"""OLAccel's functional dataflow: dense 4-bit lanes plus the sparse outlier MACs, from the packed arrays.

:class:`OlaccelDatapath` computes ``x @ W^T`` the way the lane groups do: the dense part from the packed 4-bit
nibbles (outlier slots 0), plus every outlier's products from the sparse list (row pointers, column indices,
int8 values) added into its lane's accumulator; every accumulator is checked against int32. It is compared bit
for bit with :func:`sim.kernels.gemm.int_gemm` on the quantizer's own integers. Attention matmuls: two nibble
passes of the 4-bit weight port, merged per output.

Activations: int8 (``compute.act_bits: 8``), or OLAccel's 4-bit activations (:class:`OlaccelActivations`,
``compute.act_bits: 4``): dense values in [-7, 7] on the 4-bit lanes, and the few larger ones (outlier
activations, int8 at the same scale) taken out of the lanes and computed apart: each outlier activation
times its whole weight row (dense nibbles and weight outliers), added into the outputs of its token. The three
partial sums (dense lanes, weight-outlier MACs, activation-outlier products) are merged per output; a
missing or wrong term shows as a mismatch against the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.kernels.widths import check_width
from sim.quant.olaccel import DENSE_MAX, OUTLIER_MAX, quantize_activations


def _nibbles(dense: np.ndarray, cols: int) -> np.ndarray:
    d = dense.astype(np.int64)
    lo, hi = d & 0xF, d >> 4
    out = np.empty((d.shape[0], 2 * d.shape[1]), dtype=np.int64)
    out[:, 0::2] = np.where(lo >= 8, lo - 16, lo)
    out[:, 1::2] = np.where(hi >= 8, hi - 16, hi)
    return out[:, :cols]


def split_activations(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Activations -> (the dense 4-bit part, outliers zeroed; the outliers' row and column indices and values),
    the split of OLAccel's activation buffer into the lanes' nibbles and the outlier list."""
    xi = np.asarray(x).astype(np.int64).reshape(-1, np.shape(x)[-1])
    big = np.abs(xi) > DENSE_MAX
    r, c = np.nonzero(big)
    return np.where(big, 0, xi), r, c, xi[r, c]


@dataclass(frozen=True)
class OlaccelActivations:
    """OLAccel's 4-bit activations (an :class:`~sim.compute.base.ActivationFormat`): one scale per tensor, the
    calibration values' ``1 - outlier_fraction`` quantile of ``|x|`` / 7.5 (as its weights,
    :func:`sim.quant.olaccel.quantize_activations`); values above 7 are outlier activations kept as int8 at the
    same scale (clipped to +-127, counted)."""

    outlier_fraction: float = 0.03
    name: str = "olaccel4"
    bits: int = 4

    @property
    def key(self) -> tuple[Any, ...]:
        """Identity for caches."""
        return (self.name, self.bits, self.outlier_fraction)

    def calibrate(self, samples: np.ndarray) -> float:
        """The quantile scale of the calibration values (one float32 scale); with every value an outlier
        (``outlier_fraction`` 1) the int8 range covers the largest value."""
        x = np.asarray(samples, dtype=np.float64)
        if self.outlier_fraction >= 1.0:
            return float(np.float32(max(float(np.abs(x).max()), 1e-12) / OUTLIER_MAX))
        return float(quantize_activations(x, outlier_fraction=self.outlier_fraction).scales[0])

    def snap(self, v: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
        """Integers at the scale -> dense [-7, 7] or int8 outliers (clipped); counts elements, outliers, clipped."""
        vi = np.asarray(v).astype(np.int64)
        mag = np.abs(vi)
        q = np.clip(vi, -OUTLIER_MAX, OUTLIER_MAX)
        return q, {"elements": int(q.size), "outliers": int((mag > DENSE_MAX).sum()),
                   "clipped": int((mag > OUTLIER_MAX).sum())}


class OlaccelDatapath:
    """GEMMs of the integer forward on OLAccel lane groups; ``act_bits`` 4: dense + outlier activations."""

    name = "olaccel"

    def __init__(self, act_bits: int = 8) -> None:
        self.act_bits = int(act_bits)
        self.key: tuple[Any, ...] = ("olaccel", self.act_bits)

    def linear(self, x: np.ndarray, lin: Any, in_bits: int) -> tuple[np.ndarray, str] | None:
        """Dense nibbles on the lanes + the outlier list on the outlier MACs (``lin.packed``); with 4-bit
        activations the outlier activations' products apart, merged."""
        p = getattr(lin, "packed", None)
        if p is None or not hasattr(p, "row_ptr"):
            return self.bmm(x, lin.matrix_nk().T, in_bits), "olaccel-nibbles(int8 weight)"
        xi = np.asarray(x).astype(np.int64)
        check_width(xi, in_bits, True, kernel="olaccel_gemm", what="activations")
        lanes = _nibbles(p.dense, p.cols)
        if self.act_bits == 4:
            x_dense, ar, ac, av = split_activations(xi)
        else:
            x_dense = xi.reshape(-1, xi.shape[-1])
        acc = x_dense @ lanes.T  # the lanes (exact: int64)
        ptr = p.row_ptr.astype(np.int64)
        rows = np.repeat(np.arange(p.rows), ptr[1:] - ptr[:-1])
        cols = p.col.astype(np.int64)
        vals = p.val.astype(np.int64)
        contrib = x_dense[..., cols] * vals  # [m, weight outliers]: every weight outlier's products
        np.add.at(acc.T, rows, contrib.T)  # each into its lane (output column), repeated lanes summed
        how = "olaccel-lanes+outlier-macs"
        if self.act_bits == 4:
            w_full = lanes.copy()
            w_full[rows, cols] = vals  # the whole weight row an outlier activation meets
            outl = np.zeros((acc.shape[0], xi.shape[-1]), dtype=np.int64)
            outl[ar, ac] = av
            acc = acc + outl @ w_full.T  # the outlier activations' products, merged per output
            how += "+outlier-activations"
        acc = acc.reshape(xi.shape[:-1] + (p.rows,))
        check_width(acc, 32, True, kernel="olaccel_gemm", what="lane accumulator")
        return acc, how

    def bmm(self, a: np.ndarray, b: np.ndarray, in_bits: int,
            pair_axes: tuple[int | None, int | None] = (None, None)) -> np.ndarray:
        """``a @ b`` of activations: ``b`` in two nibble passes, merged per output (``pair_axes`` unused: the
        format has no pairs; with 4-bit activations the int8-contained values run the same passes)."""
        ai = np.asarray(a).astype(np.int64)
        bi = np.asarray(b).astype(np.int64)
        out = np.matmul(ai, bi >> 4) * 16 + np.matmul(ai, bi & 0xF)
        return check_width(out, 32, True, kernel="olaccel_bmm", what="merged nibble accumulator")
