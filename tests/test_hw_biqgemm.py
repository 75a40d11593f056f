"""The BiQGEMM-style kind: closed form == per-cycle stepper, the tables' products, the functional datapath, a run."""

from __future__ import annotations

import numpy as np
import pytest

from sim import api
from sim.compute.biqgemm.dataflow import lut_bmm, lut_gemm
from sim.compute.biqgemm.stepper import BiqBlock, BiqgemmTileStepper
from sim.compute.biqgemm.timing import BiqgemmParams, biqgemm_gemm_timing, biqgemm_serial_timing, biqgemm_tile_cycles
from sim.compute.biqgemm.unit import SERIAL_COEF, BiqgemmUnit, serial_planes
from sim.config.loader import load_hardware
from sim.errors import SimInputError
from sim.kernels.gemm import int_gemm
from sim.quant.bcq import bcq


def _params(rng: np.random.Generator) -> BiqgemmParams:
    return BiqgemmParams(int(rng.integers(1, 4)), int(rng.integers(1, 6)), int(rng.integers(1, 5)),
                         int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 9)),
                         int(rng.integers(1, 4)))


def test_closed_form_equals_stepper_on_random_shapes():
    rng = np.random.default_rng(18)
    for _ in range(40):
        p = _params(rng)
        M, K, N = (int(v) for v in rng.integers(1, 13, 3))
        u = BiqgemmUnit(p)
        assert u.reference_weight_gemm(M, K, N, None, first=True, rng=rng) == biqgemm_gemm_timing(p, M, K, N)  # type: ignore[arg-type]
        assert u.reference_dense(M, K, N, rng) == biqgemm_serial_timing(p, M, K, N)


def test_build_bound_and_lookup_bound_schedules():
    # 2^4 entries at 2 per cycle: B = 8 > 3 lookups, the builder sets the pace; at 16 per cycle the lanes do
    slow, fast = BiqgemmParams(1, 2, 1, 4, 3, 2, 1), BiqgemmParams(1, 2, 1, 4, 3, 16, 1)
    assert biqgemm_tile_cycles(slow, 5, 2, 3) == 8 + 9 * 8 + 3 + 0 + 3
    assert biqgemm_tile_cycles(fast, 5, 2, 3) == 1 + 9 * 3 + 3 + 0 + 3
    rng = np.random.default_rng(0)
    blocks = [BiqBlock(rng.integers(-128, 128, (1, 20)), np.where(rng.random((3, 20, 2)) < .5, 1, -1),
                       rng.integers(-127, 128, (3, 2))) for _ in range(2)]
    assert BiqgemmTileStepper(slow).run(blocks).cycles == 86
    assert BiqgemmTileStepper(fast).run(blocks).cycles == 34


def test_stepper_and_datapath_compute_the_products():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((24, 37))
    q = bcq(w, 3)
    x = rng.integers(-128, 128, (5, 37))
    ref = int_gemm(x, q.int_matrix().T, in_bits=q.int_bits)
    for mu in (1, 3, 4, 8):
        np.testing.assert_array_equal(lut_gemm(x, q.plane_bits(), q.codes, mu), ref)
    signs = q.signs().transpose(0, 2, 1).astype(np.int64)  # [Q, K, N]
    res = BiqgemmTileStepper(BiqgemmParams(1, 24, 5, 4, 3, 8, 2)).run([BiqBlock(x, signs, q.codes.astype(np.int64))])
    np.testing.assert_array_equal(res.output[0], ref)
    a = rng.integers(0, 256, (2, 9, 64))
    b = rng.integers(-128, 128, (2, 64, 7))
    np.testing.assert_array_equal(lut_bmm(a, b, 4, in_bits=9), int_gemm(a, b, in_bits=9))
    sp = BiqgemmTileStepper(BiqgemmParams(1, 7, 9, 4, 9, 8, 1), "shift_int32")
    out = sp.run([BiqBlock(a[0], serial_planes(b[0]), np.repeat(SERIAL_COEF[:, None], 7, axis=1), True)])
    np.testing.assert_array_equal(out.output[0], a[0] @ b[0])


def test_run_checks_and_planes_must_match():
    r = api.run("biqgemm", "tiny")
    assert r.functional is not None and r.functional.checked is True and r.functional.engine == "biqgemm"
    assert r.actions["biqgemm"]["lut_reads"] > 0
    with pytest.raises(SimInputError, match="weights.bcq_bits: must equal compute.planes"):
        load_hardware("biqgemm", ["weights.bcq_bits=2"])
    rep = api.compare("tiny", ["tpu", "biqgemm"], iso="peak")
    assert rep.designs[1].peak_macs_per_cycle == pytest.approx(rep.designs[0].peak_macs_per_cycle, rel=0.1)
