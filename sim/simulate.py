"""Simulate a prepared run: map it, run the engine, aggregate the counted actions, price them.

:func:`simulate` is the timing path of ``sim run``: the mapper (:mod:`sim.mapping.plan`) turns the prepared
run's operators into steps, the discrete-event engine (:mod:`sim.engine.des`) times them on the design's
components, and the counted actions are priced by the cost model (:func:`sim.cost.run.price_run`). The result
is a :class:`~sim.results.RunResult` with ``functional`` still None (:mod:`sim.functional.check` fills it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import hashlib
import json
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path

from sim.config.hardware import HardwareConfig
from sim.config.loader import to_dict
from sim.cost.run import price_run
from sim.engine.des import STALL_REASONS, BufferPorts, Engine, EngineResult
from sim.hw import dram as dram_module
from sim.hw.dram import DramModel, DramSpec, dram_spec
from sim.mapping.costs import kernel_costs
from sim.mapping.kvcache import DecoderPlanner
from sim.mapping.plan import Planner, Step
from sim.prepare import PreparedRun
from sim.quant.cache import ArrayStore
from sim.quant.errors import QuantError
from sim.quant.model import QuantizedModel
from sim.results import OpResult, RunResult

__all__ = ["count_actions", "dram_bytes_per_cycle", "engine_for", "map_steps", "simulate", "simulate_steps",
           "simulate_with_engine", "trace_document"]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off inside the block (back on after it, also on an error, if it was on):
    the timing path allocates hundreds of thousands of short-lived objects (steps, simpy events, counts), which
    reference counting frees, and each allocation burst would otherwise start collections that walk every
    tracked object of the process (a sweep worker's caches included). Nothing computed depends on it; the few
    cycles made (finished simpy processes) are collected after the block."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def dram_bytes_per_cycle(hw: HardwareConfig) -> float:
    """Peak DRAM bandwidth in bytes per core clock cycle."""
    spec = dram_spec(hw.dram.kind, channels=hw.dram.channels, mapping=hw.dram.mapping)
    return spec.peak_bytes_per_s / hw.clock_hz


Counts = dict[str, dict[str, int]]


def count_actions(steps: list[Step], unit: str) -> tuple[Counts, dict[str, Counts]]:
    """(run totals, per operator) component -> action -> count over the mapper's steps (DRAM excluded: the
    engine counts it per transfer). ``unit`` names the matrix unit's component."""
    # The same action mapping counted again for the same operator and component (the mapper shares one
    # immutable timing among identical tiles) only raises its multiplicity; the distinct mappings are then
    # added once each, times it, in the order first seen: integer sums with every key inserted where it first
    # occurs, so the same dicts (values and key order) as adding step by step.
    seen: dict[tuple[str, str, int], list] = {}  # (op, comp, id(acts)) -> [op, comp, acts, times], first-seen order

    # A step object that occurs several times in the list (the mapper shares equal steps) is counted once with
    # its multiplicity, at its first occurrence: every mapping it counts was first seen there, so the same order.
    repeats: dict[int, list] = {}  # id(step) -> [step, occurrences], first-occurrence order
    for st in steps:
        known = repeats.get(id(st))
        if known is None:
            repeats[id(st)] = [st, 1]
        else:
            known[1] += 1

    def count(op: str, comp: str, acts: Mapping[str, int], times: int) -> None:
        key = (op, comp, id(acts))
        entry = seen.get(key)
        if entry is None:
            seen[key] = [op, comp, acts, times]
        else:
            entry[3] += times

    for st, times in repeats.values():
        count(st.op, unit if st.unit == "matrix" else "vector", st.compute.actions, times)
        if st.epilogue is not None:
            count(st.op, "vector", st.epilogue.actions, times)
        for comp, acts in st.sram.items():
            count(st.op, comp, acts, times)
        decoded = converted = 0
        for t in st.loads:
            decoded += t.decode_weights
            converted += t.convert_values
        if decoded:
            count(st.op, "decompressor", {"dict_read": decoded, "weights_out": decoded}, times)
        if converted:
            count(st.op, "converter", {"fp32_to_int": converted}, times)
    totals: dict[str, dict[str, int]] = {}
    per_op: dict[str, dict[str, dict[str, int]]] = {}
    for op, comp, acts, times in seen.values():
        ob = per_op.setdefault(op, {}).setdefault(comp, {})
        tb = totals.setdefault(comp, {})
        for k, v in acts.items():
            add = v * times
            ob[k] = ob.get(k, 0) + add
            tb[k] = tb.get(k, 0) + add
    run_totals = {c: {k: int(v) for k, v in a.items() if v} for c, a in totals.items()}
    ops = {o: {c: {k: int(v) for k, v in a.items() if v} for c, a in comps.items()} for o, comps in per_op.items()}
    return run_totals, ops


