"""Pricing, estimators, area and re-pricing: hand-computed cases, monotonicity, exact sums."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from sim.api import run
from sim.compute.gobo.cost import gobo_pe_parts_um2
from sim.compute.systolic.cost import systolic_pe_parts_um2
from sim.config.hardware import BufferSpec
from sim.config.loader import load_hardware
from sim.cost import Estimator, apply_prices, price, price_ops
from sim.cost.area import area
from sim.cost.estimators import buffer_estimator, estimators
from sim.cost.pe_compare import pe_area_summary
from sim.cost.reprice import reprice
from sim.cost.scaling import ENERGY_COEFFS
from sim.cost.sram import load_sram_table
from sim.cost.tech import tech
from sim.errors import SimInputError

PRESETS = ("gobo", "tpu", "tcore", "gobo-compress-tcore", "gobo-compress-tpu")


def ef(node: int, v: float = 0.9) -> float:
    """Stillmaker-Baas energy factor by hand (tabulated nodes, or linear between neighbours)."""
    def at(n):
        a, b, c = ENERGY_COEFFS[n]
        return a * v * v + b * v + c
    if node in ENERGY_COEFFS:
        return at(node)
    lo, hi = {40: (32, 45), 28: (20, 32), 22: (20, 32)}[node]
    return at(lo) + (node - lo) / (hi - lo) * (at(hi) - at(lo))


@pytest.fixture(scope="module")
def hws():
    return {h: load_hardware(h) for h in PRESETS}


@pytest.fixture(scope="module")
def reports():
    """Tiny-workload run reports of every preset, as JSON dicts (what `sim run --json` writes)."""
    return {h: json.loads(json.dumps(run(h, "tiny", functional=False).to_dict())) for h in PRESETS}


# -- hand-computed cases -------------------------------------------------------------------------------

def test_1000_int8_macs_by_hand(hws):
    r = price({"systolic": {"mac_int8": 1000}}, hws["tpu"], 0.0)
    assert r.energy_pj == 300.0  # Horowitz: 0.2 pJ (8b mult) + 0.1 pJ (32b add) per MAC, 45 nm
    assert r.breakdown_pj == {"compute": 300.0, "vector": 0.0, "sram": 0.0, "dram": 0.0, "leakage": 0.0}
    assert r.by_action_pj == {"systolic": {"mac_int8": 300.0}}
    r28 = price({"systolic": {"mac_int8": 1000}}, hws["tpu"], 0.0, node_nm=28)
    assert r28.energy_pj == pytest.approx(300.0 * ef(28) / ef(45), rel=1e-12)
    assert r28.energy_pj == pytest.approx(300.0 * 0.532, rel=2e-3)


def test_register_bits_by_hand(hws):
    r = price({"gobo": {"reg_bits": 1000, "add_int32": 10}}, hws["gobo"], 0.0)
    # Aladdin register 0.009 pJ/bit at 40 nm, moved to 45 nm; Horowitz 32b add 0.1 pJ at 45 nm
    assert r.by_action_pj["gobo"]["reg_bits"] == pytest.approx(1000 * 0.009 * ef(45) / ef(40), rel=1e-12)
    assert r.by_action_pj["gobo"]["add_int32"] == pytest.approx(1.0)


def _cacti_row(b):
    """The CACTI table row of buffer spec ``b`` at 45 nm (the presets' buffers are grid points)."""
    return load_sram_table().exact(45, b.cell, b.capacity_bytes, b.port_bytes, b.banks)


def test_sram_read_by_hand(hws):
    r = price({"sram.weights": {"read_bytes": 1000, "write_bytes": 100}}, hws["gobo"], 0.0)
    b = hws["gobo"].buffers["weights"]
    row = _cacti_row(b)  # one port-wide word per access, CACTI's energy per access
    assert r.by_action_pj["sram.weights"]["read_bytes"] == pytest.approx(1000 * row["read_pj"] / b.port_bytes, rel=1e-12)
    assert r.by_action_pj["sram.weights"]["write_bytes"] == pytest.approx(100 * row["write_pj"] / b.port_bytes, rel=1e-12)


def test_dram_by_hand(hws):
    r = price({"dram": {"bursts": 10, "activations": 2, "read_bytes": 640}}, hws["tpu"], 0.0, node_nm=7)
    # DDR4-3200: 64-byte bursts at 9.2 pJ/bit + 2.9 nJ per row activation; bytes are in the bursts; not scaled
    assert r.breakdown_pj["dram"] == pytest.approx(10 * 512 * 9.2 + 2 * 2900, rel=1e-12)
    assert r.by_action_pj["dram"]["read_bytes"] == 0.0


def test_leakage_is_power_times_time(hws):
    r = price({}, hws["tpu"], 1e-3)
    assert r.energy_pj == r.breakdown_pj["leakage"] == pytest.approx(r.leakage_mw * 1e-3 * 1e9, rel=1e-12)
    sram = sum(v for k, v in r.leakage_by_component_pj.items() if k.startswith("sram."))
    by_hand = 0.0
    for b in hws["tpu"].buffers.values():  # banks x CACTI's per-bank figure (sub-threshold + gate), for 1 ms
        row = _cacti_row(b)
        k = f"{b.temperature_k}k"
        by_hand += b.banks * (row[f"leak_sub_mw_{k}"] + row[f"leak_gate_mw_{k}"]) * 1e-3 * 1e9
    assert sram == pytest.approx(by_hand, rel=1e-12)


def test_unknown_component_and_action_are_named(hws):
    with pytest.raises(SimInputError, match="unknown component.*'systolic'.*design gobo"):
        price({"systolic": {"mac_int8": 1}}, hws["gobo"], 0.0)
    with pytest.raises(SimInputError, match="component 'gobo' has no action 'mac_fp64'"):
        price({"gobo": {"mac_fp64": 1}}, hws["gobo"], 0.0)
    with pytest.raises(SimInputError, match="actions.gobo.add_int32: count must be a number >= 0"):
        price({"gobo": {"add_int32": -1}}, hws["gobo"], 0.0)


def test_bad_node_or_table(hws):
    with pytest.raises(SimInputError, match="node 12 nm is not supported"):
        price({}, hws["gobo"], 0.0, node_nm=12)
    with pytest.raises(SimInputError, match="no-such"):
        area(hws["gobo"], table="no-such")


# -- monotonicity ----------------------------------------------------------------------------------------

def test_larger_sram_costs_more_per_access():
    t = tech("horowitz45", 45)
    for port in (4, 16, 64):
        prev = None
        for kib in (8, 32, 128, 512, 2048, 8192):
            est = buffer_estimator("b", BufferSpec(capacity_bytes=kib * 1024, banks=1, port_bytes=port), t)
            e = est.energy_per_action("read_bytes")
            assert prev is None or e > prev
            prev = e


def test_banking_keeps_the_wires_between_banks():
    """CACTI's energy per access of a banked macro includes the H-tree from the macro's edge to the bank, which
    spans all banks: 16 banks of 128 KiB cost nearly what one 2 MiB bank does (a per-bank model would give ~1/4)."""
    t = tech("horowitz45", 45)
    for cell in ("itrs-hp", "itrs-lop"):
        for cap, port in ((2 << 20, 32), (1 << 20, 16)):
            e1, e16 = (buffer_estimator("b", BufferSpec(capacity_bytes=cap, banks=b, port_bytes=port, cell=cell), t)
                       .energy_per_action("read_bytes") for b in (1, 16))
            assert 0.6 * e1 < e16 < 1.1 * e1, (cell, cap, port, e16 / e1)


@pytest.mark.parametrize("table", ["horowitz45", "aladdin40"])
def test_smaller_node_less_energy_area_leakage_for_every_action(hws, table):
    nodes = (65, 45, 40, 32, 28, 22, 16, 14, 7)
    for hw in hws.values():
        models = [estimators(hw, tech(table, n)) for n in nodes]
        for big, small in itertools.pairwise(models):
            for name, m in big.items():
                s = small[name]
                for action in m.actions():
                    eb, es = m.energy_per_action(action), s.energy_per_action(action)
                    if name == "dram" or eb == 0:  # DRAM is off chip: not scaled; zero-priced actions stay 0
                        assert es == eb
                    else:
                        assert es < eb, (hw.name, name, action)
                assert s.area_mm2() < m.area_mm2(), (hw.name, name)
                if not name.startswith("sram."):
                    # SRAM leakage comes from CACTI's per-node device data, which for lop/lstp cells does not
                    # fall with the node (32 nm lop leaks more than 45 nm lop); see test_cost_sram.py
                    assert s.leakage_mw() < m.leakage_mw(), (hw.name, name)


# -- sums, JSON, per-operator ------------------------------------------------------------------------------

@pytest.mark.parametrize("hw_name", PRESETS)
@pytest.mark.parametrize("node", [45, 28])
def test_breakdowns_sum_exactly(reports, hws, hw_name, node):
    rep = reports[hw_name]
    hw = hws[hw_name]
    e = price(rep["actions"], hw, rep["seconds"], node_nm=node)
    assert sum(e.breakdown_pj.values()) == e.energy_pj
    assert {"compute", "sram", "dram", "leakage", "vector"} <= set(e.breakdown_pj)
    assert ("decompressor" in e.breakdown_pj) == hw_name.startswith("gobo-compress")
    assert sum(e.by_component_pj.values()) + e.breakdown_pj["leakage"] == pytest.approx(e.energy_pj, rel=1e-12)
    assert e.breakdown_pj["compute"] > 0 and e.breakdown_pj["sram"] > 0 and e.breakdown_pj["dram"] > 0
    a = area(hw, node_nm=node)
    assert sum(a.area_breakdown_mm2.values()) == a.area_mm2
    for comp, mm2 in a.area_breakdown_mm2.items():
        assert sum(v for k, v in a.area_detail_mm2.items() if k.startswith(comp + ".")) == mm2
    ops = price_ops(rep["ops"], hw, e)
    assert len(ops) == len(rep["ops"])
    assert sum(o.energy_pj for o in ops) == e.energy_pj
    for o in ops:
        assert sum(o.breakdown_pj.values()) == pytest.approx(o.energy_pj, rel=1e-12, abs=1e-9)
        assert all(v >= 0 for v in o.breakdown_pj.values())


@pytest.mark.parametrize("hw_name", PRESETS)
def test_reprice_is_json_and_sums_survive_the_round_trip(reports, hw_name):
    fields = json.loads(json.dumps(reprice(reports[hw_name], node_nm=28)))
    assert sum(fields["energy_breakdown_pj"].values()) == fields["energy_pj"]
    assert sum(fields["area_breakdown_mm2"].values()) == fields["area_mm2"]
    assert sum(o["energy_pj"] for o in fields["ops"]) == fields["energy_pj"]
    assert fields["tech"] == {"table": "horowitz45", "table_path": fields["tech"]["table_path"], "node_nm": 28}


def test_reprice_node_and_table(reports, hws):
    rep = reports["tcore"]
    at45, at28 = reprice(rep), reprice(rep, node_nm=28)
    direct = price(rep["actions"], hws["tcore"], rep["seconds"])
    assert at45["energy_pj"] == direct.energy_pj
    assert at28["energy_pj"] < at45["energy_pj"] and at28["area_mm2"] < at45["area_mm2"]
    assert at28["energy_breakdown_pj"]["dram"] == at45["energy_breakdown_pj"]["dram"]
    sens = reprice(rep, table="aladdin40")
    assert sens["energy_breakdown_pj"]["compute"] > at45["energy_breakdown_pj"]["compute"]


def test_apply_prices_fills_the_report(reports):
    import copy

    before = copy.deepcopy(reports["gobo"])
    out = apply_prices(reports["gobo"], node_nm=28)
    assert out["energy_pj"] > 0 and out["area_mm2"] > 0
    assert out["energy_pj"] < before["energy_pj"]  # 28 nm re-pricing of a 45 nm run
    assert out["config"]["hw"]["tech"]["node_nm"] == 28
    assert all(op["energy_pj"] is not None for op in out["ops"])
    assert reports["gobo"] == before  # the input is not modified


def test_reprice_needs_config(reports):
    bad = dict(reports["gobo"])
    bad.pop("config")
    with pytest.raises(SimInputError, match="RUN.json: config.hw: missing"):
        reprice(bad, source="RUN.json")


def test_estimators_follow_the_protocol(hws):
    for hw in hws.values():
        for model in estimators(hw, tech("horowitz45", 45)).values():
            assert isinstance(model, Estimator)
            assert model.area_mm2() >= 0 and model.leakage_mw() >= 0


# -- GOBO PE vs int8 MAC PE, both from the table's unit areas ------------------------------------------------

def test_gobo_and_mac_pe_are_built_from_unit_areas(hws):
    t = tech("horowitz45", 45)
    g, s = hws["gobo"].compute, hws["tpu"].compute
    reg = t.area_um2("reg_bit")
    gobo = gobo_pe_parts_um2(g, 3, t)
    # R=4 rows, C=8 bins, 1 multiplier, double-buffered bins, 1 decode + 1 add stage
    arith = (4 + 7 + 1) * t.area_um2("add_int32") + t.area_um2("mul_int8x32") + t.area_um2("decoder_index")
    bits = 4 * 8 * 32 * 2 + 4 * 32 * 2 + 8 * 32 + 7 * 32 + 32 + 4 * 2 + 8 * 8
    assert sum(gobo.values()) == pytest.approx(arith + bits * reg, rel=1e-12)
    mac = systolic_pe_parts_um2(s, t)
    assert sum(mac.values()) == pytest.approx(t.area_um2("mac_int8_acc32") + (16 + 8 + 32) * reg, rel=1e-12)


@pytest.mark.parametrize("table", ["horowitz45", "aladdin40"])
def test_gobo_pe_against_int8_mac_pe(hws, table):
    """What the tables say about the GOBO PE (see the finding in the docstring of pe_area_summary).

    The arithmetic that replaces a MAC, one int32 bin adder, is smaller than an int8 MAC (adder vs
    multiplier + adder): that is GOBO's "most MACs become additions". But a whole GOBO PE of the preset
    (4 rows x 8 int32 bins, double-buffered, plus multiplier, tree and their registers) is larger per
    product than an int8 MAC PE with its 56 register bits: the 2048 bin-register bits dominate.
    """
    s = pe_area_summary(hws["gobo"].compute, 3, hws["tpu"].compute, tech(table, 45))
    assert s["gobo_bin_lane_arith"] < s["mac_pe_arith"]
    assert s["gobo_pe_registers"] > 3 * s["gobo_pe_arith"]
    assert s["gobo_per_product"] > s["mac_pe"]
    assert s["gobo_pe"] == pytest.approx(s["gobo_pe_arith"] + s["gobo_pe_registers"])


def test_pe_overhead_is_derived_from_the_tpu_floorplan():
    t = tech("horowitz45", 28)
    tpu_pe = 0.24 * 331 * 1e6 / 65536  # um^2 per PE at 28 nm, Jouppi et al. 2017 floorplan
    assert t.tpu_pe_area_um2() == pytest.approx(tpu_pe, rel=2e-3)
    assert t.mac_arith_overhead() == pytest.approx(tpu_pe / (419 * 0.3767), rel=5e-3)  # "~7x" the bare MAC
    assert 7 < t.mac_arith_overhead() < 8
    assert t.pe_overhead() == pytest.approx(tech("horowitz45", 45).pe_overhead(), rel=1e-12)
    tpu_area = area(load_hardware("tpu"), node_nm=28)
    pes = sum(v for k, v in tpu_area.area_detail_mm2.items() if k.startswith("systolic.pe."))
    assert pes * t.pe_overhead() / (64 * 64) * 1e6 == pytest.approx(tpu_pe, rel=2e-3)
    assert math.isfinite(t.pe_overhead())


def test_price_ops_accepts_op_result_objects(hws):
    result = run("tpu", "tiny", functional=False)
    e = price(result.actions, hws["tpu"], result.seconds)
    from_objects = price_ops(result.ops, hws["tpu"], e)
    from_dicts = price_ops([o.to_dict() for o in result.ops], hws["tpu"], e)
    assert [o.to_dict() for o in from_objects] == [o.to_dict() for o in from_dicts]
    assert sum(o.energy_pj for o in from_objects) == e.energy_pj
