"""`sim plot`: every kind writes a non-empty file; null energy/area are skipped with a reason, not a failure."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sim import api
from sim.errors import SimInputError
from sim.plotting import make_plots
from tests.conftest import run_cli

PARTS = {"compute": 0.5, "sram": 0.3, "dram": 0.15, "leakage": 0.05}
AREA = {"compute": 0.6, "sram": 0.35, "other": 0.05}


def nulled(report: dict) -> dict:
    """A report without energy and area (as when the cost model does not price a design)."""
    r = json.loads(json.dumps(report))
    r.update(energy_pj=None, energy_breakdown_pj=None, area_mm2=None, area_breakdown_mm2=None)
    for op in r["ops"]:
        op.update(energy_pj=None, energy_breakdown_pj={})
    return r


def with_energy(report: dict, scale: float = 1.0) -> dict:
    """The report if the cost model priced it, else made-up energy/area numbers with the right shape."""
    r = json.loads(json.dumps(report))
    if r.get("energy_pj") is not None and r.get("area_breakdown_mm2"):
        return r
    total = 1e6 * scale
    r["energy_pj"] = total
    r["energy_breakdown_pj"] = {k: v * total for k, v in PARTS.items()}
    r["area_mm2"] = 5.0 * scale
    r["area_breakdown_mm2"] = {k: v * 5.0 * scale for k, v in AREA.items()}
    for op in r["ops"]:
        e = float(op["cycles"] + op["macs"] * 0.01)
        op["energy_pj"] = e
        op["energy_breakdown_pj"] = {k: v * e for k, v in PARTS.items()}
    return r


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    d = tmp_path_factory.mktemp("reports")
    runs = {hw: api.run(hw, "tiny", functional=False).to_dict() for hw in ("tcore", "gobo", "tpu")}
    for hw, rep in runs.items():
        (d / f"run-{hw}.json").write_text(json.dumps(nulled(rep)))
        (d / f"run-{hw}-e.json").write_text(json.dumps(with_energy(rep, {"tcore": 1.0, "gobo": 0.5, "tpu": 0.8}[hw])))
    comp = api.compare("tiny", ["tcore", "gobo", "tpu"]).to_dict()
    null = json.loads(json.dumps(comp))
    for des in null["designs"]:
        des.update(energy_pj=None, energy_breakdown_pj=None, area_mm2=None, energy_efficiency=None)
    (d / "compare.json").write_text(json.dumps(null))
    for des, hw in zip(comp["designs"], ("tcore", "gobo", "tpu")):
        e = with_energy(runs[hw], {"tcore": 1.0, "gobo": 0.5, "tpu": 0.8}[hw])
        des.update(energy_pj=e["energy_pj"], energy_breakdown_pj=e["energy_breakdown_pj"], area_mm2=e["area_mm2"])
    for des in comp["designs"]:
        des["energy_efficiency"] = comp["designs"][0]["energy_pj"] / des["energy_pj"]
    (d / "compare-e.json").write_text(json.dumps(comp))
    rng = np.random.default_rng(0)
    sweep = d / "sweep"
    sweep.mkdir()
    rows = []
    for i, (tiles, wbuf) in enumerate((t, w) for t in (4, 8, 16, 32) for w in (65536, 262144, 1048576)):
        sec = 1e-3 * 32 / tiles * (1 + 65536 / wbuf * 0.1)
        rows.append({"point_id": f"{i:016x}", "compute.tiles": tiles, "buffers.weights.capacity_bytes": wbuf,
                     "cycles": int(sec * 1e9), "seconds": sec, "energy_pj": 1e6 * (1 + rng.random()),
                     "area_mm2": tiles * 0.3 + wbuf / 2**20, "dram_read_bytes": 1000, "dram_write_bytes": 0,
                     "utilization": 0.5, "feasible": i % 5 != 0, "status": "ok" if i != 3 else "error",
                     "error": "" if i != 3 else "SimInputError: x"})
    pd.DataFrame(rows).to_csv(sweep / "results.csv", index=False)
    return d


def nonempty(paths):
    assert paths
    for p in paths:
        assert p.is_file() and p.stat().st_size > 1000, p


def test_run_report_kinds(reports, tmp_path):
    written, skipped = make_plots([reports / "run-gobo-e.json"], tmp_path)
    assert {p.name for p in written} == {"energy.png", "area.png", "energy-ops.png", "latency.png", "roofline.png",
                                         "histogram.png"}
    nonempty(written)
    assert skipped == []


def test_several_runs_and_compare(reports, tmp_path):
    runs = [reports / f"run-{hw}-e.json" for hw in ("tcore", "gobo", "tpu")]
    written, _ = make_plots(runs, tmp_path / "runs", kinds=["energy", "area", "latency"])
    assert {p.name for p in written} == {"energy.png", "area.png", "latency-tcore.png", "latency-gobo.png",
                                         "latency-tpu.png"}
    nonempty(written)
    written, skipped = make_plots([reports / "compare-e.json"], tmp_path / "cmp")
    assert {p.name for p in written} == {"energy.png", "area.png", "speedup.png"} and not skipped
    nonempty(written)


def test_sweep_kinds_and_formats(reports, tmp_path):
    written, skipped = make_plots([reports / "sweep"], tmp_path, fmt="svg")
    assert {p.name for p in written} == {"pareto.svg", "sweep.svg"} and not skipped
    nonempty(written)
    written, _ = make_plots([reports / "sweep" / "results.csv"], tmp_path, kinds=["pareto"], fmt="pdf",
                            metrics=["seconds", "area_mm2"])
    assert [p.name for p in written] == ["pareto-seconds-area_mm2.pdf"]
    nonempty(written)


def test_null_energy_and_area_are_skipped_with_a_reason(reports, tmp_path):
    written, skipped = make_plots([reports / "run-gobo.json"], tmp_path)
    assert {p.name for p in written} == {"latency.png", "roofline.png", "histogram.png"}
    assert any(s.startswith("energy: energy is null") for s in skipped)
    assert any(s.startswith("area: area is null") for s in skipped)
    assert any(s.startswith("energy-ops:") for s in skipped)
    written, skipped = make_plots([reports / "compare.json"], tmp_path / "c")
    assert [p.name for p in written] == ["speedup.png"] and len(skipped) == 2
    written, skipped = make_plots([reports / "run-tpu.json"], tmp_path / "t", kinds=["histogram"])
    assert written == [] and "does not store GOBO-quantized weights" in skipped[0]


def test_bad_inputs(reports, tmp_path):
    with pytest.raises(SimInputError, match="--kind pareto: not available from run reports"):
        make_plots([reports / "run-gobo.json"], tmp_path, kinds=["pareto"])
    with pytest.raises(SimInputError, match="not a mix"):
        make_plots([reports / "run-gobo.json", reports / "compare.json"], tmp_path)
    with pytest.raises(SimInputError, match="no such file"):
        make_plots([tmp_path / "nope.json"], tmp_path)
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(SimInputError, match="neither a run report"):
        make_plots([tmp_path / "x.json"], tmp_path)


def test_cli(reports, tmp_path):
    res = run_cli("plot", str(reports / "compare.json"), "--out", str(tmp_path / "o"))
    assert res.returncode == 0, res.stderr
    assert "wrote" in res.stdout and "skipped energy: energy is null" in res.stdout
    res = run_cli("plot", str(reports / "compare.json"), "--out", str(tmp_path / "o"), "--kind", "roofline")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    res = run_cli("plot", str(tmp_path / "missing"), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "no such file" in res.stderr
    blocker = tmp_path / "file"
    blocker.write_text("")
    res = run_cli("plot", str(reports / "compare.json"), "--out", str(blocker / "sub"))
    assert res.returncode == 2 and "--out" in res.stderr