_DRAM_SUBDIR = "dram"
_DRAM_LOADED: dict[str, int] = {}  # disk entry key -> transfers the model held when last loaded or stored


def _dram_entry_key(spec: DramSpec) -> str:
    blob = json.dumps({"spec": dataclasses.asdict(spec), "code": _dram_code_digest()}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1)
def _dram_code_digest() -> str:
    return hashlib.sha256(Path(dram_module.__file__).read_bytes()).hexdigest()


def _dram_store() -> ArrayStore | None:
    try:
        return ArrayStore(_DRAM_SUBDIR)
    except QuantError:  # an unusable cache directory: no disk cache (the quantization cache reports it)
        return None


def shared_dram(spec: DramSpec) -> DramModel:
    """The process's shared DRAM model of ``spec`` (:meth:`DramModel.shared`), seeded once per process with the
    transfers earlier processes timed on the same spec and the same DRAM model code (a disk cache beside the
    quantized models, ``$GOBOSIM_CACHE_DIR/dram/``): a transfer's timing depends only on those, so a new
    process (``sim run``, a sweep worker) skips re-timing them."""
    model = DramModel.shared(spec)
    key = _dram_entry_key(spec)
    if key not in _DRAM_LOADED:
        store = _dram_store()
        arrays = store.load(key) if store is not None else None
        if arrays is not None:
            try:
                model.remember(arrays["keys"], arrays["values"])
            except (KeyError, ValueError):
                store.remove(key)  # type: ignore[union-attr]
        _DRAM_LOADED[key] = model.remembered
    return model


def persist_dram(model: DramModel) -> None:
    """Write the model's remembered transfers to the disk cache if it learned new ones since loaded or stored."""
    key = _dram_entry_key(model.spec)
    if _DRAM_LOADED.get(key) == model.remembered:
        return
    store = _dram_store()
    if store is None:
        return
    arrays = store.load(key)  # another process may have added transfers meanwhile: keep the union
    if arrays is not None:
        with contextlib.suppress(KeyError, ValueError):
            model.remember(arrays["keys"], arrays["values"])
    with contextlib.suppress(OSError):
        store.store(key, model.memo_arrays())
    _DRAM_LOADED[key] = model.remembered


def engine_for(prep: PreparedRun, steps: list[Step], *, trace: bool = False) -> Engine:
    """The engine of a prepared run's design over a step list (buffers, ports, DRAM, rates from the config)."""
    hw_cfg = prep.hw
    dram = shared_dram(dram_spec(hw_cfg.dram.kind, channels=hw_cfg.dram.channels, mapping=hw_cfg.dram.mapping))
    out_buf = hw_cfg.buffers["outputs"]
    ports = {name: BufferPorts(b.banks, b.port_bytes) for name, b in hw_cfg.buffers.items()}
    return Engine(steps, dram, hw_cfg.clock_hz, hw_cfg.buffers["weights"].capacity_bytes,
                  stage_capacity_bytes=hw_cfg.buffers["activations"].capacity_bytes // 2,
                  output_slots=2 if out_buf.double_buffered else 1,
                  decompress_per_cycle=hw_cfg.weights.decompress_per_cycle,
                  convert_per_cycle=hw_cfg.weights.convert_per_cycle if hw_cfg.weights.format == "gobo" else None,
                  ports=ports, trace=trace)


def map_steps(prep: PreparedRun) -> tuple[Planner, list, list[Step]]:
    """The mapper's plans and the global step order of a prepared run."""
    costs = kernel_costs(prep.hw.vector.kernels)
    planner: Planner
    if prep.graph.phase:  # a decoder phase: its KV cache too, placed for the whole run's context
        planner = DecoderPlanner(prep.graph, prep.unit, prep.hw, prep.weight_sources, costs,
                                 run_workload=prep.workload)
    else:
        planner = Planner(prep.graph, prep.unit, prep.hw, prep.weight_sources, costs)
    plans = planner.plan()
    return planner, plans, planner.order(plans)


def simulate(prep: PreparedRun) -> RunResult:
    """Map and simulate one prepared run (timing, DRAM traffic, actions, energy and area; no functional pass)."""
    return simulate_with_engine(prep)[0]


def simulate_with_engine(prep: PreparedRun, *, trace: bool = False) -> tuple[RunResult, EngineResult]:
    """:func:`simulate`, also returning the engine's own result; ``trace``: the engine keeps the timeline
    (``EngineResult.spans`` and ``counters``; :func:`sim.engine.trace.chrome_trace` turns it into the file
    ``sim run --trace`` writes). The timeline never changes the timing."""
    result, res, _ = simulate_steps(prep, trace=trace)
    return result, res


