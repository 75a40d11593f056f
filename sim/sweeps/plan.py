"""From a :class:`SweepSpec` to the list of points to run, every point's inputs checked before any run.

Steps: resolve ``base.hw`` / workloads (paths relative to the spec file first); check every hardware axis
key exists; expand the axes (grid, zip or random); evaluate the parameter-only constraints (names not
swept take their value from the base configuration); validate every remaining point's hardware
configuration and workload (cheap: ~2 ms per point, no simulation); give each point a stable
``point_id``: the first 16 hex digits of the sha256 of the canonical JSON of its resolved hardware
configuration, workload, weights path and functional flag (so the same inputs have the same id
whatever the spec looked like, and a resume after a code update still matches).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.config.files import read_mapping, resolve
from sim.config.hardware import HardwareConfig
from sim.config.loader import apply_overrides, build_spec, to_dict
from sim.errors import ConfigError, Problem, SimInputError
from sim.sweeps import expr
from sim.sweeps.columns import is_metric_name
from sim.sweeps.spec import SPECIAL_KEYS, SweepSpec

MAX_PROBLEMS = 12  # further problems are counted, not listed (the message stays one readable line)
MAX_RANDOM_GRID = 2_000_000
MAX_POINTS = 100_000  # grid/zip points before constraints (each is validated up front: ~1 ms per point)


@dataclass(frozen=True)
class PointTask:
    """What a worker needs to run one point: the arguments of :func:`sim.api.run` (picklable, small)."""

    hw: str  # resolved path of the hardware YAML
    workload: str  # resolved path of the workload file
    seq_len: int | None
    batch: int | None
    sets: tuple[str, ...]
    weights: str | None
    functional: bool


@dataclass(frozen=True)
class Point:
    """One point of a sweep."""

    index: int  # position in expansion order (results are returned in this order)
    point_id: str
    values: dict[str, Any]  # swept key -> value (the result columns that identify the point)
    task: PointTask
    quant_group: str | None  # points with the same group share one quantized model (None: not GOBO weights)
    params: dict[str, Any] = field(default_factory=dict)  # the names constraints may read (for metric checks)


@dataclass
class Plan:
    """The points of a sweep and what happened on the way."""

    spec: SweepSpec
    points: list[Point]
    expanded: int  # points produced by the axes (before constraints and de-duplication)
    filtered: int  # dropped by parameter constraints (never run)
    duplicates: int  # dropped because an earlier point has the same resolved inputs
    param_constraints: tuple[expr.Constraint, ...]
    metric_constraints: tuple[expr.Constraint, ...]


def _locate(value: str, spec: SweepSpec, which: str, what: str) -> Path:
    """A spec path relative to the spec file's directory, else as ``sim run`` resolves it (cwd or built-in)."""
    candidate = spec.base_dir / value
    if not Path(value).is_absolute() and candidate.is_file():
        return candidate.resolve()
    return resolve(value, which, what).resolve()


def _json_value(v: Any) -> str:
    return json.dumps(v)


