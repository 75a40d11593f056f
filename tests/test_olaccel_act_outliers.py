"""OLAccel with 4-bit activations: outlier activations on the groups' outlier-activation units. Closed form ==
per-cycle stepper on random shapes and layouts (both unit weight widths), the right product, hand-worked cycle
counts, the timing-only layout, the four-pass attention, the cost entries and the preset's configuration."""

from __future__ import annotations

import numpy as np
import pytest

from sim import api
from sim.cli import main
from sim.compute.base import WeightTile
from sim.compute.olaccel.config import OlaccelCompute
from sim.compute.olaccel.cost import olaccel_estimator
from sim.compute.olaccel.stepper import OlaccelStepper
from sim.compute.olaccel.timing import ActOutlierUnit, olaccel_dense_a4_timing, olaccel_gemm_a4_timing
from sim.compute.olaccel.unit import OlaccelOutliers, OlaccelUnit, spread_act_outliers
from sim.config import load_hardware
from sim.cost.tech import tech


def _compute(groups: int, lanes: int, rows: int, pipe: int, macs: int = 4, wbits: int = 8,
             frac: float = 0.03) -> OlaccelCompute:
    return OlaccelCompute(kind="olaccel", groups=groups, lanes=lanes, rows=rows, pipeline_cycles=pipe, act_bits=4,
                          act_outlier_fraction=frac, act_outlier_macs=macs, act_outlier_weight_bits=wbits)


def _operands(rng: np.random.Generator, m: int, k: int, n: int, w_frac: float, a_frac: float):
    wm = rng.random((n, k)) < w_frac
    am = rng.random((m, k)) < a_frac
    w = np.where(wm, rng.integers(-127, 128, size=(n, k)), rng.integers(-7, 8, size=(n, k)))
    x = np.where(am, rng.integers(-128, 128, size=(m, k)), rng.integers(-8, 8, size=(m, k)))
    return x, w, wm, am


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("wbits", [4, 8])
def test_closed_form_equals_stepper_random(seed, wbits):
    rng = np.random.default_rng(100 * seed + wbits)
    for _ in range(8):
        g, lanes, rows = (int(v) for v in rng.integers(1, [5, 9, 5]))
        pipe, macs = int(rng.integers(0, 3)), int(rng.integers(1, 6))
        m, k, n = (int(v) for v in rng.integers(1, [13, 8, 21]))
        x, w, wm, am = _operands(rng, m, k, n, 0.2, float(rng.choice([0.05, 0.3, 0.9])))
        unit = OlaccelUnit(_compute(g, lanes, rows, pipe, macs, wbits))
        st = OlaccelStepper(g, lanes, rows, pipe, act_bits=4, act_outlier_macs=macs,
                            act_outlier_weight_bits=wbits).run_gemm(x, w, wm, act_mask=am, continues=bool(seed % 2))
        np.testing.assert_array_equal(st.output, x @ w.T)  # dense lanes + outlier MACs + outlier-activation unit
        closed = olaccel_gemm_a4_timing(g, lanes, rows, pipe, unit._counts(wm), n, am, ActOutlierUnit(macs, wbits),
                                        bool(seed % 2))
        assert closed == st.timing, (g, lanes, rows, pipe, macs, m, k, n)


@pytest.mark.parametrize("shape", [(1, 1, 1, 0, 1, 1, 1), (2, 4, 2, 2, 5, 7, 19), (3, 16, 4, 2, 9, 13, 40),
                                   (4, 2, 3, 1, 7, 5, 3), (1, 8, 1, 3, 3, 6, 8)])
def test_unit_timing_only_layout_equals_stepper(shape):
    groups, lanes, rows, pipe, m, k, n = shape
    for frac, macs, wbits in ((0.03, 4, 8), (0.2, 1, 8), (0.2, 3, 4)):
        unit = OlaccelUnit(_compute(groups, lanes, rows, pipe, macs, wbits, frac))
        rng = np.random.default_rng(sum(shape))
        mask = rng.random((n + 3, k + 2)) < 0.25
        for k0 in (0, 2):
            tile = WeightTile(OlaccelOutliers(mask), 3, 3 + n, k0, k0 + k, 0)
            assert unit.reference_weight_gemm(m, k, n, tile, first=True, rng=rng) == \
                unit.weight_gemm_timing(m, k, n, tile, first=True)
        assert unit.reference_dense(m, k, n, rng) == unit.dense_timing(m, k, n)


