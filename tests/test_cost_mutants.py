"""Tests written to kill mutants of sim/cost that survived the suite (bench/mutation.py)."""

from __future__ import annotations

import shutil

import pytest

from sim.config import load_hardware
from sim.cost.energy import EnergyReport, OpEnergy, price, price_ops
from sim.cost.estimators import estimators
from sim.cost.pe_compare import pe_area_summary
from sim.cost.scaling import energy_scale
from sim.cost.tech import tech
from sim.errors import SimInputError

ENERGY_REPORT_KEYS = {"energy_pj", "breakdown_pj", "by_component_pj", "by_action_pj", "leakage_by_component_pj",
                      "leakage_mw", "seconds", "table", "table_path", "node_nm"}


@pytest.fixture(scope="module")
def gobo_c():
    return load_hardware("gobo-compress-tcore")  # has both a decompressor and a converter


def test_every_estimator_is_named_and_explains_every_action(gobo_c):
    t = tech("horowitz45", 45)
    models = estimators(gobo_c, t)
    assert {"decompressor", "converter", "dram", "vector"} <= set(models)
    for name, m in models.items():
        assert m.name == name
        assert set(m.basis) == set(m.energies_pj), name
        assert all(isinstance(v, str) and v for v in m.basis.values()), name
    from sim.hw.dram import dram_spec

    spec = dram_spec(gobo_c.dram.kind, channels=gobo_c.dram.channels)
    assert models["dram"].basis["bursts"].startswith(f"{spec.burst_bytes * 8} bits x dram.")
    assert models["vector"].basis["vec_div"] == "32 x (energy.add_int32 + 64 x energy.reg_bit)"


def test_logic_areas_from_unit_areas(gobo_c):
    t = tech("horowitz45", 45)
    models = estimators(gobo_c, t)
    reg = t.area_um2("reg_bit")
    conv = gobo_c.weights.convert_per_cycle * (t.area_um2("mul_fp32") + t.area_um2("add_fp32") + 64 * reg)
    ov = t.value("overhead.converter")
    assert models["converter"].area_mm2() == pytest.approx(conv * ov / 1e6, rel=1e-12)
    ov = t.value("overhead.vector")
    lane = sum(t.area_um2(u) for u in ("add_int32", "shift_int32", "cmp_int32", "logic_int32", "clz_int32",
                                       "mul_int32", "add_int32")) + 192 * reg
    assert models["vector"].area_mm2() == pytest.approx(gobo_c.vector.lanes * lane * ov / 1e6, rel=1e-12)


def test_report_dicts_have_their_documented_fields(gobo_c):
    e = price({"vector": {"vec_add": 10}}, gobo_c, 1e-6)
    assert isinstance(e, EnergyReport) and set(e.to_dict()) == ENERGY_REPORT_KEYS
    assert e.to_dict()["energy_pj"] == e.energy_pj
    o = OpEnergy("x", 1.5, {"compute": 1.5})
    assert o.to_dict() == {"name": "x", "energy_pj": 1.5, "breakdown_pj": {"compute": 1.5}}


def test_operators_without_a_name_are_numbered(gobo_c):
    e = price({"vector": {"vec_add": 10}}, gobo_c, 1e-6)
    ops = [{"cycles": 1, "actions": {}}, {"name": "b", "cycles": 3, "actions": {"vector": {"vec_add": 10}}}]
    out = price_ops(ops, gobo_c, e)
    assert [o.name for o in out] == ["0", "b"]
    assert sum(o.energy_pj for o in out) == pytest.approx(e.energy_pj, rel=1e-12)  # float sums: up to an ulp


def test_pe_area_summary_fields():
    gobo, tpu = load_hardware("gobo"), load_hardware("tpu")
    t = tech("horowitz45", 45)
    s = pe_area_summary(gobo.compute, gobo.weights.bits, tpu.compute, t)
    r = gobo.compute.rows_per_pe
    assert s["gobo_per_product"] == pytest.approx(s["gobo_pe"] / r)
    assert s["gobo_per_product_arith"] == pytest.approx(s["gobo_pe_arith"] / r)
    assert s["gobo_pe"] == pytest.approx(s["gobo_pe_arith"] + s["gobo_pe_registers"])
    assert s["mac_pe"] == pytest.approx(s["mac_pe_arith"] + s["mac_pe_registers"])
    assert s["pe_overhead"] == t.pe_overhead()
    assert s["gobo_bin_lane_arith"] == t.area_um2("add_int32")


