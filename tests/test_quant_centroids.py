"""GOBO centroid selection and the K-means baseline."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.quant.centroids import (
    SortedValues,
    equal_population_centroids,
    gobo_centroids,
    kmeans_centroids,
    nearest_index,
    quantization_errors,
)


def test_equal_population_init_is_bin_means_of_sorted_split() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, 1003).astype(np.float32)
    for k in (4, 8, 16):
        c = equal_population_centroids(SortedValues(x), k)
        s = np.sort(x.astype(np.float64))
        edges = [(j * s.size) // k for j in range(k + 1)]
        expected = [s[edges[j]:edges[j + 1]].mean() for j in range(k)]
        np.testing.assert_allclose(c, expected, rtol=1e-12, atol=1e-12)
        counts = np.diff(edges)
        assert counts.max() - counts.min() <= 1


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 3000), bits=st.integers(2, 8),
       heavy=st.booleans())
def test_gobo_never_increases_l1(seed: int, n: int, bits: int, heavy: bool) -> None:
    rng = np.random.default_rng(seed)
    x = (rng.standard_t(3, n) if heavy else rng.normal(0, 1, n)).astype(np.float32)
    k = 1 << bits
    data = SortedValues(x)
    res = gobo_centroids(data, k, max_iterations=50)
    hist = res.l1_history
    assert all(b < a for a, b in zip(hist, hist[1:], strict=False))  # strictly decreasing accepted states
    init = equal_population_centroids(data, k)
    # L1 computed directly (nearest centroid, unsorted) agrees and does not increase
    l1_init, _ = quantization_errors(x, init)
    l1_final, _ = quantization_errors(x, res.centroids)
    assert l1_final <= l1_init * (1 + 1e-9) + 1e-9
    assert hist[-1] == pytest.approx(l1_final, rel=1e-6, abs=1e-6)
    assert np.all(np.diff(res.centroids) >= 0)
    assert res.iterations >= 1 and res.iterations <= 50


def test_gobo_converges_quickly_on_gaussian() -> None:
    x = np.random.default_rng(1).normal(0, 0.05, 200_000).astype(np.float32)
    res = gobo_centroids(x, 8)
    assert res.converged and res.iterations < 20
    km = kmeans_centroids(x, 8, init="random", seed=0, max_iterations=2000)
    assert km.converged and km.iterations > res.iterations
    d = SortedValues(x)
    assert d.l1_error(res.centroids) <= d.l1_error(km.centroids) * 1.001  # GOBO targets L1
    assert d.l2_error(km.centroids) <= d.l2_error(res.centroids) * 1.001  # K-means targets L2


def test_sorted_error_formulas_match_direct() -> None:
    x = np.random.default_rng(2).laplace(0, 1, 5000).astype(np.float32)
    c = np.array([-2.0, -0.5, 0.1, 0.3, 3.0])
    d = SortedValues(x)
    l1, l2 = quantization_errors(x, c)
    assert d.l1_error(c) == pytest.approx(l1, rel=1e-9)
    assert d.l2_error(c) == pytest.approx(l2, rel=1e-9)


def test_nearest_index_ties_go_up_and_large_k() -> None:
    c = np.array([0.0, 1.0, 2.0], np.float32)
    assert nearest_index(np.array([0.5, 1.5, -3, 9], np.float32), c).tolist() == [1, 2, 0, 2]
    c256 = np.arange(256, dtype=np.float32)
    v = np.array([0.4, 0.5, 254.6, 1000], np.float32)
    assert nearest_index(v, c256).tolist() == [0, 1, 255, 255]


def test_kmeans_inits_and_degenerate_inputs() -> None:
    x = np.random.default_rng(4).normal(0, 1, 1000)
    for init in ("random", "k-means++"):
        a = kmeans_centroids(x, 8, init=init, seed=7)
        b = kmeans_centroids(x, 8, init=init, seed=7)
        np.testing.assert_array_equal(a.centroids, b.centroids)
    few = kmeans_centroids(np.array([1.0, 2.0]), 8, init="random")
    assert few.centroids.size == 8
    empty = gobo_centroids(np.zeros(0), 8)
    assert empty.centroids.size == 8 and empty.iterations == 0


def test_nearest_index_float32_fast_path_is_exact() -> None:
    rng = np.random.default_rng(11)
    for k in (8, 64):
        for _ in range(50):
            c = np.sort(rng.normal(0, 1, k)).astype(np.float32)
            mids = (c[:-1].astype(np.float64) + c[1:]) / 2
            m32 = mids.astype(np.float32)
            v = np.concatenate([rng.normal(0, 1, 500).astype(np.float32), m32,
                                np.nextafter(m32, np.float32(-np.inf)), np.nextafter(m32, np.float32(np.inf))])
            expected = np.searchsorted(mids, v.astype(np.float64), side="right")
            np.testing.assert_array_equal(nearest_index(v, c), expected)
            np.testing.assert_array_equal(nearest_index(v.astype(np.float64), c), expected)


def test_float32_storage_searches_and_sums_as_float64() -> None:
    """The sorted float32 storage answers every search as ``np.searchsorted`` on the float64 values does (keys
    on, between and beyond float32 values), and its prefix sums are the float64 cumulative sums."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(5000) * 0.05).astype(np.float32)
    x[:50] = x[50]  # ties
    d = SortedValues(x)
    ref = np.sort(x.astype(np.float64))
    np.testing.assert_array_equal(d.values, ref)
    assert d.prefix.tobytes() == np.concatenate([[0.0], np.cumsum(ref)]).tobytes()
    assert d.prefix_sq.tobytes() == np.concatenate([[0.0], np.cumsum(ref * ref)]).tobytes()
    up = np.nextafter(ref.astype(np.float32), np.float32(np.inf)).astype(np.float64)
    keys = np.concatenate([ref[::7], (ref[::7] + up[::7]) / 2, ref[::7] - 1e-12, ref[::7] + 1e-12,
                           [-1e300, -np.inf, np.inf, 1e300, 0.0, 3.5e38, -3.5e38]])
    np.testing.assert_array_equal(d.search_left(keys), np.searchsorted(ref, keys, side="left"))
    d64 = SortedValues(x.astype(np.float64))
    np.testing.assert_array_equal(d.boundaries(np.array([-0.05, 0.0, 0.01, 0.08])),
                                  d64.boundaries(np.array([-0.05, 0.0, 0.01, 0.08])))
    res32, res64 = gobo_centroids(d, 8), gobo_centroids(d64, 8)
    assert res32.centroids.tobytes() == res64.centroids.tobytes() and res32.l1_history == res64.l1_history


def test_sorted_values_copy_rule() -> None:
    """``copy=False`` sorts an owned writable float32 array in place; otherwise the input is left alone."""
    x = np.array([3.0, 1.0, 2.0], dtype=np.float32)
    SortedValues(x)
    assert x.tolist() == [3.0, 1.0, 2.0]
    ro = x.copy()
    ro.flags.writeable = False
    assert SortedValues(ro, copy=False).values.tolist() == [1.0, 2.0, 3.0] and ro.tolist() == [3.0, 1.0, 2.0]
    SortedValues(x, copy=False)
    assert x.tolist() == [1.0, 2.0, 3.0]
    ints = np.array([5, 4], dtype=np.int64)
    assert SortedValues(ints, copy=False).values.tolist() == [4.0, 5.0] and ints.tolist() == [5, 4]
