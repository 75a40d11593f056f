"""A decoder run: the prefill pass over the prompt, then one decode step per generated token.

Each phase is mapped (:class:`sim.mapping.kvcache.DecoderPlanner`) and simulated by the engine like any pass;
the passes run one after another (a decode step needs the token the previous one produced). The run's report
is one :class:`~sim.results.RunResult` whose totals (cycles, energy, DRAM bytes, actions, operators) are
over the whole run, priced once, with ``generation`` holding the per-phase figures.

Decode steps differ only in their context (the attention over ``prompt + t + 1`` tokens and its KV reads).
With ``decode_samples = S > 0`` and more generated tokens than ``S``, the ``M`` decode steps are cut into ``S``
contiguous groups of near-equal size and each group's middle step is simulated exactly and counted once per
step of its group (the midpoint of a group of a cost linear in the context is the group's mean; for even
group sizes the lower and upper middles alternate). The step costs are not exactly linear (granules of the
context make steps), so this is an approximation: measured 0.27% on tiny-gpt (3 of 12 steps) in
``tests/test_generation.py``. The last step is always simulated exactly as well (``tpot_last_seconds``); it
is counted in the totals only when it represents its group.
"""

from __future__ import annotations

import dataclasses
import os
from collections import defaultdict
from collections.abc import Iterable

from sim.cost.run import price_run
from sim.engine.des import STALL_REASONS
from sim.mapping.kvcache import KV, kv_placement
from sim.mapping.plan import Step
from sim.mapping.weights import stored_bytes
from sim.prepare import PreparedRun
from sim.results import GenerationReport, OpResult, PhaseResult, RunResult
from sim.simulate import simulate_steps
from sim.workload.decoder import kv_cache_bytes_per_token, lower_decoder

__all__ = ["decode_plan", "run_generation"]

_WEIGHTS = ("weights", "outliers")


