"""The Python API: everything the CLI does, as functions returning result objects."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from sim.config.hardware import HardwareConfig
from sim.config.loader import load_hardware, to_dict
from sim.engine.des import STALL_REASONS, Engine
from sim.engine.roofline import operator_bound
from sim.errors import SimInputError
from sim.hw.dram import DramModel, dram_spec
from sim.mapping.costs import kernel_costs
from sim.mapping.design import design_of
from sim.mapping.plan import Planner, WeightSource, dense_source, gobo_source
from sim.mapping.weights import EMBEDDING_TYPES, stored_bytes, tensor_format
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


_ELEM = {"int8": 1, "fp16": 2, "int32": 4, "fp32": 4}


def gobo_params(hw: HardwareConfig):
    """The quantization parameters of a design (sim.quant.GoboParams)."""
    from sim.quant import GoboParams

    w = hw.weights
    return GoboParams(bits=w.bits, embedding_bits=w.embedding_bits, outlier_threshold=w.outlier_threshold,
                      quantize_embeddings=w.quantize_embeddings)


def quantize_for(graph: OperatorGraph, hw: HardwareConfig, weights: str | Path | None = None):
    """The GOBO-quantized model of a workload: from a safetensors checkpoint, or seeded synthetic weights."""
    from sim.quant import QuantError, quantize_checkpoint, quantize_synthetic

    params = gobo_params(hw)
    try:
        if weights is not None:
            return quantize_checkpoint(str(weights), params, workers=2)
        return quantize_synthetic(synthetic_shapes(graph), params, seed=hw.weights.seed, workers=2)
    except QuantError as exc:
        raise SimInputError(str(exc)) from None


def weight_sources(graph: OperatorGraph, hw: HardwareConfig, qmodel=None) -> dict[str, WeightSource]:
    """Per parameter tensor: its off-chip and on-chip sizes per chunk (and outlier layout for GOBO)."""
    design = design_of(hw)
    onchip = None if design.gobo is not None else float(design.weight_bytes)
    out = {}
    for t in graph.tensors:
        if len(t.shape) < 2:
            continue
        rows, cols = t.shape[0], int(math.prod(t.shape[1:]))
        fmt = tensor_format(t, hw)
        packed = qmodel.packed.get(t.name) if (qmodel is not None and fmt == "gobo") else None
        if packed is not None:
            out[t.name] = gobo_source(packed, onchip)
        else:
            off = _ELEM["fp32" if fmt == "gobo" else fmt]
            out[t.name] = dense_source(rows, cols, off, design.weight_bytes if onchip is not None else off)
    return out


def simulate(hw_cfg: HardwareConfig, wl: WorkloadSpec, qmodel=None) -> RunResult:
    """Map and simulate one workload on one design (timing only); see :func:`run` for the full run."""
    graph = lower(wl)
    design = design_of(hw_cfg)
    if qmodel is None and hw_cfg.weights.format == "gobo":
        qmodel = quantize_for(graph, hw_cfg)
    planner = Planner(graph, design, weight_sources(graph, hw_cfg, qmodel), kernel_costs(hw_cfg.vector.kernels))
    plans = planner.plan()
    steps = planner.order(plans)
    dram = DramModel(dram_spec(hw_cfg.dram.kind, channels=hw_cfg.dram.channels))
    out_buf = hw_cfg.buffers["outputs"]
    engine = Engine(steps, dram, hw_cfg.clock_hz, hw_cfg.buffers["weights"].capacity_bytes,
                    output_slots=2 if out_buf.double_buffered else 1,
                    decompress_per_cycle=hw_cfg.weights.decompress_per_cycle)
    res = engine.run()
    unit = design.kind
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    per_op: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))

    def count(op: str, comp: str, acts) -> None:
        bucket, total = per_op[op][comp], totals[comp]
        for k, v in acts.items():
            bucket[k] += v
            total[k] += v

    for st in steps:
        count(st.op, unit if st.unit == "matrix" else "vector", st.compute.actions)
        if st.epilogue is not None:
            count(st.op, "vector", st.epilogue.actions)
        for comp, acts in st.sram.items():
            count(st.op, comp, acts)
        decoded = sum(t.decode_weights for t in st.loads)
        if decoded:
            count(st.op, "decompressor", {"dict_read": decoded, "weights_out": decoded})
    step_actions = {c: {k: int(v) for k, v in a.items() if v} for c, a in totals.items()}
    per_op_actions = {o: {c: {k: int(v) for k, v in a.items() if v} for c, a in comps.items()}
                      for o, comps in per_op.items()}
    step_actions["dram"] = {k: v for k, v in res.dram_actions.items() if v}
    ops = []
    for p in plans:
        op = p.op
        st = res.ops.get(op.name)
        stalls = {k: v for k, v in (st.stalls.items() if st else ()) if v}
        ops.append(OpResult(
            name=op.name, layer=op.layer, kind=op.kind, cycles=st.cycles if st else 0,
            compute_cycles=st.compute_cycles if st else 0, stall_cycles=sum(stalls.values()),
            macs=op.macs, dram_read_bytes=st.dram_read_bytes if st else 0,
            dram_write_bytes=st.dram_write_bytes if st else 0,
            m=op.m if op.is_matmul else None, k=op.k if op.is_matmul else None,
            n=op.n if op.is_matmul else None, count=op.count if op.is_matmul else None, stage=op.stage,
            stall_breakdown_cycles=stalls, mapping=p.mapping, vector_cycles=st.vector_cycles if st else 0,
            fused_into=p.fused_into, actions=per_op_actions.get(op.name, {})))
    peak = hw_cfg.peak_macs_per_cycle
    macs = graph.total_macs()
    stall_total = {r: sum(o.stall_breakdown_cycles.get(r, 0) for o in ops) for r in STALL_REASONS}
    notes = []
    if qmodel is not None:
        notes.append(f"GOBO weights: {qmodel.report()['bits_per_weight']:.3f} bits/weight "
                     f"({'checkpoint' if getattr(qmodel, 'source', None) else 'seeded synthetic weights'}), "
                     f"outlier fraction {qmodel.report()['outlier_fraction']:.5f}")
    result = RunResult(
        hw=hw_cfg.name, workload=wl.name, seq_len=wl.seq_len, batch=wl.batch, clock_hz=hw_cfg.clock_hz,
        cycles=res.cycles, seconds=res.cycles / hw_cfg.clock_hz, energy_pj=None, energy_breakdown_pj=None,
        dram_read_bytes=sum(o.dram_read_bytes for o in ops), dram_write_bytes=sum(o.dram_write_bytes for o in ops),
        area_mm2=None, area_breakdown_mm2=None, utilization=macs / (res.cycles * peak) if res.cycles else 0.0,
        stall_breakdown_cycles=stall_total, ops=ops, functional=None,
        config={"hw": to_dict(hw_cfg), "workload": to_dict(wl)}, peak_macs_per_cycle=peak,
        dram_bytes_per_cycle=dram_bytes_per_cycle(hw_cfg), actions=step_actions, timing_model="simulated",
        notes=notes, events=res.events)
    return price_result(result, hw_cfg)


def price_result(result: RunResult, hw_cfg: HardwareConfig, *, table: str | Path | None = None,
                 node_nm: int | None = None) -> RunResult:
    """Fill a result's energy (action counts x energy per action + leakage x time) and area fields."""
    from sim.cost import area, price, price_ops

    e = price(result.actions, hw_cfg, result.seconds, table=table, node_nm=node_nm)
    a = area(hw_cfg, table=table, node_nm=node_nm)
    result.energy_pj = e.energy_pj
    result.energy_breakdown_pj = dict(e.breakdown_pj)
    result.energy_by_component_pj = dict(e.by_component_pj)
    result.energy_by_action_pj = {c: dict(v) for c, v in e.by_action_pj.items()}
    result.leakage_mw = e.leakage_mw
    result.area_mm2 = a.area_mm2
    result.area_breakdown_mm2 = dict(a.breakdown_mm2)
    result.area_detail_mm2 = dict(a.detail_mm2)
    result.tech = {"table": e.table, "table_path": e.table_path, "node_nm": e.node_nm}
    for op, oe in zip(result.ops, price_ops(result.ops, hw_cfg, e), strict=True):
        op.energy_pj = oe.energy_pj
        op.energy_breakdown_pj = dict(oe.breakdown_pj)
    return result


