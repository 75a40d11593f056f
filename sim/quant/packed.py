"""GOBO packed tensor: bit-packed centroid indices + fp32 dictionary + fp32 outliers with positions.

Storage of one tensor of ``n`` weights, shape as stored (Hugging Face ``Linear`` weights are
``[out, in]``), treated as a ``rows x cols`` matrix with ``rows = shape[0]`` and
``cols = prod(shape[1:])`` (a 1-D tensor is one row):

1. ``index_bytes`` (uint8, ``ceil(n*bits/8)`` bytes): one ``bits``-bit index per weight, row-major
   over the whole tensor with no row padding, little-endian bit order (see :mod:`.bitpack`).
   At an outlier position the index of the centroid nearest to the outlier's value is stored
   (i.e. the clamped end bin for far outliers); the decoder ignores it and uses the outlier value.
2. ``centroids`` (float32, ``2**bits`` values, ascending): the per-tensor dictionary.
3. ``outlier_values`` (float32, one per outlier, row-major order): the original values.
4. ``outlier_skips`` (uint16): the outlier positions as skip counts with escapes (see
   :mod:`.positions`); 16 bits per outlier in practice.

``nbytes`` is the sum of these four buffers' sizes; ``bits_per_weight = 8 * nbytes / n``;
``compression_ratio = 32 / bits_per_weight`` (vs fp32). Shape, bits and the fit statistics are
metadata and not counted.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from .bitpack import pack_bits, packed_size, unpack_bit_range, unpack_bits
from .centroids import SortedValues, gobo_centroids, nearest_index
from .errors import QuantError
from .integer import IntegerGobo
from .outliers import GaussianFit, detect_outliers
from .params import DEFAULT_MAX_ITERATIONS, DEFAULT_OUTLIER_THRESHOLD, check_bits, check_max_iterations
from .positions import decode_positions, encode_positions

#: Bytes per outlier attributed to a block: fp32 value + one uint16 skip entry.
OUTLIER_BYTES = 6


@dataclass(frozen=True)
class PackedBlock:
    """One ``[r0, r1) x [c0, c1)`` block of a packed tensor (stored orientation).

    ``index_bytes``: the block's indices re-packed row-major within the block (same bit order as the
    tensor). ``outlier_rows`` / ``outlier_cols``: absolute coordinates (int64) of the block's outliers,
    row-major; ``outlier_values``: their fp32 values. ``nbytes``: index bytes + 6 bytes per outlier.
    """

    r0: int
    r1: int
    c0: int
    c1: int
    bits: int
    index_bytes: np.ndarray
    outlier_rows: np.ndarray
    outlier_cols: np.ndarray
    outlier_values: np.ndarray

    @property
    def n_outliers(self) -> int:
        """Number of outliers in the block."""
        return int(self.outlier_values.size)

    @property
    def nbytes(self) -> int:
        """Bytes of the block: packed indices + ``OUTLIER_BYTES`` per outlier."""
        return int(self.index_bytes.size) + OUTLIER_BYTES * self.n_outliers

    def indices(self) -> np.ndarray:
        """The block's indices as a ``(r1-r0, c1-c0)`` uint8 matrix."""
        h, w = self.r1 - self.r0, self.c1 - self.c0
        return unpack_bits(self.index_bytes, self.bits, h * w).reshape(h, w)


@dataclass(frozen=True)
class BlockBytes:
    """Bytes per block of a blocked packed tensor (2-D int64 arrays, one entry per block).

    ``index``: bytes of the row-major index stream each block touches (per block row segment
    ``ceil(end_bit/8) - floor(start_bit/8)``, so partial bytes shared by neighbouring blocks are
    counted in both). ``outliers``: ``OUTLIER_BYTES`` per outlier in the block. Neither includes the
    per-tensor dictionary (``dictionary_bytes``), nor the rare position escape entries.
    """

    index: np.ndarray
    outliers: np.ndarray
    dictionary_bytes: int

    @property
    def total(self) -> np.ndarray:
        """``index + outliers`` per block (bytes)."""
        return self.index + self.outliers


