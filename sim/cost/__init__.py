"""Energy (action counts x energy per action + leakage x time) and area models.

Counts come from the simulation (a run report's ``actions``); prices come from a table
(``hwconfigs/tech/<name>.yaml``, :mod:`sim.cost.table`) scaled to the design's node
(:mod:`sim.cost.scaling`, Stillmaker & Baas 2017) and composed per component
(:mod:`sim.cost.estimators`). Changing a price never means re-simulating (:mod:`sim.cost.reprice`).

Public API::

    from sim.cost import price, price_ops, apply_prices
    from sim.cost.area import area
    e = price(result.actions, hw_cfg, result.seconds)          # EnergyReport (pJ)
    ops = price_ops(report["ops"], hw_cfg, e)                   # per-operator pJ, summing to e.energy_pj
    a = area(hw_cfg, node_nm=28)                                # AreaReport (mm^2)
    new = apply_prices(run_json, table="aladdin40", node_nm=28) # a re-priced copy of a run report
(``area``, ``tech``, ``estimators`` and ``reprice`` share their modules' names: import them from
:mod:`sim.cost.area`, :mod:`sim.cost.tech`, :mod:`sim.cost.estimators` and :mod:`sim.cost.reprice`.)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.cost.area import AreaReport
    from sim.cost.components import ComponentModel, Estimator
    from sim.cost.energy import EnergyReport, OpEnergy, price, price_ops, resolve_tech
    from sim.cost.reprice import apply_prices, hw_from_report, reprice_file
    from sim.cost.table import TechTable, load_table, table_names
    from sim.cost.tech import Tech

_EXPORTS = {
    "AreaReport": "sim.cost.area",
    "ComponentModel": "sim.cost.components", "Estimator": "sim.cost.components",
    "EnergyReport": "sim.cost.energy", "OpEnergy": "sim.cost.energy", "price": "sim.cost.energy",
    "price_ops": "sim.cost.energy", "resolve_tech": "sim.cost.energy",
    "apply_prices": "sim.cost.reprice", "hw_from_report": "sim.cost.reprice",
    "reprice_file": "sim.cost.reprice", "TechTable": "sim.cost.table", "load_table": "sim.cost.table",
    "table_names": "sim.cost.table", "Tech": "sim.cost.tech",
}
__all__ = ["AreaReport", "ComponentModel", "EnergyReport", "Estimator", "OpEnergy", "Tech", "TechTable",
    "apply_prices", "hw_from_report", "load_table", "price", "price_ops",
    "reprice_file", "resolve_tech", "table_names"]


def __getattr__(name: str) -> Any:
    """Lazy exports (PEP 562): importing one cost module never pulls in the others."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sim.cost' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
