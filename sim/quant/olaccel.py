"""OLAccel outlier-aware quantization (Park, Kim, Yoo, ISCA 2018), numpy only.

Most weights are 4-bit; a few percent (the outliers) stay at high precision and are stored sparsely. Per row (output
channel) of a ``[n, k]`` weight: the scale is ``s = q / 7.5`` where ``q`` is the row's ``1 - outlier_fraction``
quantile of ``|w|``, so the dense 4-bit grid (-7..7) covers the bulk and the elements at or above the quantile are
the ones whose ``round(w / s)`` exceeds 7 in magnitude: the outliers, kept as a signed 8-bit integer at the same
scale (clipped to +-127; the clipped count is reported). OLAccel's paper gives the outlier share "e.g. about 3 %"
and no outlier width; 8 bits is the width of the OliVe authors' re-model of OLAccel (``high_prec = 8``,
docs/sources.md 6.9).

Packed bytes: the dense 4-bit array (two's-complement nibbles, two per byte, rows padded to even length;
outlier slots hold 0), then the outlier list in compressed-sparse-row form: ``n + 1`` uint32 row pointers, a
uint16 column index and an int8 value per outlier, then the float32 row scales. ``bits_per_weight`` is measured
from those bytes. :meth:`OlaccelPacked.decode` rebuilds the integers from the bytes alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_OUTLIER_FRACTION", "OUTLIER_BITS", "OlaccelPacked", "quantize",
           "quantize_activations"]

DEFAULT_OUTLIER_FRACTION = 0.03
"""Share of each row above the dense range ("e.g., amounting to 3% of total data", OLAccel abstract)."""
DENSE_MAX = 7
OUTLIER_BITS = 8
OUTLIER_MAX = (1 << (OUTLIER_BITS - 1)) - 1


@dataclass(frozen=True, eq=False)
class OlaccelPacked:
    """One OLAccel-quantized tensor: ``dense`` (uint8 nibbles ``[rows, ceil(cols/2)]``), ``row_ptr`` (uint32
    ``[rows + 1]``), ``col`` (uint16), ``val`` (int8), ``scales`` (float32), the quantizer's ``ints`` (int16)."""

    shape: tuple[int, ...]
    dense: np.ndarray
    row_ptr: np.ndarray
    col: np.ndarray
    val: np.ndarray
    scales: np.ndarray
    ints: np.ndarray
    rel_l2_error: float
    clipped: int

    @property
    def rows(self) -> int:
        """Rows (output channels)."""
        return int(self.ints.shape[0])

    @property
    def cols(self) -> int:
        """Columns (the reduction dimension)."""
        return int(self.ints.shape[1])

    def to_bytes(self) -> bytes:
        """The stored bytes: dense nibbles, row pointers, column indices, outlier values, scales."""
        return b"".join(a.tobytes() for a in (self.dense, self.row_ptr, self.col, self.val, self.scales))

    @property
    def nbytes(self) -> int:
        """``len(to_bytes())``."""
        return int(sum(a.nbytes for a in (self.dense, self.row_ptr, self.col, self.val, self.scales)))

    @property
    def packed_bytes(self) -> int:
        """Bytes of the packed buffers (``nbytes``; the registry's name, :mod:`sim.quant.formats`)."""
        return self.nbytes

    @property
    def bits_per_weight(self) -> float:
        """Stored bits per element, from the packed bytes."""
        return 8.0 * self.nbytes / max(1, self.ints.size)

    @property
    def outliers(self) -> int:
        """Outliers stored in the sparse list."""
        return int(self.val.size)

    @property
    def outlier_fraction(self) -> float:
        """Outliers / elements."""
        return self.outliers / max(1, self.ints.size)

    def _per_row(self) -> np.ndarray:
        """Outliers per row, from the row pointers (int64)."""
        ptr = self.row_ptr.astype(np.int64)
        return ptr[1:] - ptr[:-1]

    def decode(self) -> np.ndarray:
        """The integers rebuilt from the stored arrays (dense nibbles + the sparse outlier list)."""
        d = self.dense.astype(np.int16)
        lo, hi = d & 0xF, d >> 4
        out = np.empty((self.rows, 2 * d.shape[1]), dtype=np.int16)
        out[:, 0::2] = np.where(lo >= 8, lo - 16, lo)
        out[:, 1::2] = np.where(hi >= 8, hi - 16, hi)
        out = out[:, : self.cols]
        rows = np.repeat(np.arange(self.rows), self._per_row())
        out[rows, self.col.astype(np.int64)] = self.val
        return out

    def outlier_mask(self) -> np.ndarray:
        """Boolean ``[rows, cols]``: where the outliers are (from the sparse list)."""
        m = np.zeros((self.rows, self.cols), dtype=bool)
        rows = np.repeat(np.arange(self.rows), self._per_row())
        m[rows, self.col.astype(np.int64)] = True
        return m

    def dequantized(self) -> np.ndarray:
        """``ints * scale`` as float32 in the original shape."""
        s = self.scales.astype(np.float64).reshape(-1, 1)
        return (self.ints.astype(np.float64) * s).astype(np.float32).reshape(self.shape)

    def stats(self) -> dict[str, float | int]:
        """Outlier fraction, clipped outliers, bits per weight, relative L2 error."""
        return {"outlier_fraction": self.outlier_fraction, "clipped_outliers": float(self.clipped),
                "bits_per_weight": self.bits_per_weight, "rel_l2_error": self.rel_l2_error,
                "packed_bytes": self.packed_bytes}


