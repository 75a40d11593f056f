"""Re-pricing a saved run report (JSON dict) with another table or node, without re-simulating.

:func:`reprice` returns the energy and area fields for a report; :func:`apply_prices` returns a copy of
the report with them filled in (``energy_pj``, ``energy_breakdown_pj``, ``area_mm2``,
``area_breakdown_mm2``, per-operator ``energy_pj``/``energy_breakdown_pj``, ``config.hw.tech``).
``sim price RUN.json --tech TABLE [--node-nm N]`` is ``apply_prices(read(RUN.json), table=TABLE,
node_nm=N)``; ``sim area --hw HW`` is ``area(load_hardware(HW)).to_dict()``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.config.files import read_mapping
from sim.config.hardware import HardwareConfig
from sim.config.loader import build_spec
from sim.cost.area import area
from sim.cost.energy import price, price_ops
from sim.errors import SimInputError
from sim.results.base import check_numbers

LEGACY_SRAM = {"cell": "itrs-hp", "temperature_k": 350}
"""Buffer keys given to a report written before buffers had ``cell``: such a report was priced with 1 mW/KiB of
SRAM leakage, which is CACTI 7's itrs-hp at 350 K (docs/sources.md 3.4 (a)), so it is re-priced with those."""


def hw_from_report(report: Mapping[str, Any], source: str = "<report>") -> HardwareConfig:
    """The validated design of a run report (its ``config.hw``); buffers without ``cell`` get :data:`LEGACY_SRAM`."""
    hw = (report.get("config") or {}).get("hw") if isinstance(report.get("config"), Mapping) else None
    if not isinstance(hw, Mapping):
        raise SimInputError(f"{source}: config.hw: missing (a run report from 'sim run --json' has it)")
    buffers = hw.get("buffers")
    if isinstance(buffers, Mapping) and any(isinstance(b, Mapping) and "cell" not in b for b in buffers.values()):
        hw = dict(hw)
        hw["buffers"] = {name: ({**LEGACY_SRAM, **b} if isinstance(b, Mapping) and "cell" not in b else b)
                         for name, b in buffers.items()}
    return build_spec(HardwareConfig, hw, f"{source} (config.hw)")


def reprice(report: Mapping[str, Any], *, table: str | Path | None = None, node_nm: int | None = None,
            source: str = "<report>") -> dict[str, Any]:
    """New energy and area fields of a run report (``actions``, ``config.hw``, ``seconds``, ``ops``).

    Args:
        report: the run report as a JSON dict.
        table, node_nm: overrides of the report's ``config.hw.tech`` (table name or path; nm).
        source: how the report is named in error messages (e.g. its file name).

    Returns:
        ``energy_pj``, ``energy_breakdown_pj``, ``energy_by_component_pj``, ``energy_by_action_pj``,
        ``leakage_mw``, ``area_mm2``, ``area_breakdown_mm2``, ``area_detail_mm2``, ``tech`` (``table``,
        ``table_path``, ``node_nm``) and ``ops`` (``name``, ``energy_pj``, ``energy_breakdown_pj``):
        plain JSON data.

    Raises:
        SimInputError: missing fields (named), unknown components/actions, bad table or node.
    """
    if not isinstance(report, Mapping):
        raise SimInputError(f"{source}: not a run report (expected a JSON object)")
    check_numbers(report, source)  # NaN, inf, 1e308 seconds or 10**400 counts: refused before any arithmetic
    for key in ("actions", "seconds"):
        if key not in report:
            raise SimInputError(f"{source}: {key}: missing (a run report from 'sim run --json' has it)")
    hw = hw_from_report(report, source)
    energy = price(report["actions"], hw, report["seconds"], table=table, node_nm=node_nm)
    ops = report.get("ops") or []
    if not isinstance(ops, list) or not all(isinstance(o, Mapping) for o in ops):
        raise SimInputError(f"{source}: ops: must be a list of operator objects")
    per_op = price_ops(ops, hw, energy)
    ar = area(hw, table=table, node_nm=node_nm)
    return {
        "energy_pj": energy.energy_pj, "energy_breakdown_pj": dict(energy.breakdown_pj),
        "energy_by_component_pj": dict(energy.by_component_pj),
        "energy_by_action_pj": {c: dict(a) for c, a in energy.by_action_pj.items()},
        "leakage_mw": energy.leakage_mw, "area_mm2": ar.area_mm2, "area_breakdown_mm2": dict(ar.area_breakdown_mm2),
        "area_detail_mm2": dict(ar.area_detail_mm2),
        "tech": {"table": energy.table, "table_path": energy.table_path, "node_nm": energy.node_nm},
        "ops": [{"name": o.name, "energy_pj": o.energy_pj, "energy_breakdown_pj": dict(o.breakdown_pj)}
                for o in per_op],
    }


def apply_prices(report: Mapping[str, Any], *, table: str | Path | None = None, node_nm: int | None = None,
                 source: str = "<report>") -> dict[str, Any]:
    """A copy of ``report`` with its energy/area fields (and each operator's) set by :func:`reprice`."""
    fields = reprice(report, table=table, node_nm=node_nm, source=source)
    out = copy.deepcopy(dict(report))
    for key, value in fields.items():
        if key != "ops":
            out[key] = value
    for op, priced in zip(out.get("ops") or [], fields["ops"]):
        op["energy_pj"] = priced["energy_pj"]
        op["energy_breakdown_pj"] = priced["energy_breakdown_pj"]
    gen = out.get("generation")
    if isinstance(gen, dict):  # a decoder run: each phase's energy is its operators' (sim.generation)
        for phase in gen.get("phases") or []:
            if isinstance(phase, dict):
                phase["energy_pj"] = sum(float(op.get("energy_pj") or 0.0) for op in out.get("ops") or []
                                         if isinstance(op, dict) and op.get("phase") == phase.get("phase"))
                if phase.get("phase") == "decode" and phase.get("tokens"):
                    gen["energy_per_token_pj"] = phase["energy_pj"] / phase["tokens"]
    tech_cfg = out.setdefault("config", {}).setdefault("hw", {}).setdefault("tech", {})
    if table is not None:
        tech_cfg["table"] = str(table)
    tech_cfg["node_nm"] = fields["tech"]["node_nm"]
    return out


def reprice_file(path: str | os.PathLike[str], *, table: str | Path | None = None,
                 node_nm: int | None = None) -> dict[str, Any]:
    """:func:`apply_prices` of a run report JSON file."""
    p = Path(path)
    return apply_prices(read_mapping(p), table=table, node_nm=node_nm, source=str(p))