def test_hand_worked_cycles():
    """One group of 2 rows x 4 lanes, no weight outliers, K = 2: the lanes take 2 cycles."""
    none = np.zeros((1, 2), dtype=np.int64)  # outlier weights per (column block, k)
    am = np.zeros((2, 2), dtype=bool)

    def cycles(mask, macs, pipe=0, counts=none):
        return olaccel_gemm_a4_timing(1, 4, 2, pipe, counts, 4, mask, ActOutlierUnit(macs, 8), False).cycles

    assert cycles(am, 1) == 2
    am0 = am.copy()
    am0[0, 0] = True  # read at cycle 0: 4 products on 2 MACs = 2 cycles, hidden under the lanes
    assert cycles(am0, 2) == 2 and cycles(am0, 1) == 4 and cycles(am0, 1, pipe=3) == 7
    am1 = am.copy()
    am1[1, 1] = True  # read at cycle 1, so it cannot start before: 1 + 4 cycles on one MAC
    assert cycles(am1, 1) == 5 and cycles(am1, 4) == 2 and cycles(am1, 3) == 3
    both = am0 | am1  # queued in order: cycles 0-3, then 4-7
    assert cycles(both, 1) == 8
    # a 4-bit unit weight leaves the outlier weight's product to the row's outlier-weight MAC: 3 products, not 4
    w = np.zeros((1, 2), dtype=np.int64)
    w[0, 1] = 1
    unit4 = olaccel_gemm_a4_timing(1, 4, 2, 0, w, 4, am1, ActOutlierUnit(1, 4), False)
    unit8 = olaccel_gemm_a4_timing(1, 4, 2, 0, w, 4, am1, ActOutlierUnit(1, 8), False)
    assert (unit4.cycles, unit8.cycles) == (4, 5)
    assert unit4.action("mac_act_outlier") == 3 and unit8.action("mac_act_outlier") == 4
    assert unit4.action("mac_outlier") == 2 and unit8.action("mac_outlier") == 1  # rows 0 and 1 / row 0 only
    assert unit8.action("mac_w4a4") == 2 * 4 * 2 - 4 - 1 and unit8.action("merge_act_outlier") == 4
    # reg bits: 36 per lane product, 40 per outlier-weight product, 8 + 32 per unit product, 4 + 4 + 4 + 8 act bits
    assert unit8.action("reg_bits") == 36 * 11 + 40 * 1 + 40 * 4 + 3 * 4 + 8


def test_outliers_spread_over_groups():
    """Two groups, items dealt round robin: the busiest group's unit decides."""
    am = np.zeros((4, 1), dtype=bool)
    am[2:, 0] = True  # both outlier activations in the second pass of rows (item 1 -> group 1)
    t = olaccel_gemm_a4_timing(2, 4, 2, 0, np.zeros((1, 1), dtype=np.int64), 4, am, ActOutlierUnit(1, 8), False)
    assert t.cycles == 8  # group 1: 2 outliers x 4 products on one MAC; group 0: 1 lane cycle
    assert t.action("mac_act_outlier") == 8 and t.action("mac_w4a4") == 8


