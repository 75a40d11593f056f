"""Randomized small runs for checking the engine against the whole-run reference (tests and ``bench/``).

:func:`random_case` draws a small encoder (layers, width, heads, FFN width, sequence length, batch) and
hardware overrides of one built-in design (buffer capacities small enough to spill, banks and port widths,
output slots, DRAM kind and channels, vector lanes and divider, the compute unit's size and, for the
systolic array, its dataflow). :func:`compare_case` runs both models on it and lists every difference.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.cost.sram import sram_macro
from sim.errors import SimInputError
from sim.prepare import prepare
from sim.reference.run import machine_for, reference_run
from sim.simulate import count_actions, engine_for, map_steps
from sim.workload import load_workload

DESIGNS = ("gobo", "tpu", "tcore", "gobo-compress-tcore", "gobo-compress-tpu", "ternary", "biqgemm", "olive",
           "olaccel")

_COMPUTE = {
    "gobo": lambda r: [f"compute.tiles={r.choice([1, 2, 4, 16])}", f"compute.pes_per_tile={r.choice([8, 16, 64])}",
                       f"compute.rows_per_pe={r.choice([1, 2, 4])}",
                       f"compute.outlier_macs_per_cycle={r.choice([1, 4, 16])}",
                       f"compute.outlier_positions_per_cycle={r.choice([1, 2, 64])}",
                       f"compute.outlier_port_bytes={r.choice([1, 4, 16])}",
                       f"compute.double_buffered_bins={r.choice(['true', 'false'])}"],
    "tpu": lambda r: [f"compute.rows={r.choice([4, 8, 16, 64])}", f"compute.cols={r.choice([4, 8, 16, 64])}",
                      f"compute.dataflow={r.choice(['ws', 'os', 'is'])}",
                      f"compute.fold_schedule={r.choice(['preload-overlap', 'serial', 'pipelined', 'scalesim'])}"],
    "tcore": lambda r: [f"compute.units={r.choice([1, 4, 16, 64])}",
                        f"compute.pipeline_latency_cycles={r.choice([1, 4])}"],
    "olive": lambda r: [f"compute.rows={r.choice([4, 8, 16, 64])}", f"compute.cols={r.choice([4, 8, 16, 64])}",
                        f"compute.fold_schedule={r.choice(['preload-overlap', 'serial', 'pipelined', 'scalesim'])}"],
    "olaccel": lambda r: [f"compute.groups={r.choice([1, 4, 64])}", f"compute.lanes={r.choice([2, 4, 16])}",
                          f"compute.rows={r.choice([1, 2, 4])}", f"compute.pipeline_cycles={r.choice([0, 2])}",
                          f"compute.act_bits={r.choice([4, 8])}",
                          f"compute.act_outlier_fraction={r.choice([0.03, 0.25])}",
                          f"compute.act_outlier_macs={r.choice([1, 4])}",
                          f"compute.act_outlier_weight_bits={r.choice([4, 8])}"],
}
_COMPUTE["ternary"] = lambda r: [f"compute.tiles={r.choice([1, 2, 4, 16])}",
                                 f"compute.pes_per_tile={r.choice([4, 8, 64])}",
                                 f"compute.rows_per_pe={r.choice([1, 2, 4])}",
                                 f"compute.latency_cycles={r.choice([1, 2, 3])}"]
_COMPUTE["biqgemm"] = lambda r: [f"compute.tiles={r.choice([1, 2, 4])}",
                                 f"compute.lanes_per_tile={r.choice([4, 8, 64])}",
                                 f"compute.rows_per_tile={r.choice([1, 2, 4])}",
                                 f"compute.group_size={r.choice([1, 2, 4])}",
                                 f"compute.build_per_cycle={r.choice([1, 4, 16])}",
                                 f"compute.latency_cycles={r.choice([1, 2])}"]
_COMPUTE["gobo-compress-tpu"] = _COMPUTE["tpu"]
_COMPUTE["gobo-compress-tcore"] = _COMPUTE["tcore"]


@dataclass(frozen=True)
class Case:
    """One randomized run: a design, ``--set`` overrides and a workload."""

    design: str
    sets: tuple[str, ...]
    workload: object  # a WorkloadSpec

    def describe(self) -> str:
        """One line: the design, the workload shape and the overrides."""
        w: Any = self.workload
        shape = f"L={w.layers} H={w.hidden} heads={w.heads} I={w.intermediate} seq={w.seq_len} batch={w.batch}"
        return f"{self.design} [{shape}] " + " ".join(self.sets)


def random_case(seed: int, design: str) -> Case:
    """A reproducible random small run of ``design`` (see the module docstring)."""
    r = np.random.default_rng(seed)
    heads = int(r.choice([1, 2, 4]))
    hidden = heads * int(r.choice([4, 8, 16]))
    wl = dataclasses.replace(load_workload("tiny"), name=f"random-{seed}", layers=int(r.integers(1, 3)),
                             hidden=hidden, heads=heads, intermediate=hidden * int(r.choice([1, 2, 4])),
                             seq_len=int(r.integers(2, 25)), batch=int(r.choice([1, 1, 2])), vocab=50,
                             max_positions=32, pooler=bool(r.integers(0, 2)))
    caps = {"weights": int(r.choice([2048, 8192, 65536, 1 << 21])),
            "activations": int(r.choice([256, 1024, 4096, 1 << 20])),
            "outputs": int(r.choice([256, 1024, 4096, 1 << 19]))}
    sets = [f"buffers.{name}.capacity_bytes={cap}" for name, cap in caps.items()]
    sets += [f"buffers.outputs.double_buffered={r.choice(['true', 'false'])}",
             f"buffers.weights.double_buffered={r.choice(['true', 'false'])}",
             f"dram.kind={r.choice(['ddr4-3200', 'lpddr4-3200', 'hbm2'])}",
             f"dram.channels={int(r.choice([1, 2, 4]))}",
             f"vector.lanes={int(r.choice([4, 16, 256]))}", f"vector.divider_cycles={int(r.choice([1, 8, 32]))}"]
    slowest_ns = 0.0
    for name in ("weights", "activations", "outputs"):
        banks, port = int(r.choice([1, 2, 16])), int(r.choice([1, 4, 16, 64]))
        # itrs-hp cells, the fastest CACTI banks; where even those cannot cycle at the preset's 1 GHz (a
        # megabyte in one bank), the case's clock is lowered to the slowest bank's rate so that the bank clock
        # check does not refuse it (the cell type changes no cycle count)
        sets += [f"buffers.{name}.banks={banks}", f"buffers.{name}.port_bytes={port}", f"buffers.{name}.cell=itrs-hp"]
        slowest_ns = max(slowest_ns, sram_macro(caps[name], port, banks, "itrs-hp", 300, 45).cycle_ns)
    if slowest_ns > 1.0:
        sets.append(f"clock_hz={1e9 / slowest_ns / 1.001:.6g}")
    sets += _COMPUTE[design](r)
    return Case(design, tuple(sets), wl)


def compare_case(case: Case, seed: int = 0) -> tuple[list[str], dict[str, int]] | None:
    """Run the engine and the whole-run reference on ``case``; returns (differences, sizes) or None when the
    configuration is refused as bad input (e.g. one row does not fit the staging)."""
    try:
        prep = prepare(case.design, case.workload, sets=case.sets)  # type: ignore[arg-type]
        _, plans, steps = map_steps(prep)
    except SimInputError:
        return None
    eng = engine_for(prep, steps).run()
    ref = reference_run(steps, machine_for(prep), seed=seed)
    acts, _ = count_actions(steps, prep.unit.kind)
    acts["dram"] = {k: v for k, v in eng.dram_actions.items() if v}
    diffs = []
    if eng.cycles != ref.cycles:
        diffs.append(f"cycles: engine {eng.cycles} reference {ref.cycles}")
    for op in sorted(set(eng.ops) | set(ref.ops)):
        e, r = eng.ops.get(op), ref.ops.get(op)
        if e is None or r is None:
            diffs.append(f"{op}: only in {'reference' if e is None else 'engine'}")
            continue
        for f in ("cycles", "compute_cycles", "vector_cycles", "dram_read_bytes", "dram_write_bytes"):
            if getattr(e, f) != getattr(r, f):
                diffs.append(f"{op}.{f}: engine {getattr(e, f)} reference {getattr(r, f)}")
        for k in set(e.stalls) | set(r.stalls):
            if e.stalls.get(k, 0) != r.stalls.get(k, 0):
                diffs.append(f"{op}.stall.{k}: engine {e.stalls.get(k, 0)} reference {r.stalls.get(k, 0)}")
    for comp in sorted(set(acts) | set(ref.actions)):
        if acts.get(comp, {}) != ref.actions.get(comp, {}):
            diffs.append(f"actions.{comp}: engine {acts.get(comp)} reference {ref.actions.get(comp)}")
    # the closed form an operator's compute_cycles reports (the whole GEMM as one fold sequence), against
    # the unit's stepper on that whole GEMM; the mapping overhead is then exact too (the engine's and the
    # reference's unit cycles per operator already agree above)
    rng = np.random.default_rng(seed + 1)
    stepped: dict[tuple[int, int, int], int] = {}
    for p in plans:
        if p.gemm_cycles is None:
            continue
        o = p.op
        shape, count = ((o.m, o.k, o.n), o.count) if o.kind == "bmm" else ((o.m * o.count, o.k, o.n), 1)
        if shape not in stepped:
            stepped[shape] = prep.unit.reference_dense(*shape, rng).cycles
        if stepped[shape] * count != p.gemm_cycles:
            diffs.append(f"{o.name}.gemm_cycles: closed form {p.gemm_cycles} stepper {stepped[shape] * count}")
    spilled = sum(1 for s in steps for t in s.loads if t.what == "activations")
    stalls = {k: sum(o.stalls[k] for o in eng.ops.values()) for k in next(iter(eng.ops.values())).stalls}
    return diffs, {"cycles": eng.cycles, "steps": len(steps), "spilled_loads": spilled, **stalls}