def decode_plan(gen_tokens: int, samples: int) -> list[tuple[int, int]]:
    """(decode step index t, steps it stands for) of the simulated steps (``samples`` 0: every step)."""
    if gen_tokens <= 0:
        return []
    groups = gen_tokens if samples <= 0 else min(gen_tokens, samples)
    out = []
    start = 0
    for g in range(groups):
        size = gen_tokens // groups + (1 if g < gen_tokens % groups else 0)
        # the middle step; for an even size the lower and the upper middle alternate, so that the half-step
        # biases of a cost linear in the context cancel between groups
        out.append((start + ((size - 1) // 2 if g % 2 == 0 else size // 2), size))
        start += size
    return out


def _bytes_by_what(steps: Iterable[Step]) -> dict[tuple[str, bool], int]:
    out: dict[tuple[str, bool], int] = defaultdict(int)
    for st in steps:
        for t in (*st.loads, *st.stores):
            out[(t.what, t.write)] += t.nbytes
    return out


def _scaled_op(op: OpResult, phase: str, weight: int, count_scale: int) -> OpResult:
    return dataclasses.replace(
        op, name=f"{phase}.{op.name}", phase=phase, cycles=op.cycles * weight,
        compute_cycles=op.compute_cycles * weight, mapping_overhead_cycles=op.mapping_overhead_cycles * weight,
        stall_cycles=op.stall_cycles * weight, macs=op.macs * weight, dram_read_bytes=op.dram_read_bytes * weight,
        dram_write_bytes=op.dram_write_bytes * weight,
        count=op.count * count_scale if op.count is not None else None, energy_pj=None, energy_breakdown_pj={},
        stall_breakdown_cycles={k: v * weight for k, v in op.stall_breakdown_cycles.items()},
        vector_cycles=op.vector_cycles * weight, mapping=dict(op.mapping),
        actions={c: {a: n * weight for a, n in acts.items()} for c, acts in op.actions.items()})


def _add_op(into: OpResult, op: OpResult) -> None:
    """Add ``op``'s counts (already scaled) to ``into`` (the same operator in another decode step)."""
    for name in ("cycles", "compute_cycles", "mapping_overhead_cycles", "stall_cycles", "macs", "dram_read_bytes",
                 "dram_write_bytes", "vector_cycles"):
        setattr(into, name, getattr(into, name) + getattr(op, name))
    for k, v in op.stall_breakdown_cycles.items():
        into.stall_breakdown_cycles[k] = into.stall_breakdown_cycles.get(k, 0) + v
    for c, acts in op.actions.items():
        bucket = into.actions.setdefault(c, {})
        for a, n in acts.items():
            bucket[a] = bucket.get(a, 0) + n
    into.m, into.k, into.n = op.m, op.k, op.n  # the latest step's shape
    into.mapping = dict(op.mapping)


def _add_actions(into: dict[str, dict[str, int]], actions: dict[str, dict[str, int]], weight: int) -> None:
    for c, acts in actions.items():
        bucket = into.setdefault(c, {})
        for a, n in acts.items():
            bucket[a] = bucket.get(a, 0) + n * weight


def _decode_share(ops: list[OpResult], kv_layers_in_dram: set[int]) -> dict[str, float]:
    parts = {"compute": 0, "weight_streaming": 0, "kv_traffic": 0, "other": 0}
    for op in ops:
        parts["compute"] += op.compute_cycles + op.mapping_overhead_cycles
        st = op.stall_breakdown_cycles
        if op.kind == "bmm":
            parts["kv_traffic"] += sum(st.get(r, 0) for r in ("dram_read", "buffer_full", "dram_write"))
            parts["other"] += sum(st.get(r, 0) for r in ("vector_busy", "sram_port"))
        elif op.kind == "gemm":
            parts["weight_streaming"] += st.get("dram_read", 0) + st.get("buffer_full", 0)
            kv_write = op.layer in kv_layers_in_dram and op.name.endswith((".k_proj", ".v_proj"))
            parts["kv_traffic" if kv_write else "other"] += st.get("dram_write", 0)
            parts["other"] += st.get("vector_busy", 0) + st.get("sram_port", 0)
        else:
            parts["other"] += sum(st.get(r, 0) for r in STALL_REASONS)
    total = sum(parts.values())
    return {k: (v / total if total else 0.0) for k, v in parts.items()}


def run_generation(prep: PreparedRun, *, trace: str | os.PathLike[str] | None = None) -> RunResult:
    """Simulate a decoder run (prefill + decode steps) on a prepared decoder workload; ``trace``: the prefill
    pass's timeline (Chrome trace-event JSON)."""
    w, hw = prep.workload, prep.hw
    if trace:
        import json

        from sim.io import write_text_atomic
        from sim.simulate import simulate_with_engine, trace_document

        pre_result, res = simulate_with_engine(prep, trace=True)
        doc = trace_document(prep, pre_result, res)
        write_text_atomic(trace, json.dumps(doc, separators=(",", ":"), allow_nan=False) + "\n")
    pre, _, pre_steps = simulate_steps(prep)
    plan = decode_plan(w.gen_tokens, w.decode_samples)
    last_t = w.gen_tokens - 1
    simulated: dict[int, tuple[RunResult, list[Step]]] = {}
    for t in sorted({t for t, _ in plan} | ({last_t} if w.gen_tokens else set())):
        step_prep = dataclasses.replace(prep, graph=lower_decoder(w, "decode", w.seq_len + t + 1))
        r, _, steps = simulate_steps(step_prep)
        simulated[t] = (r, steps)

    # operators, actions and bytes of the whole run
    ops = [_scaled_op(o, "prefill", 1, 1) for o in pre.ops]
    decode_ops: dict[str, OpResult] = {}
    actions: dict[str, dict[str, int]] = {}
    _add_actions(actions, pre.actions, 1)
    phase_bytes = {"prefill": _bytes_by_what(pre_steps), "decode": defaultdict(int)}
    decode_cycles = 0
    for t, weight in plan:
        r, steps = simulated[t]
        decode_cycles += r.cycles * weight
        _add_actions(actions, r.actions, weight)
        for key, v in _bytes_by_what(steps).items():
            phase_bytes["decode"][key] += v * weight
        for o in r.ops:
            scaled = _scaled_op(o, "decode", weight, w.gen_tokens)
            if o.name in decode_ops:
                _add_op(decode_ops[o.name], scaled)
            else:
                decode_ops[o.name] = scaled
    ops += list(decode_ops.values())
    cycles = pre.cycles + decode_cycles
    peak = hw.peak_macs_per_cycle
    macs = sum(o.macs for o in ops)
    stall_total = {r: sum(o.stall_breakdown_cycles.get(r, 0) for o in ops) for r in STALL_REASONS}
    kv = kv_placement(w, hw, prep.unit.act_bytes)
    notes = list(pre.notes)
    notes.append(f"decoder run: prefill of {w.seq_len} prompt tokens, then {w.gen_tokens} decode steps "
                 f"(batch {w.batch}); {len(simulated)} decode steps simulated, totals over the whole run")
    result = RunResult(
        hw=pre.hw, workload=pre.workload, seq_len=w.seq_len, batch=w.batch, clock_hz=hw.clock_hz, cycles=cycles,
        seconds=cycles / hw.clock_hz, energy_pj=None, energy_breakdown_pj=None,
        dram_read_bytes=sum(o.dram_read_bytes for o in ops), dram_write_bytes=sum(o.dram_write_bytes for o in ops),
        area_mm2=None, area_breakdown_mm2=None, utilization=macs / (cycles * peak) if cycles else 0.0,
        stall_breakdown_cycles=stall_total, ops=ops, functional=None, config=pre.config, peak_macs_per_cycle=peak,
        dram_bytes_per_cycle=pre.dram_bytes_per_cycle, actions=actions, timing_model="simulated", notes=notes,
        events=pre.events + sum(simulated[t][0].events * wt for t, wt in plan), weights_source=pre.weights_source,
        mapping_overhead_cycles=sum(o.mapping_overhead_cycles for o in ops))
    price_run(result, hw)

    # the phases
    phases = []
    for name, steps_n, tokens in (("prefill", 1, w.batch * w.seq_len),
                                  ("decode", w.gen_tokens, w.batch * w.gen_tokens)):
        p_ops = [o for o in result.ops if o.phase == name]
        by = phase_bytes[name]
        p_cycles = pre.cycles if name == "prefill" else decode_cycles
        phases.append(PhaseResult(
            phase=name, steps=steps_n, tokens=tokens, cycles=p_cycles, seconds=p_cycles / hw.clock_hz,
            energy_pj=sum(o.energy_pj or 0.0 for o in p_ops),
            dram_read_bytes=sum(o.dram_read_bytes for o in p_ops),
            dram_write_bytes=sum(o.dram_write_bytes for o in p_ops),
            weight_read_bytes=sum(by.get((x, False), 0) for x in _WEIGHTS),
            kv_read_bytes=by.get((KV, False), 0), kv_write_bytes=by.get((KV, True), 0),
            macs=sum(o.macs for o in p_ops),
            contexts_simulated=[w.seq_len + t + 1 for t, _ in plan] if name == "decode" else [],
            step_weights=[wt for _, wt in plan] if name == "decode" else []))
    dec = phases[1]
    n_tok = w.batch * w.gen_tokens
    last = simulated[last_t][0] if w.gen_tokens else None
    gemm_weights = {o.weight.name for o in prep.graph.ops if o.kind == "gemm" and o.weight is not None}
    stored = stored_bytes(prep.graph, hw, {n: p.nbytes for n, p in prep.qmodel.packed.items()}
                          if prep.qmodel is not None else None)
    weights_on_chip = bool(simulated) and all(
        o.mapping.get("weights_on_chip", False) for o in simulated[last_t][0].ops if o.kind == "gemm") \
        if w.gen_tokens else False
    gen_notes = []
    if weights_on_chip:
        gen_notes.append("every weight fits the weight buffer: decode steps read no weight from DRAM (the "
                         "prefill loaded them)")
    if plan and len(plan) < w.gen_tokens:
        gen_notes.append(f"{len(plan)} of {w.gen_tokens} decode steps simulated exactly, each counted for the "
                         "steps of its group (decode_samples; 0 simulates every step)")
    result.generation = GenerationReport(
        prompt_len=w.seq_len, gen_tokens=w.gen_tokens, batch=w.batch, phases=phases,
        ttft_seconds=phases[0].seconds,
        tpot_mean_seconds=dec.seconds / w.gen_tokens if w.gen_tokens else None,
        tpot_last_seconds=last.seconds if last is not None else None,
        tokens_per_second=n_tok / dec.seconds if dec.seconds else None,
        end_to_end_tokens_per_second=n_tok / result.seconds if n_tok and result.seconds else None,
        energy_per_token_pj=(dec.energy_pj / n_tok) if n_tok and dec.energy_pj is not None else None,
        decode_time_share=_decode_share(list(decode_ops.values()),
                                        {li for li in range(w.layers) if kv.in_dram(li)}) if w.gen_tokens else {},
        kv_cache={"location": kv.location, "resident_layers": kv.resident_layers, "layers": kv.layers,
                  "bytes_per_token": kv_cache_bytes_per_token(w, prep.unit.act_bytes) * w.batch,
                  "bytes_at_final_context": kv.bytes_per_layer * kv.layers, "budget_bytes": kv.budget_bytes,
                  "final_context": kv.final_context},
        weights_on_chip=weights_on_chip,
        stored_weight_bytes=sum(v for k, v in stored.items() if k in gemm_weights),
        decode_dram_bytes_per_token=(dec.dram_read_bytes + dec.dram_write_bytes) / w.gen_tokens
        if w.gen_tokens else None,
        decode_samples=len(plan), notes=gen_notes)
    return result
