"""The BiQGEMM-style design's functional dataflow: GEMMs through tables of activation partial sums.

:func:`lut_gemm` computes ``y = sum_i c_i (x @ S_i^T)`` for binary planes ``S_i in {-1, +1}^{n x k}`` and
int8 codes ``c_i [n]`` as the tiles do: the reduction is cut into groups of ``mu`` activations; for every row
of ``x`` and group, the table of all ``2^mu`` signed sums is built; each output's plane sum is the sum over
groups of the entry its ``mu`` weight bits select (the reads as a product with the keys' one-hot matrix); then
the planes are scaled and combined. Attention (:func:`lut_bmm`): the
second operand's 8 two's-complement bits as +-1 planes and the all-ones key, ``a @ b = (sum_j c_j (a @ S_j) -
a @ 1) / 2``. Every table entry, plane sum and output is checked against its declared width.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.kernels.widths import check_width

ENTRY_BITS_CAP = 16
"""Declared width of a table entry (int16 storage; the entries of mu <= 8 int8 values need at most 12)."""


def _tables(x: np.ndarray, mu: int) -> np.ndarray:
    """Tables ``[m, G, 2^mu]`` (int32) of every row's groups: all signed sums of each group's ``mu`` activations."""
    m, k = x.shape
    G = -(-k // mu)
    xp = np.zeros((m, G * mu), dtype=np.int64)
    xp[:, :k] = x
    patterns = np.array([[1 if (e >> j) & 1 else -1 for j in range(mu)] for e in range(1 << mu)], dtype=np.int64)
    tab = np.einsum("mgj,ej->mge", xp.reshape(m, G, mu), patterns)
    check_width(tab, ENTRY_BITS_CAP, True, kernel="lut_gemm", what="table entry")
    return tab.astype(np.int32)


def _keys(bits: np.ndarray, mu: int, G: int) -> np.ndarray:
    """Keys ``[G, cols]`` of 0/1 ``bits [k, cols]``: bit ``j`` of a group's key is its ``j``-th weight's bit."""
    k, cols = bits.shape
    bp = np.zeros((G * mu, cols), dtype=np.int64)
    bp[:k] = bits
    keys = np.zeros((G, cols), dtype=np.int64)
    for j in range(mu):
        keys |= bp[j::mu] << j
    return keys


def _plane_sums(x: np.ndarray, planes_bits: np.ndarray, mu: int) -> np.ndarray:
    """``[Q, m, cols]``: per plane, the sum over groups of the table entries its keys select
    (``planes_bits [Q, k, cols]`` 0/1). The reads are a product with the one-hot matrix of the keys (exact:
    float32 while ``G * 128 mu < 2^24``, else float64); the sums are checked against int32."""
    tab = _tables(x, mu)
    m, G, E = tab.shape
    Q, _, cols = planes_bits.shape
    keys = np.concatenate([_keys(planes_bits[i], mu, G) for i in range(Q)], axis=1)  # [G, Q * cols]
    ftype = np.float32 if G * 128 * mu < (1 << 24) else np.float64
    sel = np.zeros((G * E, Q * cols), dtype=ftype)
    sel[(np.arange(G)[:, None] * E) + keys, np.arange(Q * cols)[None, :]] = 1
    acc = np.rint(tab.reshape(m, G * E).astype(ftype) @ sel).astype(np.int64)
    check_width(acc, 32, True, kernel="lut_gemm", what="plane accumulator")
    return acc.reshape(m, Q, cols).transpose(1, 0, 2)


def lut_gemm(x: np.ndarray, planes_bits: np.ndarray, codes: np.ndarray, mu: int = 4, *,
             in_bits: int = 8) -> np.ndarray:
    """``x [m, k] @ W^T`` for ``W = sum_i codes[i, :, None] * (2 planes_bits[i] - 1)`` (``planes_bits [Q, n, k]``
    0/1, ``codes [Q, n]`` int8) through the tables; int64 ``[m, n]``."""
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise TypeError(f"lut_gemm: activations must be integers, got {x.dtype}")
    check_width(x, in_bits, True, kernel="lut_gemm", what="activations")
    sums = _plane_sums(x.astype(np.int64), np.asarray(planes_bits).transpose(0, 2, 1), mu)
    out = np.zeros(sums.shape[1:], dtype=np.int64)
    for i in range(sums.shape[0]):
        out += codes[i].astype(np.int64)[None, :] * sums[i]
        check_width(out, 32, True, kernel="lut_gemm", what="output accumulator")
    return out


def lut_bmm(a: np.ndarray, b: np.ndarray, mu: int = 4, *, in_bits: int = 8) -> np.ndarray:
    """``a @ b`` (batched) with ``b`` int8, through the tables of ``a``'s groups; int64."""
    a = np.asarray(a)
    b = np.asarray(b)
    check_width(b, 8, True, kernel="lut_bmm", what="operand B")
    check_width(a, in_bits, True, kernel="lut_bmm", what="operand A")
    shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    A = np.broadcast_to(a, shape + a.shape[-2:]).reshape(-1, *a.shape[-2:])
    B = np.broadcast_to(b, shape + b.shape[-2:]).reshape(-1, *b.shape[-2:])
    out = np.empty((A.shape[0], A.shape[1], B.shape[2]), dtype=np.int64)
    for i in range(A.shape[0]):
        u = B[i].astype(np.int64) & 0xFF
        bits = np.stack([(u >> j) & 1 for j in range(8)] + [np.ones_like(u)])
        sums = _plane_sums(A[i].astype(np.int64), bits, mu)
        coef = [1, 2, 4, 8, 16, 32, 64, -128, -1]
        total = sum(c * sums[j] for j, c in enumerate(coef))
        assert not (total % 2).any()
        out[i] = total // 2
    check_width(out, 32, True, kernel="lut_bmm", what="output")
    return out.reshape(shape + out.shape[-2:])


class BiqgemmDatapath:
    """Weight GEMMs and attention BMMs through the tables (group size ``mu``)."""

    name = "biqgemm"

    def __init__(self, mu: int = 4) -> None:
        self.mu = int(mu)
        self.key: tuple[Any, ...] = ("biqgemm", self.mu)

    def linear(self, x: np.ndarray, lin: Any, in_bits: int) -> tuple[np.ndarray, str] | None:
        """``x @ W^T`` for a BCQ linear (its packed planes and codes); None for any other linear."""
        packed = getattr(lin, "packed", None)
        if packed is None or not hasattr(packed, "plane_bits"):
            return None
        out = lut_gemm(x, packed.plane_bits(), packed.codes, self.mu, in_bits=8)  # int8 activations
        return out, f"biqgemm-lut(mu={self.mu}, q={packed.bits})"

    def bmm(self, a: np.ndarray, b: np.ndarray, in_bits: int) -> np.ndarray | None:
        """Attention ``a @ b`` through the tables (None when ``b`` does not fit int8)."""
        if b.size and (int(b.min()) < -128 or int(b.max()) > 127):
            return None
        return lut_bmm(a, b, self.mu, in_bits=in_bits)
