"""The sweep spec (YAML, ``version: 1``): parsing and structural validation.

```yaml
version: 1
name: gobo-tiles            # optional; default: the file name
description: ...            # optional
base:
  hw: gobo                  # a built-in name or a path (relative to this file, else to the working directory)
  workload: bert-base       # a name/path, or a list of them (crossed with every point, whatever the mode)
  seq_len: 128              # optional override of the workload's
  batch: 1                  # optional
  set: [dram.channels=2]    # optional hardware overrides applied to every point (as ``sim run --set``)
  weights: model.safetensors  # optional checkpoint (default: seeded synthetic weights)
axes:                       # dotted hardware keys, or the special keys workload, seq_len, batch
  compute.tiles: [8, 16, 32]                     # an explicit list
  compute.pes_per_tile: {range: [32, 129, 32]}   # Python range: start, stop (excluded), step -> 32 64 96 128
  buffers.weights.capacity_bytes: {logrange: [524288, 4194304, 4]}  # geometric, both ends included
  dram.kind,dram.channels: [[ddr4-3200, 2], [hbm2, 8]]  # linked keys: move together, one axis
mode: grid                  # grid (cartesian product) | zip (i-th value of every axis) | random
samples: 20                 # random only: distinct grid points drawn (per base workload), after parameter constraints
seed: 0                     # random only
constraints:                # optional; see sim/sweeps/expr.py for the expression language
  - compute.tiles * compute.pes_per_tile <= 2048   # parameters only: checked before running; failing points never run
  - area_mm2 <= 50      # reads a metric: checked after running; the row is kept, with feasible=False
metrics: [energy_*_pj]      # optional: extra metric columns to keep (glob patterns); the contract columns always stay
functional: false           # timing only (default); true adds the bit-accurate functional check per point
```

Every problem is collected and reported at once (one line, ``"; "``-separated), each naming the spec
file and the key path, e.g. ``sweeps/x.yaml: axes.compute.tiles: expected a list of values, ...``.
The file is validated by the Builder of :mod:`sim.config.schema` against :class:`SpecFile` (the file as
written; its hooks hold the axis grammar and the constraint language) and then becomes a :class:`SweepSpec`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.config.files import read_mapping
from sim.config.loader import build_spec
from sim.config.schema import Report, show, spec_field
from sim.errors import SimInputError
from sim.sweeps import expr
from sim.sweeps.columns import ID, TAIL, is_metric_name

SPECIAL_KEYS = ("workload", "seq_len", "batch")
MODES = ("grid", "zip", "random")
MAX_AXIS_VALUES = 100_000
Scalar = int | float | str | bool


@dataclass(frozen=True)
class Axis:
    """One swept key (or several linked keys) and its concrete values, in the order they are swept.

    A linked axis (``"dram.kind,dram.channels": [[ddr4-3200, 2], [hbm2, 16]]``) moves several keys together:
    each value is a tuple with one entry per key; it counts as one axis for grid/zip/random.
    """

    key: str  # dotted hardware key, workload / seq_len / batch, or "key1,key2" for linked keys
    values: tuple[Any, ...]  # scalars, or tuples (linked axis)

    @property
    def keys(self) -> tuple[str, ...]:
        """The dotted keys this axis sets."""
        return tuple(self.key.split(","))

    def assign(self, value: Any) -> dict[str, Any]:
        """key -> value for one of this axis's values."""
        return dict(zip(self.keys, value)) if len(self.keys) > 1 else {self.key: value}

    def column(self, key: str) -> list[Any]:
        """The values one key of this axis takes."""
        return [self.assign(v)[key] for v in self.values]


@dataclass(frozen=True)
class SweepSpec:
    """A parsed, structurally valid sweep spec (hardware values are checked per point by :mod:`plan`)."""

    source: str  # how the spec file is named in messages ("<dict>" for a mapping)
    base_dir: Path  # relative paths in the spec are tried against this directory first
    name: str
    description: str
    hw: str
    workloads: tuple[str, ...]  # more than one: crossed with every point; the column "workload" is added
    seq_len: int | None
    batch: int | None
    sets: tuple[str, ...]
    weights: str | None
    axes: tuple[Axis, ...]
    mode: str
    samples: int | None
    seed: int
    constraints: tuple[expr.Constraint, ...]
    metrics: tuple[str, ...] | None  # glob patterns of extra metric columns; None: all
    functional: bool
    notes: list[str] = field(default_factory=list)

    @property
    def swept_keys(self) -> list[str]:
        """The result columns that identify a point, in order ("workload" first if base lists several)."""
        keys = [k for a in self.axes for k in a.keys]
        return (["workload"] if len(self.workloads) > 1 else []) + keys

    def to_dict(self) -> dict[str, Any]:
        """The resolved spec as plain data (axes as explicit value lists): what ``DIR/spec.yaml`` holds."""
        base: dict[str, Any] = {"hw": self.hw,
                                "workload": list(self.workloads) if len(self.workloads) > 1 else self.workloads[0]}
        for key, value in (("seq_len", self.seq_len), ("batch", self.batch), ("weights", self.weights)):
            if value is not None:
                base[key] = value
        if self.sets:
            base["set"] = list(self.sets)
        out: dict[str, Any] = {"version": 1, "name": self.name}
        if self.description:
            out["description"] = self.description
        out.update({"base": base, "axes": {a.key: [list(v) if isinstance(v, tuple) else v for v in a.values]
                                            for a in self.axes}, "mode": self.mode})
        if self.mode == "random":
            out.update({"samples": self.samples, "seed": self.seed})
        out["constraints"] = [c.text for c in self.constraints]
        out["metrics"] = "all" if self.metrics is None else list(self.metrics)
        out["functional"] = self.functional
        out["source"] = self.source
        return out


