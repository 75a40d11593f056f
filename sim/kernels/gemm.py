"""Integer GEMMs: the int8 x int8 -> int32 GEMM and the GOBO processing-element dataflow.

Shapes: ``A`` is ``m x k``, ``B`` (or the weight ``W``) is ``k x n``; leading batch axes of the
activations broadcast as in ``numpy.matmul``.

Exactness without float rounding (both GEMMs use BLAS for speed). A float32 or float64 matmul
returns the exact integer result when every partial sum, in whatever order and blocking the BLAS
library chooses, is an integer representable exactly in the float type: integers of magnitude
``<= 2^24`` (float32) or ``<= 2^53`` (float64). Each partial sum of ``sum_k a_ik * b_kj`` over
any subset of the ``k`` terms is bounded by ``k * max|a| * max|b|``; if that bound is ``<= 2^24``
every intermediate, product and sum, is exact, so the result is exact for any summation order,
with or without FMA. For int8 operands the bound is ``k * 2^14`` (``|-128 * -128| = 2^14``), so
float32 is exact for ``k <= 1024`` and the code splits ``k`` into blocks of at most
``floor(2^24 / (max|a| * max|b|))`` (>= 1024 for int8), then adds the exact block results in
float64, exact while ``k * max|a| * max|b| <= 2^53`` (``k <= 2^39`` for int8; asserted, with an
int64 fallback beyond). The GOBO bin sums multiply activations by a 0/1 mask, so their bound is
``k * 128`` and float32 is exact for ``k <= 2^17`` in one block.

Accumulator width. The declared accumulator is a 32-bit two's-complement register. Two's-complement
addition is associative modulo 2^32, so wrap-around of a partial sum cancels whenever the final
value fits: overflow is exactly "the final value lies outside int32", which is what
:func:`int_gemm` checks (raising :class:`~sim.kernels.widths.IntegerOverflowError`). A sufficient
static condition is ``k * 2^14 < 2^31``, i.e. ``k < 2^17`` for int8 operands.
"""

from __future__ import annotations

import numpy as np

from .widths import check_bound, check_width

__all__ = ["GOBO_WIDTHS", "gobo_gemm", "gobo_reconstruct", "int_gemm"]

_F32_EXACT = 1 << 24
_F64_EXACT = 1 << 53

#: Declared widths (bits, signed) of the GOBO PE registers.
GOBO_WIDTHS: dict[str, tuple[int, bool]] = {
    "activation": (8, True),  # x, int8
    "centroid": (8, True),  # dictionary entry in the weight scale, int8
    "outlier value": (16, True),  # outlier weight in the same scale, int16
    "bin accumulator": (32, True),  # sum of activations per centroid, |.| <= 128 * k
    "centroid product": (32, True),  # bin_sum * centroid, |.| <= 2^14 * k  (< 2^31 for k < 2^17)
    "outlier product": (32, True),  # x * outlier, |.| <= 2^7 * 2^15 = 2^22
    "accumulator": (32, True),  # final output sum
}


def _max_abs(a: np.ndarray) -> int:
    return 0 if a.size == 0 else max(abs(int(a.min())), abs(int(a.max())))


def _require_int(a: np.ndarray, name: str, kernel: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{kernel}: {name} must be an integer array, got dtype {a.dtype}")
    return a


def _exact_matmul(a: np.ndarray, b: np.ndarray, bound_per_term: int) -> np.ndarray:
    """Exact integer ``a @ b`` (int64 result) via float BLAS, blocking ``k`` so partial sums stay exact.

    ``bound_per_term`` >= max |a_ik * b_kj|. See the module docstring for the proof.
    """
    k = a.shape[-1]
    out_shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    if bound_per_term == 0 or k == 0:
        return np.zeros(out_shape, dtype=np.int64)
    if k * bound_per_term > _F64_EXACT:
        # Beyond float64 exactness: plain int64 matmul (|sum| <= k*bound < 2^63 asserted).
        check_bound(k * bound_per_term, 64, True, kernel="exact_matmul", what="partial sum bound")
        return np.matmul(a.astype(np.int64), b.astype(np.int64))
    kb = _F32_EXACT // bound_per_term  # longest k-block whose partial sums stay <= 2^24
    if kb >= k:
        return np.matmul(a.astype(np.float32), b.astype(np.float32)).astype(np.int64)
    if kb < 64:  # float32 blocks would be too small to pay off: one float64 product
        return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.int64)
    acc = np.zeros(out_shape, dtype=np.float64)
    for k0 in range(0, k, kb):
        part = np.matmul(a[..., k0 : k0 + kb].astype(np.float32), b[..., k0 : k0 + kb, :].astype(np.float32))
        acc += part  # each block exact (<= 2^24), running sum exact (<= 2^53)
    return acc.astype(np.int64)


