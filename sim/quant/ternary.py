"""Ternary weights (TernaryBERT, Zhang et al. EMNLP 2020): every weight in ``{-a, 0, +a}``, post-training.

The ternarizer is TWN's closed form (Li et al. 2016, the weight quantizer TernaryBERT trains with): a
threshold ``delta = delta_ratio * mean|w|`` (``delta_ratio`` 0.7 in TWN), weights with ``|w| > delta`` become
``sign(w) * a`` with ``a = mean(|w| : |w| > delta)``, the rest 0. ``granularity``: "tensor" (one ``a`` per
tensor: TernaryBERT's choice for the transformer layers' weights) or "row" (one ``delta`` and ``a`` per
output channel: TernaryBERT's choice for the word embedding). TernaryBERT trains the ternary model with
distillation; this module only ternarizes a trained float tensor once (its accuracy cost is measured in
docs/RESULTS.md).

Packed format (:class:`TernaryTensor`): a 2-D view ``[rows, cols]`` of the tensor (rows = the first axis, the
output channels of a Hugging Face ``[n, k]`` weight), the codes 2 bits per weight (0: 0, 1: +1, 2: -1; code 3
unused) bit-packed row-major with :mod:`.bitpack`, and the scales as fp32 (one per row, or one). Its bytes are
:func:`ternary_bytes`, a function of the shape alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .bitpack import pack_bits, packed_size, unpack_bits
from .errors import QuantError, QuantParamError

__all__ = ["GRANULARITIES", "TernaryTensor", "ternarize", "ternary_bytes", "CODE_BITS", "SCALE_BYTES"]

GRANULARITIES = ("tensor", "row")
CODE_BITS = 2
"""Bits per ternary code in the packed stream (three values in two bits)."""
SCALE_BYTES = 4
"""Bytes of one stored scale (fp32)."""
DEFAULT_DELTA_RATIO = 0.7
"""TWN's threshold factor: delta = 0.7 * mean|w| (Li et al. 2016; docs/sources.md)."""


def as_matrix(weights: np.ndarray, label: str) -> np.ndarray:
    """A finite float64 ``[rows, cols]`` view of a real tensor (first axis kept, the rest flattened)."""
    arr = np.asarray(weights)
    if arr.size == 0:
        raise QuantError(f"{label}: cannot quantize an empty tensor")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise QuantError(f"{label}: expected a real-valued tensor, got dtype {arr.dtype}")
    w = np.asarray(arr, dtype=np.float32).astype(np.float64)
    if not np.isfinite(w).all():
        raise QuantError(f"{label}: tensor contains NaN or infinite values")
    if w.ndim == 0:
        w = w.reshape(1, 1)
    elif w.ndim == 1:
        w = w.reshape(1, -1)
    return w.reshape(w.shape[0], -1)


def ternary_bytes(rows: int, cols: int, granularity: str = "row") -> int:
    """Packed bytes of a ``rows x cols`` ternary tensor: the 2-bit code stream plus the fp32 scales."""
    scales = rows if granularity == "row" else 1
    return packed_size(rows * cols, CODE_BITS) + scales * SCALE_BYTES


@dataclass(frozen=True, eq=False)
class TernaryTensor:
    """One ternary tensor: ``codes`` (uint8 stream, 2 bits per weight), ``scales`` (float32, per row or one),
    ``shape`` (the original shape), ``granularity``, ``delta_ratio`` and ``rel_l2_error`` (of the dequantized
    values against the float32 input)."""

    shape: tuple[int, ...]
    rows: int
    cols: int
    codes: np.ndarray
    scales: np.ndarray
    granularity: str
    delta_ratio: float
    rel_l2_error: float

    @property
    def size(self) -> int:
        """Weights in the tensor."""
        return self.rows * self.cols

    @property
    def packed_bytes(self) -> int:
        """Bytes of the packed buffers (codes + scales)."""
        return int(self.codes.nbytes + self.scales.nbytes)

    @property
    def bits_per_weight(self) -> float:
        """Packed bits per weight, from the buffers."""
        return 8.0 * self.packed_bytes / self.size

    def ints(self) -> np.ndarray:
        """The ternary matrix ``[rows, cols]`` as int8 in {-1, 0, +1} (decoded from the packed stream)."""
        c = unpack_bits(self.codes, CODE_BITS, self.size).reshape(self.rows, self.cols)
        if (c == 3).any():
            raise QuantError("ternary stream holds the unused code 3")
        return np.where(c == 1, 1, np.where(c == 2, -1, 0)).astype(np.int8)

    def row_scales(self) -> np.ndarray:
        """The scale of every row (float64 ``(rows,)``)."""
        s = self.scales.astype(np.float64)
        return np.broadcast_to(s, (self.rows,)).copy() if s.size == 1 else s

    def dequantized(self) -> np.ndarray:
        """``ints * scale`` as float32 in the original shape."""
        return (self.ints() * self.row_scales()[:, None]).astype(np.float32).reshape(self.shape)

    def stats(self) -> dict[str, Any]:
        """Accuracy-relevant statistics: zero fraction, scale range, error, bits per weight."""
        t = self.ints()
        return {"zero_fraction": float((t == 0).mean()), "plus_fraction": float((t == 1).mean()),
                "minus_fraction": float((t == -1).mean()), "granularity": self.granularity,
                "delta_ratio": self.delta_ratio, "scale_min": float(self.scales.min()),
                "scale_max": float(self.scales.max()), "rel_l2_error": self.rel_l2_error,
                "bits_per_weight": self.bits_per_weight, "packed_bytes": self.packed_bytes}


def ternarize(weights: np.ndarray, *, granularity: str = "row", delta_ratio: float = DEFAULT_DELTA_RATIO,
              name: str = "") -> TernaryTensor:
    """TWN-ternarize one tensor (see the module docstring) and pack it."""
    label = name or "tensor"
    if granularity not in GRANULARITIES:
        raise QuantParamError(f"{label}: granularity must be one of {', '.join(GRANULARITIES)}, got {granularity!r}")
    if not 0.0 < float(delta_ratio) < 10.0:
        raise QuantParamError(f"{label}: delta_ratio must be in (0, 10), got {delta_ratio}")
    w = as_matrix(weights, label)
    shape = tuple(np.asarray(weights).shape) or (1,)
    a = np.abs(w)
    axis = 1 if granularity == "row" else None
    delta = float(delta_ratio) * a.mean(axis=axis, keepdims=True)
    keep = a > delta
    n_keep = keep.sum(axis=axis, keepdims=True)
    alpha = np.where(n_keep > 0, (a * keep).sum(axis=axis, keepdims=True) / np.maximum(n_keep, 1), 0.0)
    t = np.where(keep, np.sign(w), 0.0).astype(np.int8)
    codes = pack_bits(np.where(t == 1, 1, np.where(t == -1, 2, 0)).astype(np.uint8), CODE_BITS)
    scales = np.asarray(alpha, dtype=np.float32).reshape(-1)
    deq = t.astype(np.float64) * scales.astype(np.float64).reshape(-1, 1)
    norm = float(np.linalg.norm(w))
    err = float(np.linalg.norm(deq - w) / norm) if norm > 0 else 0.0
    return TernaryTensor(shape, w.shape[0], w.shape[1], codes, scales, granularity, float(delta_ratio), err)
