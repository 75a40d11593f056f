"""Energy/area tables (``hwconfigs/tech/<name>.yaml``): load, validate, and hold them as frozen data.

A table is YAML with ``version: 1``, ``name``, optional ``description`` and ``extends`` (the name or path
of a base table whose entries this one overrides, entry by entry), and the groups ``scaling``,
``energy``, ``area``, ``sram``, ``logic``, ``tensorcore`` and ``dram``. Every entry is a mapping with

- ``value`` (a number >= 0; > 0 unless the key allows 0), ``unit`` (must be the unit the key expects,
  see :data:`SCHEMA`), ``node`` (nm the value is given at, one of
  :data:`~sim.cost.scaling.SUPPORTED_NODES_NM`, or ``off-chip`` for DRAM), ``source`` (text);
- optionally ``derived`` / ``assumed`` / ``unverified`` (text saying how, why, or what is unconfirmed),
  ``parts`` (keys of the same group whose values must sum to ``value``: composites such as a MAC);
- for the two SRAM fits (``sram.read_64b``, ``sram.area``): ``exponent`` and ``points`` (the
  ``[KiB, value]`` pairs the power law ``value * KiB^exponent`` was fitted to).

Every problem is reported at once as a :class:`~sim.errors.ConfigError` (a one-line
:class:`~sim.errors.SimInputError`) naming the file and the dotted key, e.g.
``hwconfigs/tech/bad.yaml: energy.add_int8.source: missing (...)``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.config.files import builtin_dir, read_mapping
from sim.config.schema import _did_you_mean
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
    """``energy``, ``area``, ``sram_energy``, ``sram_area``, ``sram_leakage``, ``leakage_density``,
    ``none`` (dimensionless or a count) or ``off_chip`` (never scaled)."""
    fit: bool = False
    """A power-law fit ``value * KiB^exponent`` with its ``points``."""
    allow_zero: bool = False


ENERGY_OPS = ("add_int8", "add_int16", "add_int32", "mul_int8", "mul_int16", "mul_int32", "mul_int8x16",
              "mul_int8x32", "mac_int8_acc32", "add_fp16", "mul_fp16", "add_fp32", "mul_fp32",
              "fma_fp16_acc32", "fma_fp32", "shift_int32", "cmp_int32", "logic_int32", "clz_int32")
AREA_UNITS = ENERGY_OPS + ("decoder_index",)


def _schema() -> dict[str, EntrySpec]:
    s: dict[str, EntrySpec] = {"scaling.vdd_v": EntrySpec("V", "none")}
    s.update({f"energy.{k}": EntrySpec("pJ", "energy") for k in ENERGY_OPS})
    s["energy.reg_bit"] = EntrySpec("pJ/bit", "energy")
    s["energy.rf_bit"] = EntrySpec("pJ/bit", "energy")
    s.update({f"area.{k}": EntrySpec("um2", "area") for k in AREA_UNITS})
    s["area.reg_bit"] = EntrySpec("um2/bit", "area")
    s.update({
        "sram.read_64b": EntrySpec("pJ", "sram_energy", fit=True),
        "sram.width_fixed_fraction": EntrySpec("ratio", "none", allow_zero=True),
        "sram.write_to_read": EntrySpec("ratio", "none"),
        "sram.area": EntrySpec("mm2", "sram_area", fit=True),
        "sram.leakage": EntrySpec("mW/KiB", "sram_leakage", allow_zero=True),
        "logic.leakage": EntrySpec("mW/mm2", "leakage_density", allow_zero=True),
        "logic.tpu_matrix_unit": EntrySpec("mm2", "area"),
        "logic.tpu_macs": EntrySpec("count", "none"),
        "logic.tpu_pe_register_bits": EntrySpec("bit", "none"),
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
_TOP_KEYS = ("version", "name", "description", "extends") + _GROUPS
_REQUIRED_FIELDS = ("value", "unit", "node", "source")
_OPTIONAL_FIELDS = ("derived", "assumed", "unverified", "parts", "exponent", "points")


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
    exponent: float | None = None
    points: tuple[tuple[float, float], ...] = ()

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
        if self.exponent is not None:
            out["exponent"] = self.exponent
            out["points"] = [list(p) for p in self.points]
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
    raw = read_mapping(path)
    problems: list[Problem] = []

    def bad(key: str, message: str) -> None:
        problems.append(Problem(shown, key, message))

    for key in raw:
        if key not in _TOP_KEYS:
            bad(str(key), f"unknown key{_did_you_mean(str(key), list(_TOP_KEYS))}")
    if raw.get("version") != 1:
        bad("version", f"must be 1, got {raw.get('version')!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        bad("name", "missing or not a string")
    base: TechTable | None = None
    if "extends" in raw:
        if not isinstance(raw["extends"], str):
            bad("extends", f"must be a table name or path, got {raw['extends']!r}")
        else:
            local = path.parent / raw["extends"]
            try:
                base_path = (local if local.is_file() else resolve_table(raw["extends"])).resolve()
            except SimInputError as exc:
                raise SimInputError(f"{shown}: extends: {exc}") from None
            base = _load(base_path, chain + (str(path),))
    entries: dict[str, Entry] = dict(base.entries) if base is not None else {}
    for group in _GROUPS:
        if group in raw:
            _walk(raw[group], group, shown, entries, bad)
    for key in SCHEMA:
        if key not in entries:
            bad(key, "missing (every key sim/cost prices with must be defined, here or in the table it extends)")
    for entry in entries.values():
        if entry.parts:
            _check_parts(entry, entries, shown, bad)
    if problems:
        raise ConfigError(problems)
    return TechTable(name=str(name), path=shown, description=str(raw.get("description", "")),
                     entries={k: entries[k] for k in SCHEMA}, file=str(path))


def _walk(node: Any, prefix: str, shown: str, out: dict[str, Entry], bad) -> None:
    """Flatten a group: entries at the keys of :data:`SCHEMA`, sub-groups in between."""
    if prefix in SCHEMA:
        entry = _entry(node, prefix, shown, bad)
        if entry is not None:
            out[prefix] = entry
        return
    if not isinstance(node, Mapping):
        bad(prefix, f"must be a mapping of entries, got {node!r}")
        return
    below = sorted({k[len(prefix) + 1:].split(".")[0] for k in SCHEMA if k.startswith(prefix + ".")})
    for key, value in node.items():
        if key not in below:
            bad(f"{prefix}.{key}", f"unknown key{_did_you_mean(str(key), below)}")
            continue
        _walk(value, f"{prefix}.{key}", shown, out, bad)


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _entry(raw: Any, key: str, shown: str, bad) -> Entry | None:
    """Validate one entry; report every problem; None if it is unusable."""
    spec = SCHEMA[key]
    if not isinstance(raw, Mapping):
        bad(key, f"must be a mapping with {', '.join(_REQUIRED_FIELDS)}, got {raw!r}")
        return None
    ok = True
    for f in raw:
        if f not in _REQUIRED_FIELDS + _OPTIONAL_FIELDS:
            bad(f"{key}.{f}", f"unknown field{_did_you_mean(str(f), list(_REQUIRED_FIELDS + _OPTIONAL_FIELDS))}")
            ok = False
    for f in _REQUIRED_FIELDS:
        if f not in raw:
            bad(f"{key}.{f}", "missing (every entry needs value, unit, node and source)")
            ok = False
    value = raw.get("value")
    if "value" in raw:
        if not _number(value):
            bad(f"{key}.value", f"must be a number, got {value!r}")
            ok = False
        elif value < 0 or (value == 0 and not spec.allow_zero):
            bad(f"{key}.value", f"must be {'>= 0' if spec.allow_zero else '> 0'}, got {value!r}")
            ok = False
        elif key == "sram.width_fixed_fraction" and value > 1:
            bad(f"{key}.value", f"must be <= 1 (a fraction of the 64-bit access energy), got {value!r}")
            ok = False
    unit = raw.get("unit")
    if "unit" in raw and unit != spec.unit:
        bad(f"{key}.unit", f"must be '{spec.unit}', got {unit!r}")
        ok = False
    node = raw.get("node")
    if "node" in raw:
        if spec.scale == "off_chip":
            if node != OFF_CHIP:
                bad(f"{key}.node", f"must be '{OFF_CHIP}' (DRAM is not technology-scaled), got {node!r}")
                ok = False
        elif not (isinstance(node, int) and not isinstance(node, bool) and node in SUPPORTED_NODES_NM):
            bad(f"{key}.node", f"unknown node {node!r}; supported nodes (nm): "
                               f"{', '.join(str(n) for n in SUPPORTED_NODES_NM)}")
            ok = False
    source = raw.get("source")
    if "source" in raw and (not isinstance(source, str) or not source.strip()):
        bad(f"{key}.source", "must be a non-empty text naming where the number comes from")
        ok = False
    notes = {}
    for f in ("derived", "assumed", "unverified"):
        if f in raw:
            if not isinstance(raw[f], str) or not raw[f].strip():
                bad(f"{key}.{f}", "must be a non-empty text")
                ok = False
            else:
                notes[f] = raw[f]
    parts = raw.get("parts", [])
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
        bad(f"{key}.parts", f"must be a list of keys of the same group, got {parts!r}")
        ok = False
    exponent, points = raw.get("exponent"), raw.get("points")
    if spec.fit:
        if not _number(exponent):
            bad(f"{key}.exponent", f"must be a number (the fit is value * KiB^exponent), got {exponent!r}")
            ok = False
        if not (isinstance(points, list) and len(points) >= 2 and all(
                isinstance(p, list) and len(p) == 2 and all(_number(x) and x > 0 for x in p) for p in points)):
            bad(f"{key}.points", "must list at least two [KiB, value] pairs of positive numbers (the fitted data)")
            ok = False
    elif exponent is not None or points is not None:
        bad(key, "exponent/points apply only to the SRAM fits (sram.read_64b, sram.area)")
        ok = False
    if not ok:
        return None
    return Entry(key=key, value=float(value), unit=unit, node=None if node == OFF_CHIP else int(node),
                 source=source, file=shown, notes=notes, parts=tuple(parts),
                 exponent=float(exponent) if spec.fit else None,
                 points=tuple((float(a), float(b)) for a, b in points) if spec.fit else ())


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