def simulate_steps(prep: PreparedRun, *, trace: bool = False) -> tuple[RunResult, EngineResult, list[Step]]:
    """:func:`simulate_with_engine`, also returning the mapper's steps (their transfers say what each DRAM byte
    is: weights, activations, KV cache, ...)."""
    hw_cfg, wl, unit = prep.hw, prep.workload, prep.unit
    with collector_paused():  # mapping, engine and counting allocate many short-lived objects, few cycles
        _, plans, steps = map_steps(prep)
        engine = engine_for(prep, steps, trace=trace)
        res = engine.run()
        step_actions, per_op_actions = count_actions(steps, unit.kind)
    persist_dram(engine.dram_model)
    step_actions["dram"] = {k: v for k, v in res.dram_actions.items() if v}
    ops = []
    for p in plans:
        op = p.op
        st = res.ops.get(op.name)
        stalls = {k: v for k, v in (st.stalls.items() if st else ()) if v}
        unit_cycles = st.compute_cycles if st else 0
        compute = p.gemm_cycles if (p.gemm_cycles is not None and st) else unit_cycles
        ops.append(OpResult(
            name=op.name, layer=op.layer, kind=op.kind, cycles=st.cycles if st else 0,
            compute_cycles=compute, mapping_overhead_cycles=unit_cycles - compute,
            stall_cycles=sum(stalls.values()),
            macs=op.macs, dram_read_bytes=st.dram_read_bytes if st else 0,
            dram_write_bytes=st.dram_write_bytes if st else 0,
            m=op.m if op.is_matmul else None, k=op.k if op.is_matmul else None,
            n=op.n if op.is_matmul else None, count=op.count if op.is_matmul else None, stage=op.stage,
            stall_breakdown_cycles=stalls, mapping=p.mapping, vector_cycles=st.vector_cycles if st else 0,
            fused_into=p.fused_into, actions=per_op_actions.get(op.name, {})))
    peak = hw_cfg.peak_macs_per_cycle
    macs = prep.graph.total_macs()
    stall_total = {r: sum(o.stall_breakdown_cycles.get(r, 0) for o in ops) for r in STALL_REASONS}
    notes = []
    if prep.qmodel is not None:
        rep = _quant_summary(prep.qmodel)
        notes.append(f"GOBO weights: {rep['bits_per_weight']:.3f} bits/weight "
                     f"({'checkpoint' if prep.checkpoint is not None else 'seeded synthetic weights'}), "
                     f"outlier fraction {rep['outlier_fraction']:.5f}")
    result = RunResult(
        hw=hw_cfg.name, workload=wl.name, seq_len=wl.seq_len, batch=wl.batch, clock_hz=hw_cfg.clock_hz,
        cycles=res.cycles, seconds=res.cycles / hw_cfg.clock_hz, energy_pj=None, energy_breakdown_pj=None,
        dram_read_bytes=sum(o.dram_read_bytes for o in ops), dram_write_bytes=sum(o.dram_write_bytes for o in ops),
        area_mm2=None, area_breakdown_mm2=None, utilization=macs / (res.cycles * peak) if res.cycles else 0.0,
        stall_breakdown_cycles=stall_total, ops=ops, functional=None,
        config={"hw": to_dict(hw_cfg), "workload": to_dict(wl)}, peak_macs_per_cycle=peak,
        dram_bytes_per_cycle=dram_bytes_per_cycle(hw_cfg), actions=step_actions, timing_model="simulated",
        notes=notes, events=res.events, weights_source=prep.weights_source,
        mapping_overhead_cycles=sum(o.mapping_overhead_cycles for o in ops))
    return price_run(result, hw_cfg), res, steps


_QUANT_SUMMARY: weakref.WeakKeyDictionary[QuantizedModel, dict[str, float]] = weakref.WeakKeyDictionary()


def _quant_summary(qmodel: QuantizedModel) -> dict[str, float]:
    """The two figures of a quantized model's report the run's notes state, computed once per (immutable)
    quantized model object: every sweep point on the same weights shares the in-process model."""
    known = _QUANT_SUMMARY.get(qmodel)
    if known is None:
        rep = qmodel.report()
        known = _QUANT_SUMMARY[qmodel] = {"bits_per_weight": float(rep["bits_per_weight"]),  # type: ignore[arg-type]
                                          "outlier_fraction": float(rep["outlier_fraction"])}  # type: ignore[arg-type]
    return known


def trace_document(prep: PreparedRun, result: RunResult, res: EngineResult) -> dict:
    """The Chrome trace-event document of a traced run (see :mod:`sim.engine.trace`)."""
    from sim.engine.trace import chrome_trace

    hw_cfg = prep.hw
    dram = dram_spec(hw_cfg.dram.kind, channels=hw_cfg.dram.channels, mapping=hw_cfg.dram.mapping)
    return chrome_trace(res, clock_hz=hw_cfg.clock_hz, dram=dram,
                        title=f"{result.hw} on {result.workload} (seq {result.seq_len}, batch {result.batch})",
                        meta={"hw": result.hw, "workload": result.workload, "seq_len": result.seq_len,
                              "batch": result.batch, "version": result.version})