def load_spec(spec_or_path: str | Path | Mapping[str, Any] | SweepSpec) -> SweepSpec:
    """Read and structurally validate a sweep spec (a YAML path or an already-parsed mapping).

    Raises:
        ConfigError: every problem found, each naming the file and the key path.
        SimInputError: the file cannot be read or parsed.
    """
    if isinstance(spec_or_path, SweepSpec):
        return spec_or_path
    if isinstance(spec_or_path, Mapping):
        return _parse(dict(spec_or_path), "<dict>", Path.cwd(), "sweep")
    path = Path(spec_or_path)
    if not path.is_file():
        raise SimInputError(f"{spec_or_path}: no such sweep spec file")
    return _parse(read_mapping(path), str(spec_or_path), path.resolve().parent, path.stem)



def _parse(raw: dict[str, Any], source: str, base_dir: Path, default_name: str) -> SweepSpec:
    f = build_spec(SpecFile, raw, source)
    return SweepSpec(source=source, base_dir=base_dir, name=f.name or default_name, description=f.description,
                     hw=f.base.hw, workloads=tuple(dict.fromkeys(f.base.workload)), seq_len=f.base.seq_len,
                     batch=f.base.batch, sets=f.base.set, weights=f.base.weights,
                     axes=tuple(Axis(",".join(_split(k)), v) for k, v in f.axes.items()), mode=f.mode,
                     samples=f.samples if f.mode == "random" else None, seed=f.seed,
                     constraints=tuple(expr.parse(t) for t in f.constraints), metrics=f.metrics,
                     functional=f.functional)


# -- the file as written: specs for the Builder of sim/config/schema.py, with hooks for the sweep grammar ------
def _one_or_more(raw: Any, report: Report) -> Any:
    """A single string stands for a one-item list."""
    if isinstance(raw, str):
        return [raw]
    if not isinstance(raw, list):
        report("", f"expected a string or a list of strings, got {show(raw)}")
    return raw


def _texts(value: tuple[str, ...], report: Report) -> None:
    for i, v in enumerate(value):
        if not v.strip():
            report(f"[{i}]", "must not be empty")


def _key_values(value: tuple[str, ...], report: Report) -> None:
    for i, v in enumerate(value):
        if "=" not in v:
            report(f"[{i}]", f"expected KEY=VALUE, e.g. dram.channels=2, got {show(v)}")


def _constraints(value: tuple[str, ...], report: Report) -> None:
    for i, text in enumerate(value):
        try:
            expr.parse(text)
        except expr.ExprError as exc:
            report(f"[{i}]", str(exc))


def _all_metrics(raw: Any, report: Report) -> Any:
    """``all`` (or nothing) keeps every metric column: None."""
    if raw == "all" or raw is None:
        return None
    if not isinstance(raw, list):
        report("", f"expected 'all' or a list of metric names / glob patterns, got {show(raw)}")
    return raw


def _known_metrics(value: tuple[str, ...], report: Report) -> None:
    for i, m in enumerate(value):
        if not any(ch in m for ch in "*?[") and not is_metric_name(m):
            report(f"[{i}]", f"unknown metric {show(m)} (scalar metrics: cycles, seconds, energy_pj, area_mm2, "
                   "dram_read_bytes, dram_write_bytes, utilization, peak_macs_per_cycle, macs, energy_<part>_pj, "
                   "area_<part>_mm2, stall_<reason>_cycles, functional_*; globs allowed)")


def _split(name: str) -> list[str]:
    """The dotted keys of an axis name (``"a.b, c.d"`` -> ``["a.b", "c.d"]``)."""
    return [k.strip() for k in name.split(",")]


