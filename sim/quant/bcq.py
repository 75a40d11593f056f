"""Binary-coding quantization (BCQ; BiQGEMM, Jeon et al. SC 2020; Chung et al. Findings of EMNLP 2020).

Every row ``w`` (an output channel of a ``[n, k]`` weight) is approximated by ``q`` binary vectors with scales:
``w ~ sum_i alpha_i b_i``, ``b_i in {-1, +1}^k``. The quantizer is the alternating method (greedy start:
``b_i = sign(r)``, ``alpha_i = mean|r|`` of the residual ``r``; then ``iterations`` rounds of least-squares
``alpha`` for fixed ``b`` and the nearest of the ``2^q`` sign patterns for fixed ``alpha``), per row.

Integer form (what the BiQGEMM datapath computes with): each row's scales become int8 codes of one per-row
unit, ``alpha_i = c_i * s`` with ``s = max_i |alpha_i| / 127`` and ``c_i = round(alpha_i / s)``, so the integer
weight ``W_int[n, k] = sum_i c_i[n] b_i[n, k]`` (``|W_int| <= 127 q``) and the real weight is ``W_int * s[n]``.
The dequantized values and every error figure are of this integer form (what the hardware computes).

Packed format (:class:`BcqTensor`): ``q`` bit planes (bit 1: +1, 0: -1), each ``rows x cols`` bits row-major
(:mod:`.bitpack`), the int8 codes ``[q, rows]`` and the fp32 units ``s[rows]``: :func:`bcq_bytes`.

Frequency-aware mixed-bit embeddings (Chung et al.: frequent words get more bits, each word vector its own
scales): :func:`bcq_embedding` ranks the rows of a table by a given frequency and quantizes the most frequent
``fractions`` at the tiers' bits, every row with its own scales (a :class:`MixedBcqTable`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bitpack import pack_bits, packed_size, unpack_bits
from .errors import QuantError, QuantParamError
from .ternary import as_matrix

__all__ = ["BcqTensor", "MixedBcqTable", "bcq", "bcq_bytes", "bcq_embedding", "DEFAULT_TIERS", "CODE_MAX"]

CODE_MAX = 127
"""Largest magnitude of an int8 scale code."""
UNIT_BYTES = 4
"""Bytes of one row's fp32 unit ``s``."""
DEFAULT_ITERATIONS = 4
"""Alternating refinement rounds (assumed: on a 768 x 3072 Gaussian weight at 3 bits the relative error is
0.242 greedy, 0.203 after 4 rounds and 0.194 after 8, at twice the time)."""
DEFAULT_TIERS: tuple[tuple[float, int], ...] = ((0.01, 4), (0.10, 3), (1.0, 2))
"""Mixed-bit embedding tiers ``(cumulative fraction of rows by frequency rank, bits)`` (assumed: Chung et al.
give the principle, frequent words more bits, and that ~1% of the words cover ~95% of the occurrences; the
tier boundaries here are ours)."""
_CHUNK_ELEMS = 1 << 19


def bcq_bytes(rows: int, cols: int, bits: int) -> int:
    """Packed bytes of a ``rows x cols`` BCQ tensor with ``bits`` planes: planes + int8 codes + fp32 units."""
    return bits * packed_size(rows * cols, 1) + bits * rows + rows * UNIT_BYTES


