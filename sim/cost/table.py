"""Energy/area tables (``hwconfigs/tech/<name>.yaml``): load, validate, and hold them as frozen data.

A table is YAML with ``version: 1``, ``name``, optional ``description`` and ``extends`` (the name or path
of a base table whose entries this one overrides, entry by entry), and the groups ``scaling``,
``energy``, ``area``, ``logic``, ``overhead``, ``cells``, ``tensorcore`` and ``dram``. SRAM is not in these
tables: buffers are priced from the CACTI 7 table ``hwconfigs/tech/cacti7_sram.json`` (:mod:`sim.cost.sram`).
Every entry is a mapping with

- ``value`` (a number >= 0; > 0 unless the key allows 0), ``unit`` (must be the unit the key expects,
  see :data:`SCHEMA`), ``node`` (nm the value is given at, one of
  :data:`~sim.cost.scaling.SUPPORTED_NODES_NM`, or ``off-chip`` for DRAM), ``source`` (text);
- optionally ``derived`` / ``assumed`` / ``unverified`` (text saying how, why, or what is unconfirmed),
  ``parts`` (keys of the same group whose values must sum to ``value``: composites such as a MAC).

Every problem is reported at once as a :class:`~sim.errors.ConfigError` (a one-line
:class:`~sim.errors.SimInputError`) naming the file and the dotted key, e.g.
``hwconfigs/tech/bad.yaml: energy.add_int8.source: missing (...)``. The file is validated by the Builder of
:mod:`sim.config.schema` against :class:`TableFile` (each group a mapping whose keys are the keys of
:data:`SCHEMA`, each entry of the spec class :func:`entry_spec` makes for its key); the keys every table
must define (after ``extends``) and the composites' sums are checked on the merged entries.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.config.files import builtin_dir, read_mapping
from sim.config.schema import Builder, Report, show, spec_field
from sim.cost.scaling import SUPPORTED_NODES_NM
from sim.errors import ConfigError, Problem, SimInputError
from sim.hw.dram import DRAM_KINDS

OFF_CHIP = "off-chip"
"""``node`` of entries that are not technology-scaled (DRAM is a separate chip)."""


@dataclass(frozen=True)
class EntrySpec:
    """What the code expects of one table key: its unit and how it scales with the node."""

    unit: str
    scale: str
    """``energy``, ``area``, ``leakage_density``, ``none`` (dimensionless or a count) or ``off_chip`` (never
    scaled)."""
    allow_zero: bool = False


ENERGY_OPS = ("add_int8", "add_int16", "add_int32", "mul_int4x4", "mul_int4x8", "mul_int8", "mul_int16", "mul_int32",
              "mul_int8x16", "mul_int8x32", "mac_int8_acc32", "add_fp16", "mul_fp16", "add_fp32", "mul_fp32",
              "fma_fp16_acc32", "fma_fp32", "shift_int32", "cmp_int32", "logic_int32", "clz_int32")
AREA_UNITS = ENERGY_OPS + ("decoder_index",)
LOGIC_KINDS = ("systolic", "gobo", "tensorcore", "olive", "olaccel", "vector", "decompressor", "converter", "other")
"""Logic components with an ``overhead.<kind>`` entry (placed-area factor over their cells' area); ``other``
prices any logic component without an entry of its own (a plug-in compute kind)."""


def _schema() -> dict[str, EntrySpec]:
    s: dict[str, EntrySpec] = {"scaling.vdd_v": EntrySpec("V", "none")}
    s.update({f"energy.{k}": EntrySpec("pJ", "energy") for k in ENERGY_OPS})
    s["energy.reg_bit"] = EntrySpec("pJ/bit", "energy")
    s["energy.rf_bit"] = EntrySpec("pJ/bit", "energy")
    s.update({f"area.{k}": EntrySpec("um2", "area") for k in AREA_UNITS})
    s["area.reg_bit"] = EntrySpec("um2/bit", "area")
    s.update({
        "logic.leakage": EntrySpec("mW/mm2", "leakage_density", allow_zero=True),
        "logic.tpu_matrix_unit": EntrySpec("mm2", "area"),
        "logic.tpu_macs": EntrySpec("count", "none"),
        "logic.tpu_pe_register_bits": EntrySpec("bit", "none"),
        **{f"overhead.{kind}": EntrySpec("ratio", "none") for kind in LOGIC_KINDS},
        "cells.dff_x1": EntrySpec("um2", "area"),
        "cells.dlh_x1": EntrySpec("um2", "area"),
        "cells.clkgate_x1": EntrySpec("um2", "area"),
        "cells.dff_x1_write": EntrySpec("pJ", "energy"),
        "cells.dlh_x1_write": EntrySpec("pJ", "energy"),
        "tensorcore.rf_bytes_per_unit": EntrySpec("bytes", "none"),
        "tensorcore.rf_area_factor": EntrySpec("ratio", "none"),
        "dram.phy_area_per_pin": EntrySpec("mm2", "area", allow_zero=True),
    })
    for kind in DRAM_KINDS:
        s[f"dram.{kind}.energy_per_bit"] = EntrySpec("pJ/bit", "off_chip")
        s[f"dram.{kind}.activation"] = EntrySpec("pJ", "off_chip", allow_zero=True)
    return s


SCHEMA: dict[str, EntrySpec] = _schema()
"""Every key a table must define (after ``extends``), with its unit and scaling rule."""

_GROUPS = tuple(dict.fromkeys(k.split(".")[0] for k in SCHEMA))
_NOTES = ("derived", "assumed", "unverified")


@dataclass(frozen=True)
class Entry:
    """One table entry as given in its file (unscaled)."""

    key: str
    """Dotted key, e.g. ``energy.add_int32``."""
    value: float
    unit: str
    node: int | None
    """nm the value is given at; None for ``off-chip`` entries (never scaled)."""
    source: str
    file: str
    """The file the entry came from (a table may extend another)."""
    notes: Mapping[str, str] = field(default_factory=dict)
    """``derived`` / ``assumed`` / ``unverified`` texts, where given."""
    parts: tuple[str, ...] = ()

    @property
    def spec(self) -> EntrySpec:
        """The code's expectations of this key."""
        return SCHEMA[self.key]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for dumps and reports)."""
        out: dict[str, Any] = {"value": self.value, "unit": self.unit,
                               "node": OFF_CHIP if self.node is None else self.node, "source": self.source}
        out.update(self.notes)
        if self.parts:
            out["parts"] = list(self.parts)
        return out


@dataclass(frozen=True)
class TechTable:
    """A validated energy/area table: every key of :data:`SCHEMA`, unscaled."""

    name: str
    path: str
    """The file as shown in messages (relative to the working directory where possible)."""
    description: str
    entries: Mapping[str, Entry]
    file: str = ""
    """The resolved absolute path of the file."""

    def __getitem__(self, key: str) -> Entry:
        return self.entries[key]

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``name``, ``path``, ``entries`` (key -> entry fields)."""
        return {"name": self.name, "path": self.path, "description": self.description,
                "entries": {k: e.to_dict() for k, e in self.entries.items()}}