def _axis_key(name: str) -> str | None:
    """Why ``name`` cannot be an axis (None if it can): the key policy of ``axes``, whose keys are data."""
    keys = _split(name)
    if any(not k or any(not p for p in k.split(".")) for k in keys):
        return "expected a dotted key such as compute.tiles (or linked keys 'a.b,c.d')"
    column = next((k for k in keys if k in (ID, *TAIL) or is_metric_name(k)), None)
    if column is not None:
        return f"'{column}' is a result column, not a parameter"
    again = next((k for k in keys if keys.count(k) > 1), None)
    if again is not None:
        return f"'{again}' is swept by more than one axis"
    return None


def _expand_axes(raw: Any, report: Report) -> Any:
    """The ``convert`` hook of ``axes``: every axis's values as an explicit tuple (a bad axis is reported and left
    out; keys the key policy refuses are left to the Builder to report)."""
    if not isinstance(raw, Mapping):
        return raw
    out: dict[Any, Any] = {}
    for name, spec in raw.items():
        if not isinstance(name, str) or not name or _axis_key(name):
            out[name] = spec
            continue
        keys = _split(name)
        values = axis_values(spec, name, report) if len(keys) == 1 else _linked_values(spec, keys, name, report)
        if values is not None and _check_columns(Axis(",".join(keys), values), name, report):
            out[name] = values
    return out


def _check_columns(axis: Axis, name: str, report: Report) -> bool:
    """The special keys' values: positive integers (seq_len, batch), names or paths (workload)."""
    ok = True
    for k in axis.keys:
        col = axis.column(k)
        if k in ("seq_len", "batch"):
            wrong = [v for v in col if not _is_int(v) or v < 1]
            if wrong:
                report(name, f"{k}: expected positive integers, got {show(wrong[0])}")
                ok = False
        if k == "workload" and not all(isinstance(v, str) and v for v in col):
            report(name, "workload: expected workload names or paths")
            ok = False
    return ok


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (int, float, str, bool)) and not (isinstance(v, float) and not math.isfinite(v))


def _linked_values(spec: Any, keys: list[str], name: str, report: Report) -> tuple[tuple[Scalar, ...], ...] | None:
    """Values of a linked axis: a list of lists, each with one scalar per key."""
    if not isinstance(spec, list) or not spec:
        report(name, f"linked keys need a non-empty list of [{', '.join(keys)}] lists")
        return None
    out = []
    for i, v in enumerate(spec):
        if not isinstance(v, list) or len(v) != len(keys) or not all(isinstance(x, (int, float, str, bool)) for x in v):
            inner = next((x for x in v if isinstance(x, (list, Mapping))), None) if isinstance(v, list) else None
            got = f"a list containing {show(inner)}" if inner is not None else show(v, items=len(keys) + 4)
            report(f"{name}[{i}]", f"expected a list of {len(keys)} values ({', '.join(keys)}), got {got}")
            return None
        out.append(tuple(v))
    return tuple(dict.fromkeys(out))


def axis_values(spec: Any, name: str, report: Report) -> tuple[Scalar, ...] | None:
    """The concrete values of axis ``name``: a list, ``{range: [start, stop, step]}`` or
    ``{logrange: [start, stop, num]}``; None after reporting a problem."""
    if isinstance(spec, list):
        if not spec:
            report(name, "expected at least one value")
            return None
        bad = [v for v in spec if not _is_scalar(v)]
        if bad:
            report(name, f"values must be numbers, strings or booleans, got {show(bad[0], items=8)}")
            return None
        return tuple(dict.fromkeys(spec))
    if isinstance(spec, Mapping) and len(spec) == 1 and next(iter(spec)) in ("range", "logrange"):
        kind, args = next(iter(spec.items()))
        where = f"{name}.{kind}"
        if not isinstance(args, list) or len(args) != 3 or not all(_is_num(a) for a in args):
            form = "[start, stop, step]" if kind == "range" else "[start, stop, num]"
            report(where, f"expected three numbers {form}, got {show(args, items=8)}")
            return None
        a, b, c = args
        return _range(a, b, c, where, report) if kind == "range" else _logrange(a, b, c, where, report)
    got = show(spec)
    if isinstance(spec, Mapping) and spec:
        got = "a mapping of " + ", ".join(show(str(k)) for k in list(spec)[:4]) + (", ..." if len(spec) > 4 else "")
    report(name, f"expected a list of values, {{range: [start, stop, step]}} or {{logrange: [start, stop, num]}}, "
           f"got {got}")
    return None


def _range(start: float, stop: float, step: float, where: str, report: Report) -> tuple[Scalar, ...] | None:
    """Python ``range`` semantics (stop excluded); ints stay ints, floats are rounded to 12 digits."""
    if step == 0:
        report(where, "step must not be 0")
        return None
    n = math.ceil((stop - start) / step - 1e-9)
    if n <= 0:
        report(where, f"is empty (start {start}, stop {stop} excluded, step {step})")
        return None
    if n > MAX_AXIS_VALUES:
        report(where, f"has {n} values; at most {MAX_AXIS_VALUES} per axis")
        return None
    if all(_is_int(v) for v in (start, stop, step)):
        return tuple(range(int(start), int(stop), int(step)))
    return tuple(round(start + i * step, 12) for i in range(n))


