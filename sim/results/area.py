"""The report of ``sim area``: a design's area by component and part, and its leakage power."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from sim._version import __version__
from sim.results.base import SCHEMA_VERSION, Report

__all__ = ["AreaReport"]


@dataclass(frozen=True, repr=False)
class AreaReport(Report):
    """Area of one design (mm^2) at the priced node."""

    REPR_FIELDS: ClassVar[tuple[str, ...]] = ("hw", "area_mm2", "node_nm")

    hw: str
    """The design's name."""
    area_mm2: float
    """Total, ``sum(area_breakdown_mm2.values())``."""
    area_breakdown_mm2: dict[str, float]
    """Component -> mm^2 (the component names of a run report's ``actions``)."""
    area_detail_mm2: dict[str, float]
    """``component.part`` -> mm^2 (each component's parts sum to its breakdown entry)."""
    leakage_mw: float
    """Total leakage power at this node, mW (for reference; energy charges it over the run time)."""
    table: str
    table_path: str
    node_nm: int
    pe_overhead: float
    """TPUv1 floorplan PE area over the same PE from the table's units (dimensionless): reported as a check,
    not applied (it was the blanket logic factor before the per-kind ``logic_overhead``)."""
    logic_overhead: dict[str, float] = field(default_factory=dict)
    """Logic component -> the placed-area factor applied to its cells (``overhead.<kind>`` of the table)."""
    sram_macros: dict[str, dict[str, float | int | str]] = field(default_factory=dict)
    """Buffer name -> its CACTI 7 macro: ``cell``, ``temperature_k``, ``read_pj``/``write_pj`` (per port-wide
    access), ``area_mm2``, ``leak_sub_mw``/``leak_gate_mw`` (sub-threshold and gate leakage, mW), ``cycle_ns``
    (bank cycle time), ``cacti_node_nm`` and ``note`` (how a configuration off the table's grid was priced)."""
    version: str = field(default=__version__)
    schema_version: int = field(default=SCHEMA_VERSION)
