"""Energy (action counts x energy per action + leakage x time) and area models.

Counts come from the simulation (a run report's ``actions``); prices come from a table
(``hwconfigs/tech/<name>.yaml``, :mod:`sim.cost.table`) scaled to the design's node
(:mod:`sim.cost.scaling`, Stillmaker & Baas 2017) and composed per component
(:mod:`sim.cost.estimators`). Changing a price never means re-simulating (:mod:`sim.cost.reprice`).

Public API::

    from sim.cost import price, price_ops, area, reprice, apply_prices
    e = price(result.actions, hw_cfg, result.seconds)          # EnergyReport (pJ)
    ops = price_ops(report["ops"], hw_cfg, e)                   # per-operator pJ, summing to e.energy_pj
    a = area(hw_cfg, node_nm=28)                                # AreaReport (mm^2)
    new = apply_prices(run_json, table="aladdin40", node_nm=28) # a re-priced copy of a run report
"""

from sim.cost.area import AreaReport, area
from sim.cost.energy import EnergyReport, OpEnergy, price, price_ops, resolve_tech
from sim.cost.estimators import ComponentModel, Estimator, estimators
from sim.cost.reprice import apply_prices, hw_from_report, reprice, reprice_file
from sim.cost.table import TechTable, load_table, table_names
from sim.cost.tech import Tech, tech

__all__ = [
    "AreaReport", "ComponentModel", "EnergyReport", "Estimator", "OpEnergy", "Tech", "TechTable",
    "apply_prices", "area", "estimators", "hw_from_report", "load_table", "price", "price_ops", "reprice",
    "reprice_file", "resolve_tech", "table_names", "tech",
]
