"""Run results: the :class:`RunResult` report contract (JSON, CSV, pandas) and the terminal summary.

Units are in the field names: ``_cycles`` core clock cycles, ``_bytes`` bytes, ``_pj`` picojoules,
``_mm2`` square millimetres, ``_hz`` hertz. ``seconds`` is wall-clock time of the simulated hardware.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sim._version import __version__
from sim.errors import one_line
from sim.io import write_text_atomic
from sim.results.base import SCHEMA_VERSION, Report
from sim.results.functional import FunctionalReport

OP_COLUMNS = ("name", "layer", "kind", "cycles", "compute_cycles", "stall_cycles", "macs",
              "dram_read_bytes", "dram_write_bytes", "energy_pj", "m", "k", "n", "count")


@dataclass(repr=False)
class OpResult(Report):
    """One operator's share of a run (a row of ``RunResult.ops``)."""

    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ("m", "k", "n", "count", "phase")
    REPR_FIELDS: ClassVar[tuple[str, ...]] = ("name", "kind", "cycles")

    name: str
    layer: int
    kind: str
    cycles: int  # cycles this operator occupies the accelerator (compute + stalls)
    compute_cycles: int  # the compute unit alone, no memory stalls: the closed form of the operator's GEMM(s)
    stall_cycles: int  # cycles - compute_cycles - mapping_overhead_cycles, in stall_breakdown_cycles
    macs: int  # all `count` products included
    dram_read_bytes: int
    dram_write_bytes: int
    energy_pj: float | None = None
    m: int | None = None  # gemm/bmm only: A is m x k, B is k x n
    k: int | None = None
    n: int | None = None
    count: int | None = None  # how many such products (heads x batch for attention BMMs)
    stage: str = "encoder"
    stall_breakdown_cycles: dict[str, int] = field(default_factory=dict)
    mapping: dict[str, Any] = field(default_factory=dict)  # the tiling chosen for this operator
    energy_breakdown_pj: dict[str, float] = field(default_factory=dict)
    vector_cycles: int = 0  # vector-unit cycles of fused epilogues (overlapped with compute where possible)
    fused_into: str | None = None  # an element-wise operator run as the named matmul's epilogue
    actions: dict[str, dict[str, int]] = field(default_factory=dict)  # this operator's action counts
    # unit cycles the mapping's pieces take beyond compute_cycles (re-fills, re-preloads of sub-tiles, chunks
    # and row pieces); negative only under fold_schedule scalesim, whose count is one less per GEMM run
    mapping_overhead_cycles: int = 0
    # decoder runs: "prefill" or "decode"; a decode row sums the operator over every decode step (its m, k, n
    # are the last step's, count the per-step count x the decode steps)
    phase: str | None = None


@dataclass(repr=False)
class PhaseResult(Report):
    """One phase of a decoder run (``RunResult.generation.phases``): the prefill pass, or all decode steps."""

    REPR_FIELDS: ClassVar[tuple[str, ...]] = ("phase", "cycles", "seconds")

    phase: str  # prefill | decode
    steps: int  # passes: 1 for the prefill, one per generated token for decode
    tokens: int  # tokens the phase processes: batch x prompt (prefill), batch x generated tokens (decode)
    cycles: int
    seconds: float
    energy_pj: float | None
    dram_read_bytes: int
    dram_write_bytes: int
    weight_read_bytes: int  # DRAM reads of weights (packed indices, dictionaries, outliers, biases; the LM head)
    kv_read_bytes: int  # DRAM reads of the KV cache
    kv_write_bytes: int  # DRAM writes to the KV cache
    macs: int
    contexts_simulated: list[int] = field(default_factory=list)  # decode: the context of each step simulated
    step_weights: list[int] = field(default_factory=list)  # decode: steps each simulated one stands for


