"""One run, end to end: prepare -> simulate -> functional pass (``sim run``), and the roofline bound.

:func:`run` is what ``sim run`` and every sweep point execute; :func:`run_bound` is the roofline lower bound of
the same run (no simulation), used by the invariant tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from contextlib import nullcontext

from sim.config.hardware import HardwareConfig
from sim.config.loader import to_dict
from sim.engine.roofline import compulsory_traffic, operator_bound
from sim.functional.check import functional_check
from sim.io import check_writable, write_text_atomic
from sim.prepare import PreparedRun, check_functional_size, prepare, resolve_inputs
from sim.progress import step
from sim.quant.synthetic import retain_generated
from sim.results import OpResult, RunResult
from sim.simulate import dram_bytes_per_cycle, simulate, simulate_with_engine, trace_document
from sim.workload.graph import lower
from sim.workload.spec import WorkloadSpec

__all__ = ["run", "run_bound", "run_prepared"]


def run_prepared(prep: PreparedRun, *, functional: bool = True,
                 trace: str | os.PathLike[str] | None = None) -> RunResult:
    """Simulate a prepared run and, with ``functional``, run the design's functional pass on it. ``trace``: also
    write the timeline there as a Chrome trace-event JSON (:mod:`sim.engine.trace`; checked writable first)."""
    if functional:  # before any simulation: a pass that cannot fit is refused at once
        check_functional_size(prep.graph, prep.workload)
    if prep.workload.is_decoder:  # prefill + decode steps
        from sim.generation import run_generation

        if trace:
            check_writable(trace, "trace")
        result = run_generation(prep, trace=trace)
        if functional:
            from sim.functional.decoder_check import decoder_functional_check

            result.functional = decoder_functional_check(prep, result)
        return result
    if trace:
        check_writable(trace, "trace")
        with step("simulate"):
            result, res = simulate_with_engine(prep, trace=True)
        doc = trace_document(prep, result, res)
        write_text_atomic(trace, json.dumps(doc, separators=(",", ":"), allow_nan=False) + "\n")
    else:
        with step("simulate"):
            result = simulate(prep)
    if functional:
        with step("functional pass"):
            result.functional = functional_check(prep)
    return result


def run(hw: str | os.PathLike[str] | HardwareConfig, workload: str | os.PathLike[str] | WorkloadSpec, *,
        seq_len: int | None = None, batch: int | None = None, sets: Iterable[str] = (),
        weights: str | os.PathLike[str] | None = None, functional: bool = True,
        trace: str | os.PathLike[str] | None = None, gen_tokens: int | None = None,
        decode_samples: int | None = None) -> RunResult:
    """Simulate a workload on a design: the run report of ``sim run`` (the functional pass on by default).
    ``trace``: a path for the timeline (Chrome trace-event JSON, ``sim run --trace``), checked before any work.
    Decoder workloads: ``seq_len`` is the prompt length, ``gen_tokens`` the tokens generated after it (the
    prefill, then one decode step each; a trace shows the prefill), ``decode_samples`` the decode steps
    simulated exactly (:mod:`sim.generation`)."""
    check_writable(trace, "trace")
    # with the functional pass, the synthetic weights the quantizer generates (cold cache) are the float model's
    # too: kept for the pass instead of generated twice (same values, see sim.quant.synthetic.retain_generated)
    with retain_generated() if functional and weights is None else nullcontext():
        prep = prepare(hw, workload, seq_len=seq_len, batch=batch, sets=sets, weights=weights,
                       gen_tokens=gen_tokens, decode_samples=decode_samples)
        return run_prepared(prep, functional=functional, trace=trace)


def run_bound(hw: str | os.PathLike[str] | HardwareConfig, workload: str | os.PathLike[str] | WorkloadSpec, *,
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
