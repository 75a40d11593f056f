"""What an estimator builds: a :class:`ComponentModel` (energy per action, area by part, leakage) of one component,
and the two helpers every logic-array estimator uses (table units -> um^2 parts; parts x the kind's overhead -> model).

An estimator (the :class:`Estimator` protocol, after accelergy's plug-in interface) answers three questions for
one component: ``energy_per_action(action)`` (pJ per count of that action), ``area_mm2()`` (mm^2) and
``leakage_mw()`` (mW). Compute-kind plug-ins build theirs from these pieces (``sim/compute/<kind>/cost.py``);
:mod:`sim.cost.estimators` builds the rest (vector unit, buffers, decompressor, DRAM) and assembles a design.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from sim.cost.tech import Tech
from sim.errors import SimInputError

UM2_PER_MM2 = 1e6

CATEGORIES = ("compute", "vector", "decompressor", "sram", "dram")
"""Dynamic-energy categories of the report breakdown (``leakage`` is added by the pricing)."""


@runtime_checkable
class Estimator(Protocol):
    """Energy/area/leakage model of one component (accelergy-style estimator interface)."""

    name: str
    """Component name as it appears in a run report's ``actions`` (e.g. ``sram.weights``)."""
    category: str
    """Breakdown category: one of :data:`CATEGORIES`."""

    def actions(self) -> tuple[str, ...]:
        """The actions this component prices."""
        ...

    def energy_per_action(self, action: str) -> float:
        """Energy of one count of ``action``, pJ."""
        ...

    def area_mm2(self) -> float:
        """Area, mm^2."""
        ...

    def area_detail_mm2(self) -> Mapping[str, float]:
        """Area by part (mm^2), summing to :meth:`area_mm2`."""
        ...

    def leakage_mw(self) -> float:
        """Leakage power, mW."""
        ...


@dataclass(frozen=True)
class ComponentModel:
    """A built estimator: energies per action, area parts and leakage of one component at one node."""

    name: str
    category: str
    energies_pj: Mapping[str, float]
    """Action -> pJ per count."""
    basis: Mapping[str, str]
    """Action -> how its energy is composed from table entries (for reports and reviews)."""
    area_parts_mm2: Mapping[str, float]
    """Part -> mm^2 (the logic overhead is its own part ``placement_overhead``)."""
    leakage_power_mw: float
    """mW."""
    notes: tuple[str, ...] = field(default=())

    def actions(self) -> tuple[str, ...]:
        """The actions this component prices."""
        return tuple(self.energies_pj)

    def energy_per_action(self, action: str) -> float:
        """Energy of one count of ``action`` (pJ); unknown actions raise naming the component and action."""
        try:
            return self.energies_pj[action]
        except KeyError:
            raise SimInputError(f"energy model: component '{self.name}' has no action '{action}' "
                                f"(known: {', '.join(self.energies_pj)})") from None

    def area_mm2(self) -> float:
        """Area (mm^2), the sum of :attr:`area_parts_mm2`."""
        return sum(self.area_parts_mm2.values())

    def area_detail_mm2(self) -> Mapping[str, float]:
        """Area by part (mm^2)."""
        return dict(self.area_parts_mm2)

    def leakage_mw(self) -> float:
        """Leakage power (mW)."""
        return self.leakage_power_mw


def parts_um2(t: Tech, units: Mapping[str, tuple[str, float]], reg_bits: Mapping[str, float]) -> dict[str, float]:
    """``{part: (table unit, count)}`` and ``{part: register bits}`` -> ``{part: um^2}`` at ``t``'s node."""
    out = {part: count * t.area_um2(unit) for part, (unit, count) in units.items()}
    out.update({part: t.register_area_um2(bits) for part, bits in reg_bits.items()})
    return out


def logic_model(name: str, category: str, t: Tech, energies: dict[str, float], basis: dict[str, str],
                 blocks: Sequence[tuple[str, float, Mapping[str, float]]], extra_mm2: Mapping[str, float] | None = None,
                 extra_leak_mw: float = 0.0) -> ComponentModel:
    """Assemble logic component ``name``: ``blocks`` = [(prefix, copies, {part: um^2})] times its
    ``overhead.<name>`` factor (:meth:`Tech.logic_overhead`); ``extra_mm2`` (macros) gets none."""
    parts: dict[str, float] = {}
    for prefix, copies, block in blocks:
        for part, um2 in block.items():
            parts[f"{prefix}.{part}"] = copies * um2 / UM2_PER_MM2
    logic = sum(parts.values())
    parts["placement_overhead"] = (t.logic_overhead(name) - 1.0) * logic
    leak = t.logic_leakage_mw(sum(parts.values())) + extra_leak_mw
    if extra_mm2:
        parts.update(extra_mm2)
    return ComponentModel(name, category, energies, basis, parts, leak)