def quantize(w: np.ndarray, *, outlier_fraction: float = DEFAULT_OUTLIER_FRACTION, per_row: bool = True
             ) -> OlaccelPacked:
    """OLAccel-quantize one float tensor (rows = all leading axes; one scale per row, or one per tensor)."""
    if not 0.0 <= outlier_fraction < 1.0:
        raise ValueError(f"outlier_fraction must be in [0, 1), got {outlier_fraction}")
    a = np.asarray(w, dtype=np.float64)
    shape = tuple(a.shape)
    x = a.reshape(1, -1) if a.ndim < 2 else a.reshape(-1, a.shape[-1])
    rows, cols = x.shape
    if cols > 65535:
        raise ValueError(f"OLAccel column indices are 16-bit: at most 65535 columns, got {cols}")
    mag = np.abs(x)
    q = np.quantile(mag, 1.0 - outlier_fraction, axis=1 if per_row else None, keepdims=per_row,
                    method="higher")
    q = np.where(q > 0, q, np.maximum(mag.max(axis=1 if per_row else None, keepdims=per_row), 1e-12))
    scales = (np.broadcast_to(np.asarray(q, dtype=np.float64) / (DENSE_MAX + 0.5), (rows, 1) if per_row else (1, 1))
              .astype(np.float32))
    s = scales.astype(np.float64)
    full = np.rint(x / s)
    out = np.abs(full) > DENSE_MAX
    clipped = int((np.abs(full[out]) > OUTLIER_MAX).sum())
    ints = np.clip(full, -OUTLIER_MAX, OUTLIER_MAX).astype(np.int16)
    dense = np.where(out, 0, ints)
    de = dense if cols % 2 == 0 else np.concatenate([dense, np.zeros((rows, 1), dtype=np.int16)], axis=1)
    nib = (de & 0xF).astype(np.uint8)
    packed = nib[:, 0::2] | (nib[:, 1::2] << 4)
    r, c = np.nonzero(out)
    row_ptr = np.concatenate([[0], np.cumsum(out.sum(axis=1))]).astype(np.uint32)
    deq = ints.astype(np.float64) * s
    ref = float(np.linalg.norm(x))
    rel = float(np.linalg.norm(deq - x) / ref) if ref > 0 else 0.0
    return OlaccelPacked(shape, packed.astype(np.uint8), row_ptr, c.astype(np.uint16), ints[r, c].astype(np.int8),
                         scales.reshape(-1), ints, rel, clipped)


def quantize_activations(x: np.ndarray, *, outlier_fraction: float = DEFAULT_OUTLIER_FRACTION) -> OlaccelPacked:
    """OLAccel activations: 4-bit with the top ``outlier_fraction`` at 8 bits, one scale per tensor."""
    return quantize(x, outlier_fraction=outlier_fraction, per_row=False)

