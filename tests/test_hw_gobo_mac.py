"""GOBO MAC mode (attention BMMs on the PE multipliers): stepper == closed form, and the right product."""

import numpy as np
import pytest

from sim.compute.gobo.stepper import GoboMacStepper
from sim.compute.gobo.timing import GoboTileParams, gobo_mac_block_timing


@pytest.mark.parametrize("seed", range(40))
def test_stepper_matches_closed_form(seed):
    rng = np.random.default_rng(seed)
    params = GoboTileParams(pes=int(rng.integers(1, 6)), rows_per_pe=int(rng.integers(1, 5)),
                            multipliers_per_pe=int(rng.integers(1, 4)), add_latency_cycles=int(rng.integers(1, 3)))
    R, K, P = int(rng.integers(1, params.rows_per_pe + 1)), int(rng.integers(1, 30)), int(rng.integers(1, params.pes + 1))
    x = rng.integers(-128, 128, (R, K), dtype=np.int64)
    b = rng.integers(-128, 128, (K, P), dtype=np.int64)
    res = GoboMacStepper(params).run(x, b)
    assert np.array_equal(res.output, x @ b)
    assert res.timing == gobo_mac_block_timing(params, R, K, P)


def test_hand_value():
    # 4 rows x 64 deep on 1 multiplier: 256 MAC groups + 1 accumulate stage
    assert gobo_mac_block_timing(GoboTileParams(pes=64, rows_per_pe=4), 4, 64, 64).cycles == 257
