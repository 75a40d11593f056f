"""Area of a design: the sum of its components' areas at the priced node.

``breakdown_mm2`` is component -> mm^2 (the same component names as a run report's ``actions``) and
sums exactly to ``area_mm2``; ``detail_mm2`` is ``<component>.<part>`` -> mm^2 (each component's parts
sum to its breakdown entry), e.g. ``gobo.pe.bin_registers`` or ``gobo.control_wiring_overhead``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.config.hardware import HardwareConfig
from sim.cost.energy import resolve_tech
from sim.cost.estimators import estimators


@dataclass(frozen=True)
class AreaReport:
    """Area of one design (mm^2)."""

    area_mm2: float
    """Total, ``sum(breakdown_mm2.values())``."""
    breakdown_mm2: Mapping[str, float]
    """Component -> mm^2."""
    detail_mm2: Mapping[str, float]
    """``component.part`` -> mm^2."""
    leakage_mw: float
    """Total leakage power at this node, mW (for reference; energy charges it over the run time)."""
    table: str
    table_path: str
    node_nm: int
    pe_overhead: float
    """The control/wiring factor applied to logic arrays (dimensionless, derived from the TPUv1 floorplan)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable data (same field names)."""
        return {"area_mm2": self.area_mm2, "breakdown_mm2": dict(self.breakdown_mm2),
                "detail_mm2": dict(self.detail_mm2), "leakage_mw": self.leakage_mw, "table": self.table,
                "table_path": self.table_path, "node_nm": self.node_nm, "pe_overhead": self.pe_overhead}


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
    return AreaReport(area_mm2=sum(breakdown.values()), breakdown_mm2=breakdown, detail_mm2=detail,
                      leakage_mw=sum(m.leakage_mw() for m in models.values()), table=t.table.name,
                      table_path=t.table.path, node_nm=t.node_nm, pe_overhead=t.pe_overhead())
