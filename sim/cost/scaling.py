"""Technology scaling of energy, area and leakage between CMOS nodes (Stillmaker & Baas 2017).

Source: A. Stillmaker, B. Baas, "Scaling equations for the accurate prediction of CMOS device performance
from 180 nm to 7 nm", Integration 58 (2017) 74-81, doi 10.1016/j.vlsi.2017.02.002. Coefficients as
tabulated in ``wromaszkan/nodeScale`` ``nodeScale.py`` (energy: HP variants for 45 nm and below, bulk
65 nm) and ``Accelergy-Project/hwcomponents`` ``hwcomponents/scaling/techscaling.py`` (area: the 45 nm
row); see ``docs/sources.md`` section 5.

Model (pure functions; factors are dimensionless multipliers):

- **Energy** of logic at node ``n``: ``EF(n) = a V^2 + b V + c`` with the node's coefficients and the
  supply ``V`` held at the table's Vdd (0.9 V, Horowitz's condition; we do not assume a nominal Vdd per
  node). Scaling ``from -> to`` multiplies by ``EF(to) / EF(from)``.
- **Area** of logic: the paper's area table, row 45 nm (relative area ``RA(n)``, 1.0 at 45 nm);
  scaling multiplies by ``RA(to) / RA(from)``.
- **Nodes not in the paper's table** (40, 28, 22 nm): ``EF`` and ``RA`` are linearly interpolated in
  the node (nm) between the two tabulated neighbours (45/32 for 40, 32/20 for 28 and 22), as
  hwcomponents does. E.g. 45 -> 28 nm at 0.9 V: energy x0.532, area x0.377.
- **SRAM** follows the logic factors down to 22 nm; below 22 nm (16, 14, 7 nm) it follows the
  hwcomponents-cacti rule instead: energy ``~ sqrt(node)`` and area ``~ node`` from the 22 nm value
  (SRAM density scaling stalled; hwcomponents-cacti cites IRDS 2022 and WikiChip).
- **Leakage power** scales like energy (as hwcomponents' ``tech_node_leak`` does); a leakage density
  (mW/mm^2) therefore scales by ``EF/RA``.
- DRAM is a separate chip: it is not scaled (table entries marked ``node: off-chip``).
"""

from __future__ import annotations

import math
from typing import Literal

# Stillmaker & Baas 2017 energy coefficients (a, b, c) of EF(V) = a V^2 + b V + c (nodeScale.py:
# depCoeffDict columns 4-6; HP variants at 45 nm and below, bulk at 65 nm).
ENERGY_COEFFS: dict[int, tuple[float, float, float]] = {
    65: (3.755, -4.398, 1.975),
    45: (1.018, -0.3107, 0.1539),
    32: (0.8367, -0.4341, 0.1701),
    20: (0.373, -0.1582, 0.04104),
    16: (0.2958, -0.1241, 0.03024),
    14: (0.2363, -0.09675, 0.02239),
    10: (0.2068, -0.09311, 0.02375),
    7: (0.1776, -0.09097, 0.02447),
}

# Stillmaker & Baas 2017 area table, row 45 nm: area at node n relative to 45 nm (hwcomponents
# techscaling.py AREA_SCALING[45 nm]; nodeScale.py areaDict gives the same to two digits).
AREA_REL_45: dict[int, float] = {65: 1.5, 45: 1.0, 32: 0.46, 20: 0.21, 16: 0.19, 14: 0.17, 10: 0.1, 7: 0.059}

SRAM_RULE_NODE_NM = 22
"""Below this node SRAM scales by the hwcomponents-cacti rule (energy ~ sqrt(node), area ~ node)."""

SUPPORTED_NODES_NM: tuple[int, ...] = (65, 45, 40, 32, 28, 22, 20, 16, 14, 10, 7)
"""Nodes a table entry may be given at, or a design priced at (tabulated or interpolated)."""

Kind = Literal["logic", "sram"]


def _check_node(node_nm: float) -> float:
    lo, hi = min(ENERGY_COEFFS), max(ENERGY_COEFFS)
    if not isinstance(node_nm, (int, float)) or isinstance(node_nm, bool) or not math.isfinite(node_nm) \
            or not lo <= node_nm <= hi:
        raise ValueError(f"technology node must be between {lo} and {hi} nm, got {node_nm!r}")
    return float(node_nm)


def _interpolate(table: dict[int, float], node_nm: float) -> float:
    """``table`` at ``node_nm``: exact where tabulated, else linear in nm between the neighbours."""
    if node_nm in table:
        return table[int(node_nm)]
    above = min(n for n in table if n > node_nm)
    below = max(n for n in table if n < node_nm)
    t = (node_nm - below) / (above - below)
    return table[below] + t * (table[above] - table[below])


def energy_factor_at(node_nm: float, vdd_v: float) -> float:
    """Stillmaker-Baas ``EF`` of logic at ``node_nm`` and supply ``vdd_v`` (V); dimensionless."""
    node = _check_node(node_nm)
    efs = {n: a * vdd_v * vdd_v + b * vdd_v + c for n, (a, b, c) in ENERGY_COEFFS.items()}
    return _interpolate(efs, node)


def relative_area_at(node_nm: float) -> float:
    """Logic area at ``node_nm`` relative to 45 nm (Stillmaker-Baas area table); dimensionless."""
    return _interpolate(AREA_REL_45, _check_node(node_nm))


def _sram_energy_rel(node_nm: float, vdd_v: float) -> float:
    if node_nm >= SRAM_RULE_NODE_NM:
        return energy_factor_at(node_nm, vdd_v)
    return energy_factor_at(SRAM_RULE_NODE_NM, vdd_v) * math.sqrt(node_nm / SRAM_RULE_NODE_NM)


def _sram_area_rel(node_nm: float) -> float:
    if node_nm >= SRAM_RULE_NODE_NM:
        return relative_area_at(node_nm)
    return relative_area_at(SRAM_RULE_NODE_NM) * (node_nm / SRAM_RULE_NODE_NM)


def energy_scale(from_nm: float, to_nm: float, *, vdd_v: float = 0.9, kind: Kind = "logic") -> float:
    """Multiplier for an energy (or leakage power) moved from ``from_nm`` to ``to_nm``; dimensionless.

    ``kind="sram"`` applies the sub-22 nm SRAM rule (module docstring).
    """
    _check_node(from_nm)
    _check_node(to_nm)
    if kind == "sram":
        return _sram_energy_rel(to_nm, vdd_v) / _sram_energy_rel(from_nm, vdd_v)
    return energy_factor_at(to_nm, vdd_v) / energy_factor_at(from_nm, vdd_v)


def area_scale(from_nm: float, to_nm: float, *, kind: Kind = "logic") -> float:
    """Multiplier for an area moved from ``from_nm`` to ``to_nm``; dimensionless."""
    _check_node(from_nm)
    _check_node(to_nm)
    if kind == "sram":
        return _sram_area_rel(to_nm) / _sram_area_rel(from_nm)
    return relative_area_at(to_nm) / relative_area_at(from_nm)
