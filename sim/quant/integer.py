"""Integer variant of a GOBO tensor for the integer pipeline.

One symmetric scale per tensor, ``s_w = max|centroid| / 127`` (real value = integer * s_w, float64
computed from the fp32 centroids). In that scale:

* centroids become int8: ``rint(c / s_w)``, in ``[-127, 127]`` by construction;
* outliers become int16: ``rint(o / s_w)`` saturated to ``[-32768, 32767]`` (``saturated`` counts
  the clipped ones). int16, not int8: outliers lie outside the Gaussian group, whose centroids span
  at most about ``z* ~ 3.3-3.7`` std around the mean, while outliers reach tens of std (up to ~175
  std in all-MiniLM-L6-v2's FFN2 weights). At the same scale an outlier of ``m`` std needs about
  ``127 * m / 3.5`` counts: ~6,400 for 175 std, far past int8 and well inside int16.

``rint`` rounds half to even. Degenerate tensors: if every centroid is 0, the scale is
``max|outlier| / 32767`` (or 1.0 when there are no outliers either).

Orientation: a Hugging Face ``Linear`` weight is stored ``[out, in] = [n, k]`` (orientation "nk");
the project's integer GEMM multiplies ``A (m x k) @ W (k x n)``, so use :meth:`IntegerGobo.transposed`
(orientation "kn") or :meth:`IntegerGobo.matrix_kn`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .errors import QuantError


class PackedLike(Protocol):
    """What :func:`integerize` reads of a packed tensor (:class:`~sim.quant.packed.PackedTensor` has it)."""

    @property
    def name(self) -> str: ...  # noqa: D102

    @property
    def shape(self) -> tuple[int, ...]: ...  # noqa: D102

    @property
    def centroids(self) -> np.ndarray: ...  # noqa: D102

    @property
    def outlier_values(self) -> np.ndarray: ...  # noqa: D102

    @property
    def outlier_rows(self) -> np.ndarray: ...  # noqa: D102

    @property
    def outlier_cols(self) -> np.ndarray: ...  # noqa: D102

    def indices(self) -> np.ndarray: ...  # noqa: D102

INT8_MAX = 127
INT16_MIN, INT16_MAX = -32768, 32767


@dataclass(frozen=True, eq=False)
class IntegerGobo:
    """Integer form of a 2-D GOBO tensor.

    ``indices``: uint8 matrix (indices at outlier positions are the stored ones, ignored by
    :meth:`matrix`). ``centroid_ints``: int8, ascending. ``outlier_rows``/``outlier_cols``: int64
    coordinates in this object's orientation, row-major order of the *stored* tensor.
    ``outlier_ints``: int16. ``scale``: float, real = int * scale. ``orientation``: "nk" as stored,
    "kn" transposed for ``A @ W``.
    """

    scale: float
    indices: np.ndarray
    centroid_ints: np.ndarray
    outlier_rows: np.ndarray
    outlier_cols: np.ndarray
    outlier_ints: np.ndarray
    saturated: int
    orientation: str = "nk"

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of the matrix in this orientation."""
        return (int(self.indices.shape[0]), int(self.indices.shape[1]))

    def matrix(self, dtype: type = np.int16) -> np.ndarray:
        """The reconstructed integer weight matrix: ``centroid_ints[indices]``, outliers overwritten.

        ``dtype`` is np.int16 (default) or np.int32.
        """
        return self._rebuilt(None, dtype)

    def matrix_rows(self, rows: np.ndarray, dtype: type = np.int16) -> np.ndarray:
        """``matrix(dtype)[rows]`` (``rows`` integer row numbers of this orientation, any shape; negative ones count
        from the end, as numpy's) rebuilding only the distinct rows asked for; IndexError for a row outside."""
        r = np.asarray(rows)
        n = self.shape[0]
        flat = r.reshape(-1)
        if flat.size and (int(flat.min()) < -n or int(flat.max()) >= n):
            raise IndexError(f"a row outside the matrix's {n} rows")
        u, inv = np.unique(np.where(flat < 0, flat + n, flat), return_inverse=True)
        return self._rebuilt(u, dtype)[inv].reshape(r.shape + (self.shape[1],))

    def _rebuilt(self, rows: np.ndarray | None, dtype: type) -> np.ndarray:
        """The matrix (``rows`` None), or its rows ``rows`` (sorted, distinct), with the outliers overwritten."""
        if np.dtype(dtype) not in (np.dtype(np.int16), np.dtype(np.int32)):
            raise QuantError(f"integer weight matrix dtype must be int16 or int32, got {np.dtype(dtype)}")
        table: np.ndarray = self.centroid_ints.astype(dtype)
        if rows is None:
            m: np.ndarray = np.take(table, self.indices)
            m[self.outlier_rows, self.outlier_cols] = self.outlier_ints
            return m
        m = np.take(table, self.indices[rows])
        orow = np.asarray(self.outlier_rows)
        hit = np.isin(orow, rows)
        m[np.searchsorted(rows, orow[hit]), np.asarray(self.outlier_cols)[hit]] = np.asarray(self.outlier_ints)[hit]
        return m

    def transposed(self) -> IntegerGobo:
        """The same tensor in the other orientation ("nk" <-> "kn"); indices become contiguous."""
        return IntegerGobo(
            scale=self.scale,
            indices=np.ascontiguousarray(self.indices.T),
            centroid_ints=self.centroid_ints,
            outlier_rows=self.outlier_cols,
            outlier_cols=self.outlier_rows,
            outlier_ints=self.outlier_ints,
            saturated=self.saturated,
            orientation="kn" if self.orientation == "nk" else "nk",
        )

    def matrix_kn(self, dtype: type = np.int16) -> np.ndarray:
        """The integer matrix in GEMM orientation ``k x n`` (contiguous), whatever this orientation."""
        t = self if self.orientation == "kn" else self.transposed()
        return t.matrix(dtype)

    def dequantize(self) -> np.ndarray:
        """``matrix() * scale`` as float64 (for checks against the float model)."""
        return self.matrix(np.int32).astype(np.float64) * self.scale


def integerize(packed: PackedLike) -> IntegerGobo:
    """Integer variant of a packed 2-D tensor in its stored orientation ("nk"); see the module docstring."""
    if len(packed.shape) != 2:
        raise QuantError(f"{packed.name or 'tensor'}: integer variant needs a 2-D tensor, got shape {packed.shape}")
    c = packed.centroids.astype(np.float64)
    o = packed.outlier_values.astype(np.float64)
    cmax = float(np.max(np.abs(c)))
    if cmax > 0.0:
        scale = cmax / INT8_MAX
    elif o.size and float(np.max(np.abs(o))) > 0.0:
        scale = float(np.max(np.abs(o))) / INT16_MAX
    else:
        scale = 1.0
    cints = np.clip(np.rint(c / scale), -INT8_MAX, INT8_MAX).astype(np.int8)
    oraw = np.rint(o / scale)
    saturated = int(np.count_nonzero((oraw < INT16_MIN) | (oraw > INT16_MAX)))
    oints = np.clip(oraw, INT16_MIN, INT16_MAX).astype(np.int16)
    return IntegerGobo(
        scale=scale,
        indices=packed.indices(),
        centroid_ints=cints,
        outlier_rows=packed.outlier_rows,
        outlier_cols=packed.outlier_cols,
        outlier_ints=oints,
        saturated=saturated,
        orientation="nk",
    )
