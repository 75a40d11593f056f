"""Energy/area tables: every entry sourced, derived values reproducible, bad tables rejected with file and key."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from sim.cost.scaling import SUPPORTED_NODES_NM
from sim.cost.table import SCHEMA, load_table, table_names, tech_dir
from sim.errors import SimInputError

TABLES = table_names()


def test_builtin_tables_exist():
    assert {"horowitz45", "aladdin40"} <= set(TABLES)


def _walk_entries(node, prefix=""):
    """Every mapping with a 'value' in the raw YAML, with its dotted key."""
    if isinstance(node, dict):
        if "value" in node:
            yield prefix, node
            return
        for k, v in node.items():
            yield from _walk_entries(v, f"{prefix}.{k}" if prefix else str(k))


@pytest.mark.parametrize("name", TABLES)
def test_every_entry_has_value_unit_node_source(name):
    raw = yaml.safe_load((tech_dir() / f"{name}.yaml").read_text())
    entries = list(_walk_entries({k: v for k, v in raw.items() if isinstance(v, dict)}))
    assert entries
    for key, e in entries:
        for field in ("value", "unit", "node", "source"):
            assert field in e, f"{name}: {key} has no {field}"
        assert isinstance(e["source"], str) and e["source"].strip(), key
        assert isinstance(e["value"], (int, float)) and e["value"] >= 0, key
        assert e["node"] == "off-chip" or e["node"] in SUPPORTED_NODES_NM, key
        assert e["unit"] == SCHEMA[key].unit, key


@pytest.mark.parametrize("name", TABLES)
def test_table_loads_with_every_key(name):
    t = load_table(name)
    assert set(t.entries) == set(SCHEMA)
    assert all(e.source for e in t.entries.values())


def test_extends_overrides_and_inherits():
    base, sens = load_table("horowitz45"), load_table("aladdin40")
    assert sens["energy.add_int32"].value == 0.21 and sens["energy.add_int32"].node == 40
    assert sens["dram.hbm2.energy_per_bit"] == base["dram.hbm2.energy_per_bit"]  # inherited entry, same file
    assert sens["dram.hbm2.energy_per_bit"].file.endswith("horowitz45.yaml")


def test_horowitz_derived_multipliers_follow_the_stated_power_law():
    t = load_table("horowitz45")
    for kind, lo, hi in (("energy", 0.2, 3.1), ("area", 282, 3495)):
        p = math.log(hi / lo) / math.log(16)
        for key, ab in (("mul_int16", 256), ("mul_int8x16", 128), ("mul_int8x32", 256)):
            assert t[f"{kind}.{key}"].value == pytest.approx(lo * (ab / 64) ** p, rel=1e-3), (kind, key)


@pytest.mark.parametrize("name", TABLES)
def test_composites_are_the_sum_of_their_parts(name):
    t = load_table(name)
    for e in t.entries.values():
        if e.parts:
            group = e.key.split(".")[0]
            assert e.value == pytest.approx(sum(t[f"{group}.{p}"].value for p in e.parts), rel=1e-6)


# -- bad tables --------------------------------------------------------------------------------------

def _bad_table(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load((tech_dir() / "horowitz45.yaml").read_text())
    edit(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _error(path: Path) -> str:
    with pytest.raises(SimInputError) as info:
        load_table(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert "bad.yaml" in msg
    return msg


def test_missing_source_is_named(tmp_path):
    msg = _error(_bad_table(tmp_path, lambda r: r["energy"]["add_int8"].pop("source")))
    assert "energy.add_int8.source: missing" in msg


def test_negative_value_is_named(tmp_path):
    def edit(r):
        r["area"]["reg_bit"]["value"] = -1.0
    assert "area.reg_bit.value: must be > 0, got -1.0" in _error(_bad_table(tmp_path, edit))


def test_unknown_node_is_named(tmp_path):
    def edit(r):
        r["energy"]["mul_int8"]["node"] = 5
    assert "energy.mul_int8.node: unknown node 5" in _error(_bad_table(tmp_path, edit))


def test_dram_must_be_off_chip(tmp_path):
    def edit(r):
        r["dram"]["hbm2"]["energy_per_bit"]["node"] = 45
    assert "dram.hbm2.energy_per_bit.node: must be 'off-chip'" in _error(_bad_table(tmp_path, edit))


def test_wrong_unit_is_named(tmp_path):
    def edit(r):
        r["energy"]["reg_bit"]["unit"] = "pJ"
    assert "energy.reg_bit.unit: must be 'pJ/bit'" in _error(_bad_table(tmp_path, edit))


def test_unknown_key_gets_a_hint(tmp_path):
    def edit(r):
        r["energy"]["add_int23"] = r["energy"]["add_int32"]
    msg = _error(_bad_table(tmp_path, edit))
    assert "energy.add_int23: unknown key" in msg and "add_int32" in msg


def test_missing_entry_is_named(tmp_path):
    msg = _error(_bad_table(tmp_path, lambda r: r["logic"].pop("leakage")))
    assert "logic.leakage: missing" in msg


def test_sram_group_is_refused(tmp_path):
    """SRAM comes from the CACTI table; a table's own SRAM entries would be silently unused, so they are an error."""
    msg = _error(_bad_table(tmp_path, lambda r: r.update(sram={"leakage": r["logic"]["leakage"]})))
    assert "bad.yaml: sram: unknown key" in msg


