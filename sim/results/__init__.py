"""Typed, versioned reports: every JSON the tool writes is one of these dataclasses (see :mod:`.base`).

=================  ==========================================  ==========================================
report             written by                                  class
=================  ==========================================  ==========================================
run                ``sim run --json``, ``sim price --json``    :class:`~sim.results.run.RunResult`
compare            ``sim compare --json``                      :class:`~sim.results.compare.CompareReport`
quantize           ``sim quantize --json``                     :class:`~sim.results.quantize.QuantizeReport`
quantize-format    ``sim quantize --format F --json`` (not     :class:`~sim.results.quantize.FormatQuantizeReport`
                   gobo)
area               ``sim area --json``                         :class:`~sim.results.area.AreaReport`
sweep meta         ``sim sweep`` (``DIR/meta.json``)            :class:`~sim.results.sweep.SweepMeta`
=================  ==========================================  ==========================================

The functional pass's part of a run report is :class:`~sim.results.functional.FunctionalReport`. Units are in
the field names (``_cycles``, ``_bytes``, ``_pj``, ``_mm2``, ``_hz``, ``_mw``). The JSON Schemas in
``docs/schemas/`` are generated from these classes (``python -m sim.results docs/schemas``).
"""

from sim.results.area import AreaReport
from sim.results.base import SCHEMA_VERSION, Report
from sim.results.compare import CompareReport, DesignRow
from sim.results.functional import FunctionalReport
from sim.results.quantize import FormatLayer, FormatQuantizeReport, QuantizeLayer, QuantizeReport
from sim.results.run import OP_COLUMNS, GenerationReport, OpResult, PhaseResult, RunResult
from sim.results.sweep import SweepMeta, SweepPoints, WorkerSeconds

__all__ = ["OP_COLUMNS", "REPORTS", "SCHEMA_VERSION", "AreaReport", "CompareReport", "DesignRow", "FormatLayer",
           "FormatQuantizeReport", "FunctionalReport", "GenerationReport", "OpResult", "PhaseResult", "QuantizeLayer",
           "QuantizeReport", "Report", "RunResult", "SweepMeta", "SweepPoints", "WorkerSeconds"]

REPORTS: dict[str, type[Report]] = {"run": RunResult, "compare": CompareReport, "quantize": QuantizeReport,
                                    "quantize-format": FormatQuantizeReport, "area": AreaReport,
                                    "sweep-meta": SweepMeta}
"""Every top-level report the tool writes, by name (the file names of ``docs/schemas/<name>.schema.json``)."""
