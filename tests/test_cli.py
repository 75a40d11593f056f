"""The CLI as a user drives it: exit codes, one-line errors, JSON report contract."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

CONTRACT = ["hw", "workload", "seq_len", "batch", "clock_hz", "cycles", "seconds", "energy_pj",
            "energy_breakdown_pj", "dram_read_bytes", "dram_write_bytes", "area_mm2", "area_breakdown_mm2",
            "utilization", "stall_breakdown_cycles", "ops", "functional", "config", "peak_macs_per_cycle",
            "dram_bytes_per_cycle", "actions", "version"]
OP_CONTRACT = ["name", "layer", "kind", "cycles", "compute_cycles", "stall_cycles", "macs",
               "dram_read_bytes", "dram_write_bytes", "energy_pj"]


def test_run_writes_contract_json(tmp_path):
    out = tmp_path / "out.json"
    res = run_cli("run", "--hw", "gobo.yaml", "--workload", "tiny", "--json", str(out), "--csv",
                  str(tmp_path / "ops.csv"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    report = json.loads(out.read_text())
    for key in CONTRACT:
        assert key in report, key
    for op in report["ops"]:
        for key in OP_CONTRACT:
            assert key in op
        if op["kind"] in ("gemm", "bmm"):
            assert {"m", "k", "n", "count"} <= set(op)
    assert report["cycles"] == sum(op["cycles"] for op in report["ops"])
    assert report["dram_read_bytes"] == sum(op["dram_read_bytes"] for op in report["ops"])
    assert (tmp_path / "ops.csv").read_text().startswith("name,layer,kind,cycles")


def test_python_dash_m_and_version():
    res = run_cli("--version")
    assert res.returncode == 0 and "gobosim" in res.stdout


@pytest.mark.parametrize("args, fragment", [
    (["run", "--hw", "nope.yaml", "--workload", "bert-base"], "nope.yaml: no such file"),
    (["run", "--hw", "gobo", "--workload", "nope"], "nope: no such file"),
    (["run", "--hw", "gobo", "--workload", "tiny", "--set", "compute.tiles=0"], "compute.tiles: must be >= 1, got 0"),
    (["run", "--hw", "gobo", "--workload", "tiny", "--set", "compute.tilez=2"], "did you mean 'tiles'"),
    (["run", "--hw", "gobo", "--workload", "tiny", "--set", "garbage"], "expected KEY.PATH=VALUE"),
    (["run", "--hw", "gobo", "--workload", "tiny", "--seq-len", "0"], "--seq-len: must be a positive integer"),
    (["run", "--hw", "gobo", "--workload", "tiny", "--seq-len", "x"], "invalid int value"),
    (["run", "--hw", "gobo"], "the following arguments are required: --workload"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_line(args, fragment):
    res = run_cli(*args)
    assert res.returncode == 2, (res.returncode, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert fragment in lines[0]
    assert "Traceback" not in res.stderr


def test_unwritable_output_fails_before_work(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    res = run_cli("run", "--hw", "gobo", "--workload", "tiny", "--json", str(blocker / "out.json"))
    assert res.returncode == 2 and "cannot write there" in res.stderr
    assert res.stdout == ""  # nothing was simulated
    res = run_cli("run", "--hw", "gobo", "--workload", "tiny", "--json", str(tmp_path))
    assert res.returncode == 2 and "is a directory" in res.stderr


def test_bad_files_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: [unclosed\n")
    res = run_cli("validate", "--hw", str(bad))
    assert res.returncode == 2 and "invalid YAML" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "t5"}))
    res = run_cli("validate", "--hw", "gobo", "--workload", str(cfg))
    assert res.returncode == 2 and "unsupported model type 't5'" in res.stderr


def test_validate_prints_resolved_config():
    res = run_cli("validate", "--hw", "tpu", "--workload", "bert-base", "--set", "compute.rows=32")
    assert res.returncode == 0, res.stderr
    assert "rows: 32" in res.stdout and "11,173,625,856" in res.stdout


def test_quant_errors_are_bad_input(monkeypatch, capsys, tmp_path):
    # QuantError is a SimInputError: main() reports it like any bad input (one line, exit 2), no special case
    import sim.api
    from sim.cli import main
    from sim.errors import SimInputError
    from sim.quant import CheckpointError, QuantError, QuantParamError

    assert issubclass(QuantError, SimInputError) and issubclass(QuantError, ValueError)
    assert issubclass(QuantParamError, QuantError) and issubclass(CheckpointError, QuantError)
    assert str(QuantError("a\nb")) == "a\\nb"  # one line, like every SimInputError

    def boom(*args, **kwargs):
        raise QuantParamError("bits: must be between 2 and 8, got 9\n(second line)")

    monkeypatch.setattr(sim.api, "run", boom)
    assert main(["run", "--hw", "tpu", "--workload", "tiny"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["sim run: error: bits: must be between 2 and 8, got 9\\n(second line)"]
    # a real quantization input error through a process: a file that is not a safetensors checkpoint
    bad = tmp_path / "w.safetensors"
    bad.write_bytes(b"not a checkpoint")
    res = run_cli("quantize", "--weights", str(bad))
    assert res.returncode == 2, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "w.safetensors" in res.stderr and "Traceback" not in res.stderr