def run(hw: str | Path | HardwareConfig, workload: str | Path | WorkloadSpec, *, seq_len: int | None = None,
        batch: int | None = None, sets: Iterable[str] = (), weights: str | Path | None = None,
        functional: bool = False) -> RunResult:
    """Simulate a workload on a design: the run report of ``sim run``."""
    hw_cfg, wl = resolve_inputs(hw, workload, seq_len=seq_len, batch=batch, sets=sets)
    qmodel = None
    if hw_cfg.weights.format == "gobo" or weights is not None and functional:
        qmodel = quantize_for(lower(wl), hw_cfg, weights) if hw_cfg.weights.format == "gobo" else None
    result = simulate(hw_cfg, wl, qmodel)
    if functional:
        from sim.functional.check import functional_check

        result.functional = functional_check(hw_cfg, wl, qmodel, weights)
    return result


def quantize(workload: str | Path | WorkloadSpec | None = None, *, weights: str | Path | None = None,
             bits: int = 3, embedding_bits: int = 4, outlier_threshold: float = -4.0, seed: int = 0):
    """GOBO-quantize a checkpoint, or the seeded synthetic weights of a workload; returns the QuantizedModel."""
    from sim.quant import GoboParams, QuantError, quantize_checkpoint, quantize_synthetic

    try:
        params = GoboParams(bits=bits, embedding_bits=embedding_bits, outlier_threshold=outlier_threshold)
        if weights is not None:
            return quantize_checkpoint(str(weights), params, workers=2)
        if workload is None:
            raise SimInputError("quantize: give --workload (synthetic weights) or --weights FILE.safetensors")
        wl = workload if isinstance(workload, WorkloadSpec) else load_workload(workload)
        return quantize_synthetic(synthetic_shapes(lower(wl)), params, seed=seed, workers=2)
    except QuantError as exc:
        raise SimInputError(str(exc)) from None


