"""OLAccel: the outlier-aware quantizer and its packed bytes, closed form == per-cycle stepper (with real outlier
layouts, stalls included), the datapath against the reference kernel (and that a corrupted outlier is caught),
runs and comparisons."""

from __future__ import annotations

import numpy as np
import pytest

from sim import api
from sim.compute.base import WeightTile
from sim.compute.olaccel.config import OlaccelCompute
from sim.compute.olaccel.dataflow import OlaccelDatapath
from sim.compute.olaccel.stepper import OlaccelStepper
from sim.compute.olaccel.timing import olaccel_dense_timing
from sim.compute.olaccel.unit import OlaccelOutliers, OlaccelUnit
from sim.functional.qweights import olaccel_linear
from sim.kernels.gemm import int_gemm
from sim.quant import olaccel


def _heavy(rng: np.random.Generator, shape: tuple[int, int], frac: float = 0.01) -> np.ndarray:
    w = rng.standard_normal(shape) * 0.05
    hit = rng.random(shape) < frac
    w[hit] *= rng.uniform(8, 20, size=int(hit.sum()))
    return w


def test_quantizer_bytes_and_decoder():
    rng = np.random.default_rng(1)
    w = _heavy(rng, (32, 51))
    p = olaccel.quantize(w)
    n_out = p.outliers
    assert 0.02 <= p.outlier_fraction <= 0.04  # about the 3% asked for, per row
    assert len(p.to_bytes()) == p.packed_bytes == p.nbytes == 32 * 26 + 4 * 33 + 3 * n_out + 4 * 32
    np.testing.assert_array_equal(p.decode(), p.ints)  # rebuilt from the stored arrays alone
    big = np.abs(p.ints) > 7
    np.testing.assert_array_equal(big, p.outlier_mask())  # every value above the 4-bit range is listed
    assert np.abs(p.ints).max() <= 127 and p.clipped == 0
    # the outliers keep the large weights: far smaller error than a 4-bit grid clipped at the same scale
    clip = np.clip(p.ints, -7, 7) * p.scales[:, None]
    assert p.rel_l2_error < 0.5 * np.linalg.norm(clip - w) / np.linalg.norm(w)
    with pytest.raises(ValueError, match="outlier_fraction"):
        olaccel.quantize(w, outlier_fraction=1.0)
    a = olaccel.quantize_activations(rng.standard_normal((2, 8, 16)))
    assert a.scales.size == 1


@pytest.mark.parametrize("shape", [(1, 1, 1, 0, 1, 1, 1), (2, 4, 2, 2, 5, 7, 19), (3, 16, 4, 2, 9, 13, 40),
                                   (4, 2, 3, 1, 7, 5, 3), (1, 8, 1, 3, 3, 6, 8)])
def test_closed_form_equals_stepper(shape):
    groups, lanes, rows, pipe, m, k, n = shape
    c = OlaccelCompute(kind="olaccel", groups=groups, lanes=lanes, rows=rows, pipeline_cycles=pipe)
    unit = OlaccelUnit(c)
    rng = np.random.default_rng(sum(shape))
    mask = rng.random((n + 3, k + 2)) < 0.25  # outliers cluster in some slices: stalls
    for k0 in (0, 2):
        tile = WeightTile(OlaccelOutliers(mask), 3, 3 + n, k0, k0 + k, 0)
        closed = unit.weight_gemm_timing(m, k, n, tile, first=True)
        stepped = unit.reference_weight_gemm(m, k, n, tile, first=True, rng=rng)
        assert stepped == closed
    sub = mask[3:3 + n, 0:k]
    w = np.where(sub, rng.integers(-127, 128, size=(n, k)), rng.integers(-7, 8, size=(n, k)))
    x = rng.integers(-128, 128, size=(m, k))
    res = OlaccelStepper(groups, lanes, rows, pipe).run_gemm(x, w, sub)
    np.testing.assert_array_equal(res.output, x @ w.T)
    if sub.any():  # a slice with several outliers costs cycles beyond the dense ones
        none = OlaccelStepper(groups, lanes, rows, pipe).run_gemm(x, w, np.zeros_like(sub))
        assert res.cycles >= none.cycles
    b = rng.integers(-128, 128, size=(k, n))
    res = OlaccelStepper(groups, lanes, rows, pipe).run_dense(x, b)
    np.testing.assert_array_equal(res.output, x @ b)
    assert res.timing == olaccel_dense_timing(groups, lanes, rows, pipe, m, k, n)


def test_two_outliers_in_a_slice_stall_one_cycle_per_pass():
    c = OlaccelCompute(kind="olaccel", groups=1, lanes=4, rows=2, pipeline_cycles=0)
    unit = OlaccelUnit(c)
    mask = np.zeros((4, 3), dtype=bool)
    base = unit.weight_gemm_timing(4, 3, 4, WeightTile(OlaccelOutliers(mask), 0, 4, 0, 3, 0), first=True)
    mask[0, 1] = mask[2, 1] = True  # two outliers in the slice at k = 1: one extra cycle per pass of 2 rows
    two = unit.weight_gemm_timing(4, 3, 4, WeightTile(OlaccelOutliers(mask), 0, 4, 0, 3, 0), first=True)
    assert base.cycles == 2 * 3 and two.cycles == base.cycles + 2


def test_datapath_matches_reference_and_catches_a_bad_outlier():
    rng = np.random.default_rng(3)
    lin = olaccel_linear("l", _heavy(rng, (40, 70)), None)
    x = rng.integers(-127, 128, size=(9, 70)).astype(np.int64)
    dp = OlaccelDatapath()
    out, how = dp.linear(x, lin, 8)
    assert how == "olaccel-lanes+outlier-macs"
    np.testing.assert_array_equal(out, int_gemm(x, lin.matrix_nk().T, in_bits=8))
    lin.packed.val[0] = -lin.packed.val[0] if lin.packed.val[0] else 9  # a corrupted outlier value
    out2, _ = dp.linear(x, lin, 8)
    assert not np.array_equal(out2, int_gemm(x, lin.matrix_nk().T, in_bits=8))
    a = rng.integers(-128, 128, size=(2, 5, 33))
    b = rng.integers(0, 256, size=(2, 33, 6))
    np.testing.assert_array_equal(dp.bmm(a, b, 9), int_gemm(a, b, in_bits=9))


def test_run_and_compare_tiny():
    r = api.run("olaccel", "tiny", sets=["compute.act_bits=8"])  # the W4A8 lanes (the preset's 4-bit: test_olaccel_*)
    f = r.functional
    assert f is not None and f.checked is True and f.engine == "olaccel" and f.mode == "olaccel"
    acts = r.actions["olaccel"]
    gemm = sum(o.macs for o in r.ops if o.kind == "gemm")
    bmm = sum(o.macs for o in r.ops if o.kind == "bmm")
    assert acts["mac_w4a8"] + acts["mac_outlier"] == gemm + 2 * bmm
    assert 0.01 < acts["mac_outlier"] / gemm < 0.05  # ~3% of the weights are outliers
    rep = api.compare("tiny", ["tpu", "olaccel"], iso="area")
    assert rep.designs[1].area_mm2 == pytest.approx(rep.designs[0].area_mm2, rel=0.1)
    rep = api.compare("tiny", ["tpu", "olaccel"], iso="peak")
    assert rep.designs[1].peak_macs_per_cycle == pytest.approx(4096, rel=0.05)
