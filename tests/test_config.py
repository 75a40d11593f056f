"""Hardware configuration: presets load, validation collects every problem, --set overrides are typed."""

from __future__ import annotations

import math

import pytest
import yaml

from sim.compute.gobo.config import GoboCompute
from sim.compute.systolic.config import SystolicCompute
from sim.compute.tensorcore.config import TensorCoreCompute
from sim.config import load_hardware
from sim.config.files import builtin_dir, builtin_names
from sim.config.loader import parse_set
from sim.errors import ConfigError, SimInputError

PRESETS = ["gobo", "tpu", "tcore", "gobo-compress-tcore", "gobo-compress-tpu", "tcore-v100"]


@pytest.mark.parametrize("name", PRESETS)
def test_presets_load(name):
    hw = load_hardware(name)
    assert hw.name == name
    assert hw.clock_hz > 0 and hw.peak_macs_per_cycle > 0
    assert set(hw.buffers) >= {"weights", "activations", "outputs"}


def test_builtin_names_and_yaml_suffix():
    assert set(PRESETS) <= set(builtin_names("hwconfigs"))
    assert load_hardware("gobo.yaml") == load_hardware("gobo")


def test_preset_kinds():
    assert isinstance(load_hardware("gobo").compute, GoboCompute)
    assert isinstance(load_hardware("tpu").compute, SystolicCompute)
    assert isinstance(load_hardware("tcore").compute, TensorCoreCompute)
    assert load_hardware("gobo-compress-tcore").weights.format == "gobo"


def test_every_preset_number_has_a_source_comment():
    """Every numeric line of a preset carries a comment (its source or 'assumed: why'), or repeats a
    value whose source is given earlier in the same file (checked: the same key appears with a comment)."""
    for name in PRESETS:
        text = (builtin_dir("hwconfigs") / f"{name}.yaml").read_text()
        commented = set()
        for line in text.splitlines():
            key, _, rest = line.strip().partition(":")
            value = rest.split("#")[0].strip()
            if "#" in rest:
                commented.add(key)
            try:
                float(value)
            except ValueError:
                continue
            if key == "version":
                continue
            assert "#" in rest or key in commented, f"{name}.yaml: '{line.strip()}' has no source"


def test_set_overrides_are_typed():
    hw = load_hardware("tpu", ["compute.rows=32", "compute.dataflow=os", "clock_hz=7e8"])
    assert hw.compute.rows == 32 and hw.compute.dataflow == "os" and math.isclose(hw.clock_hz, 7e8)


def test_set_can_switch_kind_with_its_keys(tmp_path):
    hw = load_hardware("tcore", ["compute.units=8"])
    assert hw.compute.units == 8


@pytest.mark.parametrize("item, fragment", [
    ("compute.tilez=3", "did you mean 'tiles'"),
    ("compute.tiles=abc", "expected an integer, got 'abc'"),
    ("compute.tiles=0", "must be >= 1, got 0"),
    ("compute.tiles=2.5", "expected an integer"),
    ("clock_hz=-1", "must be > 0"),
    ("clock_hz=.nan", "expected a finite number"),
    ("clock_hz=.inf", "expected a finite number"),
    ("dram.kind=ddr5", "must be one of"),
    ("buffers.weights.capacity_bytes=0", "buffers.weights.capacity_bytes: must be > 0, got 0"),
    ("tech.node_nm=3", "must be one of"),
    ("weights.bits=9", "must be <= 8"),
    ("clock_hz.x=1", "is a value, not a section"),
])
def test_bad_set_values(item, fragment):
    with pytest.raises(ConfigError) as err:
        load_hardware("gobo", [item])
    msg = str(err.value)
    assert fragment in msg and "\n" not in msg
    assert "--set" in msg


def test_bad_set_syntax():
    with pytest.raises(ConfigError, match="expected KEY.PATH=VALUE"):
        parse_set("compute.tiles")
    with pytest.raises(ConfigError, match="needs a value"):
        parse_set("compute.tiles=")


def _write(tmp_path, data, name="hw.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def _gobo_raw():
    return yaml.safe_load((builtin_dir("hwconfigs") / "gobo.yaml").read_text())


def test_all_problems_collected_with_file_and_key(tmp_path):
    raw = _gobo_raw()
    raw["clock_hz"] = 0
    raw["buffers"]["weights"]["capacity_bytes"] = 0
    raw["compute"]["pes_per_tile"] = "many"
    raw["dram"]["chanels"] = 2
    path = _write(tmp_path, raw)
    with pytest.raises(ConfigError) as err:
        load_hardware(str(path))
    problems = [str(p) for p in err.value.problems]
    assert len(problems) == 4, problems
    text = str(err.value)
    assert "hw.yaml: clock_hz: must be > 0, got 0" in text
    assert "buffers.weights.capacity_bytes: must be > 0, got 0" in text
    assert "compute.pes_per_tile: expected an integer, got 'many'" in text
    assert "dram.chanels: unknown key (did you mean 'channels'?)" in text


def test_missing_key_and_version(tmp_path):
    raw = _gobo_raw()
    del raw["clock_hz"]
    raw["version"] = 2
    with pytest.raises(ConfigError) as err:
        load_hardware(str(_write(tmp_path, raw)))
    text = str(err.value)
    assert "clock_hz: missing" in text and "version: must be 1, got 2" in text


def test_semantic_checks(tmp_path):
    raw = _gobo_raw()
    raw["weights"]["format"] = "fp16"
    del raw["buffers"]["outputs"]
    with pytest.raises(ConfigError) as err:
        load_hardware(str(_write(tmp_path, raw)))
    text = str(err.value)
    assert "weights.format: compute.kind gobo computes on GOBO indices" in text
    assert "must define buffer 'outputs'" in text


def test_tile_must_fit_buffer():
    with pytest.raises(ConfigError, match="buffers.weights.capacity_bytes: must hold at least one weight tile"):
        load_hardware("tpu", ["buffers.weights.capacity_bytes=100"])


@pytest.mark.parametrize("content, fragment", [
    ("", "empty file"),
    ("version: 1\n  bad: [", "invalid YAML at line"),
    ("- a\n- b\n", "expected a mapping"),
    (b"\x00\x01\x02binary", "binary"),
    ("x: \xff", None),
])
def test_unreadable_files(tmp_path, content, fragment):
    path = tmp_path / "hw.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="latin-1" if "\xff" in content else "utf-8")
    with pytest.raises(SimInputError) as err:
        load_hardware(str(path))
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    if fragment:
        assert fragment in str(err.value)


def test_unknown_preset_lists_builtins():
    with pytest.raises(SimInputError, match="no built-in hardware preset of that name.*gobo"):
        load_hardware("nope.yaml")
