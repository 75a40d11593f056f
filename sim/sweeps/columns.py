"""The columns of a sweep's results table and the scalar metrics taken from one :class:`RunResult`.

Column order (the "Sweep results" contract, extended): ``point_id``; the swept keys by their dotted
paths, in spec order; the core metrics :data:`CORE`; the extras :data:`EXTRAS` (and, for decoder workloads,
:data:`GENERATION`: TTFT, TPOT, tokens per second, energy per token); the energy breakdown
``energy_<part>_pj`` (pJ); the area breakdown ``area_<part>_mm2`` (mm^2); the stall breakdown
``stall_<reason>_cycles`` (core clock cycles); the functional-check metrics ``functional_*`` (only when
the spec sets ``functional: true``); ``feasible`` (only when a constraint reads a metric); ``status``
(``ok`` or ``error``) and ``error`` (one line, empty when ok).
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

CORE = ("cycles", "seconds", "energy_pj", "area_mm2", "dram_read_bytes", "dram_write_bytes", "utilization")
"""Always written (the contract): cycles, s, pJ, mm^2, bytes, bytes, fraction 0..1."""

EXTRAS = ("peak_macs_per_cycle", "macs")
"""Peak MACs per cycle of the design; the run's total MACs (all operators)."""

GENERATION = ("ttft_seconds", "tpot_mean_seconds", "tpot_last_seconds", "tokens_per_second", "energy_per_token_pj",
              "decode_dram_bytes_per_token")
"""Decoder workloads only (``RunResult.generation``): s, s, s, tokens/s, pJ per token, bytes per decode step."""

FUNCTIONAL = ("functional_checked", "functional_cosine_vs_float", "functional_max_abs_err_vs_float")
ENERGY_FIRST = ("compute", "sram", "dram", "leakage")  # contract parts first, others sorted after
GROUPS = (("energy_", "_pj"), ("area_", "_mm2"), ("stall_", "_cycles"))
TAIL = ("feasible", "status", "error")
ID = "point_id"

_UNSAFE = re.compile(r"[^0-9A-Za-z_]+")


def part_column(prefix: str, part: str, suffix: str) -> str:
    """``energy_<part>_pj`` etc., the part name reduced to ``[0-9A-Za-z_]``."""
    return f"{prefix}{_UNSAFE.sub('_', str(part)).strip('_')}{suffix}"


def is_metric_name(name: str) -> bool:
    """True if ``name`` is (or could be, for breakdown parts) a metric column."""
    if name in CORE or name in EXTRAS or name in FUNCTIONAL or name in GENERATION:
        return True
    return any(name.startswith(p) and name.endswith(s) and len(name) > len(p) + len(s) for p, s in GROUPS)


def metrics_of(result: Any) -> dict[str, Any]:
    """Every scalar metric of a :class:`~sim.results.RunResult` as ``column -> value`` (None when not modelled)."""
    out: dict[str, Any] = {name: getattr(result, name) for name in CORE}
    out["peak_macs_per_cycle"] = result.peak_macs_per_cycle
    out["macs"] = sum(op.macs for op in result.ops)
    for (prefix, suffix), parts in zip(GROUPS, (result.energy_breakdown_pj, result.area_breakdown_mm2,
                                                 result.stall_breakdown_cycles)):
        for part, value in (parts or {}).items():
            out[part_column(prefix, part, suffix)] = value
    gen = getattr(result, "generation", None)
    if gen is not None:
        for name in GENERATION:
            out[name] = getattr(gen, name)
    if result.functional:
        f = result.functional
        out["functional_checked"] = f.checked
        out["functional_cosine_vs_float"] = f.cosine_vs_float
        out["functional_max_abs_err_vs_float"] = f.max_abs_err_vs_float
    return out


def keep_metric(name: str, patterns: tuple[str, ...] | None) -> bool:
    """Core metrics are always kept; others when ``patterns`` is None (all) or one of them matches."""
    if name in CORE:
        return True
    return patterns is None or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _group_rank(name: str) -> tuple[int, int, str]:
    if name in CORE:
        return (0, CORE.index(name), "")
    if name in EXTRAS:
        return (1, EXTRAS.index(name), "")
    if name in GENERATION:
        return (1, len(EXTRAS) + GENERATION.index(name), "")
    if name in FUNCTIONAL:
        return (6, FUNCTIONAL.index(name), "")
    for g, (prefix, suffix) in enumerate(GROUPS):
        if name.startswith(prefix) and name.endswith(suffix):
            part = name[len(prefix):-len(suffix)]
            if g == 0 and part in ENERGY_FIRST:
                return (2, ENERGY_FIRST.index(part), "")
            if g == 2:
                from sim.engine.des import STALL_REASONS

                if part in STALL_REASONS:
                    return (4, STALL_REASONS.index(part), "")
            return (2 + g, 99, part)
    return (5, 99, name)


def order_columns(swept: Iterable[str], metrics: Iterable[str], tail: Iterable[str]) -> list[str]:
    """The full header: point_id, swept keys (as given), metrics in contract order, then ``tail``."""
    return [ID, *swept, *sorted(dict.fromkeys(metrics), key=_group_rank), *tail]


def initial_metrics(functional: bool, patterns: tuple[str, ...] | None) -> list[str]:
    """Metric columns known before any point has run (breakdown parts are added as they appear)."""
    from sim.engine.des import STALL_REASONS

    names = [*CORE, *EXTRAS, *(part_column("stall_", r, "_cycles") for r in STALL_REASONS)]
    if functional:
        names += FUNCTIONAL
    return [n for n in names if keep_metric(n, patterns)]


def cell(value: Any) -> str:
    """One CSV cell: '' for None/NaN, repr-exact floats, True/False for booleans."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def select(row: Mapping[str, Any], patterns: tuple[str, ...] | None) -> dict[str, Any]:
    """The metrics of ``row`` that the spec keeps."""
    return {k: v for k, v in row.items() if keep_metric(k, patterns)}
