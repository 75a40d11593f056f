"""docs/VALIDATION.md and bench/results/validate_silicon.json must be what the model computes now."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim.config.loader import load_hardware

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("validate_silicon", ROOT / "bench" / "validate_silicon.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def vs():
    return _script()


@pytest.fixture(scope="module")
def model(vs):
    return vs.model_numbers()


def test_tpuv1_preset_is_the_published_design() -> None:
    hw = load_hardware("tpuv1")
    assert hw.clock_hz == 7.0e8 and hw.tech.node_nm == 28
    assert hw.peak_macs_per_cycle == 256 * 256
    assert hw.buffers["activations"].capacity_bytes == 24 << 20
    assert hw.buffers["outputs"].capacity_bytes == 4 << 20
    assert list(hw.check()) == []


def test_sim_area_cli_reports_the_stored_numbers(tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    subprocess.run([sys.executable, "-m", "sim", "area", "--hw", "tpuv1", "--json", str(out)], check=True,
                   capture_output=True, cwd=ROOT)
    rep = json.loads(out.read_text())
    stored = json.loads((ROOT / "bench" / "results" / "validate_silicon.json").read_text())
    assert rep["area_mm2"] == pytest.approx(stored["total_mm2"], rel=1e-9)
    assert rep["area_breakdown_mm2"]["sram.activations"] == pytest.approx(stored["unified_buffer_mm2"], rel=1e-9)
    assert rep["leakage_mw"] * 1e-3 == pytest.approx(stored["leakage_w"], rel=1e-9)


def test_stored_json_is_current(model) -> None:
    stored = json.loads((ROOT / "bench" / "results" / "validate_silicon.json").read_text())
    assert set(stored) == set(model)
    for k, v in model.items():
        assert stored[k] == pytest.approx(v, rel=1e-9), f"{k}: rerun python bench/validate_silicon.py"


def test_doc_table_is_current(vs, model) -> None:
    doc = (ROOT / "docs" / "VALIDATION.md").read_text()
    assert vs.render_doc(doc, model) == doc, "docs/VALIDATION.md is stale: rerun python bench/validate_silicon.py"
    for q, mv, pv, unit in vs.rows(model):
        assert f"| {q} | {mv:.3g} {unit} | {pv:.3g} {unit} |" in doc


def test_render_detects_a_changed_number(vs, model) -> None:
    doc = (ROOT / "docs" / "VALIDATION.md").read_text()
    moved = dict(model, unified_buffer_mm2=model["unified_buffer_mm2"] * 1.5)
    assert vs.render_doc(doc, moved) != doc
