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
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.config.files import read_mapping
from sim.errors import ConfigError, Problem, SimInputError
from sim.sweeps import expr
from sim.sweeps.columns import ID, TAIL, is_metric_name

SPECIAL_KEYS = ("workload", "seq_len", "batch")
TOP_KEYS = ("version", "name", "description", "base", "axes", "mode", "samples", "seed", "constraints",
            "metrics", "functional", "source")  # source: informational (written to DIR/spec.yaml), ignored
BASE_KEYS = ("hw", "workload", "seq_len", "batch", "set", "weights")
MODES = ("grid", "zip", "random")
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


class _Collector:
    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []

    def add(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.source, key, message))


def _hint(word: str, options: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(options)})"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def _parse(raw: dict[str, Any], source: str, base_dir: Path, default_name: str) -> SweepSpec:
    c = _Collector(source)
    for key in raw:
        if key not in TOP_KEYS:
            c.add(str(key), f"unknown key{_hint(str(key), TOP_KEYS)}")
    if raw.get("version") != 1:
        c.add("version", f"must be 1, got {raw.get('version')!r}")
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not name:
        c.add("name", f"expected a non-empty string, got {name!r}")
        name = default_name
    description = raw.get("description", "")
    if not isinstance(description, str):
        c.add("description", "expected a string")
        description = ""

    base = raw.get("base")
    hw, workloads, seq_len, batch, sets, weights = "", (), None, None, (), None
    if not isinstance(base, dict):
        c.add("base", "expected a mapping with at least hw and workload")
    else:
        for key in base:
            if key not in BASE_KEYS:
                c.add(f"base.{key}", f"unknown key{_hint(str(key), BASE_KEYS)}")
        hw = base.get("hw")
        if not isinstance(hw, str) or not hw:
            c.add("base.hw", f"expected a hardware preset name or path, got {hw!r}")
            hw = ""
        wl = base.get("workload")
        if isinstance(wl, str) and wl:
            workloads = (wl,)
        elif isinstance(wl, list) and wl and all(isinstance(w, str) and w for w in wl):
            workloads = tuple(dict.fromkeys(wl))
        else:
            c.add("base.workload", f"expected a workload name or path, or a non-empty list of them, got {wl!r}")
        for key in ("seq_len", "batch"):
            v = base.get(key)
            if v is not None and (not _is_int(v) or v < 1):
                c.add(f"base.{key}", f"expected a positive integer, got {v!r}")
        seq_len, batch = base.get("seq_len"), base.get("batch")
        s = base.get("set", [])
        if isinstance(s, str):
            s = [s]
        if not isinstance(s, list) or not all(isinstance(i, str) and "=" in i for i in s):
            c.add("base.set", f"expected a list of KEY=VALUE strings, got {s!r}")
        else:
            sets = tuple(s)
        weights = base.get("weights")
        if weights is not None and not isinstance(weights, str):
            c.add("base.weights", f"expected a path to a safetensors file, got {weights!r}")
            weights = None

    axes = _parse_axes(raw.get("axes"), c, multi_workload=len(workloads) > 1)

    mode = raw.get("mode", "grid")
    if mode not in MODES:
        c.add("mode", f"expected one of {', '.join(MODES)}, got {mode!r}")
        mode = "grid"
    samples, seed = raw.get("samples"), raw.get("seed", 0)
    if mode == "random":
        if not _is_int(samples) or samples < 1:
            c.add("samples", f"mode random needs samples: a positive integer, got {samples!r}")
            samples = 1
    elif samples is not None:
        c.add("samples", f"only used with mode: random (mode is {mode})")
    if not _is_int(seed) or seed < 0:
        c.add("seed", f"expected a non-negative integer, got {seed!r}")
        seed = 0
    if mode == "zip" and axes:
        lengths = {a.key: len(a.values) for a in axes}
        if len(set(lengths.values())) > 1:
            c.add("axes", "mode zip needs every axis to have the same number of values, got "
                  + ", ".join(f"{k}: {n}" for k, n in lengths.items()))

    constraints = []
    cons = raw.get("constraints", [])
    if isinstance(cons, str):
        cons = [cons]
    if not isinstance(cons, list):
        c.add("constraints", "expected a list of expressions, e.g. ['compute.rows == compute.cols']")
        cons = []
    for i, text in enumerate(cons):
        try:
            constraints.append(expr.parse(text))
        except expr.ExprError as exc:
            c.add(f"constraints[{i}]", str(exc))

    metrics = raw.get("metrics", "all")
    if metrics == "all" or metrics is None:
        metrics = None
    elif isinstance(metrics, list) and all(isinstance(m, str) for m in metrics):
        for i, m in enumerate(metrics):
            if not any(ch in m for ch in "*?[") and not is_metric_name(m):
                c.add(f"metrics[{i}]", f"unknown metric {m!r} (scalar metrics: cycles, seconds, energy_pj, "
                      "area_mm2, dram_read_bytes, dram_write_bytes, utilization, peak_macs_per_cycle, macs, "
                      "energy_<part>_pj, area_<part>_mm2, stall_<reason>_cycles, functional_*; globs allowed)")
        metrics = tuple(metrics)
    else:
        c.add("metrics", f"expected 'all' or a list of metric names / glob patterns, got {metrics!r}")
        metrics = None
    functional = raw.get("functional", False)
    if not isinstance(functional, bool):
        c.add("functional", f"expected true or false, got {functional!r}")
        functional = False
    if c.problems:
        raise ConfigError(c.problems)
    return SweepSpec(source=source, base_dir=base_dir, name=name, description=description, hw=hw,
                     workloads=workloads, seq_len=seq_len, batch=batch, sets=sets, weights=weights,
                     axes=tuple(axes), mode=mode, samples=samples if mode == "random" else None, seed=seed,
                     constraints=tuple(constraints), metrics=metrics, functional=functional)