def test_tech_node_must_be_an_int_and_the_message_lists_the_nodes():
    with pytest.raises(SimInputError, match="65, 45, 40, 32"):
        tech("horowitz45", 45.0)
    with pytest.raises(SimInputError):
        tech("horowitz45", True)


def test_tech_reloads_an_edited_table(tmp_path):
    from sim.cost.table import resolve_table

    src = resolve_table("horowitz45")
    p = tmp_path / "t.yaml"
    shutil.copy(src, p)
    before = tech(str(p), 45).energy_pj("clz_int32")
    text = p.read_text()
    import re

    m = re.search(r"(clz_int32:\s*\{value:\s*)([0-9.eE+-]+)", text)
    assert m is not None
    p.write_text(text[:m.start(2)] + repr(float(m.group(2)) * 2) + text[m.end(2):])
    import os

    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert tech(str(p), 45).energy_pj("clz_int32") == pytest.approx(2 * before)


def test_sram_rule_is_continuous_at_22nm():
    # both branches agree at the boundary: energy at 22 nm by the logic factor == by the SRAM rule
    assert energy_scale(45, 22, kind="sram") == pytest.approx(energy_scale(45, 22))


def test_price_run_and_reprice_record_the_table(tmp_path):
    from sim import api
    from sim.cost.reprice import apply_prices, reprice

    r = api.run("tpu", "tiny", functional=False)
    assert r.tech == {"table": "horowitz45", "table_path": r.tech["table_path"], "node_nm": 45}
    d = r.to_dict()
    base = reprice(d)
    other = reprice(d, table="aladdin40")
    assert other["tech"]["table"] == "aladdin40" and base["tech"]["table"] == "horowitz45"
    assert other["energy_pj"] != base["energy_pj"]
    from sim.cost.area import area

    assert other["area_mm2"] == area(load_hardware("tpu"), table="aladdin40").area_mm2
    assert base["area_mm2"] == area(load_hardware("tpu")).area_mm2 != other["area_mm2"]
    out = apply_prices(d, table="aladdin40")
    assert out["config"]["hw"]["tech"]["table"] == "aladdin40"
    same = apply_prices(d)
    assert same["config"]["hw"]["tech"].get("table") == d["config"]["hw"]["tech"].get("table")


def test_table_to_dict():
    from sim.cost.table import load_table

    tb = load_table("horowitz45")
    d = tb.to_dict()
    assert set(d) == {"name", "path", "description", "entries"} and d["name"] == "horowitz45"
    assert d["description"] == tb.description and set(d["entries"]) == set(tb.entries)
    mac = d["entries"]["energy.mac_int8_acc32"]
    assert mac["parts"] == ["mul_int8", "add_int32"] and mac["node"] == 45 and mac["unit"] == "pJ"
    fits = [k for k, v in d["entries"].items() if "points" in v]
    for k in fits:  # fitted entries (if the table has any) round-trip their points and exponent
        e = tb[k]
        assert d["entries"][k]["exponent"] == e.exponent and d["entries"][k]["points"] == [list(p) for p in e.points]
    assert "parts" not in d["entries"]["energy.add_int32"]


def test_circular_extends_names_the_chain(tmp_path):
    from sim.cost.table import load_table

    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("version: 1\nname: a\nextends: b.yaml\n")
    b.write_text("version: 1\nname: b\nextends: a.yaml\n")
    with pytest.raises(SimInputError) as exc:
        load_table(a)
    msg = str(exc.value)
    assert "circular" in msg and msg.count("a.yaml") >= 2 and "b.yaml" in msg and "None" not in msg


def test_area_detail_part_names(gobo_c):
    # the part names are report fields (area_detail_mm2 of `sim area`)
    models = estimators(gobo_c, tech("horowitz45", 45))
    assert set(models["converter"].area_detail_mm2()) == {"lane.multiplier", "lane.rounder", "lane.registers",
                                                          "placement_overhead"}
    assert set(models["vector"].area_detail_mm2()) == {
        f"lane.{p}" for p in ("adder", "shifter", "comparator", "logic", "clz", "multiplier", "divider_adder",
                              "divider_registers", "lane_registers")} | {"placement_overhead"}