@dataclass(repr=False)
class GenerationReport(Report):
    """A decoder run's generation figures (``RunResult.generation``); the run's totals are over both phases."""

    REPR_FIELDS: ClassVar[tuple[str, ...]] = ("prompt_len", "gen_tokens", "tpot_mean_seconds")
    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ()

    prompt_len: int
    gen_tokens: int
    batch: int
    phases: list[PhaseResult]
    ttft_seconds: float  # time to first token: the prefill pass (its LM head gives the first generated token)
    tpot_mean_seconds: float | None  # time per output token: decode seconds / generated tokens (None: none)
    tpot_last_seconds: float | None  # the last decode step (always simulated exactly), at the longest context
    tokens_per_second: float | None  # decode throughput: batch x generated tokens / decode seconds
    end_to_end_tokens_per_second: float | None  # batch x generated tokens / (prefill + decode) seconds
    energy_per_token_pj: float | None  # decode energy / (batch x generated tokens)
    # shares of the decode cycles: compute (matrix and vector units busy), weight_streaming (weight GEMMs
    # waiting on DRAM or the weight buffer), kv_traffic (attention matmuls waiting on KV reads, KV writes
    # holding the K/V projections), other (vector unit, SRAM ports, other DRAM waits); they sum to 1
    decode_time_share: dict[str, float]
    kv_cache: dict[str, Any]  # location (buffer/dram/split), resident_layers, layers, bytes per token, budget
    weights_on_chip: bool  # every weight fits the weight buffer, so decode steps read no weight from DRAM
    stored_weight_bytes: int  # the GEMM weights as stored off chip (the LM head's table once)
    decode_dram_bytes_per_token: float | None  # decode DRAM bytes (read + write) per decode step
    decode_samples: int  # decode steps simulated exactly and counted (the last step is simulated besides)
    notes: list[str] = field(default_factory=list)


