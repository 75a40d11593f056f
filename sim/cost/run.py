"""Pricing a run report: energy (action counts x energy per action + leakage x time) and area, in place."""

from __future__ import annotations

from pathlib import Path

from sim.config.hardware import HardwareConfig
from sim.cost.area import area
from sim.cost.energy import price, price_ops
from sim.results import RunResult

__all__ = ["price_run"]


def price_run(result: RunResult, hw_cfg: HardwareConfig, *, table: str | Path | None = None,
              node_nm: int | None = None) -> RunResult:
    """Fill a result's energy and area fields (and each operator's energy) from its action counts; returns it."""
    e = price(result.actions, hw_cfg, result.seconds, table=table, node_nm=node_nm)
    a = area(hw_cfg, table=table, node_nm=node_nm)
    result.energy_pj = e.energy_pj
    result.energy_breakdown_pj = dict(e.breakdown_pj)
    result.energy_by_component_pj = dict(e.by_component_pj)
    result.energy_by_action_pj = {c: dict(v) for c, v in e.by_action_pj.items()}
    result.leakage_mw = e.leakage_mw
    result.area_mm2 = a.area_mm2
    result.area_breakdown_mm2 = dict(a.area_breakdown_mm2)
    result.area_detail_mm2 = dict(a.area_detail_mm2)
    result.tech = {"table": e.table, "table_path": e.table_path, "node_nm": e.node_nm}
    for op, oe in zip(result.ops, price_ops(result.ops, hw_cfg, e), strict=True):
        op.energy_pj = oe.energy_pj
        op.energy_breakdown_pj = dict(oe.breakdown_pj)
    return result