def synthetic_shapes(graph: OperatorGraph) -> dict[str, tuple[tuple[int, ...], str]]:
    """name -> (shape, kind) of the tensors the synthetic generator can make for a graph."""
    from sim.quant import classify_tensor

    shapes = {}
    for t in graph.tensors:
        info = classify_tensor(t.name)
        if info is not None and info.kind not in ("head", "buffer"):
            shapes[t.name] = (t.shape, info.kind)
    return shapes


def tensor_values(name: str, *, weights: str | Path | None = None, workload=None, seed: int = 0):
    """The float values of one tensor: read from the checkpoint, or regenerated from the synthetic seed."""
    from sim.quant import read_safetensors, synthetic_tensor

    if weights is not None:
        found = read_safetensors(str(weights))
        for key in (name, f"bert.{name}", f"roberta.{name}"):
            if key in found:
                return found[key]
        raise SimInputError(f"{weights}: no tensor named {name!r}")
    wl = workload if isinstance(workload, WorkloadSpec) else load_workload(workload)
    shapes = synthetic_shapes(lower(wl))
    if name not in shapes:
        raise SimInputError(f"--tensor {name}: not a quantizable tensor of {wl.name}")
    shape, kind = shapes[name]
    return synthetic_tensor(name, shape, kind, seed)


def scale_compute(hw_cfg: HardwareConfig, target_peak: float) -> HardwareConfig:
    """A copy of ``hw_cfg`` whose compute array is resized so its peak MACs/cycle is as close to ``target_peak``
    as the array's granularity allows: GOBO tiles, tensor-core units, or the square systolic side."""
    import dataclasses

    c = hw_cfg.compute
    per_unit = {"gobo": c.peak_macs_per_cycle() / getattr(c, "tiles", 1),
                "tensorcore": c.peak_macs_per_cycle() / getattr(c, "units", 1)}
    if c.kind == "gobo":
        new = dataclasses.replace(c, tiles=max(1, round(target_peak / per_unit["gobo"])))
    elif c.kind == "tensorcore":
        new = dataclasses.replace(c, units=max(1, round(target_peak / per_unit["tensorcore"])))
    else:
        side = max(1, round(math.sqrt(target_peak * c.rows / c.cols)))
        new = dataclasses.replace(c, rows=side, cols=max(1, round(target_peak / side)))
    return dataclasses.replace(hw_cfg, compute=new)