def _alternating(w: np.ndarray, q: int, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``w`` [r, k]: (alpha [r, q], signs [q, r, k] in {-1, +1}) by greedy start + alternation."""
    w32 = w.astype(np.float32)
    r = w32.copy()
    alphas = np.zeros((w.shape[0], q))
    signs = np.empty((q,) + w.shape, dtype=np.int8)
    for i in range(q):
        s = np.where(r >= 0, 1, -1).astype(np.int8)
        a = np.abs(r).mean(axis=1, dtype=np.float64)
        signs[i] = s
        alphas[:, i] = a
        r -= a.astype(np.float32)[:, None] * s
    patterns = np.array([[1 if (p >> i) & 1 else -1 for i in range(q)] for p in range(1 << q)], dtype=np.int8)
    for _ in range(iterations):
        b = signs.astype(np.float32)  # [q, r, k]
        gram = np.matmul(b.transpose(1, 0, 2), b.transpose(1, 2, 0)).astype(np.float64) + 1e-9 * np.eye(q)
        rhs = np.einsum("qrk,rk->rq", b, w32).astype(np.float64)
        alphas = np.linalg.solve(gram, rhs[..., None])[..., 0]
        values = alphas @ patterns.T.astype(np.float64)  # [r, 2^q]: every pattern's value per row
        order = np.argsort(values, axis=1)
        sv = np.take_along_axis(values, order, axis=1)
        mids = ((sv[:, 1:] + sv[:, :-1]) / 2).astype(np.float32)
        rank = np.zeros(w.shape, dtype=np.int64)  # the nearest value's rank: midpoints below the weight
        for j in range(mids.shape[1]):
            rank += w32 > mids[:, j:j + 1]
        best = np.take_along_axis(order, rank, axis=1)
        signs = patterns[best].transpose(2, 0, 1)
    return alphas, signs


@dataclass(frozen=True, eq=False)
class BcqTensor:
    """One BCQ tensor (see the module docstring): ``planes`` (``bits`` uint8 streams), ``codes`` int8
    ``[bits, rows]``, ``units`` float32 ``[rows]``, ``shape`` (original), ``rel_l2_error`` of the integer form."""

    shape: tuple[int, ...]
    rows: int
    cols: int
    bits: int
    planes: tuple[np.ndarray, ...]
    codes: np.ndarray
    units: np.ndarray
    rel_l2_error: float
    iterations: int

    @property
    def size(self) -> int:
        """Weights in the tensor."""
        return self.rows * self.cols

    @property
    def packed_bytes(self) -> int:
        """Bytes of the packed buffers (planes + codes + units)."""
        return int(sum(p.nbytes for p in self.planes) + self.codes.nbytes + self.units.nbytes)

    @property
    def bits_per_weight(self) -> float:
        """Packed bits per weight, from the buffers."""
        return 8.0 * self.packed_bytes / self.size

    @property
    def int_bits(self) -> int:
        """Signed width of ``W_int`` (``|W_int| <= 127 * bits``)."""
        return int(np.ceil(np.log2(CODE_MAX * self.bits + 1))) + 1

    def signs(self) -> np.ndarray:
        """The binary planes ``[bits, rows, cols]`` as int8 in {-1, +1}, decoded from the packed streams."""
        out = np.empty((self.bits, self.rows, self.cols), dtype=np.int8)
        for i, p in enumerate(self.planes):
            out[i] = np.where(unpack_bits(p, 1, self.size).reshape(self.rows, self.cols) == 1, 1, -1)
        return out

    def plane_bits(self) -> np.ndarray:
        """The planes as 0/1 bits ``[bits, rows, cols]`` (1: +1), as the LUT keys are formed from them."""
        return np.stack([unpack_bits(p, 1, self.size).reshape(self.rows, self.cols) for p in self.planes])

    def int_matrix(self) -> np.ndarray:
        """``W_int = sum_i c_i b_i`` ``[rows, cols]`` (int16)."""
        s = self.signs().astype(np.int32)
        return np.einsum("qr,qrk->rk", self.codes.astype(np.int32), s).astype(np.int16)

    def dequantized(self) -> np.ndarray:
        """``W_int * s`` as float32 in the original shape."""
        return (self.int_matrix() * self.units.astype(np.float64)[:, None]).astype(np.float32).reshape(self.shape)

    def stats(self) -> dict[str, Any]:
        """Accuracy-relevant statistics."""
        return {"bits": self.bits, "iterations": self.iterations, "rel_l2_error": self.rel_l2_error,
                "bits_per_weight": self.bits_per_weight, "packed_bytes": self.packed_bytes,
                "mean_abs_code": [float(np.abs(c).mean()) for c in self.codes.astype(np.int32)]}


def _integer_codes(alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    unit = np.maximum(np.abs(alphas).max(axis=1), 1e-30) / CODE_MAX
    codes = np.clip(np.rint(alphas / unit[:, None]), -CODE_MAX, CODE_MAX).astype(np.int8)
    return codes.T.copy(), unit.astype(np.float32)


def bcq(weights: np.ndarray, bits: int = 3, *, iterations: int = DEFAULT_ITERATIONS, name: str = "") -> BcqTensor:
    """BCQ-quantize one tensor with ``bits`` planes per row and pack it."""
    label = name or "tensor"
    if not 1 <= int(bits) <= 8:
        raise QuantParamError(f"{label}: BCQ bits must be in 1..8, got {bits}")
    if not 0 <= int(iterations) <= 100:
        raise QuantParamError(f"{label}: iterations must be in 0..100, got {iterations}")
    q = int(bits)
    w = as_matrix(weights, label)
    shape = tuple(np.asarray(weights).shape) or (1,)
    rows, cols = w.shape
    step = max(1, _CHUNK_ELEMS // max(1, cols * q))
    alphas = np.empty((rows, q))
    signs = np.empty((q, rows, cols), dtype=np.int8)
    for r0 in range(0, rows, step):
        a, s = _alternating(w[r0:r0 + step], q, int(iterations))
        alphas[r0:r0 + step], signs[:, r0:r0 + step] = a, s
    codes, units = _integer_codes(alphas)
    planes = tuple(pack_bits((signs[i] > 0).astype(np.uint8), 1) for i in range(q))
    t = BcqTensor(shape, rows, cols, q, planes, codes, units, 0.0, int(iterations))
    norm = float(np.linalg.norm(w))
    deq = t.int_matrix().astype(np.float64) * units.astype(np.float64)[:, None]
    err = float(np.linalg.norm(deq - w) / norm) if norm > 0 else 0.0
    return BcqTensor(shape, rows, cols, q, planes, codes, units, err, int(iterations))


@dataclass(frozen=True, eq=False)
class MixedBcqTable:
    """An embedding table quantized row group by row group at the tiers' bits: ``parts[(bits)]`` holds the BCQ
    tensor of the rows ``row_groups[bits]`` (indices into the table)."""

    shape: tuple[int, ...]
    row_groups: dict[int, np.ndarray]
    parts: dict[int, BcqTensor]
    rel_l2_error: float

    @property
    def size(self) -> int:
        """Weights in the table."""
        return int(np.prod(self.shape))

    @property
    def packed_bytes(self) -> int:
        """Bytes of every part's buffers plus one byte per row for its tier (the row's bit width)."""
        return int(sum(p.packed_bytes for p in self.parts.values()) + self.shape[0])

    @property
    def bits_per_weight(self) -> float:
        """Packed bits per weight, from the buffers."""
        return 8.0 * self.packed_bytes / self.size

    def dequantized(self) -> np.ndarray:
        """The table with every row dequantized at its tier's bits (float32)."""
        out = np.zeros((self.shape[0], int(np.prod(self.shape[1:]))), dtype=np.float32)
        for b, rows in self.row_groups.items():
            out[rows] = self.parts[b].dequantized().reshape(len(rows), -1)
        return out.reshape(self.shape)

    def stats(self) -> dict[str, Any]:
        """Rows and error per tier."""
        return {"tiers": {str(b): {"rows": int(len(r)), "rel_l2_error": self.parts[b].rel_l2_error}
                          for b, r in self.row_groups.items()},
                "rel_l2_error": self.rel_l2_error, "bits_per_weight": self.bits_per_weight,
                "packed_bytes": self.packed_bytes}