def test_inconsistent_composite_is_named(tmp_path):
    def edit(r):
        r["energy"]["mul_int8"]["value"] = 0.25
    assert "energy.mac_int8_acc32.value" in _error(_bad_table(tmp_path, edit))


def test_all_problems_reported_at_once(tmp_path):
    def edit(r):
        r["energy"]["add_int8"]["value"] = -1
        r["area"]["add_int8"].pop("source")
    msg = _error(_bad_table(tmp_path, edit))
    assert "energy.add_int8.value" in msg and "area.add_int8.source" in msg


def test_circular_extends(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("version: 1\nname: a\nextends: b.yaml\n")
    b.write_text("version: 1\nname: b\nextends: a.yaml\n")
    with pytest.raises(SimInputError, match="circular"):
        load_table(a)


def test_unknown_table_name_lists_builtins():
    with pytest.raises(SimInputError, match="horowitz45"):
        load_table("no-such-table")


def test_bad_entry_is_not_also_reported_missing(tmp_path):
    msg = _error(_bad_table(tmp_path, lambda r: r["energy"]["add_int8"].pop("source")))
    assert msg.count("energy.add_int8") == 1, msg  # not also "energy.add_int8: missing (every key ...)"
    msg = _error(_bad_table(tmp_path, lambda r: r["dram"].update(hbm2=3)))
    assert msg.endswith("bad.yaml: dram.hbm2: must be a mapping of entries, got 3"), msg


@pytest.mark.parametrize("edit, fragment", [
    (lambda r: r["energy"]["add_int8"].update(sorce="x"), "energy.add_int8.sorce: unknown key (did you mean 'source'?)"),
    (lambda r: r["dram"].update(hbm3=r["dram"]["hbm2"]), "dram.hbm3: unknown key (did you mean 'hbm2'?)"),
    (lambda r: r["dram"]["hbm2"].update(energy_per_bitt=1), "dram.hbm2.energy_per_bitt: unknown key (did you mean 'energy_per_bit'?)"),
    (lambda r: r["energy"]["add_int8"].update(exponent=0.5), "energy.add_int8.exponent: unknown key"),
    (lambda r: r["energy"]["mac_int8_acc32"].update(parts=["mul_int8", 3]), "energy.mac_int8_acc32.parts[1]: expected a string, got 3"),
    (lambda r: r.update(version=2), "bad.yaml: version: must be 1, got 2"),
])
def test_bad_entry_messages(tmp_path, edit, fragment):
    assert fragment in _error(_bad_table(tmp_path, edit))
