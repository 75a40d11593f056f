"""A table scaled to one technology node: unit energies, unit areas, SRAM macros, leakage, logic overheads.

:func:`tech` returns a :class:`Tech` (cached per table file and node). Every value it hands out is the
table entry moved from the entry's own node to ``node_nm`` by :mod:`sim.cost.scaling` (the rule is
chosen by the entry's key, see :data:`sim.cost.table.SCHEMA`). Units: pJ, pJ/bit, um^2, um^2/bit, mm^2,
mW, as named by each method. SRAM macros come from the CACTI 7 table (:mod:`sim.cost.sram`), moved to
``node_nm`` by that module's rule.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from sim.cost.scaling import SUPPORTED_NODES_NM, area_scale, energy_scale
from sim.cost.sram import SramMacro, sram_macro
from sim.cost.table import SCHEMA, Entry, TechTable, load_table, resolve_table
from sim.errors import SimInputError

KIB = 1024
"""Bytes per KiB. The CACTI and Horowitz capacities ("8 KB", "1 MB") are read as KiB / MiB."""


@dataclass(frozen=True)
class Tech:
    """One table at one node. Build with :func:`tech`."""

    table: TechTable
    node_nm: int

    # -- scaling -------------------------------------------------------------------------------
    @property
    def vdd_v(self) -> float:
        """Supply voltage the energy factors are evaluated at (V)."""
        return self.table["scaling.vdd_v"].value

    def factor(self, entry: Entry) -> float:
        """Multiplier that moves ``entry`` from its node to :attr:`node_nm` (dimensionless)."""
        rule = entry.spec.scale
        if entry.node is None or rule in ("none", "off_chip"):
            return 1.0
        src, dst = entry.node, self.node_nm
        if rule == "energy":
            return energy_scale(src, dst, vdd_v=self.vdd_v)
        if rule == "area":
            return area_scale(src, dst)
        if rule == "leakage_density":
            return energy_scale(src, dst, vdd_v=self.vdd_v) / area_scale(src, dst)
        raise AssertionError(f"unhandled scaling rule {rule!r}")

    def value(self, key: str) -> float:
        """Entry ``key`` (e.g. ``energy.add_int32``) at :attr:`node_nm`, in the entry's unit."""
        entry = self.table[key]
        return entry.value * self.factor(entry)

    # -- unit energies and areas ---------------------------------------------------------------
    def energy_pj(self, op: str) -> float:
        """Energy of one operation ``op`` (``energy.<op>``), pJ (pJ/bit for ``reg_bit``/``rf_bit``)."""
        return self.value(f"energy.{op}")

    def area_um2(self, unit: str) -> float:
        """Area of one unit ``unit`` (``area.<unit>``), um^2 (um^2/bit for ``reg_bit``)."""
        return self.value(f"area.{unit}")

    # -- SRAM ----------------------------------------------------------------------------------
    def sram(self, capacity_bytes: int, port_bytes: int, banks: int, cell: str, temperature_k: int) -> SramMacro:
        """A banked SRAM macro at this node from the CACTI 7 table (:func:`sim.cost.sram.sram_macro`)."""
        return sram_macro(capacity_bytes, port_bytes, banks, cell, temperature_k, self.node_nm)

    # -- logic ---------------------------------------------------------------------------------
    def logic_leakage_mw(self, area_mm2: float) -> float:
        """Leakage power of ``area_mm2`` mm^2 of logic at this node (mW)."""
        return self.value("logic.leakage") * area_mm2

    def register_area_um2(self, bits: float) -> float:
        """Area of ``bits`` flip-flop bits (um^2)."""
        return bits * self.area_um2("reg_bit")

    def tpu_pe_area_um2(self) -> float:
        """Area of one TPUv1 matrix-unit PE moved to this node (um^2): matrix-unit area / MACs."""
        return self.value("logic.tpu_matrix_unit") * 1e6 / self.value("logic.tpu_macs")

    def tpu_pe_bare_um2(self) -> float:
        """The same PE built from table units (um^2): int8 MAC arithmetic + its register bits."""
        return self.area_um2("mac_int8_acc32") + self.register_area_um2(self.value("logic.tpu_pe_register_bits"))

    def logic_overhead(self, kind: str) -> float:
        """Placed area over cell area of logic component ``kind`` (``overhead.<kind>``, dimensionless).

        It multiplies the arithmetic + register area of that component (a PE array, the vector lanes, the
        decompressor, the converter; ``overhead.other`` for a kind without an entry, e.g. a plug-in's); SRAM and
        register-file macros carry their own periphery and get none.
        """
        key = f"overhead.{kind}"
        return self.value(key if key in SCHEMA else "overhead.other")

    def pe_overhead(self) -> float:
        """TPUv1 PE / (MAC arithmetic + registers), dimensionless: a check, not applied.

        The TPUv1 floorplan's PE area over the same PE built from the table's unit areas (all at one node,
        so the ratio does not depend on the node). Until the per-kind ``overhead`` entries it multiplied
        every logic array; now it is reported next to :meth:`logic_overhead` so the unexplained residual
        (this ratio over ``overhead.systolic``) is visible.
        """
        return self.tpu_pe_area_um2() / self.tpu_pe_bare_um2()

    def mac_arith_overhead(self) -> float:
        """TPUv1 PE area over the bare int8 MAC arithmetic alone (dimensionless; docs/sources.md 4: ~7x)."""
        return self.tpu_pe_area_um2() / self.area_um2("mac_int8_acc32")

    # -- DRAM ----------------------------------------------------------------------------------
    def dram_energy_per_bit_pj(self, kind: str) -> float:
        """DRAM energy per bit moved on the bus for DRAM ``kind`` (pJ/bit; not node-scaled)."""
        return self.value(f"dram.{kind}.energy_per_bit")

    def dram_activation_pj(self, kind: str) -> float:
        """Energy of one row activation (+ precharge) for DRAM ``kind`` (pJ; 0 where the per-bit figure includes it)."""
        return self.value(f"dram.{kind}.activation")


def tech(table: str | Path, node_nm: int) -> Tech:
    """The table ``table`` (built-in name or path) scaled to ``node_nm`` nm.

    Raises:
        SimInputError: unknown table or node, or an invalid table (file and key named).
    """
    if not isinstance(node_nm, int) or isinstance(node_nm, bool) or node_nm not in SUPPORTED_NODES_NM:
        raise SimInputError(f"technology node {node_nm!r} nm is not supported; supported (nm): "
                            f"{', '.join(str(n) for n in SUPPORTED_NODES_NM)}")
    path = resolve_table(table).resolve()
    return _tech_cached(str(path), path.stat().st_mtime_ns, node_nm)


@functools.lru_cache(maxsize=64)
def _tech_cached(path: str, _mtime_ns: int, node_nm: int) -> Tech:
    return Tech(load_table(path), node_nm)