def area_of(hw_cfg: HardwareConfig) -> float:
    """Total area (mm^2) of a design from the area model."""
    from sim.cost import area

    return area(hw_cfg).area_mm2


def _with_size(hw_cfg: HardwareConfig, size: int) -> HardwareConfig:
    """The design with its compute array set to ``size`` (GOBO tiles, tensor-core units, systolic side)."""
    import dataclasses

    c = hw_cfg.compute
    if c.kind == "gobo":
        new = dataclasses.replace(c, tiles=size)
    elif c.kind == "tensorcore":
        new = dataclasses.replace(c, units=size)
    else:
        new = dataclasses.replace(c, rows=size, cols=max(1, round(size * c.cols / c.rows)))
    return dataclasses.replace(hw_cfg, compute=new)


def scale_to_area(hw_cfg: HardwareConfig, target_mm2: float) -> HardwareConfig:
    """The design with the compute array size whose total area is closest to ``target_mm2`` (buffers, DRAM
    interface and vector unit unchanged): bisection on GOBO tiles, tensor-core units or the systolic side."""
    lo, hi = 1, 1
    while area_of(_with_size(hw_cfg, hi)) < target_mm2 and hi < 1 << 16:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if area_of(_with_size(hw_cfg, mid)) < target_mm2:
            lo = mid
        else:
            hi = mid
    best = min((lo, hi), key=lambda n: abs(area_of(_with_size(hw_cfg, n)) - target_mm2))
    return _with_size(hw_cfg, best)


def compare(workload: str | Path | WorkloadSpec, hws: list[str | Path | HardwareConfig], *, iso: str | None = None,
            seq_len: int | None = None, batch: int | None = None) -> dict:
    """Run several designs on one workload; the compare report (baseline = the first design)."""
    if len(hws) < 1:
        raise SimInputError("compare: give at least one --hw")
    if iso not in (None, "none", "peak", "area"):
        raise SimInputError(f"--iso: must be area or peak, got {iso!r}")
    configs = [resolve_inputs(h, workload, seq_len=seq_len, batch=batch)[0] for h in hws]
    wl = resolve_inputs(configs[0], workload, seq_len=seq_len, batch=batch)[1]
    if iso == "peak":
        target = configs[0].peak_macs_per_cycle
        configs = [configs[0]] + [scale_compute(c, target) for c in configs[1:]]
    elif iso == "area":
        configs = [configs[0]] + [scale_to_area(c, area_of(configs[0])) for c in configs[1:]]
    results = [run(c, wl) for c in configs]
    base = results[0]
    designs = []
    for cfg, r in zip(configs, results):
        designs.append({
            "hw": r.hw, "cycles": r.cycles, "seconds": r.seconds, "energy_pj": r.energy_pj, "area_mm2": r.area_mm2,
            "dram_read_bytes": r.dram_read_bytes, "dram_write_bytes": r.dram_write_bytes,
            "speedup": base.seconds / r.seconds if r.seconds else None,
            "energy_efficiency": (base.energy_pj / r.energy_pj) if (r.energy_pj and base.energy_pj) else None,
            "peak_macs_per_cycle": r.peak_macs_per_cycle, "utilization": r.utilization,
            "energy_breakdown_pj": r.energy_breakdown_pj, "stall_breakdown_cycles": r.stall_breakdown_cycles,
            "compute": to_dict(cfg.compute)})
    return {"workload": wl.name, "seq_len": wl.seq_len, "batch": wl.batch, "baseline": base.hw,
            "iso": iso or "none", "designs": designs}
