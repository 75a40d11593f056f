"""Validate-then-build: plain YAML data -> frozen dataclasses, collecting every problem on the way.

A spec is a frozen dataclass whose fields carry their rules in ``metadata`` (made with :func:`spec_field`):
``doc`` (one line, with units), ``gt``/``ge``/``le`` bounds, ``choices``, ``power_of_two``. The builder
walks the dataclass, checks types (ints, floats, bools, strings, nested specs, ``dict[str, Spec]``,
tagged unions chosen by a ``kind`` key) and bounds, and records a :class:`~sim.errors.Problem` per
mistake instead of stopping at the first, so the user sees all of them at once. Unknown keys get a
did-you-mean hint.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from sim.errors import Problem

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
MISSING = dataclasses.MISSING
MAX_INT = 1 << 40  # no count, size or latency in a configuration is larger (keeps every product within int64)


def spec_field(
    default: Any = MISSING,
    *,
    doc: str,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    choices: tuple[Any, ...] | None = None,
    power_of_two: bool = False,
    default_factory: Any = MISSING,
) -> Any:
    """A dataclass field with its validation rules and one-line documentation (units in the doc)."""
    meta = {"doc": doc, "gt": gt, "ge": ge, "le": le, "choices": choices, "power_of_two": power_of_two}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


class TaggedUnion:
    """Marks a field whose spec class is chosen by the value of its ``tag`` key (e.g. ``compute.kind``).

    ``variants`` is a mapping tag -> spec class, or a zero-argument callable returning one (read at every
    validation, so variants registered at run time, such as compute-kind plug-ins, are seen).
    """

    def __init__(self, tag: str, variants: Mapping[str, type] | Callable[[], Mapping[str, type]]):
        self.tag = tag
        self._variants = variants

    @property
    def variants(self) -> dict[str, type]:
        """Tag -> spec class, as of now."""
        v = self._variants
        return dict(v() if callable(v) else v)


class Builder:
    """Builds spec dataclasses from raw data for one source file, collecting problems."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, key: str, message: str) -> None:
        """Record one problem at ``key`` (dotted path)."""
        self.problems.append(Problem(self.source, key, message))

    # -- scalars -----------------------------------------------------------------------------
    def _number(self, raw: Any, key: str, want_int: bool) -> Any:
        value = raw
        if isinstance(raw, str) and _NUMBER.match(raw.strip()):
            value = float(raw) if not want_int or any(c in raw for c in ".eE") else int(raw)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(key, f"expected {'an integer' if want_int else 'a number'}, got {_show(raw)}")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(key, f"expected a finite number, got {_show(raw)}")
            return None
        if want_int:
            if isinstance(value, float):
                if not value.is_integer():
                    self.problem(key, f"expected an integer, got {_show(raw)}")
                    return None
                value = int(value)
            if abs(value) > MAX_INT:
                self.problem(key, f"must be <= {MAX_INT} in magnitude, got {_show(raw)}")
                return None
            return value
        return float(value)

    def _check_rules(self, value: Any, key: str, meta: Mapping[str, Any]) -> bool:
        ok = True
        if meta.get("choices") is not None and value not in meta["choices"]:
            options = ", ".join(str(c) for c in meta["choices"])
            hint = _did_you_mean(str(value), [str(c) for c in meta["choices"]])
            self.problem(key, f"must be one of {options}, got {_show(value)}{hint}")
            return False
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if meta.get("gt") is not None and not value > meta["gt"]:
                self.problem(key, f"must be > {_num(meta['gt'])}, got {_show(value)}")
                ok = False
            if meta.get("ge") is not None and not value >= meta["ge"]:
                self.problem(key, f"must be >= {_num(meta['ge'])}, got {_show(value)}")
                ok = False
            if meta.get("le") is not None and not value <= meta["le"]:
                self.problem(key, f"must be <= {_num(meta['le'])}, got {_show(value)}")
                ok = False
            if meta.get("power_of_two") and ok and (int(value) != value or value < 1 or int(value) & (int(value) - 1)):
                self.problem(key, f"must be a power of two, got {_show(value)}")
                ok = False
        return ok

    def value(self, tp: Any, raw: Any, key: str, meta: Mapping[str, Any] | None = None) -> Any:
        """Convert and check ``raw`` against type ``tp``; return the value, or None after recording a problem."""
        meta = meta or {}
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if raw is None:
                return None
            return self.value(args[0], raw, key, meta)
        if isinstance(tp, TaggedUnion):
            return self._tagged(tp, raw, key)
        if dataclasses.is_dataclass(tp):
            return self.build(tp, raw, key)
        if origin is dict:
            _, vtype = typing.get_args(tp)
            if not isinstance(raw, Mapping):
                self.problem(key, f"expected a mapping, got {_show(raw)}")
                return None
            out = {}
            for name, item in raw.items():
                if not isinstance(name, str) or not name:
                    self.problem(key, f"keys must be non-empty strings, got {_show(name)}")
                    continue
                out[name] = self.value(vtype, item, _join(key, name))
            return out
        if origin is tuple:
            (etype, _ellipsis) = typing.get_args(tp)
            if not isinstance(raw, (list, tuple)):
                self.problem(key, f"expected a list, got {_show(raw)}")
                return None
            return tuple(self.value(etype, item, f"{key}[{i}]", meta) for i, item in enumerate(raw))
        if tp is bool:
            if not isinstance(raw, bool):
                self.problem(key, f"expected true or false, got {_show(raw)}")
                return None
            return raw
        if tp in (int, float):
            value = self._number(raw, key, tp is int)
            if value is None or not self._check_rules(value, key, meta):
                return None
            return value
        if tp is str:
            if not isinstance(raw, str):
                self.problem(key, f"expected a string, got {_show(raw)}")
                return None
            if not self._check_rules(raw, key, meta):
                return None
            return raw
        raise TypeError(f"unsupported spec type {tp!r} at {key}")  # a bug in a spec class, not user input

    def _tagged(self, union: TaggedUnion, raw: Any, key: str) -> Any:
        if not isinstance(raw, Mapping):
            self.problem(key, f"expected a mapping, got {_show(raw)}")
            return None
        tag = raw.get(union.tag)
        if not isinstance(tag, str) or tag not in union.variants:
            options = ", ".join(union.variants)
            hint = _did_you_mean(str(tag), list(union.variants))
            got = "nothing" if tag is None else _show(tag)
            self.problem(_join(key, union.tag), f"must be one of {options}, got {got}{hint}")
            return None
        return self.build(union.variants[tag], raw, key)

    def build(self, cls: type, raw: Any, key: str = "") -> Any:
        """Build dataclass ``cls`` from mapping ``raw``; missing optional fields take their defaults."""
        if not isinstance(raw, Mapping):
            self.problem(key, f"expected a mapping, got {_show(raw)}")
            return None
        hints = typing.get_type_hints(cls, include_extras=True)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        for name in raw:
            if name not in fields:
                hint = _did_you_mean(str(name), list(fields))
                self.problem(_join(key, str(name)), f"unknown key{hint}")
        kwargs: dict[str, Any] = {}
        failed = False
        for name, f in fields.items():
            sub = _join(key, name)
            tp = f.metadata.get("union") or hints[name]
            if name in raw:
                before = len(self.problems)
                value = self.value(tp, raw[name], sub, f.metadata)
                if len(self.problems) > before:
                    failed = True
                    continue
                if value is None and not _optional(hints[name]):
                    self.problem(sub, "must not be empty")
                    failed = True
                    continue
                kwargs[name] = value
            elif f.default is MISSING and f.default_factory is MISSING:
                self.problem(sub, f"missing (expected {f.metadata.get('doc', 'a value')})")
                failed = True
        if failed:
            return None
        obj = cls(**kwargs)
        check = getattr(obj, "check", None)
        if callable(check):
            for sub, message in check():
                self.problem(_join(key, sub), message)
        return obj