def int_gemm(a: np.ndarray, b: np.ndarray, *, in_bits: int = 8, acc_bits: int = 32) -> np.ndarray:
    """Integer GEMM ``a @ b`` with a ``acc_bits``-bit accumulator; returns int32 (for ``acc_bits <= 32``).

    ``a``: ``(..., m, k)``, ``b``: ``(..., k, n)``; integer arrays whose values must fit signed
    ``in_bits`` (int8 by default: [-128, 127]; ``in_bits=9`` admits uint8 softmax outputs
    [0, 255] for the attention-times-V product); batch axes broadcast. The result is exact (see the
    module docstring: float32 BLAS on k-blocks whose partial sums stay <= 2^24). Raises
    :class:`IntegerOverflowError` if an operand exceeds ``in_bits`` or a result exceeds the
    accumulator (``int_gemm: accumulator exceeds int32 (...)``).
    """
    kernel = "int_gemm"
    a = _require_int(a, "A", kernel)
    b = _require_int(b, "B", kernel)
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
        raise ValueError(f"{kernel}: shapes {a.shape} and {b.shape} do not multiply (A is m x k, B is k x n)")
    check_width(a, in_bits, True, kernel=kernel, what="operand A")
    check_width(b, in_bits, True, kernel=kernel, what="operand B")
    bound = _max_abs(a) * _max_abs(b)
    out = _exact_matmul(a, b, bound)
    check_width(out, acc_bits, True, kernel=kernel, what="accumulator")
    return out.astype(np.int32) if acc_bits <= 32 else out


def _validate_gobo(
    idx: np.ndarray,
    centroids: np.ndarray,
    out_rows: np.ndarray,
    out_cols: np.ndarray,
    out_vals: np.ndarray,
    bits: int,
    kernel: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    idx = _require_int(idx, "idx", kernel)
    centroids = _require_int(np.asarray(centroids).reshape(-1), "centroids", kernel)
    rows = _require_int(np.asarray(out_rows).reshape(-1), "out_rows", kernel).astype(np.int64)
    cols = _require_int(np.asarray(out_cols).reshape(-1), "out_cols", kernel).astype(np.int64)
    vals = _require_int(np.asarray(out_vals).reshape(-1), "out_vals", kernel)
    if idx.ndim != 2:
        raise ValueError(f"{kernel}: idx must be a k x n matrix, got shape {idx.shape}")
    if not (rows.size == cols.size == vals.size):
        raise ValueError(f"{kernel}: out_rows, out_cols, out_vals must have equal lengths")
    nbins = centroids.size
    if nbins == 0 or nbins > (1 << bits):
        raise ValueError(f"{kernel}: {nbins} centroids do not fit {bits}-bit indices")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= nbins):
        raise ValueError(f"{kernel}: indices must lie in [0, {nbins - 1}]")
    check_width(centroids, *GOBO_WIDTHS["centroid"], kernel=kernel, what="centroid")
    check_width(vals, *GOBO_WIDTHS["outlier value"], kernel=kernel, what="outlier value")
    k, n = idx.shape
    if rows.size:
        if rows.min() < 0 or rows.max() >= k or cols.min() < 0 or cols.max() >= n:
            raise ValueError(f"{kernel}: outlier positions outside the {k} x {n} weight matrix")
        lin = rows * n + cols
        if np.unique(lin).size != lin.size:
            raise ValueError(f"{kernel}: duplicate outlier positions")
    return idx, centroids, rows, cols, vals


def gobo_reconstruct(
    idx: np.ndarray,
    centroids: np.ndarray,
    out_rows: np.ndarray,
    out_cols: np.ndarray,
    out_vals: np.ndarray,
) -> np.ndarray:
    """The integer weight matrix ``W`` (k x n, int16) that a GOBO tensor encodes.

    ``W[k, n] = centroids[idx[k, n]]``, overwritten by ``out_vals[i]`` at ``(out_rows[i], out_cols[i])``.
    Values are in the weight scale (centroids int8, outliers int16).
    """
    bits = max(1, int(np.ceil(np.log2(max(2, np.asarray(centroids).size)))))
    idx, c, rows, cols, vals = _validate_gobo(idx, centroids, out_rows, out_cols, out_vals, bits, "gobo_reconstruct")
    w = c.astype(np.int16)[idx]
    w[rows, cols] = vals.astype(np.int16)
    return w