def _parse_axes(axes: Any, c: _Collector, multi_workload: bool) -> list[Axis]:
    if not isinstance(axes, dict) or not axes:
        c.add("axes", "expected a mapping of dotted keys to value lists, e.g. {compute.tiles: [8, 16]}")
        return []
    out: list[Axis] = []
    seen: set[str] = set()
    for key, spec in axes.items():
        where = f"axes.{key}"
        keys = [k.strip() for k in str(key).split(",")] if isinstance(key, str) else []
        if not keys or any(not k or any(not p for p in k.split(".")) for k in keys):
            c.add(where, "expected a dotted key such as compute.tiles (or linked keys 'a.b,c.d')")
            continue
        bad = [k for k in keys if k in (ID, *TAIL) or is_metric_name(k)]
        if bad:
            c.add(where, f"'{bad[0]}' is a result column, not a parameter")
            continue
        again = [k for k in keys if k in seen or keys.count(k) > 1]
        if again:
            c.add(where, f"'{again[0]}' is swept by more than one axis")
            continue
        if "workload" in keys and multi_workload:
            c.add(where, "base.workload is already a list; sweep workloads in one place only")
            continue
        if len(keys) == 1:
            values = axis_values(spec, where, c)
        else:
            values = _linked_values(spec, keys, where, c)
        if values is None:
            continue
        axis = Axis(",".join(keys), values)
        ok = True
        for k in keys:
            col = axis.column(k)
            if k in ("seq_len", "batch"):
                wrong = [v for v in col if not _is_int(v) or v < 1]
                if wrong:
                    c.add(where, f"{k}: expected positive integers, got {wrong[0]!r}")
                    ok = False
            if k == "workload" and not all(isinstance(v, str) and v for v in col):
                c.add(where, "workload: expected workload names or paths")
                ok = False
        if ok:
            seen.update(keys)
            out.append(axis)
    return out


def _linked_values(spec: Any, keys: list[str], where: str, c: _Collector) -> tuple[tuple[Scalar, ...], ...] | None:
    """Values of a linked axis: a list of lists, each with one scalar per key."""
    if not isinstance(spec, list) or not spec:
        c.add(where, f"linked keys need a non-empty list of [{', '.join(keys)}] lists")
        return None
    out = []
    for i, v in enumerate(spec):
        if not isinstance(v, list) or len(v) != len(keys) or \
                not all(isinstance(x, (int, float, str, bool)) for x in v):
            c.add(f"{where}[{i}]", f"expected a list of {len(keys)} values ({', '.join(keys)}), got {v!r}")
            return None
        out.append(tuple(v))
    return tuple(dict.fromkeys(out))


def axis_values(spec: Any, where: str, c: _Collector) -> tuple[Scalar, ...] | None:
    """The concrete values of one axis: a list, ``{range: [start, stop, step]}`` or ``{logrange: [start, stop, n]}``."""
    if isinstance(spec, list):
        if not spec:
            c.add(where, "expected at least one value")
            return None
        bad = [v for v in spec if not isinstance(v, (int, float, str, bool))
               or (isinstance(v, float) and not math.isfinite(v))]
        if bad:
            c.add(where, f"values must be numbers, strings or booleans, got {bad[0]!r}")
            return None
        return tuple(dict.fromkeys(spec))
    if isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in ("range", "logrange"):
        kind, args = next(iter(spec.items()))
        if not isinstance(args, list) or len(args) != 3 or not all(_is_num(a) for a in args):
            form = "[start, stop, step]" if kind == "range" else "[start, stop, num]"
            c.add(f"{where}.{kind}", f"expected three numbers {form}, got {args!r}")
            return None
        return _range(*args, f"{where}.{kind}", c) if kind == "range" else _logrange(*args, f"{where}.{kind}", c)
    c.add(where, "expected a list of values, {range: [start, stop, step]} or {logrange: [start, stop, num]}, "
          f"got {spec!r}")
    return None


def _range(start: float, stop: float, step: float, where: str, c: _Collector) -> tuple[Scalar, ...] | None:
    """Python ``range`` semantics (stop excluded); ints stay ints, floats are rounded to 12 digits."""
    if step == 0:
        c.add(where, "step must not be 0")
        return None
    n = math.ceil((stop - start) / step - 1e-9)
    if n <= 0:
        c.add(where, f"is empty (start {start}, stop {stop} excluded, step {step})")
        return None
    if n > 100_000:
        c.add(where, f"has {n} values; at most 100000 per axis")
        return None
    if all(_is_int(v) for v in (start, stop, step)):
        return tuple(range(start, stop, step))
    return tuple(round(start + i * step, 12) for i in range(n))


def _logrange(start: float, stop: float, num: float, where: str, c: _Collector) -> tuple[Scalar, ...] | None:
    """``num`` geometrically spaced values from start to stop, both included; integer ends give rounded ints."""
    if start <= 0 or stop <= 0:
        c.add(where, f"start and stop must be > 0, got {start}, {stop}")
        return None
    if not _is_int(num) or not 1 <= num <= 100_000:
        c.add(where, f"num must be an integer from 1 to 100000, got {num!r}")
        return None
    if num == 1:
        vals = [float(start)]
    else:
        ratio = (stop / start) ** (1.0 / (num - 1))
        vals = [start * ratio ** i for i in range(num)]
        vals[-1] = float(stop)
    if _is_int(start) and _is_int(stop):
        return tuple(dict.fromkeys(int(round(v)) for v in vals))
    return tuple(round(v, 12) for v in vals)
