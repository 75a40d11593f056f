"""Load a hardware configuration: file -> ``--set`` overrides -> validation -> :class:`HardwareConfig`."""

from __future__ import annotations

import copy
import dataclasses
import os
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sim.config.files import mapping_of_text, parse_yaml, read_text_limited, resolve
from sim.config.hardware import HardwareConfig
from sim.config.schema import Builder, TaggedUnion, unknown_key
from sim.errors import ConfigError, Problem, SimInputError

MAX_SET_CHARS = 10_000  # one --set value


def parse_set(item: str) -> tuple[str, Any]:
    """Split ``key.path=value``; the value is parsed as YAML (so ``4``, ``1.5e9``, ``true``, ``ws`` all work)."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError([Problem("--set", item, "expected KEY.PATH=VALUE, e.g. compute.rows=64")])
    if len(text) > MAX_SET_CHARS:
        raise ConfigError([Problem("--set", key, f"a value of {len(text):,} characters; at most {MAX_SET_CHARS:,}")])
    try:
        value = parse_yaml(text, f"--set {key}") if text.strip() else None
    except SimInputError as exc:
        if "invalid YAML" not in str(exc):
            raise
        value = text
    if value is None:
        raise ConfigError([Problem("--set", key, f"needs a value after '=' (got '{item}')")])
    return key, value


def _known_path(cls: type, parts: list[str], raw: Mapping[str, Any]) -> str | None:
    """None if ``parts`` names a field reachable from spec ``cls``, else a did-you-mean message."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    head, rest = parts[0], parts[1:]
    if head not in fields:
        return unknown_key(head, list(fields))
    tp = fields[head].metadata.get("union") or hints[head]
    sub_raw = raw.get(head) if isinstance(raw, Mapping) else None
    if isinstance(tp, TaggedUnion):
        tag = sub_raw.get(tp.tag) if isinstance(sub_raw, Mapping) else None
        tp = tp.variants.get(tag if isinstance(tag, str) else "", next(iter(tp.variants.values())))
    if not rest:
        return None
    if typing.get_origin(tp) is dict:
        _, vtype = typing.get_args(tp)
        if len(rest) == 1:
            return None  # replacing a whole entry
        inner = sub_raw.get(rest[0], {}) if isinstance(sub_raw, Mapping) else {}
        return _known_path(vtype, rest[1:], inner if isinstance(inner, Mapping) else {})
    if dataclasses.is_dataclass(tp):
        return _known_path(tp, rest, sub_raw if isinstance(sub_raw, Mapping) else {})  # type: ignore[arg-type]
    return f"'{head}' is a value, not a section"


def apply_overrides(raw: dict[str, Any], sets: Iterable[str], spec: type) -> tuple[dict[str, Any], dict[str, str]]:
    """Apply ``--set`` items to a raw config; returns the new raw data and {key: item} for error attribution."""
    out = copy.deepcopy(raw)
    origin: dict[str, str] = {}
    problems: list[Problem] = []
    for item in sets:
        key, value = parse_set(item)
        parts = key.split(".")
        message = _known_path(spec, parts, out)
        if message:
            problems.append(Problem(f"--set {item}", key, message))
            continue
        node = out
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[parts[-1]] = value
        origin[key] = item
    if problems:
        raise ConfigError(problems)
    return out, origin


def build_spec(spec: type, raw: Mapping[str, Any], source: str, origin: Mapping[str, str] | None = None) -> Any:
    """Validate ``raw`` against ``spec``; raise one :class:`ConfigError` listing every problem."""
    builder = Builder(source)
    obj = builder.build(spec, raw)
    if builder.problems:
        problems = []
        for p in builder.problems:
            item = next((v for k, v in (origin or {}).items() if p.key == k or p.key.startswith(k + ".")), None)
            problems.append(Problem(f"{source} (--set {item})", p.key, p.message) if item else p)
        raise ConfigError(problems)
    return obj


def load_hardware_file(name_or_path: str | os.PathLike[str], sets: Iterable[str] = ()) -> tuple[HardwareConfig, Path]:
    """Load, override and validate a hardware YAML (a path or a built-in name such as ``gobo``)."""
    path = resolve(str(name_or_path), "hwconfigs", "hardware preset")
    text = read_text_limited(path)
    items = tuple(sets)
    source = _display(path)
    key = (str(path), text, items, source)
    known = _HW_MEMO.get(key)
    if known is not None:
        _HW_MEMO[key] = _HW_MEMO.pop(key)  # most recently used last
        return known, path
    raw, origin = apply_overrides(mapping_of_text(path, text), items, HardwareConfig)
    hw = build_spec(HardwareConfig, raw, source, origin)
    _HW_MEMO[key] = hw
    while len(_HW_MEMO) > HW_MEMO_ENTRIES:
        del _HW_MEMO[next(iter(_HW_MEMO))]
    return hw, path


#: Validated hardware configurations a process keeps, least recently used dropped first: keyed by the file's
#: path and full text (read on every call, so an edited file is never served stale), the ``--set`` items in
#: order and the name messages give the file; the value is frozen and nothing writes its mappings. A file or
#: an override that fails validation raises every time (errors are never kept).
HW_MEMO_ENTRIES = 64
_HW_MEMO: dict[tuple[str, str, tuple[str, ...], str], HardwareConfig] = {}


def load_hardware(name_or_path: str | os.PathLike[str], sets: Iterable[str] = ()) -> HardwareConfig:
    """The validated :class:`HardwareConfig` of a file or built-in preset, with ``--set`` overrides applied."""
    return load_hardware_file(name_or_path, sets)[0]


def _display(path: Path) -> str:
    """How a file is named in messages: relative to the working directory when under it, else as installed."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        parent = path.parent.name
        return f"{parent}/{path.name}" if parent in ("hwconfigs", "workloads") else str(path)


def to_dict(obj: Any) -> Any:
    """A spec dataclass as plain data (the resolved configuration in reports)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return [to_dict(v) for v in obj]
    return obj