def gobo_gemm(
    x: np.ndarray,
    idx: np.ndarray,
    centroids: np.ndarray,
    out_rows: np.ndarray,
    out_cols: np.ndarray,
    out_vals: np.ndarray,
    bits: int,
    *,
    block_elems: int = 1 << 23,
) -> np.ndarray:
    """``x @ W`` for a GOBO-encoded ``W`` computed as the GOBO PE does; returns int32 ``(..., m, n)``.

    ``x``: int8 activations ``(..., m, k)``. ``W`` (k x n) is given by ``idx`` (``bits``-bit
    indices), ``centroids`` (int8, in the weight scale) and the outliers ``(out_rows, out_cols,
    out_vals)`` (int16, same scale); see :func:`gobo_reconstruct`.

    Dataflow, per output ``(m, n)``:

    1. one 32-bit accumulator per centroid (bin): ``bin_b = sum_k x[m, k]`` over the ``k`` with
       ``idx[k, n] == b`` that are not outlier positions (additions only; ``|bin_b| <= 128 k``);
    2. one multiply per bin: ``bin_b * centroids[b]`` (``|.| <= 2^14 k``, int32 for ``k < 2^17``);
    3. their sum, plus the outlier products ``x[m, out_rows[i]] * out_vals[i]`` for the outliers
       in column ``n`` (``|.| <= 2^22``), into the 32-bit output accumulator.

    Vectorised as one-hot masks: ``bin_b = x @ (idx == b & ~outlier)``, an exact float32 BLAS
    product (0/1 mask, partial sums ``<= 128 k <= 2^24``), processed in column blocks of at most
    ``block_elems`` mask entries. Every declared register (``GOBO_WIDTHS``) is checked; overflow
    raises :class:`IntegerOverflowError`. The result equals ``x @ gobo_reconstruct(...)`` exactly.
    """
    kernel = "gobo_gemm"
    x = _require_int(x, "x", kernel)
    idx, c, rows, cols, vals = _validate_gobo(idx, centroids, out_rows, out_cols, out_vals, bits, kernel)
    k, n = idx.shape
    if x.ndim < 2 or x.shape[-1] != k:
        raise ValueError(f"{kernel}: x of shape {x.shape} does not multiply a {k} x {n} weight")
    check_width(x, *GOBO_WIDTHS["activation"], kernel=kernel, what="activation")
    if k >= (1 << 17):
        raise ValueError(f"{kernel}: k = {k} >= 2^17 exceeds the int32 bin/product bound of this model")
    lead = x.shape[:-1]
    x2 = x.reshape(-1, k)
    mrows = x2.shape[0]
    nbins = c.size
    xf = x2.astype(np.float32)

    inlier = np.ones((k, n), dtype=bool)
    inlier[rows, cols] = False
    out = np.zeros((mrows, n), dtype=np.int64)
    cent = c.astype(np.int64)
    nb = max(1, block_elems // max(1, k * nbins))
    bin_ids = np.arange(nbins, dtype=idx.dtype if idx.dtype.kind in "iu" else np.int64)
    for n0 in range(0, n, nb):
        n1 = min(n, n0 + nb)
        sub = idx[:, n0:n1]
        # mask[k, b, j] = 1 where weight (k, n0+j) is an inlier of bin b
        mask = (sub[:, None, :] == bin_ids[None, :, None]) & inlier[:, None, n0:n1]
        bins = (xf @ mask.reshape(k, -1).astype(np.float32)).astype(np.int64).reshape(mrows, nbins, n1 - n0)
        check_width(bins, *GOBO_WIDTHS["bin accumulator"], kernel=kernel, what="bin accumulator")
        prod = bins * cent[None, :, None]
        check_width(prod, *GOBO_WIDTHS["centroid product"], kernel=kernel, what="centroid product")
        out[:, n0:n1] = prod.sum(axis=1)
    if rows.size:
        order = np.argsort(cols, kind="stable")
        rs, cs, vs = rows[order], cols[order], vals[order].astype(np.int64)
        contrib = x2[:, rs].astype(np.int64) * vs[None, :]
        check_width(contrib, *GOBO_WIDTHS["outlier product"], kernel=kernel, what="outlier product")
        starts = np.flatnonzero(np.r_[True, cs[1:] != cs[:-1]])
        out[:, cs[starts]] += np.add.reduceat(contrib, starts, axis=1)
    check_width(out, *GOBO_WIDTHS["accumulator"], kernel=kernel, what="accumulator")
    return out.astype(np.int32).reshape(lead + (n,))