def test_spread_layout_is_even_and_deterministic():
    m = spread_act_outliers(10, 20, 0.03)
    assert m.sum() == 6 and np.array_equal(m, spread_act_outliers(10, 20, 0.03))
    np.testing.assert_array_equal(np.flatnonzero(m), [(2 * t + 1) * 200 // 12 for t in range(6)])
    assert spread_act_outliers(3, 5, 0.0).sum() == 0 and spread_act_outliers(3, 5, 1.0).all()
    assert spread_act_outliers(1, 50, 0.03).sum() == 2  # 1.5 rounds half up
    assert spread_act_outliers(1, 10, 0.049).sum() == 0  # 0.49 rounds down


def test_attention_four_nibble_passes():
    rng = np.random.default_rng(7)
    a = rng.integers(-128, 128, size=(5, 6))
    b = rng.integers(-128, 128, size=(6, 7))
    res = OlaccelStepper(2, 4, 2, 1, act_bits=4).run_dense(a, b)
    np.testing.assert_array_equal(res.output, a @ b)
    t = olaccel_dense_a4_timing(2, 4, 2, 1, 5, 6, 7)
    assert res.timing == t
    assert t.cycles == 4 * (-(-2 * 3 // 2) * 6 + 1) and t.action("add_int32") == 3 * 35


def test_cost_entries():
    t = tech("horowitz45", 45)
    e = t.energy_pj
    # the table's 4x4 multiplier: the power law through Horowitz's 8x8 and 32x32 points, as mul_int4x8
    assert e("mul_int4x4") == pytest.approx(0.2 * (16 / 64) ** 0.9885, rel=1e-3)
    assert t.area_um2("mul_int4x4") == pytest.approx(282 * (16 / 64) ** 0.9079, rel=1e-3)
    assert tech("aladdin40", 40).energy_pj("mul_int4x4") == pytest.approx(12.68 / 64)
    hw4 = load_hardware("olaccel")
    hw8 = load_hardware("olaccel", ["compute.act_bits=8"])
    m4, m8 = olaccel_estimator(hw4, t), olaccel_estimator(hw8, t)
    assert m4.energies_pj["mac_w4a4"] == pytest.approx(e("mul_int4x4") + e("add_int32"))
    assert m4.energies_pj["mac_outlier"] == pytest.approx(e("mul_int4x8") + e("add_int32"))
    assert m8.energies_pj["mac_outlier"] == pytest.approx(e("mac_int8_acc32"))
    assert m4.energies_pj["mac_act_outlier"] == pytest.approx(e("mul_int8"))
    assert m4.energies_pj["merge_act_outlier"] == pytest.approx(e("add_int32"))
    assert "mul_int4x4" in m4.basis["mac_w4a4"] and "mul_int8" in m4.basis["mac_act_outlier"]
    g = 64
    assert m4.area_parts_mm2["group.act_outlier_multipliers"] == pytest.approx(g * 4 * t.area_um2("mul_int8") / 1e6)
    assert m4.area_parts_mm2["group.lane_multipliers"] < m8.area_parts_mm2["group.lane_multipliers"]
    assert "group.act_outlier_multipliers" not in m8.area_parts_mm2
    m44 = olaccel_estimator(load_hardware("olaccel", ["compute.act_outlier_weight_bits=4"]), t)
    assert m44.energies_pj["mac_act_outlier"] == pytest.approx(e("mul_int4x8"))
    assert m44.energies_pj["mac_outlier"] == pytest.approx(e("mac_int8_acc32"))  # then int8 x int8


@pytest.mark.parametrize("key,value,msg", [("compute.act_bits", "6", "compute.act_bits"),
                                           ("compute.act_outlier_fraction", "1.5", "must be <= 1"),
                                           ("compute.act_outlier_macs", "0", "must be >= 1"),
                                           ("compute.act_outlier_weight_bits", "16", "act_outlier_weight_bits")])
def test_bad_values_one_line_exit_2(key, value, msg, capsys):
    assert main(["validate", "--hw", "olaccel", "--set", f"{key}={value}"]) == 2
    err = capsys.readouterr().err
    assert msg in err and "olaccel" in err and len(err.strip().splitlines()) == 1


def test_run_tiny_counts_every_product_once():
    r = api.run("olaccel", "tiny", functional=False)
    acts = r.actions["olaccel"]
    gemm = sum(o.macs for o in r.ops if o.kind == "gemm")
    bmm = sum(o.macs for o in r.ops if o.kind == "bmm")
    assert "mac_w4a8" not in acts
    assert acts["mac_w4a4"] + acts["mac_outlier"] + acts["mac_act_outlier"] == gemm + 4 * bmm
    assert acts["merge_act_outlier"] == acts["mac_act_outlier"]
    assert 0.025 < acts["mac_act_outlier"] / gemm < 0.035  # 3% of the activations, every column of each


def test_timing_only_layout_reports_are_byte_identical_and_follow_the_fraction():
    first = api.run("olaccel", "tiny", functional=False)
    again = api.run("olaccel", "tiny", functional=False)
    assert first.to_json() == again.to_json()
    none = api.run("olaccel", "tiny", functional=False, sets=["compute.act_outlier_fraction=0"])
    assert "mac_act_outlier" not in none.actions["olaccel"]
    assert none.cycles <= first.cycles  # the unit only adds cycles (tails) to the lanes'
