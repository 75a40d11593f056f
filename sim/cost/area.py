"""Area of a design: the sum of its components' areas at the priced node.

``area_breakdown_mm2`` is component -> mm^2 (the same component names as a run report's ``actions``) and
sums exactly to ``area_mm2``; ``area_detail_mm2`` is ``<component>.<part>`` -> mm^2 (each component's parts
sum to its breakdown entry), e.g. ``gobo.pe.bin_registers`` or ``gobo.placement_overhead``
(:class:`~sim.results.area.AreaReport`).
"""

from __future__ import annotations

from pathlib import Path

from sim.config.hardware import HardwareConfig
from sim.cost.energy import resolve_tech
from sim.cost.estimators import estimators
from sim.results.area import AreaReport

__all__ = ["AreaReport", "area"]


def area(hw_cfg: HardwareConfig, *, table: str | Path | None = None, node_nm: int | None = None) -> AreaReport:
    """Area of design ``hw_cfg`` (mm^2) with ``table`` at ``node_nm`` (defaults: the design's ``tech``).

    Raises:
        SimInputError: bad table or node.
    """
    t = resolve_tech(hw_cfg, table, node_nm)
    models = estimators(hw_cfg, t)
    detail: dict[str, float] = {}
    breakdown: dict[str, float] = {}
    for name, model in models.items():
        parts = model.area_detail_mm2()
        detail.update({f"{name}.{part}": mm2 for part, mm2 in parts.items()})
        breakdown[name] = sum(parts.values())
    macros: dict[str, dict[str, float | int | str]] = {}
    for name, b in hw_cfg.buffers.items():
        m = t.sram(b.capacity_bytes, b.port_bytes, b.banks, b.cell, b.temperature_k)
        macros[name] = {"cell": b.cell, "temperature_k": b.temperature_k, "read_pj": m.read_pj, "write_pj": m.write_pj,
                        "area_mm2": m.area_mm2, "leak_sub_mw": m.leak_sub_mw, "leak_gate_mw": m.leak_gate_mw,
                        "cycle_ns": m.cycle_ns, "cacti_node_nm": m.cacti_node_nm, "note": m.note}
    return AreaReport(hw=hw_cfg.name, area_mm2=sum(breakdown.values()), area_breakdown_mm2=breakdown,
                      area_detail_mm2=detail,
                      leakage_mw=sum(m.leakage_mw() for m in models.values()), table=t.table.name,
                      table_path=t.table.path, node_nm=t.node_nm, pe_overhead=t.pe_overhead(),
                      logic_overhead={name: t.logic_overhead(name) for name in models
                                      if f"{name}.placement_overhead" in detail},
                      sram_macros=macros)
