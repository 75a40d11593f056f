"""A compute kind registered at run time (in this test only) goes through run, compare, area, price and a sweep.

The toy kind is a dense int8 MAC array with ``lanes`` MACs per cycle and a fixed pipeline latency. Nothing
outside this file and the registry knows it exists: if any layer still branched on the built-in kinds'
names, one of these runs would fail.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import yaml

from sim import api
from sim.cli import main
from sim.compute import registry
from sim.compute.base import ComputeConfig, ComputeKind, MatrixUnit, split_rows
from sim.config.loader import load_hardware
from sim.config.schema import spec_field
from sim.cost.components import logic_model, parts_um2
from sim.hw.timing import TileTiming


@dataclass(frozen=True, kw_only=True)
class ToyCompute(ComputeConfig):
    """A dense int8 MAC array (test only)."""

    kind: str = spec_field(doc="compute kind", choices=("toy",))
    lanes: int = spec_field(doc="int8 MACs per cycle", ge=1, le=1 << 20)
    latency_cycles: int = spec_field(3, doc="pipeline latency in cycles", ge=0)

    def peak_macs_per_cycle(self) -> int:
        return self.lanes


class ToyUnit(MatrixUnit):
    kind = "toy"
    act_bytes = 1
    weight_bytes = 1
    n_granule = 8
    k_granule = 1
    chunk_wave = 8
    matmul_unit = "toy lanes"

    def __init__(self, c: ToyCompute) -> None:
        self.c = c

    def dense_timing(self, M: int, K: int, N: int) -> TileTiming:
        macs = M * K * N
        return TileTiming(math.ceil(macs / self.c.lanes) + self.c.latency_cycles, {"mac_int8": macs})

    def sub_tiles(self, M: int, N: int) -> list[tuple[int, int, int, int]]:
        return split_rows(M, N, 1)

    def gemm_sram_reads(self, w_chunk_bytes: int, M: int, K: int, N: int, tile: Any = None) -> tuple[int, int]:
        return w_chunk_bytes, M * K


class ToyDatapath:
    name = "toy"
    key: tuple[Any, ...] = ("toy",)

    def linear(self, x: np.ndarray, lin: Any, in_bits: int) -> tuple[np.ndarray, str]:
        # the toy array accumulates in int64 column by column: a different algorithm from int_gemm's BLAS blocks
        w = lin.matrix_nk().astype(np.int64)
        return np.einsum("mk,nk->mn", x.astype(np.int64), w), "toy-lanes"

    def bmm(self, a: np.ndarray, b: np.ndarray, in_bits: int) -> np.ndarray | None:
        return None


class ToyKind(ComputeKind):
    name = "toy"
    config = ToyCompute
    actions = ("mac_int8",)
    weight_formats: ClassVar[dict[str, str]] = {"int8": "native"}
    operand_bits = 8

    def min_weight_tile_bytes(self, hw: Any) -> int:
        return 8

    def unit(self, hw: Any) -> ToyUnit:
        return ToyUnit(hw.compute)

    def estimator(self, hw: Any, tech: Any) -> Any:
        e = tech.energy_pj
        block = parts_um2(tech, {"mac": ("mac_int8_acc32", 1)}, {"registers": 48})
        return logic_model("toy", "compute", tech, {"mac_int8": e("mac_int8_acc32")},
                           {"mac_int8": "energy.mac_int8_acc32"}, [("lane", hw.compute.lanes, block)])

    def size(self, compute: ComputeConfig) -> int:
        assert isinstance(compute, ToyCompute)
        return compute.lanes

    def with_size(self, compute: ComputeConfig, size: int) -> ComputeConfig:
        return self.replace(compute, lanes=size)

    def datapath(self, hw: Any) -> ToyDatapath:
        return ToyDatapath()


@pytest.fixture(scope="module")
def toy_hw(tmp_path_factory):
    registry.register(ToyKind())
    d = tmp_path_factory.mktemp("toy")
    raw = yaml.safe_load(Path(load_hardware_path("tpu")).read_text())
    raw["name"] = "toy"
    raw["compute"] = {"kind": "toy", "lanes": 2048}
    path = d / "toy.yaml"
    path.write_text(yaml.safe_dump(raw))
    yield path
    registry.unregister("toy")


def load_hardware_path(name: str) -> str:
    from sim.config.files import resolve

    return str(resolve(name, "hwconfigs", "hardware preset"))


def test_registration_rules():
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.get_kind("gobo"))
    with pytest.raises(TypeError):
        registry.register(object())  # type: ignore[arg-type]


def test_run_with_functional_pass(toy_hw):
    r = api.run(str(toy_hw), "tiny")
    assert r.hw == "toy" and r.cycles > 0 and r.peak_macs_per_cycle == 2048
    assert "toy" in r.actions and r.actions["toy"]["mac_int8"] == sum(o.macs for o in r.ops)
    assert r.functional is not None and r.functional.checked is True and r.functional.engine == "toy"
    assert r.energy_breakdown_pj is not None and r.energy_breakdown_pj["compute"] > 0
    gemm = next(o for o in r.ops if o.kind == "gemm" and o.compute_cycles)
    assert gemm.compute_cycles >= math.ceil(gemm.macs / 2048)


def test_validation_knows_the_toy_kind(toy_hw, capsys):
    assert load_hardware(str(toy_hw)).compute.kind == "toy"
    assert main(["validate", "--hw", str(toy_hw), "--set", "compute.lanes=0"]) == 2  # the CLI, in this process
    err = capsys.readouterr().err
    assert "compute.lanes: must be >= 1" in err and len(err.strip().splitlines()) == 1


def test_compare_area_price_and_iso(toy_hw, tmp_path):
    rep = api.compare("tiny", [str(toy_hw), "tpu"], iso="peak")
    assert [d.hw for d in rep.designs] == ["toy", "tpu"]
    assert rep.designs[1].peak_macs_per_cycle == pytest.approx(2048, rel=0.05)
    rep = api.compare("tiny", ["tpu", str(toy_hw)], iso="area")
    assert rep.designs[1].area_mm2 == pytest.approx(rep.designs[0].area_mm2, rel=0.1)
    a = api.area(str(toy_hw))
    assert a.area_breakdown_mm2["toy"] > 0 and any(k.startswith("toy.lane.") for k in a.area_detail_mm2)
    out = tmp_path / "r.json"
    assert main(["run", "--hw", str(toy_hw), "--workload", "tiny", "--no-functional", "--json", str(out)]) == 0
    priced = api.price(out, node_nm=28)
    assert priced.cycles == json.loads(out.read_text())["cycles"]
    assert priced.energy_pj is not None and priced.energy_pj < json.loads(out.read_text())["energy_pj"]


def test_two_point_sweep(toy_hw, tmp_path):
    spec = {"version": 1, "name": "toy", "base": {"hw": str(toy_hw), "workload": "tiny"},
            "axes": {"compute.lanes": [512, 4096]}}
    df = api.sweep(spec, tmp_path / "out", workers=1, progress=False)
    assert list(df["status"]) == ["ok", "ok"]
    slow, fast = df["cycles"]
    assert slow > fast
