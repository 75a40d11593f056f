"""Pricing: action counts x energy per action, plus leakage power x time.

:func:`price` turns a run's ``actions`` (component -> action -> count) into an :class:`EnergyReport`;
:func:`price_ops` splits that report over the operators of the run so the operators' energies sum to
the total. Floats throughout; every total is the plain left-to-right ``sum`` of its listed parts, so
``sum(report.breakdown_pj.values()) == report.energy_pj`` holds exactly (also after a JSON round trip).

Per-operator attribution (:func:`price_ops`):

- dynamic energy of the actions an operator lists (``ops[i].actions``) is priced directly;
- actions counted only at the run level (today: all ``dram`` actions, the engine counts DRAM per
  transfer, not per operator) are shared by the operators' DRAM bytes (``dram_read_bytes +
  dram_write_bytes``), any other run-level remainder by cycles;
- leakage is shared by cycles (``ops[i].cycles``; the operators' cycles add up to the run's);
- the float rounding residual (a few ulps of the total) is put on the last operator with energy, so
  ``sum(op.energy_pj for op in ops) == report.energy_pj`` exactly (summed in list order).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.config.hardware import HardwareConfig
from sim.cost.estimators import CATEGORIES, ComponentModel, estimators, has_decompressor
from sim.cost.tech import Tech, tech
from sim.errors import SimInputError

PJ_PER_MW_S = 1e9
"""pJ in one mW x s (1e-3 W x 1 s = 1e-3 J = 1e9 pJ)."""

Actions = Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class EnergyReport:
    """Energy of one run (pJ), with its breakdowns; see :meth:`to_dict` for the JSON form."""

    energy_pj: float
    """Total energy, pJ: ``sum(breakdown_pj.values())``."""
    breakdown_pj: Mapping[str, float]
    """Category -> pJ: ``compute``, ``vector`` (and ``decompressor`` where the design has one), ``sram``,
    ``dram``, ``leakage``."""
    by_component_pj: Mapping[str, float]
    """Component -> dynamic pJ (every component of the design, 0 where it did nothing)."""
    by_action_pj: Mapping[str, Mapping[str, float]]
    """Component -> action -> pJ, for the actions counted."""
    leakage_by_component_pj: Mapping[str, float]
    """Component -> leakage pJ over the run."""
    leakage_mw: float
    """Total leakage power, mW."""
    seconds: float
    """Run time the leakage is charged over, s."""
    table: str
    """Name of the energy/area table."""
    table_path: str
    """The table file as shown to the user."""
    node_nm: int
    table_file: str = ""
    """The resolved table file (used to price the operators with the same table)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable data (same field names)."""
        return {"energy_pj": self.energy_pj, "breakdown_pj": dict(self.breakdown_pj),
                "by_component_pj": dict(self.by_component_pj),
                "by_action_pj": {c: dict(a) for c, a in self.by_action_pj.items()},
                "leakage_by_component_pj": dict(self.leakage_by_component_pj), "leakage_mw": self.leakage_mw,
                "seconds": self.seconds, "table": self.table, "table_path": self.table_path, "node_nm": self.node_nm}


@dataclass(frozen=True)
class OpEnergy:
    """One operator's share of a run's energy (pJ)."""

    name: str
    energy_pj: float
    breakdown_pj: Mapping[str, float] = field(default_factory=dict)
    """Category -> pJ (as :attr:`EnergyReport.breakdown_pj`)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {"name": self.name, "energy_pj": self.energy_pj, "breakdown_pj": dict(self.breakdown_pj)}


def resolve_tech(hw_cfg: HardwareConfig, table: str | Path | None = None, node_nm: int | None = None) -> Tech:
    """The table and node to price ``hw_cfg`` with: the arguments, else the design's ``tech`` section."""
    return tech(table if table is not None else hw_cfg.tech.table,
                node_nm if node_nm is not None else hw_cfg.tech.node_nm)


def categories(hw_cfg: HardwareConfig) -> tuple[str, ...]:
    """Breakdown keys of a design, in report order (always compute, sram, dram, leakage)."""
    present = ["compute", "vector"] + (["decompressor"] if has_decompressor(hw_cfg) else []) + ["sram", "dram"]
    return tuple(c for c in CATEGORIES if c in present) + ("leakage",)


def _count(comp: str, action: str, value: Any) -> float:
    if type(value) is int and value >= 0:  # the common case (the simulator's counts), checked first
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise SimInputError(f"energy model: actions.{comp}.{action}: count must be a number >= 0, got {value!r}")
    return value


def _dynamic(actions: Actions, models: Mapping[str, ComponentModel], design: str) -> dict[str, dict[str, float]]:
    """Component -> action -> pJ for ``actions``; unknown components/actions raise, naming them."""
    if not isinstance(actions, Mapping):
        raise SimInputError("energy model: actions must be a mapping component -> action -> count, "
                            f"got {type(actions).__name__}")
    unknown = [c for c in actions if c not in models]
    if unknown:
        raise SimInputError(f"energy model: unknown component(s) {', '.join(map(repr, unknown))} in actions "
                            f"(design {design} has: {', '.join(models)})")
    out: dict[str, dict[str, float]] = {}
    for comp, acts in actions.items():
        if not isinstance(acts, Mapping):
            raise SimInputError(f"energy model: actions.{comp} must be a mapping action -> count")
        model = models[comp]
        out[comp] = {a: _count(comp, a, n) * model.energy_per_action(a) for a, n in acts.items()}
    return out


