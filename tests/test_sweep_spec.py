"""Sweep specs: parsing, one-line validation errors (file + key), expansion (grid/zip/random), constraints, ids."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sim.errors import ConfigError, SimInputError
from sim.sweeps import expr
from sim.sweeps.runner import plan_sweep
from sim.sweeps.spec import load_spec


def write(tmp_path: Path, spec: dict, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def base(**axes) -> dict:
    return {"version": 1, "base": {"hw": "tpu", "workload": "tiny"}, "axes": axes or {"compute.rows": [8, 16]}}


def error_of(tmp_path: Path, spec: dict) -> str:
    path = write(tmp_path, spec)
    with pytest.raises(SimInputError) as info:
        plan_sweep(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_range_logrange_and_linked_values(tmp_path):
    spec = load_spec(write(tmp_path, base(**{
        "compute.rows": {"range": [8, 33, 8]},
        "buffers.weights.capacity_bytes": {"logrange": [65536, 1048576, 5]},
        "vector.lanes": {"range": [0.5, 2.0, 0.5]},
        "dram.kind,dram.channels": [["ddr4-3200", 2], ["hbm2", 8]],
    })))
    values = {a.key: a.values for a in spec.axes}
    assert values["compute.rows"] == (8, 16, 24, 32)  # Python range: stop excluded
    assert values["buffers.weights.capacity_bytes"] == (65536, 131072, 262144, 524288, 1048576)
    assert values["vector.lanes"] == (0.5, 1.0, 1.5)
    assert values["dram.kind,dram.channels"] == (("ddr4-3200", 2), ("hbm2", 8))
    assert spec.swept_keys == ["compute.rows", "buffers.weights.capacity_bytes", "vector.lanes", "dram.kind",
                               "dram.channels"]


@pytest.mark.parametrize("mutate, fragment", [
    (lambda s: s.update(colour=1), "s.yaml: colour: unknown key"),
    (lambda s: s.update(version=2), "s.yaml: version: must be 1"),
    (lambda s: s["base"].pop("hw"), "s.yaml: base.hw: missing (expected a hardware preset name or path)"),
    (lambda s: s.update(axes={"compute.rows": 8}), "s.yaml: axes.compute.rows: expected a list of values"),
    (lambda s: s.update(axes={"compute.rows": {"range": [8, 4, 1]}}), "axes.compute.rows.range: is empty"),
    (lambda s: s.update(axes={"compute.rows": {"logrange": [0, 4, 3]}}),
     "axes.compute.rows.logrange: start and stop must be > 0"),
    (lambda s: s.update(mode="zip", axes={"compute.rows": [8, 16], "compute.cols": [8]}),
     "s.yaml: axes: mode zip needs every axis"),
    (lambda s: s.update(mode="random"), "s.yaml: samples: mode random needs samples"),
    (lambda s: s.update(constraints=["compute.rows =="]), "s.yaml: constraints[0]: not a valid expression"),
    (lambda s: s.update(constraints=["__import__('os')"]), "s.yaml: constraints[0]: call of __import__() (allowed"),
    (lambda s: s.update(metrics=["cycels"]), "s.yaml: metrics[0]: unknown metric 'cycels'"),
    (lambda s: s.update(axes={"cycles": [1]}), "s.yaml: axes.cycles: 'cycles' is a result column"),
    (lambda s: s.update(axes={"compute.rowz": [8]}), "s.yaml: axes.compute.rowz: unknown key (did you mean 'rows'?)"),
    (lambda s: s.update(axes={"compute.rows": [8, 0]}),
     "s.yaml: axes.compute.rows: value 0 is invalid: must be >= 1, got 0"),
    (lambda s: s.update(axes={"dram.kind": ["ddr4-3200", "ddr9"]}),
     "s.yaml: axes.dram.kind: value 'ddr9' is invalid: must be one of"),
    (lambda s: s.update(axes={"seq_len": [16, 100]}), "s.yaml: axes.seq_len: tiny (seq_len 100, batch None)"),
    (lambda s: s.update(axes={"seq_len": [0]}), "s.yaml: axes.seq_len: seq_len: expected positive integers"),
    (lambda s: s.update(constraints=["compute.rowz > 1"]), "s.yaml: constraints[0]: unknown name 'compute.rowz'"),
    (lambda s: s["base"].update(hw="nope"), "s.yaml: base.hw: nope: no such file"),
    (lambda s: s["base"].update(set=["compute.rows=0"]), "s.yaml: base.set:"),
    (lambda s: s["base"].update(set=["compute.rows=8", "dram.channels"]),
     "s.yaml: base.set[1]: expected KEY=VALUE, e.g. dram.channels=2, got 'dram.channels'"),
    (lambda s: s["base"].update(workload=5), "s.yaml: base.workload: expected a string or a list of strings, got 5"),
    (lambda s: s.update(axes={"dram.kind,dram.channels": [["hbm2", 8], ["ddr4-3200"]]}),
     "s.yaml: axes.dram.kind,dram.channels[1]: expected a list of 2 values (dram.kind, dram.channels), got ['ddr4-3200']"),
    (lambda s: s.update(mode="grdi"), "s.yaml: mode: must be one of grid, zip, random, got 'grdi' (did you mean 'grid'?)"),
    (lambda s: s.update(axes={"buffers.outputs.capacity_bytes": [16], "compute.cols": [64]}),
     "s.yaml: axes.buffers.outputs.capacity_bytes: value 16 is invalid: must hold at least one int32 row"),
])
def test_bad_spec_is_one_line_naming_file_and_key(tmp_path, mutate, fragment):
    spec = base()
    mutate(spec)
    assert fragment in error_of(tmp_path, spec)


def test_bad_axes_are_left_out_and_the_rest_checked(tmp_path):
    # one axis's bad grammar does not hide the cross-axis checks on the others (mode zip lengths)
    spec = base(**{"compute.rows": [8, 16], "compute.cols": [8], "vector.lanes": {"range": [1, 1, 1]}})
    spec.update(mode="zip")
    message = error_of(tmp_path, spec)
    assert message.endswith("s.yaml: axes.vector.lanes.range: is empty (start 1, stop 1 excluded, step 1); "
                            f"{tmp_path / 's.yaml'}: axes: mode zip needs every axis to have the same number of "
                            "values, got compute.rows: 2, compute.cols: 1"), message


def test_every_problem_is_collected(tmp_path):
    spec = base(**{"compute.rows": {"range": [1, 1, 1]}, "compute.cols": "x"})
    spec.update(mode="grdi", colour=2)
    message = error_of(tmp_path, spec)
    for key in ("colour", "axes.compute.rows.range", "axes.compute.cols", "mode"):
        assert f"s.yaml: {key}:" in message, (key, message)


def test_every_point_is_validated_before_running(tmp_path):
    # each value is valid alone; combinations whose int8 weight tile (rows x cols bytes) exceeds the weight
    # buffer fail the cross-field check, and that is caught at planning time, before any run
    spec = base(**{"compute.rows": [16, 64], "compute.cols": [16, 512], "buffers.weights.capacity_bytes": [512, 8192]})
    message = error_of(tmp_path, spec)
    assert "must hold at least one weight tile" in message and "axes.buffers.weights.capacity_bytes" in message


def test_grid_zip_random_expansion(tmp_path):
    grid = plan_sweep(write(tmp_path, base(**{"compute.rows": [8, 16, 32], "compute.dataflow": ["ws", "os"]})))
    assert [tuple(p.values.values()) for p in grid.points] == [
        (8, "ws"), (8, "os"), (16, "ws"), (16, "os"), (32, "ws"), (32, "os")]
    z = plan_sweep(write(tmp_path, {**base(**{"compute.rows": [8, 16, 32], "compute.cols": [16, 32, 64]}),
                                    "mode": "zip"}))
    assert [(p.values["compute.rows"], p.values["compute.cols"]) for p in z.points] == [(8, 16), (16, 32), (32, 64)]
    spec = {**base(**{"compute.rows": [8, 16, 32, 64], "compute.cols": [8, 16, 32, 64]}), "mode": "random",
            "samples": 5, "seed": 3}
    r1 = plan_sweep(write(tmp_path, spec))
    r2 = plan_sweep(write(tmp_path, spec))
    assert len(r1.points) == 5 and len({p.point_id for p in r1.points}) == 5
    assert [p.point_id for p in r1.points] == [p.point_id for p in r2.points]  # seeded: reproducible
    grid_ids = {p.point_id for p in plan_sweep(write(tmp_path, base(**{"compute.rows": [8, 16, 32, 64],
                                                                      "compute.cols": [8, 16, 32, 64]}))).points}
    assert {p.point_id for p in r1.points} <= grid_ids
    other = plan_sweep(write(tmp_path, {**spec, "seed": 4}))
    assert [p.point_id for p in other.points] != [p.point_id for p in r1.points]


def test_workload_list_is_crossed_and_becomes_a_column(tmp_path):
    spec = {"version": 1, "base": {"hw": "tpu", "workload": ["tiny", "minilm-l6"], "seq_len": 16},
            "axes": {"compute.rows": [8, 16]}, "mode": "zip"}
    plan = plan_sweep(write(tmp_path, spec))
    assert plan.spec.swept_keys == ["workload", "compute.rows"]
    assert [tuple(p.values.values()) for p in plan.points] == [
        ("tiny", 8), ("tiny", 16), ("minilm-l6", 8), ("minilm-l6", 16)]


def test_parameter_constraints_filter_before_running(tmp_path):
    spec = base(**{"compute.rows": [8, 16, 32], "compute.cols": [8, 16, 32]})
    spec["constraints"] = ["compute.rows == compute.cols", "compute.rows * compute.cols * seq_len <= 16 * 16 * 16",
                           "utilization >= 0.5"]
    plan = plan_sweep(write(tmp_path, spec))
    assert [(p.values["compute.rows"], p.values["compute.cols"]) for p in plan.points] == [(8, 8), (16, 16)]
    assert plan.filtered == 7
    assert [c.text for c in plan.metric_constraints] == ["utilization >= 0.5"]


def test_point_id_depends_on_resolved_inputs_only(tmp_path):
    a = plan_sweep(write(tmp_path, base(**{"compute.rows": [16, 64]})))
    b = plan_sweep(write(tmp_path, {**base(**{"compute.cols": [64]}), "constraints": []}))
    # tpu's rows default is 64: {rows: 64} and {cols: 64} resolve to the same configuration
    assert a.points[1].point_id == b.points[0].point_id
    assert a.points[0].point_id != a.points[1].point_id
    c = plan_sweep(write(tmp_path, base(**{"compute.rows": [64, 64]})))
    assert len(c.points) == 1  # duplicate values collapse


def test_spec_from_a_mapping_and_relative_paths(tmp_path):
    hw = tmp_path / "hw" / "my.yaml"
    hw.parent.mkdir()
    hw.write_text((Path(__file__).resolve().parents[1] / "hwconfigs" / "tpu.yaml").read_text())
    spec_path = write(tmp_path, {"version": 1, "base": {"hw": "hw/my.yaml", "workload": "tiny"},
                                 "axes": {"compute.rows": [8]}})
    plan = plan_sweep(spec_path)  # hw/my.yaml is found relative to the spec file, from any directory
    assert plan.points[0].task.hw == str(hw.resolve())
    plan2 = plan_sweep(base())
    assert len(plan2.points) == 2


def test_constraint_language():
    c = expr.parse("compute.rows * 2 <= max(compute.cols, 8) and dram.kind in ['ddr4-3200', 'hbm2']")
    assert c.names == ("compute.rows", "compute.cols", "dram.kind")
    assert c.evaluate({"compute.rows": 4, "compute.cols": 8, "dram.kind": "hbm2"})
    assert not c.evaluate({"compute.rows": 8, "compute.cols": 8, "dram.kind": "hbm2"})
    with pytest.raises(expr.Unknown):
        expr.parse("area_mm2 <= 5").evaluate({"area_mm2": None})
    for bad in ("open('x')", "x.__class__()", "[i for i in y]", "lambda: 1", "a if b else c"):
        with pytest.raises(expr.ExprError):
            expr.parse(bad)


def test_config_error_lists_problems():
    with pytest.raises(ConfigError) as info:
        load_spec({"version": 1})
    assert "<dict>: base:" in str(info.value) and "<dict>: axes:" in str(info.value)
