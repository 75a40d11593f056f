"""sim compare: contract fields, ratios against the first design, iso-peak and iso-area scaling."""

from __future__ import annotations

import json

import pytest

from sim import api
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def rep():
    return api.compare("tiny", ["gobo", "tcore", "tpu"])


def test_contract(rep):
    assert rep.baseline == "gobo" and rep.iso == "none" and rep.workload == "tiny"
    assert [d.hw for d in rep.designs] == ["gobo", "tcore", "tpu"]
    data = rep.to_dict()
    for d in data["designs"]:
        for key in ("hw", "cycles", "seconds", "energy_pj", "area_mm2", "dram_read_bytes", "dram_write_bytes",
                    "speedup", "energy_efficiency"):
            assert key in d
    for key in ("workload", "baseline", "iso", "designs", "schema_version"):
        assert key in data
    base = rep.designs[0]
    assert base.speedup == 1.0 and base.energy_efficiency == 1.0
    for d in rep.designs[1:]:
        assert d.speedup == pytest.approx(base.seconds / d.seconds)
        assert d.energy_efficiency == pytest.approx(base.energy_pj / d.energy_pj)


def test_typed_round_trip(rep):
    again = type(rep).from_json(rep.to_json())
    assert again.to_json() == rep.to_json()
    frame = rep.to_frame()
    assert list(frame["hw"]) == ["gobo", "tcore", "tpu"] and "speedup" in frame.columns
    assert repr(rep) == "CompareReport(workload='tiny', baseline='gobo', iso='none')"


def test_iso_peak_matches_peak():
    rep = api.compare("tiny", ["gobo", "tcore", "tpu"], iso="peak")
    peaks = [d.peak_macs_per_cycle for d in rep.designs]
    assert all(abs(p - peaks[0]) / peaks[0] < 0.05 for p in peaks)


def test_iso_area_matches_area():
    rep = api.compare("tiny", ["tpu", "gobo", "tcore"], iso="area")
    areas = [d.area_mm2 for d in rep.designs]
    assert all(abs(a - areas[0]) / areas[0] < 0.1 for a in areas), areas


def test_cli_json_and_csv(tmp_path):
    res = run_cli("compare", "--workload", "tiny", "--hw", "gobo", "tpu", "--json", str(tmp_path / "c.json"),
                  "--csv", str(tmp_path / "c.csv"))
    assert res.returncode == 0, res.stderr
    data = json.loads((tmp_path / "c.json").read_text())
    assert [d["hw"] for d in data["designs"]] == ["gobo", "tpu"]
    assert (tmp_path / "c.csv").read_text().startswith("hw,cycles,seconds,energy_pj,area_mm2")


def test_cli_area_and_price(tmp_path):
    res = run_cli("area", "--hw", "gobo", "--json", str(tmp_path / "a.json"))
    assert res.returncode == 0, res.stderr
    area = json.loads((tmp_path / "a.json").read_text())
    assert area["area_mm2"] == sum(area["area_breakdown_mm2"].values())
    run_cli("run", "--hw", "tpu", "--workload", "tiny", "--json", str(tmp_path / "r.json"))
    res = run_cli("price", str(tmp_path / "r.json"), "--node-nm", "28", "--json", str(tmp_path / "p.json"))
    assert res.returncode == 0, res.stderr
    before = json.loads((tmp_path / "r.json").read_text())
    after = json.loads((tmp_path / "p.json").read_text())
    assert after["cycles"] == before["cycles"] and after["energy_pj"] < before["energy_pj"]
    assert after["energy_pj"] == sum(after["energy_breakdown_pj"].values())
    res = run_cli("price", str(tmp_path / "missing.json"))
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