def price(actions: Actions, hw_cfg: HardwareConfig, seconds: float, *, table: str | Path | None = None,
          node_nm: int | None = None) -> EnergyReport:
    """Price a run: ``actions`` (component -> action -> count) on design ``hw_cfg`` over ``seconds`` s.

    Args:
        actions: the run report's ``actions``.
        hw_cfg: the design (its ``tech.table`` and ``tech.node_nm`` are the defaults).
        seconds: run time, s (leakage = total leakage power x seconds).
        table: energy/area table (built-in name or path), overriding ``hw_cfg.tech.table``.
        node_nm: technology node (nm), overriding ``hw_cfg.tech.node_nm``.

    Returns:
        :class:`EnergyReport` (pJ).

    Raises:
        SimInputError: unknown component or action (named), bad counts or time, bad table or node.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        raise SimInputError(f"energy model: seconds must be a number >= 0, got {seconds!r}")
    t = resolve_tech(hw_cfg, table, node_nm)
    models = estimators(hw_cfg, t)
    by_action = _dynamic(actions, models, hw_cfg.name)
    by_component = {c: sum(by_action.get(c, {}).values()) for c in models}
    leak_pj = {c: m.leakage_mw() * seconds * PJ_PER_MW_S for c, m in models.items()}
    breakdown = {cat: 0.0 for cat in categories(hw_cfg)}
    for c, pj in by_component.items():
        breakdown[models[c].category] += pj
    breakdown["leakage"] = sum(leak_pj.values())
    return EnergyReport(
        energy_pj=sum(breakdown.values()), breakdown_pj=breakdown, by_component_pj=by_component,
        by_action_pj=by_action, leakage_by_component_pj=leak_pj,
        leakage_mw=sum(m.leakage_mw() for m in models.values()), seconds=float(seconds),
        table=t.table.name, table_path=t.table.path, node_nm=t.node_nm, table_file=t.table.file)


def _shares(weights: Sequence[float]) -> list[float]:
    total = sum(weights)
    return [w / total for w in weights] if total > 0 else [0.0] * len(weights)


def _field(op: Any, key: str) -> Any:
    """``op[key]`` for a report dict, ``op.key`` for an ``OpResult``-like object (None if absent)."""
    return op.get(key) if isinstance(op, Mapping) else getattr(op, key, None)


def price_ops(ops: Sequence[Any], hw_cfg: HardwareConfig, report: EnergyReport) -> list[OpEnergy]:
    """Split a run's energy over its operators (module docstring: how); the energies sum to the total.

    Args:
        ops: the run report's ``ops`` (dicts, or objects with these attributes such as
            ``sim.results.OpResult``): ``name``, ``cycles``, ``actions`` and, for the DRAM share,
            ``dram_read_bytes``/``dram_write_bytes``.
        hw_cfg: the design.
        report: :func:`price` of the run's actions (its table and node are used for the operators).

    Raises:
        SimInputError: an operator lists actions the run does not have (more than the run's counts).
    """
    if not ops:
        return []
    models = estimators(hw_cfg, tech(report.table_file or report.table_path, report.node_nm))
    cats = tuple(report.breakdown_pj)
    rows: list[dict[str, float]] = []
    for op in ops:
        by_action = _dynamic(_field(op, "actions") or {}, models, hw_cfg.name)
        row = {cat: 0.0 for cat in cats}
        for comp, acts in by_action.items():
            row[models[comp].category] += sum(acts.values())
        rows.append(row)
    cycles = [float(_field(op, "cycles") or 0) for op in ops]
    dram_bytes = [float((_field(op, "dram_read_bytes") or 0) + (_field(op, "dram_write_bytes") or 0)) for op in ops]
    by_cycles = _shares(cycles) if sum(cycles) > 0 else [1.0 / len(ops)] * len(ops)
    by_dram = _shares(dram_bytes) if sum(dram_bytes) > 0 else by_cycles
    for cat in cats:
        if cat == "leakage":
            rest = report.breakdown_pj[cat]
        else:
            rest = report.breakdown_pj[cat] - sum(r[cat] for r in rows)
            if rest < -1e-9 * max(report.energy_pj, 1.0):
                raise SimInputError(f"energy model: the operators' {cat} actions exceed the run's by {-rest:.6g} pJ")
            rest = max(rest, 0.0)
        shares = by_dram if cat == "dram" else by_cycles
        for r, s in zip(rows, shares, strict=True):
            r[cat] += rest * s
    names = [_field(op, "name") for op in ops]
    out = [OpEnergy(str(i if name is None else name), sum(r.values()), r)
           for i, (name, r) in enumerate(zip(names, rows, strict=True))]
    return _close(out, report.energy_pj)


def _close(ops: list[OpEnergy], total: float) -> list[OpEnergy]:
    """Make the operators' energies sum (left to right, in list order) exactly to ``total``.

    The last operator with energy absorbs the float rounding residual (a few ulps of the total):
    its energy becomes ``total - (sum of the operators before it)``, which is exact when those carry at
    least half the total (Sterbenz), so the sum then equals ``total``; its largest category absorbs the
    same residual.
    """
    live = [i for i, o in enumerate(ops) if o.energy_pj > 0]
    if not live:
        return ops
    k = live[-1]
    before = sum(o.energy_pj for o in ops[:k])
    energy = total - before
    big = ops[k]
    cat = max(big.breakdown_pj, key=lambda c: big.breakdown_pj[c])
    parts = dict(big.breakdown_pj)
    parts[cat] += energy - big.energy_pj
    ops[k] = OpEnergy(big.name, energy, parts)
    return ops
