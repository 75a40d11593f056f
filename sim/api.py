"""The Python API: everything the CLI does, as functions returning result objects."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

from sim.config.hardware import HardwareConfig
from sim.config.loader import load_hardware, to_dict
from sim.engine.roofline import operator_bound
from sim.hw.dram import dram_spec
from sim.mapping.weights import EMBEDDING_TYPES, stored_bytes
from sim.results import OpResult, RunResult
from sim.workload.graph import OperatorGraph, lower
from sim.workload.loader import load_workload
from sim.workload.spec import WorkloadSpec


def resolve_inputs(hw: str | Path | HardwareConfig, workload: str | Path | WorkloadSpec, *,
                   seq_len: int | None = None, batch: int | None = None,
                   sets: Iterable[str] = ()) -> tuple[HardwareConfig, WorkloadSpec]:
    """Load (or pass through) the hardware and workload specs, applying overrides."""
    hw_cfg = hw if isinstance(hw, HardwareConfig) else load_hardware(hw, sets)
    if isinstance(workload, WorkloadSpec):
        wl = workload.with_overrides(seq_len, batch)
    else:
        wl = load_workload(workload, seq_len=seq_len, batch=batch)
    return hw_cfg, wl


def dram_bytes_per_cycle(hw: HardwareConfig) -> float:
    """Peak DRAM bandwidth in bytes per core clock cycle."""
    spec = dram_spec(hw.dram.kind, channels=hw.dram.channels)
    return spec.peak_bytes_per_s / hw.clock_hz


def compulsory_traffic(graph: OperatorGraph, hw: HardwareConfig,
                       packed_bytes: dict[str, int] | None = None) -> dict[str, tuple[int, int]]:
    """Per operator (read, write) bytes that any schedule must move: weights once, gathered embedding rows,
    the final output. Intermediate activations are assumed on chip."""
    sizes = stored_bytes(graph, hw, packed_bytes)
    w = graph.workload
    traffic = {op.name: (0, 0) for op in graph.ops}
    for op in graph.ops:
        if op.weight is not None:
            bias = op.weight.name.replace(".weight", ".bias")
            traffic[op.name] = (sizes[op.weight.name] + sizes.get(bias, 0), 0)
    gather = next((op for op in graph.ops if op.kind == "gather"), None)
    if gather is not None:
        rows = 0
        for t in graph.tensors:
            if t.tensor_type in EMBEDDING_TYPES:
                per_row = sizes[t.name] / t.shape[0]
                rows += math.ceil(per_row * (w.tokens if t.tensor_type != "type_emb" else w.batch))
        traffic[gather.name] = (rows + w.tokens * 4, 0)  # + int32 token ids
    last = graph.ops[-1]
    read, write = traffic[last.name]
    traffic[last.name] = (read, write + last.out_bytes)
    return traffic


def run_bound(hw: str | Path | HardwareConfig, workload: str | Path | WorkloadSpec, *,
              seq_len: int | None = None, batch: int | None = None, sets: Iterable[str] = ()) -> RunResult:
    """The roofline lower bound of a run (max of compute- and bandwidth-bound cycles per operator)."""
    hw_cfg, wl = resolve_inputs(hw, workload, seq_len=seq_len, batch=batch, sets=sets)
    graph = lower(wl)
    bpc = dram_bytes_per_cycle(hw_cfg)
    peak = hw_cfg.peak_macs_per_cycle
    traffic = compulsory_traffic(graph, hw_cfg)
    ops = []
    for op in graph.ops:
        read, write = traffic[op.name]
        b = operator_bound(op, peak_macs_per_cycle=peak, vector_lanes=hw_cfg.vector.lanes,
                           dram_bytes_per_cycle=bpc, read_bytes=read, write_bytes=write)
        stall = b.cycles - b.compute_cycles
        ops.append(OpResult(
            name=op.name, layer=op.layer, kind=op.kind, cycles=b.cycles, compute_cycles=b.compute_cycles,
            stall_cycles=stall, macs=op.macs, dram_read_bytes=read, dram_write_bytes=write,
            m=op.m if op.is_matmul else None, k=op.k if op.is_matmul else None,
            n=op.n if op.is_matmul else None, count=op.count if op.is_matmul else None, stage=op.stage,
            stall_breakdown_cycles={"dram_bandwidth": stall} if stall else {}))
    cycles = sum(o.cycles for o in ops)
    macs = graph.total_macs()
    notes = ["roofline lower bound per operator, not a simulation: compute at peak, compulsory DRAM traffic "
             "at peak bandwidth, activations assumed on chip"]
    if hw_cfg.weights.format == "gobo":
        notes.append("GOBO weight bytes are indices + dictionaries only (outliers not yet counted)")
    return RunResult(
        hw=hw_cfg.name, workload=wl.name, seq_len=wl.seq_len, batch=wl.batch, clock_hz=hw_cfg.clock_hz,
        cycles=cycles, seconds=cycles / hw_cfg.clock_hz, energy_pj=None, energy_breakdown_pj=None,
        dram_read_bytes=sum(o.dram_read_bytes for o in ops), dram_write_bytes=sum(o.dram_write_bytes for o in ops),
        area_mm2=None, area_breakdown_mm2=None,
        utilization=macs / (cycles * peak) if cycles else 0.0,
        stall_breakdown_cycles={"dram_bandwidth": sum(o.stall_cycles for o in ops)},
        ops=ops, functional=None, config={"hw": to_dict(hw_cfg), "workload": to_dict(wl)},
        peak_macs_per_cycle=peak, dram_bytes_per_cycle=bpc, actions={}, timing_model="roofline-bound",
        notes=notes)