def _lookup(tree: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _expand(spec: SweepSpec) -> list[dict[str, Any]]:
    """Axis value combinations in order (first axis slowest), before constraints; more than :data:`MAX_POINTS`
    is refused before any is built."""
    sizes = [len(a.values) for a in spec.axes]
    total = min(sizes, default=1) if spec.mode == "zip" else math.prod(sizes)
    if total > MAX_POINTS:
        raise ConfigError([Problem(spec.source, "axes", f"mode {spec.mode} expands to {total:,} points; at most "
                                   f"{MAX_POINTS:,} are supported (mode random with samples draws from larger "
                                   "grids)")])
    if spec.mode == "zip":
        combos = list(zip(*(a.values for a in spec.axes)))
    else:
        combos = list(itertools.product(*(a.values for a in spec.axes)))
    return [_assign(spec, combo) for combo in combos]


def _assign(spec: SweepSpec, combo: tuple[Any, ...]) -> dict[str, Any]:
    """One value per axis -> one value per swept key."""
    out: dict[str, Any] = {}
    for axis, value in zip(spec.axes, combo):
        out.update(axis.assign(value))
    return out


def _sample(spec: SweepSpec, keep) -> list[dict[str, Any]]:
    """Random mode: ``samples`` distinct feasible grid points, drawn with ``numpy.random.default_rng(seed)``."""
    import numpy as np

    sizes = [len(a.values) for a in spec.axes]
    total = int(np.prod(sizes, dtype=object))
    if total > MAX_RANDOM_GRID:
        raise ConfigError([Problem(spec.source, "axes", f"mode random draws from the grid, which has {total:,} "
                                   f"points; at most {MAX_RANDOM_GRID:,} are supported")])
    order = np.random.default_rng(spec.seed).permutation(total)
    out = []
    for flat in order:
        idx = np.unravel_index(int(flat), sizes)
        combo = _assign(spec, tuple(a.values[int(i)] for a, i in zip(spec.axes, idx)))
        if keep(combo):
            out.append((int(flat), combo))
            if len(out) == spec.samples:
                break
    out.sort(key=lambda t: t[0])  # run in grid order, whatever order they were drawn in
    return [c for _, c in out]


def make_plan(spec: SweepSpec) -> Plan:
    """Resolve, expand, filter and validate every point of ``spec`` (raises one :class:`ConfigError`)."""
    from sim.workload.loader import load_workload

    problems: list[Problem] = []

    def add(key: str, message: str) -> None:
        problems.append(Problem(spec.source, key, message))

    def fail_if_any() -> None:
        if problems:
            unique = list(dict.fromkeys(problems))
            extra = len(unique) - MAX_PROBLEMS
            shown = unique[:MAX_PROBLEMS]
            if extra > 0:
                shown.append(Problem(spec.source, "axes", f"... and {extra} more problems"))
            raise ConfigError(shown)

    # base hardware (with base.set) and its raw data, reused for every point
    try:
        hw_path = _locate(spec.hw, spec, "hwconfigs", "hardware preset")
    except SimInputError as exc:
        raise ConfigError([Problem(spec.source, "base.hw", str(exc))]) from None
    hw_raw = read_mapping(hw_path)
    hw_source = str(hw_path)
    try:
        base_raw, _ = apply_overrides(hw_raw, spec.sets, HardwareConfig)
        base_cfg = build_spec(HardwareConfig, base_raw, hw_source)
    except ConfigError as exc:
        raise ConfigError([Problem(spec.source, "base.set" if spec.sets else "base.hw", str(exc))]) from None
    base_tree = to_dict(base_cfg)

    axis_of = {k: a.key for a in spec.axes for k in a.keys}
    hw_keys = [k for a in spec.axes for k in a.keys if k not in SPECIAL_KEYS]
    for k in hw_keys:
        axis = next(a for a in spec.axes if k in a.keys)
        try:
            apply_overrides(base_raw, [f"{k}={_json_value(axis.column(k)[0])}"], HardwareConfig)
        except ConfigError as exc:
            where = f"axes.{axis.key}" + (f" ({k})" if axis.key != k else "")
            add(where, "; ".join(p.message for p in exc.problems) + " (not a hardware key)")
    fail_if_any()

    # workloads: as given -> resolved path
    wl_paths: dict[str, Path] = {}
    wl_values = list(spec.workloads)
    for a in spec.axes:
        if "workload" in a.keys:
            wl_values += a.column("workload")
    for w in dict.fromkeys(wl_values):
        try:
            wl_paths[w] = _locate(w, spec, "workloads", "workload")
        except SimInputError as exc:
            add(f"axes.{axis_of['workload']}" if w not in spec.workloads else "base.workload", str(exc))
    fail_if_any()

    # constraints: every name must be known; split into parameter-only and metric-reading ones
    swept = set(spec.swept_keys)
    param_c: list[Any] = []
    metric_c: list[Any] = []
    for i, con in enumerate(spec.constraints):
        reads_metric = False
        for name in con.names:
            if is_metric_name(name):
                reads_metric = True
            elif name in swept or name in SPECIAL_KEYS:
                continue
            elif not _lookup(base_tree, name)[0]:
                add(f"constraints[{i}]", f"unknown name '{name}' in {con.text!r} (not a swept key, a hardware "
                    "key of the base configuration, workload/seq_len/batch, or a metric)")
        (metric_c if reads_metric else param_c).append(con)
    fail_if_any()

    wl_cache: dict[tuple[str, int | None, int | None], Any] = {}

    def workload_of(w: str, seq_len: int | None, batch: int | None, key_hint: str):
        k = (w, seq_len, batch)
        if k not in wl_cache:
            try:
                wl_cache[k] = load_workload(wl_paths[w], seq_len=seq_len, batch=batch)
            except SimInputError as exc:
                wl_cache[k] = None
                add(key_hint, f"{w} (seq_len {seq_len}, batch {batch}): {exc}")
        return wl_cache[k]

    def params_of(w: str, combo: Mapping[str, Any]) -> dict[str, Any]:
        seq_len = combo.get("seq_len", spec.seq_len)
        batch = combo.get("batch", spec.batch)
        params: dict[str, Any] = {"workload": w}
        hint = (f"axes.{axis_of['seq_len']}" if "seq_len" in combo else f"axes.{axis_of['batch']}" if "batch" in combo
                else "base.workload")
        wl = workload_of(w, seq_len, batch, hint)
        params["seq_len"] = wl.seq_len if wl is not None else seq_len
        params["batch"] = wl.batch if wl is not None else batch
        for con in spec.constraints:
            for name in con.names:
                if name not in params and not is_metric_name(name):
                    params[name] = combo[name] if name in combo else _lookup(base_tree, name)[1]
        params.update(combo)
        return params

    def feasible(params: Mapping[str, Any]) -> bool:
        for con in param_c:
            try:
                if not con.evaluate(params):
                    return False
            except expr.Unknown as exc:
                add(f"constraints[{spec.constraints.index(con)}]", f"{exc.args[0]} is null")
                return False
            except expr.ExprError as exc:
                add(f"constraints[{spec.constraints.index(con)}]", str(exc))
                return False
        return True

    # expand: base workload list (outermost) x axis combinations
    candidates: list[tuple[str, dict[str, Any]]] = []
    expanded = 0
    for w in spec.workloads:
        if spec.mode == "random":
            combos = _sample(spec, lambda c, w=w: feasible(params_of(c.get("workload", w), c)))
            expanded += len(combos)
        else:
            combos = _expand(spec)
            expanded += len(combos)
            combos = [c for c in combos if feasible(params_of(c.get("workload", w), c))]
        candidates += [(w, c) for c in combos]
    fail_if_any()
    filtered = expanded - len(candidates) if spec.mode != "random" else 0

    # validate every point's hardware configuration and workload; id and group each point
    points: list[Point] = []
    seen: set[str] = set()
    duplicates = 0
    cfg_cache: dict[tuple[str, ...], Any] = {}
    for w0, combo in candidates:
        w = combo.get("workload", w0)
        hw_sets = tuple(f"{k}={_json_value(combo[k])}" for k in hw_keys)
        if hw_sets not in cfg_cache:
            cfg_cache[hw_sets] = _build_point_config(base_raw, hw_sets, hw_keys, axis_of, combo, hw_source, add)
        cfg = cfg_cache[hw_sets]
        params = params_of(w, combo)
        wl = wl_cache[(w, combo.get("seq_len", spec.seq_len), combo.get("batch", spec.batch))]
        if cfg is None or wl is None:
            continue
        identity = {"hw": to_dict(cfg), "workload": to_dict(wl), "weights": spec.weights,
                    "functional": spec.functional}
        pid = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]
        if pid in seen:
            duplicates += 1
            continue
        seen.add(pid)
        group = None
        if cfg.weights.format == "gobo":
            wl_shape = {k: v for k, v in to_dict(wl).items() if k not in ("seq_len", "batch")}
            group = hashlib.sha256(json.dumps([wl_shape, to_dict(cfg.weights), spec.weights], sort_keys=True,
                                              default=str).encode()).hexdigest()[:16]
        values = ({"workload": w} if len(spec.workloads) > 1 else {}) | dict(combo)
        task = PointTask(hw=str(hw_path), workload=str(wl_paths[w]), seq_len=wl.seq_len, batch=wl.batch,
                         sets=tuple(spec.sets) + hw_sets, weights=spec.weights, functional=spec.functional)
        points.append(Point(index=len(points), point_id=pid, values=values, task=task, quant_group=group,
                            params=params))
    fail_if_any()
    return Plan(spec=spec, points=points, expanded=expanded, filtered=filtered, duplicates=duplicates,
                param_constraints=tuple(param_c), metric_constraints=tuple(metric_c))


def _build_point_config(base_raw: dict[str, Any], hw_sets: tuple[str, ...], hw_keys: list[str],
                        axis_of: Mapping[str, str], combo: Mapping[str, Any], hw_source: str,
                        add: Callable[[str, str], None]) -> HardwareConfig | None:
    """The point's validated hardware config, or None after recording its problems against the axes."""
    try:
        raw, _ = apply_overrides(base_raw, hw_sets, HardwareConfig)
        return build_spec(HardwareConfig, raw, hw_source)
    except ConfigError as exc:
        for p in exc.problems:
            owner = next((k for k in hw_keys if p.key == k or p.key.startswith(k + ".")), None)
            if owner is not None:
                where = f"axes.{axis_of[owner]}" + (f" ({owner})" if axis_of[owner] != owner else "")
                add(where, f"value {combo[owner]!r} is invalid: {p.message}")
            else:
                point = ", ".join(f"{k}={v!r}" for k, v in combo.items())
                add("axes", f"point ({point}) is invalid: {p.key}: {p.message}")
        return None