def _logrange(start: float, stop: float, num: float, where: str, report: Report) -> tuple[Scalar, ...] | None:
    """``num`` geometrically spaced values from start to stop, both included; integer ends give rounded ints."""
    if start <= 0 or stop <= 0:
        report(where, f"start and stop must be > 0, got {start}, {stop}")
        return None
    if not _is_int(num) or not 1 <= num <= MAX_AXIS_VALUES:
        report(where, f"num must be an integer from 1 to {MAX_AXIS_VALUES}, got {num!r}")
        return None
    if num == 1:
        vals = [float(start)]
    else:
        ratio = (stop / start) ** (1.0 / (num - 1))
        vals = [start * ratio ** i for i in range(int(num))]
        vals[-1] = float(stop)
    if _is_int(start) and _is_int(stop):
        return tuple(dict.fromkeys(int(round(v)) for v in vals))
    return tuple(round(v, 12) for v in vals)


@dataclass(frozen=True, kw_only=True)
class BaseFile:
    """``base:`` of a sweep spec as written: the point every axis value is applied to."""

    hw: str = spec_field(doc="a hardware preset name or path", min_len=1)
    workload: tuple[str, ...] = spec_field(doc="a workload name or path, or a non-empty list of them",
                                           convert=_one_or_more, min_len=1, validate=_texts)
    seq_len: int | None = spec_field(None, doc="sequence length (tokens), overriding the workload's", ge=1)
    batch: int | None = spec_field(None, doc="sequences per inference, overriding the workload's", ge=1)
    set: tuple[str, ...] = spec_field((), doc="hardware overrides KEY=VALUE applied to every point (as sim run --set)",
                                      convert=_one_or_more, validate=_key_values)
    weights: str | None = spec_field(None, doc="a safetensors checkpoint (default: seeded synthetic weights)")


@dataclass(frozen=True, kw_only=True)
class SpecFile:
    """A sweep spec file as written (``version: 1``), before the axes become :class:`Axis` objects."""

    version: int = spec_field(doc="sweep spec format version (1)", choices=(1,))
    name: str = spec_field("", doc="sweep name (default: the file name)", min_len=1)
    description: str = spec_field("", doc="one-line description")
    base: BaseFile = spec_field(doc="the base point: a mapping with at least hw and workload")
    axes: dict[str, Any] = spec_field(
        doc="a mapping of dotted keys to value lists, e.g. {compute.tiles: [8, 16]}", min_len=1, keys=_axis_key,
        partial=True, convert=_expand_axes)
    mode: str = spec_field("grid", doc="grid (cartesian product), zip (i-th value of every axis) or random",
                           choices=MODES)
    samples: int | None = spec_field(None, doc="random only: distinct grid points drawn", ge=1)
    seed: int = spec_field(0, doc="random only: the seed of the draw", ge=0)
    constraints: tuple[str, ...] = spec_field(
        (), doc="expressions, e.g. ['compute.rows == compute.cols']", convert=_one_or_more, validate=_constraints)
    metrics: tuple[str, ...] | None = spec_field(
        None, doc="'all' or extra metric columns to keep (glob patterns)", convert=_all_metrics,
        validate=_known_metrics)
    functional: bool = spec_field(False, doc="add the bit-accurate functional check per point")
    source: Any = spec_field(None, doc="informational (written to DIR/spec.yaml), ignored")

    def check(self):
        """Across axes and fields: each key swept once, workloads swept in one place, samples iff random, zip
        lengths."""
        seen: set[str] = set()
        lengths: dict[str, int] = {}
        for name, values in self.axes.items():
            keys = _split(name)
            again = next((k for k in keys if k in seen), None)
            if again is not None:
                yield f"axes.{name}", f"'{again}' is swept by more than one axis"
                continue
            if "workload" in keys and len(set(self.base.workload)) > 1:
                yield f"axes.{name}", "base.workload is already a list; sweep workloads in one place only"
                continue
            seen.update(keys)
            lengths[",".join(keys)] = len(values)
        if self.mode == "random" and self.samples is None:
            yield "samples", "mode random needs samples: a positive integer"
        elif self.mode != "random" and self.samples is not None:
            yield "samples", f"only used with mode: random (mode is {self.mode})"
        if self.mode == "zip" and len(set(lengths.values())) > 1:
            yield "axes", ("mode zip needs every axis to have the same number of values, got "
                           + ", ".join(f"{k}: {n}" for k, n in lengths.items()))