@dataclass(frozen=True, eq=False)
class PackedTensor:
    """A GOBO-quantized tensor in its packed storage format (see the module docstring).

    Statistics for plots and reports: ``mean``/``std`` of the fitted Gaussian (weight units),
    ``threshold`` (natural-log density, nats), ``z`` (outlier threshold in std units), ``lo``/``hi``
    (outlier bounds in weight units), ``iterations`` (GOBO refinement steps), ``sq_norm`` and
    ``sq_error`` (sum of squares of the fp32 weights and of the quantization error, float64).
    """

    name: str
    shape: tuple[int, ...]
    bits: int
    index_bytes: np.ndarray
    centroids: np.ndarray
    outlier_values: np.ndarray
    outlier_skips: np.ndarray
    mean: float
    std: float
    threshold: float
    z: float
    iterations: int
    sq_norm: float
    sq_error: float
    l1_history: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        n = self.size
        if self.index_bytes.dtype != np.uint8 or self.index_bytes.size != packed_size(n, self.bits):
            raise QuantError(f"{self.name or 'tensor'}: index stream has {self.index_bytes.size} bytes, "
                             f"expected {packed_size(n, self.bits)} uint8")
        if self.centroids.dtype != np.float32 or self.centroids.size != 1 << self.bits:
            raise QuantError(f"{self.name or 'tensor'}: expected {1 << self.bits} float32 centroids")
        if self.outlier_values.dtype != np.float32 or self.outlier_skips.dtype != np.uint16:
            raise QuantError(f"{self.name or 'tensor'}: outlier values must be float32 and skips uint16")
        pos = self.outlier_positions
        if pos.size != self.outlier_values.size or (pos.size and pos[-1] >= n):
            raise QuantError(f"{self.name or 'tensor'}: outlier position stream does not match "
                             f"{self.outlier_values.size} values in {n} weights")

    # ---- sizes -------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Number of weights."""
        return int(math.prod(self.shape))

    @property
    def rows(self) -> int:
        """Rows of the stored matrix view (``shape[0]``; 1 for a 1-D tensor)."""
        return self.shape[0] if len(self.shape) >= 2 else 1

    @property
    def cols(self) -> int:
        """Columns of the stored matrix view (``prod(shape[1:])``)."""
        return self.size // self.rows if self.rows else 0

    @property
    def n_outliers(self) -> int:
        """Number of outliers."""
        return int(self.outlier_values.size)

    @property
    def outlier_fraction(self) -> float:
        """Outliers / weights."""
        return self.n_outliers / self.size if self.size else 0.0

    @property
    def dictionary_bytes(self) -> int:
        """Bytes of the fp32 centroid dictionary."""
        return int(self.centroids.nbytes)

    @property
    def nbytes(self) -> int:
        """Storage bytes: index stream + dictionary + outlier values + outlier position stream."""
        return int(self.index_bytes.nbytes + self.centroids.nbytes
                   + self.outlier_values.nbytes + self.outlier_skips.nbytes)

    @property
    def bits_per_weight(self) -> float:
        """All storage bits divided by the number of weights."""
        return 8.0 * self.nbytes / self.size if self.size else 0.0

    @property
    def compression_ratio(self) -> float:
        """fp32 size / packed size."""
        return 32.0 / self.bits_per_weight if self.size else 1.0

    @property
    def rel_l2_error(self) -> float:
        """``||w - q||_2 / ||w||_2`` over the tensor (0 for an all-zero tensor)."""
        return math.sqrt(self.sq_error / self.sq_norm) if self.sq_norm > 0 else 0.0

    @property
    def fit(self) -> GaussianFit:
        """The Gaussian fit that decided the outliers."""
        return GaussianFit(self.mean, self.std, self.threshold, self.z)

    @property
    def lo(self) -> float:
        """Weights <= lo are outliers (weight units)."""
        return self.fit.lo

    @property
    def hi(self) -> float:
        """Weights >= hi are outliers (weight units)."""
        return self.fit.hi

    # ---- decoding ----------------------------------------------------------------------------
    @cached_property
    def outlier_positions(self) -> np.ndarray:
        """Flat row-major positions of the outliers (int64, increasing)."""
        return decode_positions(self.outlier_skips)

    @property
    def outlier_rows(self) -> np.ndarray:
        """Row of each outlier in the stored matrix view (int64)."""
        return self.outlier_positions // max(self.cols, 1)

    @property
    def outlier_cols(self) -> np.ndarray:
        """Column of each outlier in the stored matrix view (int64)."""
        return self.outlier_positions % max(self.cols, 1)

    def indices(self) -> np.ndarray:
        """All indices (uint8) in the tensor's shape, including those stored at outlier positions."""
        return unpack_bits(self.index_bytes, self.bits, self.size).reshape(self.shape)

    def outlier_mask(self) -> np.ndarray:
        """Boolean mask of the outliers, in the tensor's shape."""
        m = np.zeros(self.size, dtype=bool)
        m[self.outlier_positions] = True
        return m.reshape(self.shape)

    def unpack(self) -> np.ndarray:
        """The quantized tensor (float32, original shape): centroid values, outliers as stored."""
        out = self.centroids[unpack_bits(self.index_bytes, self.bits, self.size)]
        out[self.outlier_positions] = self.outlier_values
        return out.reshape(self.shape)

    def integer(self) -> IntegerGobo:
        """The integer variant (int8 centroids, int16 outliers, one scale); see :mod:`.integer`."""
        from .integer import integerize

        return integerize(self)

    # ---- blocks ------------------------------------------------------------------------------
    def _check_range(self, r0: int, r1: int, c0: int, c1: int) -> None:
        if not (0 <= r0 <= r1 <= self.rows and 0 <= c0 <= c1 <= self.cols):
            raise QuantError(f"{self.name or 'tensor'}: block [{r0}:{r1}, {c0}:{c1}] outside "
                             f"{self.rows} x {self.cols}")

    def block(self, r0: int, r1: int, c0: int, c1: int) -> PackedBlock:
        """The ``[r0, r1) x [c0, c1)`` block (stored orientation, row/column units: weights)."""
        self._check_range(r0, r1, c0, c1)
        h, w = r1 - r0, c1 - c0
        rows = unpack_bit_range(self.index_bytes, self.bits, r0 * self.cols, h * self.cols)
        sub = rows.reshape(h, self.cols)[:, c0:c1] if h and self.cols else np.zeros((h, w), np.uint8)
        rr, cc = self.outlier_rows, self.outlier_cols
        sel = (rr >= r0) & (rr < r1) & (cc >= c0) & (cc < c1)
        return PackedBlock(r0, r1, c0, c1, self.bits, pack_bits(sub, self.bits),
                           rr[sel], cc[sel], self.outlier_values[sel])

    def _grid(self, row_block: int, col_block: int) -> tuple[int, int]:
        if int(row_block) < 1 or int(col_block) < 1:
            raise QuantError(f"block sizes must be >= 1, got {row_block} x {col_block}")
        return -(-self.rows // int(row_block)), -(-self.cols // int(col_block))

    def outlier_counts(self, row_block: int, col_block: int, *, transpose: bool = False) -> np.ndarray:
        """Outliers per block (int64, ``ceil(rows/row_block) x ceil(cols/col_block)``).

        With ``transpose=True`` the blocks tile the transposed matrix (``cols x rows``, i.e. the
        ``k x n`` GEMM orientation of a Hugging Face ``[n, k]`` weight).
        """
        if transpose:
            return self.outlier_counts(col_block, row_block).T.copy()
        key = ("counts", int(row_block), int(col_block))
        hit = self._memo.get(key)
        if hit is None:
            gr, gc = self._grid(row_block, col_block)
            flat = (self.outlier_rows // row_block) * gc + self.outlier_cols // col_block
            hit = self._memo[key] = _frozen(np.bincount(flat, minlength=gr * gc).astype(np.int64).reshape(gr, gc))
        return hit

    @cached_property
    def _memo(self) -> dict[tuple, Any]:
        """Per-blocking results (:meth:`outlier_counts`, :meth:`block_bytes`), computed once per tensor: the
        tensor is immutable, and each run maps the same tensors with the same few blockings (read-only arrays)."""
        return {}

    def block_bytes(self, row_block: int, col_block: int, *, transpose: bool = False) -> BlockBytes:
        """Bytes per block (see :class:`BlockBytes`); ``transpose`` as in :meth:`outlier_counts`."""
        if transpose:
            t = self.block_bytes(col_block, row_block)
            return BlockBytes(t.index.T.copy(), t.outliers.T.copy(), t.dictionary_bytes)
        key = ("bytes", int(row_block), int(col_block))
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._block_bytes(row_block, col_block)
        return hit

    def _block_bytes(self, row_block: int, col_block: int) -> BlockBytes:
        gr, gc = self._grid(row_block, col_block)
        c0 = np.arange(gc, dtype=np.int64) * col_block
        c1 = np.minimum(c0 + col_block, self.cols)
        r = np.arange(self.rows, dtype=np.int64)[:, None] * self.cols
        start = (r + c0[None, :]) * self.bits
        end = (r + c1[None, :]) * self.bits
        per_row = (end + 7) // 8 - start // 8
        index = np.add.reduceat(per_row, np.arange(0, self.rows, row_block), axis=0) if self.rows else \
            np.zeros((gr, gc), np.int64)
        outliers = OUTLIER_BYTES * self.outlier_counts(row_block, col_block)
        return BlockBytes(_frozen(index.astype(np.int64)), _frozen(outliers), self.dictionary_bytes)


_SCRATCH = threading.local()
#: Largest scratch buffer a thread keeps between calls (float64 elements: 32 MiB); a larger one is used once.
SCRATCH_KEEP = 1 << 22


def _scratch_f64(n: int) -> np.ndarray:
    """A float64 array of ``n`` elements for :func:`pack`'s temporaries, the same memory on every call of this
    thread while it is large enough (touching new memory costs more than the arithmetic on it)."""
    buf = getattr(_SCRATCH, "f64", None)
    if buf is None or buf.size < n:
        buf = np.empty(n, dtype=np.float64)
        _SCRATCH.f64 = buf if n <= SCRATCH_KEEP else None
    return buf[:n]


def _frozen(a: np.ndarray) -> np.ndarray:
    """``a``, made read-only (it is shared by every later caller)."""
    a.flags.writeable = False
    return a


def pack(
    weights: np.ndarray,
    bits: int = 3,
    *,
    outlier_threshold: float = DEFAULT_OUTLIER_THRESHOLD,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    name: str = "",
) -> PackedTensor:
    """GOBO-quantize one tensor and pack it.

    ``weights``: any real array (cast to float32 first; the quantized tensor and the outliers refer
    to the float32 values). ``bits``: 2..8. ``outlier_threshold``: natural-log density (nats).
    Raises :class:`~sim.quant.errors.QuantError` for empty or non-finite input.
    """
    b = check_bits(bits)
    iters = check_max_iterations(max_iterations)
    arr = np.asarray(weights)
    label = name or "tensor"
    if arr.size == 0:
        raise QuantError(f"{label}: cannot quantize an empty tensor")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise QuantError(f"{label}: expected a real-valued tensor, got dtype {arr.dtype}")
    w = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(w).all():
        raise QuantError(f"{label}: tensor contains NaN or infinite values")
    shape = w.shape if w.ndim else (1,)
    flat = w.reshape(-1)
    fit, mask = detect_outliers(flat, outlier_threshold)
    mask_flat = mask.reshape(-1)
    pos = np.flatnonzero(mask_flat)
    # the Gaussian group, sorted once: a copy made here (sorted in place), or a sorted copy of the whole tensor;
    # its prefix sums and the error terms below in this thread's float64 scratch memory (fresh memory is slow)
    scratch = _scratch_f64(flat.size + 1)
    n_gauss = flat.size - pos.size
    gaussian = SortedValues(flat[~mask_flat], copy=False, prefix_out=scratch[:n_gauss + 1]) if pos.size else \
        SortedValues(flat, prefix_out=scratch[:n_gauss + 1])
    res = gobo_centroids(gaussian, 1 << b, iters)
    del gaussian
    centroids = res.centroids.astype(np.float32)
    idx = nearest_index(flat, centroids)
    values = flat[pos]
    q = centroids[idx]
    q[pos] = values
    d = scratch[:flat.size]
    d[...] = q
    d -= flat
    sq_error = float(np.dot(d, d))
    w64 = d  # the same buffer, now the weights in float64
    w64[...] = flat
    sq_norm = float(np.dot(w64, w64))
    del d, w64, scratch
    return PackedTensor(
        name=name, shape=tuple(shape), bits=b,
        index_bytes=pack_bits(idx, b), centroids=centroids,
        outlier_values=values.astype(np.float32, copy=True), outlier_skips=encode_positions(pos),
        mean=fit.mean, std=fit.std, threshold=fit.threshold, z=fit.z,
        iterations=res.iterations, sq_norm=sq_norm, sq_error=sq_error, l1_history=res.l1_history,
    )


def unpack(packed: PackedTensor) -> np.ndarray:
    """The quantized tensor (float32, original shape) from its packed form; see :meth:`PackedTensor.unpack`."""
    return packed.unpack()