def _optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _show(value: Any) -> str:
    # containers are named, never rendered: a YAML alias bomb must not be expanded into a message
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, str):
        text = repr(value[:60])
    elif isinstance(value, (bool, int, float)):
        text = str(value)
    else:
        text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word[:100], options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def describe(cls: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(dotted key, type and allowed values, default, doc) for every field of a spec class (README table)."""
    rows = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = _join(prefix, f.name)
        tp = f.metadata.get("union") or hints[f.name]
        if isinstance(tp, TaggedUnion):
            for tag, variant in tp.variants.items():
                rows.extend(describe(variant, f"{key}[{tp.tag}={tag}]"))
        elif dataclasses.is_dataclass(tp):
            rows.extend(describe(tp, key))
        elif typing.get_origin(tp) is dict:
            rows.extend(describe(typing.get_args(tp)[1], f"{key}.<name>"))
        else:
            meta = f.metadata
            kind = getattr(tp, "__name__", str(tp))
            if meta.get("choices"):
                kind = " \\| ".join(str(c) for c in meta["choices"])
            bounds = [f"{op} {_num(meta[name])}" for name, op in (("gt", ">"), ("ge", ">="), ("le", "<="))
                      if meta.get(name) is not None]
            if bounds:
                kind += " (" + ", ".join(bounds) + ")"
            default = "required" if f.default is MISSING and f.default_factory is MISSING else (
                "" if f.default is MISSING else str(f.default))
            rows.append((key, kind, default, meta.get("doc", "")))
    return rows
