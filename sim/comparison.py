"""``sim compare``: several designs on one workload, optionally resized to the first's peak or area.

Resizing goes through each compute kind's plug-in (:meth:`~sim.compute.base.ComputeKind.resize_to_peak`,
:meth:`~sim.compute.base.ComputeKind.with_size`): GOBO tiles, tensor-core units or the systolic side; buffers,
DRAM and the vector unit stay as they are.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from sim.compute.registry import get_kind
from sim.config.hardware import HardwareConfig
from sim.config.loader import to_dict
from sim.cost.area import area
from sim.errors import SimInputError
from sim.pipeline import run
from sim.prepare import resolve_inputs
from sim.progress import step
from sim.results import CompareReport, DesignRow
from sim.workload.spec import WorkloadSpec

__all__ = ["compare", "scale_to_area", "scale_to_peak"]


def scale_to_peak(hw_cfg: HardwareConfig, target_peak: float) -> HardwareConfig:
    """A copy of ``hw_cfg`` whose compute is resized so its peak MACs/cycle is as close to ``target_peak`` as the
    kind's granularity allows."""
    kind = get_kind(hw_cfg.compute.kind)
    return dataclasses.replace(hw_cfg, compute=kind.resize_to_peak(hw_cfg.compute, target_peak))


def _with_size(hw_cfg: HardwareConfig, size: int) -> HardwareConfig:
    kind = get_kind(hw_cfg.compute.kind)
    return dataclasses.replace(hw_cfg, compute=kind.with_size(hw_cfg.compute, size))


def _area_of(hw_cfg: HardwareConfig) -> float:
    return area(hw_cfg).area_mm2


def scale_to_area(hw_cfg: HardwareConfig, target_mm2: float) -> HardwareConfig:
    """The design with the compute size whose total area is closest to ``target_mm2`` (buffers, DRAM
    interface and vector unit unchanged): bisection on the kind's size knob."""
    lo, hi = 1, 1
    while _area_of(_with_size(hw_cfg, hi)) < target_mm2 and hi < 1 << 16:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _area_of(_with_size(hw_cfg, mid)) < target_mm2:
            lo = mid
        else:
            hi = mid
    best = min((lo, hi), key=lambda n: abs(_area_of(_with_size(hw_cfg, n)) - target_mm2))
    return _with_size(hw_cfg, best)


def compare(workload: str | os.PathLike[str] | WorkloadSpec, hws: Sequence[str | os.PathLike[str] | HardwareConfig], *,
            iso: str | None = None, seq_len: int | None = None, batch: int | None = None,
            gen_tokens: int | None = None, decode_samples: int | None = None,
            functional: bool = False) -> CompareReport:
    """Run several designs on one workload (timing only; ``functional``: with each design's functional pass, its
    ``checked`` and cosine in the rows); the compare report (baseline = the first design).
    Decoder workloads: ``seq_len`` is the prompt, ``gen_tokens``/``decode_samples`` as in :func:`sim.run`."""
    if len(hws) < 1:
        raise SimInputError("compare: give at least one --hw")
    if iso not in (None, "none", "peak", "area"):
        raise SimInputError(f"--iso: must be area or peak, got {iso!r}")
    configs = [resolve_inputs(h, workload, seq_len=seq_len, batch=batch, gen_tokens=gen_tokens,
                              decode_samples=decode_samples)[0] for h in hws]
    wl = resolve_inputs(configs[0], workload, seq_len=seq_len, batch=batch, gen_tokens=gen_tokens,
                        decode_samples=decode_samples)[1]
    if iso == "peak":
        target = configs[0].peak_macs_per_cycle
        configs = [configs[0]] + [scale_to_peak(c, target) for c in configs[1:]]
    elif iso == "area":
        configs = [configs[0]] + [scale_to_area(c, _area_of(configs[0])) for c in configs[1:]]
    results = []
    for c in configs:
        with step(f"compare: {c.name}"):
            results.append(run(c, wl, functional=functional))
    base = results[0]
    designs = []
    for cfg, r in zip(configs, results, strict=True):
        designs.append(DesignRow(
            hw=r.hw, cycles=r.cycles, seconds=r.seconds, energy_pj=r.energy_pj, area_mm2=r.area_mm2,
            dram_read_bytes=r.dram_read_bytes, dram_write_bytes=r.dram_write_bytes,
            speedup=base.seconds / r.seconds if r.seconds else None,
            energy_efficiency=(base.energy_pj / r.energy_pj) if (r.energy_pj and base.energy_pj) else None,
            peak_macs_per_cycle=r.peak_macs_per_cycle, utilization=r.utilization,
            energy_breakdown_pj=r.energy_breakdown_pj, stall_breakdown_cycles=r.stall_breakdown_cycles,
            compute=to_dict(cfg.compute),
            functional_checked=r.functional.checked if r.functional is not None else None,
            cosine_vs_float=r.functional.cosine_vs_float if r.functional is not None else None,
            ttft_seconds=r.generation.ttft_seconds if r.generation else None,
            tpot_mean_seconds=r.generation.tpot_mean_seconds if r.generation else None,
            tokens_per_second=r.generation.tokens_per_second if r.generation else None,
            energy_per_token_pj=r.generation.energy_per_token_pj if r.generation else None))
    return CompareReport(workload=wl.name, seq_len=wl.seq_len, batch=wl.batch, baseline=base.hw, iso=iso or "none",
                         designs=designs)
