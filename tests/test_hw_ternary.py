"""The ternary kind: closed form == per-cycle stepper, the stepper's products, the functional datapath, a run."""

from __future__ import annotations

import numpy as np
import pytest

from sim import api
from sim.compute.ternary.dataflow import bitserial_gemm, ternary_gemm
from sim.compute.ternary.stepper import TernaryTileStepper
from sim.compute.ternary.timing import TernaryParams, ternary_gemm_timing, ternary_serial_timing, ternary_tile_cycles
from sim.compute.ternary.unit import TernaryUnit
from sim.kernels.gemm import int_gemm
from sim.kernels.widths import IntegerOverflowError


def _params(rng: np.random.Generator) -> TernaryParams:
    return TernaryParams(int(rng.integers(1, 4)), int(rng.integers(1, 7)), int(rng.integers(1, 7)),
                         int(rng.integers(1, 4)))


def test_closed_form_equals_stepper_on_random_shapes():
    rng = np.random.default_rng(18)
    for _ in range(80):
        p = _params(rng)
        M, K, N = (int(v) for v in rng.integers(1, 15, 3))
        u = TernaryUnit(p)
        assert u.reference_weight_gemm(M, K, N, None, first=True, rng=rng) == ternary_gemm_timing(p, M, K, N)  # type: ignore[arg-type]
        assert u.reference_dense(M, K, N, rng) == ternary_serial_timing(p, M, K, N)


def test_shadow_bank_stalls_when_rows_exceed_depth():
    # R = 6 rows drain in 6 cycles; blocks of K = 2 adds must wait for the shadow: period max(K, R) = 6
    p = TernaryParams(1, 2, 6, 1)
    assert ternary_tile_cycles(p, 2, 3) == 0 + 2 + 2 * 6 + 6
    rng = np.random.default_rng(0)
    blocks = [(rng.integers(-128, 128, (6, 2)), rng.integers(-1, 2, (2, 2))) for _ in range(3)]
    assert TernaryTileStepper(p).run(blocks).cycles == 20


def test_stepper_computes_the_products():
    rng = np.random.default_rng(1)
    st = TernaryTileStepper(TernaryParams(1, 4, 3, 2))
    blocks = [(rng.integers(-128, 128, (r, 9)), rng.integers(-1, 2, (9, c))) for r, c in ((3, 4), (2, 1), (3, 3))]
    res = st.run(blocks)
    for (x, w), y in zip(blocks, res.output):
        np.testing.assert_array_equal(y, x @ w)
    serial = [(rng.integers(0, 256, (3, 7)), rng.integers(-128, 128, (7, 4)))]
    np.testing.assert_array_equal(st.run_serial(serial).output[0], serial[0][0] @ serial[0][1])


def test_datapath_equals_int_gemm_and_checks_widths():
    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, (17, 300))
    w = rng.integers(-1, 2, (40, 300)).astype(np.int8)
    np.testing.assert_array_equal(ternary_gemm(x, w), int_gemm(x, w.T, in_bits=8))
    a = rng.integers(0, 256, (2, 3, 9, 64))  # probabilities (uint8) times V (int8), as attention does
    b = rng.integers(-128, 128, (2, 3, 64, 5))
    np.testing.assert_array_equal(bitserial_gemm(a, b, in_bits=9), int_gemm(a, b, in_bits=9))
    with pytest.raises(ValueError, match="-1, 0"):
        ternary_gemm(x, (w * 2).astype(np.int8))
    with pytest.raises(IntegerOverflowError):
        ternary_gemm(x, w, acc_bits=14)


def test_run_compare_and_iso(tmp_path):
    r = api.run("ternary", "tiny")
    assert r.functional is not None and r.functional.checked is True and r.functional.engine == "ternary"
    assert r.actions["ternary"]["addsub_int32"] >= sum(o.macs for o in r.ops if o.kind == "gemm")
    rep = api.compare("tiny", ["tpu", "ternary"], iso="peak")
    assert rep.designs[1].peak_macs_per_cycle == pytest.approx(rep.designs[0].peak_macs_per_cycle, rel=0.1)
    rep = api.compare("tiny", ["tpu", "ternary"], iso="area")
    assert rep.designs[1].area_mm2 == pytest.approx(rep.designs[0].area_mm2, rel=0.15)
