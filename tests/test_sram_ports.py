"""SRAM port time (the ``sram_port`` stall) on every preset: narrow ports slow a run, and at the presets' own
port widths the stall is what the port bound gives, recomputed here from the steps' bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.compute.systolic.timing import SystolicParams
from sim.compute.systolic.unit import SystolicUnit
from sim.prepare import prepare
from sim.simulate import map_steps

PRESETS = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "hwconfigs").glob("*.yaml"))
BUFFERS = ("weights", "activations", "outputs")


def narrow(banks: int, port_bytes: int) -> list[str]:
    """--set overrides giving every buffer ``banks`` banks of ``port_bytes`` bytes per cycle (itrs-hp cells, whose
    large banks still cycle at the presets' 1 GHz, so the bank clock check accepts them; cells change no timing)."""
    return [s for b in BUFFERS for s in (f"buffers.{b}.banks={banks}", f"buffers.{b}.port_bytes={port_bytes}",
                                         f"buffers.{b}.cell=itrs-hp")]


def port_bound(ports: dict[str, tuple[int, int]], hw: object) -> int:
    """Cycles the buffers' ports need for one step, written out from the bytes: every buffer serves its reads and
    its writes in accesses of at most ``port_bytes``, ``banks`` accesses per cycle; the slowest buffer decides."""
    worst = 0
    for name, (read, write) in ports.items():
        buf = hw.buffers[name]  # type: ignore[attr-defined]
        accesses = 0
        for nbytes in (read, write):
            full, rest = divmod(nbytes, buf.port_bytes)
            accesses += full + (1 if rest else 0)
        cycles, rest = divmod(accesses, buf.banks)
        worst = max(worst, cycles + (1 if rest else 0))
    return worst


def test_presets_found() -> None:
    assert {"gobo", "tpu", "tcore", "gobo-compress-tpu", "gobo-compress-tcore"} <= set(PRESETS)


@pytest.mark.parametrize("preset", PRESETS)
def test_one_byte_ports_slow_every_preset(preset: str) -> None:
    base = sim.run(preset, "tiny", functional=False)
    slow = sim.run(preset, "tiny", sets=narrow(1, 1), functional=False)
    assert slow.cycles > base.cycles
    assert slow.stall_breakdown_cycles["sram_port"] > 0
    assert slow.stall_breakdown_cycles["sram_port"] > base.stall_breakdown_cycles.get("sram_port", 0)


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("sets", [(), tuple(narrow(2, 2))], ids=["preset-ports", "narrow-ports"])
def test_stall_is_the_port_bound(preset: str, sets: tuple[str, ...]) -> None:
    """The run's sram_port stall = sum over steps of (port bound - unit cycles) where the bound is longer."""
    prep = prepare(preset, "tiny", sets=sets)
    _, _, steps = map_steps(prep)
    expected = sum(max(0, port_bound(dict(s.ports), prep.hw) - s.compute.cycles) for s in steps)
    res = sim.run(preset, "tiny", sets=sets, functional=False)
    assert res.stall_breakdown_cycles.get("sram_port", 0) == expected
    if sets:
        assert expected > 0  # the narrowed case exercises the bound
    # one matrix step by hand: the bytes the mapper gives its ports are the unit's reads and the output writes
    step = next(s for s in steps if s.unit == "matrix" and s.ports.get("weights", (0, 0))[0])
    assert step.ports["weights"][0] == step.sram["sram.weights"]["read_bytes"]
    assert step.ports["activations"][0] == step.sram["sram.activations"]["read_bytes"]


def test_systolic_edge_reads() -> None:
    """ws: the array edge takes one R-byte activation vector per streamed row and fold of N, and each stationary
    weight once; is/os move the re-reads to the operand they stream."""
    M, K, N = 100, 130, 70  # folds: ceil(K/R)=3, ceil(N/C)=2, ceil(M/C)=2, ceil(M/R)=2 for a 64x64 array
    w = K * N
    ws = SystolicUnit(SystolicParams(64, 64, "ws"))
    assert ws.gemm_sram_reads(w, M, K, N) == (w, M * K * 2)
    assert ws.dense_sram_reads(M, K, N) == w + M * K * 2
    assert SystolicUnit(SystolicParams(64, 64, "is")).gemm_sram_reads(w, M, K, N) == (w * 2, M * K)
    assert SystolicUnit(SystolicParams(64, 64, "os")).gemm_sram_reads(w, M, K, N) == (w * 2, M * K * 2)


def test_systolic_port_binds_below_the_edge_rate() -> None:
    """On the TPU-like preset (64 rows, 1-byte activations) a ws weight GEMM step streams M rows per fold at one
    64-byte vector a cycle; an activation buffer narrower than what the step averages makes the step
    port-bound, a wider one leaves it compute-bound."""
    prep = prepare("tpu", "tiny", seq_len=64)
    _, _, steps = map_steps(prep)
    step = max((s for s in steps if s.unit == "matrix" and s.work is not None and s.work.kind == "weight-gemm"),
               key=lambda s: s.compute.cycles)
    read = step.ports["activations"][0]
    assert read == step.work.m * step.work.k * -(-step.work.n // 64)  # type: ignore[union-attr]
    avg = read / step.compute.cycles  # bytes per cycle the step's stream averages (<= 64, the edge)
    assert 0 < avg <= 64
    for port_bytes, binds in ((max(1, int(avg) // 2), True), (64, False)):
        # one 1 MiB bank: hp cells and a 400 MHz clock, at which CACTI's bank cycles (the bound is in cycles)
        sets = ("buffers.activations.banks=1", f"buffers.activations.port_bytes={port_bytes}",
                "buffers.activations.cell=itrs-hp", "clock_hz=4e8")
        bound = port_bound({"activations": step.ports["activations"]}, prepare("tpu", "tiny", sets=sets).hw)
        assert (bound > step.compute.cycles) is binds
