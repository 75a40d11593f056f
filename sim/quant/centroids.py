"""Centroid selection for the Gaussian group: GOBO's L1-stopped refinement and plain 1-D K-means.

Both work on the sorted values with prefix sums (:class:`SortedValues`): with sorted data and sorted
centroids, nearest-centroid assignment is a ``searchsorted`` of the midpoints between consecutive
centroids (the bins are contiguous runs of the sorted data), and every bin's sum, L1 and L2 error
follow from the prefix sums. After the one O(n log n) sort, one refinement step costs
O(k log n) for k = 2**bits centroids, independent of n.

In one dimension the nearest centroid is the same under L1 and L2 distance, so assignment is the
same for both methods; they differ in the initialisation and the stop rule:

* **GOBO** (:func:`gobo_centroids`): equal-population initialisation (sort, split at
  ``floor(j*n/k)`` for j = 0..k, each bin's mean is its centroid); then repeat *assign each value to
  its nearest centroid, set each centroid to its bin's mean*; stop as soon as a step does not lower
  the total L1 error ``sum |x - nearest centroid|``, and keep the best (lowest-L1) centroids.
* **K-means** (:func:`kmeans_centroids`): Lloyd's algorithm (same step) from a seeded random or
  k-means++ initialisation, until the assignment stops changing or ``max_iterations``.

Ties: a value exactly on a midpoint goes to the upper centroid. Empty bins keep their centroid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import QuantParamError


class SortedValues:
    """Sorted 1-D values with float64 prefix sums of values and (lazily) of squares.

    The sorted values are kept as float32 when the input is not float64 (every float32 is exact in float64, so
    the prefix sums, the bin means and the errors are those of the float64 values); :attr:`values` is their
    float64 copy, made on first use. ``copy=False`` lets a float32 input that the caller owns be sorted in
    place (it is then this object's storage); ``prefix_out`` is a float64 array of ``n + 1`` elements to hold
    the prefix sums (the caller's scratch memory, valid as long as this object is used)."""

    def __init__(self, values: np.ndarray, *, copy: bool = True, prefix_out: np.ndarray | None = None) -> None:
        flat = np.asarray(values).reshape(-1)
        if flat.dtype == np.float64:
            srt = np.sort(flat)
        else:
            f32 = flat.astype(np.float32, copy=False)
            if f32 is flat and (copy or not f32.flags.writeable):
                srt = np.sort(f32)
            else:  # a converted copy, or an array the caller hands over
                f32.sort()
                srt = f32
        self._sorted: np.ndarray = srt
        self._values: np.ndarray | None = srt if srt.dtype == np.float64 else None
        self.n: int = int(srt.size)
        if prefix_out is None:
            self.prefix: np.ndarray = np.zeros(self.n + 1, dtype=np.float64)
        else:  # a float64 buffer of the caller's (reused scratch memory), n + 1 long
            if prefix_out.dtype != np.float64 or prefix_out.shape != (self.n + 1,):
                raise ValueError(f"prefix_out must be float64 of shape ({self.n + 1},)")
            self.prefix = prefix_out
            self.prefix[0] = 0.0
        np.cumsum(srt, dtype=np.float64, out=self.prefix[1:])
        self._prefix_sq: np.ndarray | None = None

    @property
    def values(self) -> np.ndarray:
        """The sorted values as float64 (length n)."""
        if self._values is None:
            self._values = self._sorted.astype(np.float64)
        return self._values

    def at(self, idx: np.ndarray) -> np.ndarray:
        """The sorted values at positions ``idx``, as float64."""
        return self._sorted[idx].astype(np.float64)

    def search_left(self, keys: np.ndarray) -> np.ndarray:
        """``np.searchsorted(values, keys, side="left")`` for float64 ``keys``: the number of values below each key.

        On float32 storage each key is first replaced by the smallest float32 >= it (for a float32 ``x``,
        ``x < key`` exactly when ``x < that float32``), so the search runs in float32 with the same result."""
        k = np.asarray(keys, dtype=np.float64)
        if self._sorted.dtype == np.float64:
            return np.searchsorted(self._sorted, k, side="left")
        with np.errstate(over="ignore"):
            k32 = k.astype(np.float32)
        low = k32.astype(np.float64) < k
        k32[low] = np.nextafter(k32[low], np.float32(np.inf))
        return np.searchsorted(self._sorted, k32, side="left")

    @property
    def prefix_sq(self) -> np.ndarray:
        """Prefix sums of squared values (float64, length n + 1)."""
        if self._prefix_sq is None:
            p = np.zeros(self.n + 1, dtype=np.float64)
            np.cumsum(np.square(self._sorted, dtype=np.float64), out=p[1:])
            self._prefix_sq = p
        return self._prefix_sq

    def boundaries(self, centroids: np.ndarray) -> np.ndarray:
        """Bin edges (int64, length k + 1) of the nearest-centroid assignment for sorted centroids."""
        c = np.asarray(centroids, dtype=np.float64)
        mids = (c[:-1] + c[1:]) * 0.5
        edges = np.empty(c.size + 1, dtype=np.int64)
        edges[0] = 0
        edges[-1] = self.n
        edges[1:-1] = self.search_left(mids)
        return edges

    def bin_means(self, edges: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        """Mean of each bin ``[edges[j], edges[j+1])``; ``fallback[j]`` where the bin is empty."""
        counts = np.diff(edges)
        sums = self.prefix[edges[1:]] - self.prefix[edges[:-1]]
        out = np.asarray(fallback, dtype=np.float64).copy()
        nz = counts > 0
        out[nz] = sums[nz] / counts[nz]
        return out

    def l1_error(self, centroids: np.ndarray, edges: np.ndarray | None = None) -> float:
        """Total L1 error ``sum |x - c(x)|`` (weight units) with ``c(x)`` the centroid of x's bin."""
        c = np.asarray(centroids, dtype=np.float64)
        e = self.boundaries(c) if edges is None else edges
        lo, hi = e[:-1], e[1:]
        q = np.clip(self.search_left(c), lo, hi)
        p = self.prefix
        below = c * (q - lo) - (p[q] - p[lo])
        above = (p[hi] - p[q]) - c * (hi - q)
        return float(np.sum(below) + np.sum(above))

    def l2_error(self, centroids: np.ndarray, edges: np.ndarray | None = None) -> float:
        """Total squared error ``sum (x - c(x))**2`` (weight units squared)."""
        c = np.asarray(centroids, dtype=np.float64)
        e = self.boundaries(c) if edges is None else edges
        lo, hi = e[:-1], e[1:]
        s1 = self.prefix[hi] - self.prefix[lo]
        s2 = self.prefix_sq[hi] - self.prefix_sq[lo]
        return float(max(0.0, np.sum(s2 - 2.0 * c * s1 + c * c * (hi - lo))))


@dataclass(frozen=True)
class CentroidResult:
    """Outcome of a centroid search.

    ``centroids``: sorted, float64, length k. ``iterations``: assignment steps computed (for GOBO the
    last step, the one that did not lower the L1 error, is computed and discarded; for K-means the
    last step is the one whose assignment equalled the previous one). ``l1_history``: L1 error of
    the initial and of every accepted state (strictly decreasing for GOBO). ``converged``: the stop
    rule fired before ``max_iterations``.
    """

    centroids: np.ndarray
    iterations: int
    l1_history: tuple[float, ...]
    converged: bool
    method: str


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not hasattr(k, "__index__") or int(k) < 1:
        raise QuantParamError(f"number of centroids must be an integer >= 1, got {k!r}")
    return int(k)


def equal_population_centroids(data: SortedValues, k: int) -> np.ndarray:
    """GOBO's initial centroids: split the sorted values at ``floor(j*n/k)``, j = 0..k; bin means.

    With fewer values than bins, an empty bin takes the sorted value at its start (clamped), and the
    centroids are made non-decreasing. With no values at all, every centroid is 0.
    """
    k = _check_k(k)
    n = data.n
    if n == 0:
        return np.zeros(k, dtype=np.float64)
    edges = (np.arange(k + 1, dtype=np.int64) * n) // k
    fallback = data.at(np.minimum(edges[:-1], n - 1))
    return np.maximum.accumulate(data.bin_means(edges, fallback))


def gobo_centroids(values: np.ndarray | SortedValues, k: int, max_iterations: int = 100) -> CentroidResult:
    """GOBO centroid selection for ``k`` centroids (see the module docstring); values in weight units."""
    k = _check_k(k)
    data = values if isinstance(values, SortedValues) else SortedValues(values)
    best = equal_population_centroids(data, k)
    if data.n == 0:
        return CentroidResult(best, 0, (0.0,), True, "gobo")
    best_err = data.l1_error(best)
    history = [best_err]
    iterations = 0
    converged = False
    for _ in range(max_iterations):
        iterations += 1
        cand = data.bin_means(data.boundaries(best), best)
        err = data.l1_error(cand)
        if err < best_err:
            best, best_err = cand, err
            history.append(err)
        else:
            converged = True
            break
    return CentroidResult(best, iterations, tuple(history), converged, "gobo")


def _kmeanspp(data: SortedValues, k: int, rng: np.random.Generator) -> np.ndarray:
    s = data.values
    chosen = [s[int(rng.integers(data.n))]]
    d2 = np.square(s - chosen[0])
    for _ in range(1, k):
        total = float(d2.sum())
        if total <= 0.0:
            idx = int(rng.integers(data.n))
        else:
            cdf = np.cumsum(d2)
            idx = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
            idx = min(idx, data.n - 1)
        chosen.append(s[idx])
        np.minimum(d2, np.square(s - s[idx]), out=d2)
    return np.sort(np.asarray(chosen, dtype=np.float64))


def kmeans_centroids(
    values: np.ndarray | SortedValues,
    k: int,
    *,
    init: str = "k-means++",
    seed: int = 0,
    max_iterations: int = 300,
) -> CentroidResult:
    """Plain 1-D K-means (Lloyd, L2) with ``k`` clusters, seeded ``init`` ("random" or "k-means++").

    "random" picks k distinct values uniformly; "k-means++" is the D**2-weighted seeding. Runs until
    the assignment stops changing or ``max_iterations`` steps. ``l1_history`` holds the L1 error of
    the initial and of the final state.
    """
    k = _check_k(k)
    if init not in ("random", "k-means++"):
        raise QuantParamError(f"init must be 'random' or 'k-means++', got {init!r}")
    data = values if isinstance(values, SortedValues) else SortedValues(values)
    if data.n == 0:
        return CentroidResult(np.zeros(k), 0, (0.0,), True, f"kmeans-{init}")
    rng = np.random.default_rng(seed)
    if init == "random":
        idx = rng.choice(data.n, size=min(k, data.n), replace=False)
        c = np.sort(data.values[idx])
        if c.size < k:
            c = np.sort(np.concatenate([c, np.full(k - c.size, c[-1])]))
    else:
        c = _kmeanspp(data, k, rng)
    first = data.l1_error(c)
    prev_edges: np.ndarray | None = None
    iterations = 0
    converged = False
    for _ in range(max_iterations):
        iterations += 1
        edges = data.boundaries(c)
        if prev_edges is not None and np.array_equal(edges, prev_edges):
            converged = True
            break
        c = data.bin_means(edges, c)
        prev_edges = edges
    return CentroidResult(c, iterations, (first, data.l1_error(c)), converged, f"kmeans-{init}")


def nearest_index(values: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index (uint8 for k <= 256, else int64) of the nearest of the sorted ``centroids`` per value.

    Exact: the result is what comparing each value with the float64 midpoints gives (float32 input
    is compared in float32 against the midpoints rounded up to float32, which is equivalent).
    A value on a midpoint takes the upper index.
    The output has the shape of ``values``.
    """
    c = np.asarray(centroids, dtype=np.float64)
    mids = (c[:-1] + c[1:]) * 0.5
    v = np.asarray(values)
    dtype = np.uint8 if c.size <= 256 else np.int64
    if v.dtype == np.float32:
        # For float32 x: x >= m (float64)  <=>  x >= the smallest float32 >= m. Compare in float32.
        m32 = mids.astype(np.float32)
        low = m32.astype(np.float64) < mids
        m32[low] = np.nextafter(m32[low], np.float32(np.inf))
        mids_cmp: np.ndarray = m32
    else:
        v = v.astype(np.float64, copy=False)
        mids_cmp = mids
    if c.size <= 16:
        idx = np.zeros(v.shape, dtype=dtype)
        for m in mids_cmp:
            idx += v >= m
        return idx
    return np.searchsorted(mids_cmp, v, side="right").astype(dtype)


def quantization_errors(values: np.ndarray, centroids: np.ndarray) -> tuple[float, float]:
    """Direct (unsorted) L1 and squared-L2 totals of quantizing ``values`` to their nearest centroid."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    c = np.asarray(centroids, dtype=np.float64)
    d = np.abs(v - c[nearest_index(v, c)])
    return float(d.sum()), float(np.dot(d, d))