@dataclass(repr=False)
class RunResult(Report):
    """The report of one ``sim run`` (field names and meanings are a contract; see README)."""

    REPR_FIELDS: ClassVar[tuple[str, ...]] = ("hw", "workload", "seq_len", "cycles", "energy_pj")
    FRAME_ROWS: ClassVar[str | None] = "ops"
    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ("generation",)

    hw: str
    workload: str
    seq_len: int
    batch: int
    clock_hz: float
    cycles: int
    seconds: float
    energy_pj: float | None
    energy_breakdown_pj: dict[str, float] | None
    dram_read_bytes: int
    dram_write_bytes: int
    area_mm2: float | None
    area_breakdown_mm2: dict[str, float] | None
    utilization: float  # useful MACs / (cycles x peak MACs per cycle)
    stall_breakdown_cycles: dict[str, int]
    ops: list[OpResult]
    functional: FunctionalReport | None
    config: dict[str, Any]
    peak_macs_per_cycle: int
    dram_bytes_per_cycle: float
    actions: dict[str, dict[str, int]]
    timing_model: str  # "roofline-bound" (a lower bound, not a simulation) or "simulated"
    notes: list[str] = field(default_factory=list)
    energy_by_component_pj: dict[str, float] = field(default_factory=dict)  # dynamic energy per component
    energy_by_action_pj: dict[str, dict[str, float]] = field(default_factory=dict)  # component -> action -> pJ
    leakage_mw: float | None = None  # total leakage power of the design at its node
    area_detail_mm2: dict[str, float] = field(default_factory=dict)  # component.part -> mm^2
    tech: dict[str, Any] = field(default_factory=dict)  # the energy/area table and node that priced the run
    events: int = 0  # simulation events processed (0 for the roofline bound)
    weights_source: str = ""  # the checkpoint's path and sha256, or "synthetic seed N" ("" for the roofline bound)
    mapping_overhead_cycles: int = 0  # sum of the operators' mapping_overhead_cycles
    generation: GenerationReport | None = None  # decoder runs: per phase, TTFT, TPOT, tokens/s (None: encoder)
    version: str = __version__
    schema_version: int = SCHEMA_VERSION

    def to_frame(self) -> Any:
        """Per-operator pandas DataFrame (one row per operator, the OP_COLUMNS first)."""
        import pandas as pd

        rows = [op.to_dict() for op in self.ops]
        frame = pd.DataFrame(rows)
        first = [c for c in OP_COLUMNS if c in frame.columns]
        rest = [c for c in frame.columns if c not in first
                and c not in ("stall_breakdown_cycles", "mapping", "energy_breakdown_pj", "actions")]
        return frame[first + rest]

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the per-operator table as CSV."""
        text = self.to_frame().to_csv(index=False)
        write_text_atomic(Path(path), text)

    def summary(self) -> str:
        """A readable terminal summary: totals, then per-kind and per-stage shares."""
        lines = [
            f"gobosim {self.version}: {one_line(str(self.hw))} on {one_line(str(self.workload))} "
            f"(seq {self.seq_len}, batch {self.batch})",
            f"timing model: {self.timing_model}",
        ]
        for note in self.notes:
            lines.append(f"  note: {one_line(note)}")
        lines += [
            f"  cycles          {self.cycles:>16,}",
            f"  time            {self.seconds * 1e3:>16.4f} ms  at {self.clock_hz / 1e9:g} GHz",
            f"  utilization     {self.utilization:>16.3f}  (useful MACs / cycles x {self.peak_macs_per_cycle} peak)",
            f"  DRAM read       {self.dram_read_bytes:>16,} B",
            f"  DRAM write      {self.dram_write_bytes:>16,} B",
            f"  energy          {_fmt(self.energy_pj, 1e-9, 'mJ')}",
            f"  area            {_fmt(self.area_mm2, 1.0, 'mm2')}",
        ]
        if self.energy_breakdown_pj and self.energy_pj:
            parts = ", ".join(f"{k} {v / self.energy_pj:.0%}" for k, v in self.energy_breakdown_pj.items() if v)
            lines.append(f"  energy split    {parts}")
        if self.area_breakdown_mm2:
            parts = ", ".join(f"{k} {v:.1f}" for k, v in self.area_breakdown_mm2.items() if v)
            lines.append(f"  area split      {parts} (mm2)")
        if self.stall_breakdown_cycles:
            stalls = ", ".join(f"{k} {v:,}" for k, v in self.stall_breakdown_cycles.items() if v)
            lines.append(f"  stalls (cycles)  {stalls or 'none'}")
        if self.functional:
            f = self.functional
            cos = f.cosine_vs_float
            cos_text = f"{cos:.4f}" if isinstance(cos, float) else str(cos)
            lines.append(f"  functional      checked={f.checked} cosine_vs_float={cos_text} "
                         f"(integer model vs float model, last hidden state)")
        if self.generation is not None:
            g = self.generation
            lines.append(f"  generation      prompt {g.prompt_len}, {g.gen_tokens} tokens generated, batch {g.batch}")
            for ph in g.phases:
                e = f"{ph.energy_pj * 1e-9:.3f} mJ" if ph.energy_pj is not None else "-"
                kv_mb = (ph.kv_read_bytes + ph.kv_write_bytes) / 1e6
                lines.append(f"    {ph.phase:<8} {ph.cycles:>14,} cycles {ph.seconds * 1e3:>10.4f} ms {e:>12}  DRAM "
                             f"{(ph.dram_read_bytes + ph.dram_write_bytes) / 1e6:.2f} MB (weights "
                             f"{ph.weight_read_bytes / 1e6:.2f}, KV {kv_mb:.2f})")
            if g.tpot_mean_seconds is not None:
                tps = f"{g.tokens_per_second:.1f}" if g.tokens_per_second else "-"
                ept = f"{g.energy_per_token_pj * 1e-9:.4f} mJ" if g.energy_per_token_pj is not None else "-"
                lines.append(f"    TTFT {g.ttft_seconds * 1e3:.4f} ms, TPOT mean {g.tpot_mean_seconds * 1e3:.4f} ms "
                             f"(last {(g.tpot_last_seconds or 0) * 1e3:.4f} ms), {tps} tokens/s, {ept} per token")
                parts = ", ".join(f"{k} {v:.0%}" for k, v in g.decode_time_share.items())
                lines.append(f"    decode time     {parts}")
            kv = g.kv_cache
            lines.append(f"    KV cache        {kv.get('location')} ({kv.get('resident_layers')}/{kv.get('layers')} "
                         f"layers on chip), {kv.get('bytes_per_token')} B per token")
            for note in g.notes:
                lines.append(f"    note: {one_line(note)}")
        lines.append("")
        lines.append(f"  {'kind':<10} {'ops':>5} {'cycles':>14} {'share':>7} {'MACs':>16} {'DRAM read B':>14}")
        by_kind: dict[str, list[OpResult]] = {}
        for op in self.ops:
            by_kind.setdefault(op.kind, []).append(op)
        for kind, ops in by_kind.items():
            cyc = sum(o.cycles for o in ops)
            share = cyc / self.cycles if self.cycles else 0.0
            fused = "  (fused into matmul epilogues)" if all(o.fused_into for o in ops) else ""
            lines.append(f"  {kind:<10} {len(ops):>5} {cyc:>14,} {share:>7.1%} {sum(o.macs for o in ops):>16,} "
                         f"{sum(o.dram_read_bytes for o in ops):>14,}{fused}")
        return "\n".join(lines)


def _fmt(value: float | None, scale: float, unit: str) -> str:
    return "       not modelled" if value is None else f"{value * scale:>16.3f} {unit}"