def bcq_embedding(table: np.ndarray, frequency: np.ndarray, tiers: Sequence[tuple[float, int]] = DEFAULT_TIERS,
                  *, iterations: int = DEFAULT_ITERATIONS, name: str = "") -> MixedBcqTable:
    """Frequency-aware mixed-bit BCQ of an embedding table (rows ranked by ``frequency``, most frequent first;
    ties by row index). ``tiers``: ``(cumulative fraction, bits)`` pairs, fractions rising to 1."""
    label = name or "table"
    w = as_matrix(table, label)
    f = np.asarray(frequency, dtype=np.float64).reshape(-1)
    if f.shape[0] != w.shape[0]:
        raise QuantParamError(f"{label}: {f.shape[0]} frequencies for {w.shape[0]} rows")
    if not tiers or abs(float(tiers[-1][0]) - 1.0) > 1e-12:
        raise QuantParamError(f"{label}: the last tier's cumulative fraction must be 1.0, got {list(tiers)}")
    fr = [float(t[0]) for t in tiers]
    if any(b <= a for a, b in zip(fr, fr[1:])) or fr[0] <= 0:
        raise QuantParamError(f"{label}: tier fractions must rise strictly in (0, 1], got {fr}")
    rank = np.lexsort((np.arange(w.shape[0]), -f))
    groups: dict[int, list[np.ndarray]] = {}
    start = 0
    for frac, b in tiers:
        end = max(start, int(round(frac * w.shape[0])))
        if end > start:
            groups.setdefault(int(b), []).append(rank[start:end])
        start = end
    row_groups = {b: np.sort(np.concatenate(g)) for b, g in groups.items()}
    parts = {b: bcq(w[rows], b, iterations=iterations, name=f"{label} ({b}-bit rows)")
             for b, rows in row_groups.items()}
    shape = tuple(np.asarray(table).shape)
    t = MixedBcqTable(shape, row_groups, parts, 0.0)
    deq = t.dequantized().astype(np.float64).reshape(w.shape)
    norm = float(np.linalg.norm(w))
    if not np.isfinite(deq).all():
        raise QuantError(f"{label}: non-finite dequantized values")
    err = float(np.linalg.norm(deq - w) / norm) if norm > 0 else 0.0
    return MixedBcqTable(shape, row_groups, parts, err)