def tech_dir() -> Path:
    """Directory of the built-in tables (``hwconfigs/tech``)."""
    return builtin_dir("hwconfigs") / "tech"


def table_names() -> list[str]:
    """Names of the built-in tables, sorted."""
    return sorted(p.stem for p in tech_dir().glob("*.yaml"))


def resolve_table(name_or_path: str | Path) -> Path:
    """A table file: a path as given if it exists, else the built-in ``hwconfigs/tech/<name>.yaml``."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    stem = path.name.removesuffix(".yaml")
    if path.parent == Path(".") and stem:
        candidate = tech_dir() / f"{stem}.yaml"
        if candidate.is_file():
            return candidate
    raise SimInputError(f"{name_or_path}: no such energy/area table file, and no built-in table of that name "
                        f"(built-in: {', '.join(table_names())})")


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return f"hwconfigs/tech/{path.name}" if path.parent.resolve() == tech_dir().resolve() else str(path)


def load_table(name_or_path: str | Path) -> TechTable:
    """Load and validate a table (a built-in name such as ``horowitz45``, or a path).

    Raises:
        ConfigError: (a :class:`~sim.errors.SimInputError`) listing every problem with file and key.
    """
    path = resolve_table(name_or_path).resolve()
    return _load_cached(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _load_cached(path: str, _mtime_ns: int) -> TechTable:
    return _load(Path(path), ())


def _load(path: Path, chain: tuple[str, ...]) -> TechTable:
    shown = _display(path)
    if str(path) in chain:
        raise SimInputError(f"{shown}: extends: circular ({' -> '.join(chain + (str(path),))})")
    builder = Builder(shown)
    spec = builder.build(TableFile, read_mapping(path))
    if spec is None:
        raise ConfigError(builder.problems)
    base: TechTable | None = None
    if spec.extends:
        local = path.parent / spec.extends
        try:
            base_path = (local if local.is_file() else resolve_table(spec.extends)).resolve()
        except SimInputError as exc:
            raise SimInputError(f"{shown}: extends: {exc}") from None
        base = _load(base_path, chain + (str(path),))
    entries: dict[str, Entry] = dict(base.entries) if base is not None else {}
    for group in _GROUPS:
        for name, given in getattr(spec, group).items():
            entries[f"{group}.{name}"] = _entry(f"{group}.{name}", given, shown)
    problems = list(builder.problems)

    def reported(key: str) -> bool:  # a problem already names this key, a key below it or a group above it
        return any(p.key == key or p.key.startswith(key + ".") or key.startswith(p.key + ".") for p in problems)

    def bad(key: str, message: str) -> None:
        problems.append(Problem(shown, key, message))

    for key in SCHEMA:
        if key not in entries and not reported(key):
            bad(key, "missing (every key sim/cost prices with must be defined, here or in the table it extends)")
    for entry in list(entries.values()):
        group = entry.key.rsplit(".", 1)[0]
        if entry.parts and not any(reported(f"{group}.{p}") for p in entry.parts):
            _check_parts(entry, entries, shown, bad)
    if problems:
        raise ConfigError(problems)
    return TechTable(name=spec.name, path=shown, description=spec.description,
                     entries={k: entries[k] for k in SCHEMA}, file=str(path))


def _entry(key: str, given: Any, shown: str) -> Entry:
    """The :class:`Entry` of a validated entry spec (see :func:`entry_spec`)."""
    return Entry(key=key, value=given.value, unit=given.unit, node=None if given.node == OFF_CHIP else int(given.node),
                 source=given.source, file=shown, notes={f: getattr(given, f) for f in _NOTES if getattr(given, f)},
                 parts=given.parts)


# -- the file as written: specs for the Builder of sim/config/schema.py ---------------------------------------
def _node_rule(spec: EntrySpec):
    """The ``convert`` hook of ``node``: a supported node in nm, or ``off-chip`` for DRAM."""
    def check(raw: Any, report: Report) -> Any:
        if spec.scale == "off_chip":
            if raw != OFF_CHIP:
                report("", f"must be '{OFF_CHIP}' (DRAM is not technology-scaled), got {show(raw)}")
        elif not (isinstance(raw, int) and not isinstance(raw, bool) and raw in SUPPORTED_NODES_NM):
            nodes = ", ".join(str(n) for n in SUPPORTED_NODES_NM)
            report("", f"unknown node {show(raw)}; supported nodes (nm): {nodes}")
        return raw
    return check


def entry_spec(key: str) -> type:
    """The spec class of the entry at ``key``: its unit, bounds and node rule (one class per distinct
    :class:`EntrySpec`, shared by the keys that have it)."""
    return _spec_class(SCHEMA[key])


@functools.cache
def _spec_class(spec: EntrySpec) -> type:
    value = spec_field(doc=f"the value in {spec.unit}", gt=None if spec.allow_zero else 0,
                       ge=0 if spec.allow_zero else None)
    node_doc = f"'{OFF_CHIP}'" if spec.scale == "off_chip" else "the node in nm the value is given at"
    fields: list[tuple[str, Any, Any]] = [
        ("value", float, value),
        ("unit", str, spec_field(doc=f"the unit, {spec.unit}", choices=(spec.unit,))),
        ("node", Any, spec_field(doc=node_doc, convert=_node_rule(spec))),
        ("source", str, spec_field(doc="where the number comes from", min_len=1)),
        *((name, str, spec_field("", doc=f"{name}: how, why or what is unconfirmed", min_len=1)) for name in _NOTES),
        ("parts", tuple[str, ...], spec_field((), doc="keys of the same group whose values sum to value")),
    ]
    label = f"{spec.unit}_{spec.scale}" + ("_or_zero" if spec.allow_zero else "")
    name = "Entry_" + "".join(ch if ch.isalnum() else "_" for ch in label)
    cls = dataclasses.make_dataclass(name, fields, frozen=True, kw_only=True)
    cls.__module__ = __name__
    return cls


def _flatten(group: str):
    """The ``convert`` hook of a group: sub-groups (``dram.hbm2``) flattened into dotted keys (``hbm2.activation``)."""
    names = [k[len(group) + 1:] for k in SCHEMA if k.startswith(group + ".")]

    def walk(node: Mapping[Any, Any], prefix: str, out: dict[Any, Any], report: Report) -> None:
        for k, v in node.items():
            name = prefix + k if isinstance(k, str) else k
            if isinstance(k, str) and name not in names and any(n.startswith(name + ".") for n in names):
                if isinstance(v, Mapping):
                    walk(v, name + ".", out, report)
                else:
                    report(name, f"must be a mapping of entries, got {show(v)}")
            else:
                out[name] = v

    def convert(raw: Any, report: Report) -> Any:
        if not isinstance(raw, Mapping):
            return raw
        out: dict[Any, Any] = {}
        walk(raw, "", out, report)
        return out
    return convert


def _group(group: str, doc: str) -> Any:
    return spec_field(default_factory=dict, doc=doc, convert=_flatten(group), partial=True,
                      keys={k[len(group) + 1:]: entry_spec(k) for k in SCHEMA if k.startswith(group + ".")})


@dataclass(frozen=True, kw_only=True)
class TableFile:
    """An energy/area table file as written (``version: 1``); the groups hold entries by key."""

    version: int = spec_field(doc="table format version (1)", choices=(1,))
    name: str = spec_field(doc="the table's name", min_len=1)
    description: str = spec_field("", doc="one-line description")
    extends: str = spec_field("", doc="name or path of the table whose entries this one overrides", min_len=1)
    scaling: dict[str, Any] = _group("scaling", "technology-scaling parameters")
    energy: dict[str, Any] = _group("energy", "energy per operation")
    area: dict[str, Any] = _group("area", "area per unit")
    logic: dict[str, Any] = _group("logic", "logic leakage and calibration")
    overhead: dict[str, Any] = _group("overhead", "placed-area factor of each logic component kind")
    cells: dict[str, Any] = _group("cells", "standard cells (latch, flip-flop, clock gate) as ratios to reg_bit")
    tensorcore: dict[str, Any] = _group("tensorcore", "tensor-core register file")
    dram: dict[str, Any] = _group("dram", "DRAM per kind, and the PHY")


def _check_parts(entry: Entry, entries: Mapping[str, Entry], shown: str, bad) -> None:
    group = entry.key.rsplit(".", 1)[0]
    total = 0.0
    for p in entry.parts:
        part = entries.get(f"{group}.{p}")
        if part is None or part.parts:
            bad(f"{entry.key}.parts", f"'{p}' is not a plain entry of {group}")
            return
        if part.node != entry.node:
            bad(f"{entry.key}.parts", f"'{p}' is given at {part.node} nm, the composite at {entry.node} nm")
            return
        total += part.value
    if not math.isclose(total, entry.value, rel_tol=1e-6, abs_tol=1e-12):
        where = "" if entry.file == shown else f" (from {entry.file})"
        bad(f"{entry.key}.value", f"{entry.value!r}{where} is not the sum of its parts "
                                  f"{' + '.join(entry.parts)} = {total:.6g}; update the composite with its parts")
