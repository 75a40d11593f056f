"""Every JSON the CLI writes validates against its schema in docs/schemas/ (generated from the report classes)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from sim.results import REPORTS, SCHEMA_VERSION, QuantizeReport, RunResult
from sim.results.schema import schema_of
from tests.conftest import run_cli

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "schemas"


def _schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_committed_schemas_are_current(name):
    schema = schema_of(REPORTS[name])
    jsonschema.Draft202012Validator.check_schema(schema)
    assert _schema(name) == schema, f"regenerate with: python -m sim.results docs/schemas ({name} changed)"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    d = tmp_path_factory.mktemp("reports")
    cmds = {
        "run-gobo": ["run", "--hw", "gobo", "--workload", "tiny", "--json", str(d / "run-gobo.json")],
        "run-tcore": ["run", "--hw", "tcore", "--workload", "tiny", "--json", str(d / "run-tcore.json")],
        "run-tpu": ["run", "--hw", "tpu", "--workload", "tiny", "--no-functional", "--json", str(d / "run-tpu.json")],
        "compare": ["compare", "--workload", "tiny", "--hw", "gobo", "tpu", "--iso", "peak", "--json",
                    str(d / "compare.json")],
        "quantize": ["quantize", "--workload", "tiny", "--json", str(d / "quantize.json")],
        "area": ["area", "--hw", "gobo-compress-tcore", "--json", str(d / "area.json")],
    }
    for name, cmd in cmds.items():
        res = run_cli(*cmd)
        assert res.returncode == 0, (name, res.stderr)
    res = run_cli("price", str(d / "run-tpu.json"), "--node-nm", "28", "--json", str(d / "price.json"))
    assert res.returncode == 0, res.stderr
    spec = d / "s.yaml"
    spec.write_text("version: 1\nbase: {hw: tpu, workload: tiny}\naxes: {compute.rows: [8, 16]}\n")
    res = run_cli("sweep", str(spec), "--out", str(d / "sweep"), "--workers", "1", "--quiet")
    assert res.returncode == 0, res.stderr
    return d


@pytest.mark.parametrize("file,schema", [("run-gobo.json", "run"), ("run-tcore.json", "run"), ("run-tpu.json", "run"),
                                         ("price.json", "run"), ("compare.json", "compare"),
                                         ("quantize.json", "quantize"), ("area.json", "area"),
                                         ("sweep/meta.json", "sweep-meta")])
def test_cli_reports_validate(written, file, schema):
    data = json.loads((written / file).read_text())
    jsonschema.validate(data, _schema(schema))
    assert data["schema_version"] == SCHEMA_VERSION


def test_schema_rejects_a_renamed_field(written):
    data = json.loads((written / "area.json").read_text())
    data["breakdown_mm2"] = data.pop("area_breakdown_mm2")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, _schema("area"))


def test_typed_round_trips(written):
    text = (written / "run-gobo.json").read_text()
    run = RunResult.from_json(text)
    assert run.to_json() == text and run.functional is not None and run.functional.checked is True
    assert RunResult.from_json(str(written / "run-gobo.json")).cycles == run.cycles
    assert repr(run).startswith("RunResult(hw='gobo', workload='tiny'")
    frame = run.to_frame()
    assert len(frame) == len(run.ops) and list(frame.columns[:3]) == ["name", "layer", "kind"]
    q = QuantizeReport.from_json((written / "quantize.json").read_text())
    assert q.to_json() == (written / "quantize.json").read_text() and len(q.to_frame()) == len(q.layers)


def test_from_json_refuses_another_report(written):
    from sim.errors import SimInputError

    with pytest.raises(SimInputError, match="not a RunResult"):
        RunResult.from_json((written / "area.json").read_text())
