"""Validate-then-build: plain YAML data -> frozen dataclasses, collecting every problem on the way.

A spec is a frozen dataclass whose fields carry their rules in ``metadata`` (made with :func:`spec_field`):
``doc`` (one line, with units), ``gt``/``ge``/``le`` bounds, ``choices``, ``power_of_two`` (checked on every
scalar of the field, inside lists and mappings too), ``min_len`` (non-empty strings, lists, mappings), and
for mappings whose keys are data ``keys`` (which names are allowed, and each one's type) and ``partial``
(a bad entry is dropped, the rest kept). Values with a grammar of their own get two hooks: ``convert``
(raw data -> raw data, before the type check) and ``validate`` (on the typed value). The builder walks the
dataclass, checks types (ints, floats, bools, strings, ``Any``, optional ``X | None``, nested specs,
``dict[str, X]``, ``list[X]``, ``tuple[X, ...]``, fixed ``tuple[X, Y]``, tagged unions chosen by a
``kind`` key) and rules, and records a :class:`~sim.errors.Problem` per mistake instead of stopping at the
first, so the user sees all of them at once. Unknown keys get a did-you-mean hint (else the allowed keys).
A spec class may define ``check()``: cross-field checks run once its fields are valid.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
import types
import typing
from collections.abc import Callable, Collection, Mapping
from typing import Any

from sim.errors import Problem

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
MISSING = dataclasses.MISSING
MAX_INT = 1 << 40  # no count, size or latency in a configuration is larger (keeps every product within int64)
MAX_LISTED_KEYS = 12  # an unknown key without a close match lists the allowed keys when there are at most this many

Report = Callable[[str, str], None]
"""How a ``convert`` / ``validate`` hook records a problem: ``report(sub_key, message)``, ``sub_key`` relative to
the field (``""``: the field itself, ``"range"``: ``field.range``, ``"[0]"``: ``field[0]``)."""
KeyPolicy = Mapping[str, Any] | Collection[str] | Callable[[str], "str | None"]
_SCALAR_RULES = ("gt", "ge", "le", "choices", "power_of_two")


def spec_field(
    default: Any = MISSING,
    *,
    doc: str,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    choices: tuple[Any, ...] | None = None,
    power_of_two: bool = False,
    min_len: int | None = None,
    keys: KeyPolicy | None = None,
    partial: bool = False,
    convert: Callable[[Any, Report], Any] | None = None,
    validate: Callable[[Any, Report], None] | None = None,
    default_factory: Any = MISSING,
) -> Any:
    """A dataclass field with its validation rules and one-line documentation (units in the doc).

    Args:
        gt, ge, le, choices, power_of_two: rules for every scalar of the field (the items of a list, the
            values of a mapping too).
        min_len: the field's string (whitespace does not count), list or mapping has at least this many
            characters / items ("must not be empty" for 1).
        keys: for a ``dict[str, X]`` field whose keys are data: a mapping name -> type (the allowed names, each
            value built as its type), a collection of allowed names, or a callable ``name -> message | None``
            (a message reports the key as wrong). Without it any non-empty string is a key.
        partial: for a mapping or list: an entry with problems is dropped (its problems still recorded) and the
            enclosing spec is built from the rest, so its ``check()`` sees the valid entries.
        convert: ``convert(raw, report) -> raw``: rewrite the raw value before the type check (a value with a
            grammar of its own, e.g. ``{range: [a, b, c]}`` -> a list); problems go to ``report``.
        validate: ``validate(value, report)``: check the typed value once its type and rules passed (not called
            for ``None``); problems go to ``report``.
    """
    meta = {"doc": doc, "gt": gt, "ge": ge, "le": le, "choices": choices, "power_of_two": power_of_two,
            "min_len": min_len, "keys": keys, "partial": partial, "convert": convert, "validate": validate}
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



@functools.lru_cache(maxsize=256)
def _class_fields(cls: type) -> tuple[Mapping[str, Any], Mapping[str, dataclasses.Field]]:
    """(type hints, init fields by name) of a spec class: fixed by the class, resolved once per process (a
    sweep's points and repeated runs build the same classes); read-only views, so no caller can change them."""
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    return types.MappingProxyType(hints), types.MappingProxyType(fields)


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
            self.problem(key, f"expected {'an integer' if want_int else 'a number'}, got {show(raw)}")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(key, f"expected a finite number, got {show(raw)}")
            return None
        if want_int:
            if isinstance(value, float):
                if not value.is_integer():
                    self.problem(key, f"expected an integer, got {show(raw)}")
                    return None
                value = int(value)
            if abs(value) > MAX_INT:
                self.problem(key, f"must be <= {MAX_INT} in magnitude, got {show(raw)}")
                return None
            return value
        return float(value)

    def _check_rules(self, value: Any, key: str, meta: Mapping[str, Any]) -> bool:
        ok = True
        if meta.get("choices") is not None and value not in meta["choices"]:
            if len(meta["choices"]) == 1:
                self.problem(key, f"must be {show(meta['choices'][0])}, got {show(value)}")
                return False
            options = ", ".join(str(c) for c in meta["choices"])
            hint = did_you_mean(str(value), [str(c) for c in meta["choices"]])
            self.problem(key, f"must be one of {options}, got {show(value)}{hint}")
            return False
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if meta.get("gt") is not None and not value > meta["gt"]:
                self.problem(key, f"must be > {_num(meta['gt'])}, got {show(value)}")
                ok = False
            if meta.get("ge") is not None and not value >= meta["ge"]:
                self.problem(key, f"must be >= {_num(meta['ge'])}, got {show(value)}")
                ok = False
            if meta.get("le") is not None and not value <= meta["le"]:
                self.problem(key, f"must be <= {_num(meta['le'])}, got {show(value)}")
                ok = False
            if meta.get("power_of_two") and ok and (int(value) != value or value < 1 or int(value) & (int(value) - 1)):
                self.problem(key, f"must be a power of two, got {show(value)}")
                ok = False
        return ok

    def reporter(self, key: str) -> Report:
        """A :data:`Report` that records problems below ``key`` (what ``convert`` / ``validate`` hooks get)."""
        return lambda sub, message: self.problem(_join(key, sub), message)

    def value(self, tp: Any, raw: Any, key: str, meta: Mapping[str, Any] | None = None) -> Any:
        """Convert and check ``raw`` against type ``tp``; return the value, or None after recording a problem.

        ``meta`` holds the field's rules: the scalar rules apply to every scalar inside ``tp``; ``keys`` and
        ``partial`` to the mapping or list ``tp`` itself.
        """
        meta = meta or {}
        origin = typing.get_origin(tp)
        if tp is Any:
            return raw
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if raw is None:
                return None
            return self.value(args[0], raw, key, meta)
        if isinstance(tp, TaggedUnion):
            return self._tagged(tp, raw, key)
        if dataclasses.is_dataclass(tp):
            return self.build(tp, raw, key)  # type: ignore[arg-type]
        if origin is dict:
            return self._mapping(typing.get_args(tp)[1], raw, key, meta)
        if origin in (list, tuple):
            return self._sequence(tp, raw, key, meta)
        if tp is bool:
            if not isinstance(raw, bool):
                self.problem(key, f"expected true or false, got {show(raw)}")
                return None
            return raw
        if tp in (int, float):
            value = self._number(raw, key, tp is int)
            if value is None or not self._check_rules(value, key, meta):
                return None
            return value
        if tp is str:
            if not isinstance(raw, str):
                self.problem(key, f"expected a string, got {show(raw)}")
                return None
            if not self._check_rules(raw, key, meta):
                return None
            return raw
        raise TypeError(f"unsupported spec type {tp!r} at {key}")  # a bug in a spec class, not user input

    def _mapping(self, vtype: Any, raw: Any, key: str, meta: Mapping[str, Any]) -> dict[str, Any] | None:
        if not isinstance(raw, Mapping):
            self.problem(key, f"expected a mapping, got {show(raw)}")
            return None
        policy, partial, rules = meta.get("keys"), meta.get("partial"), _scalar_rules(meta)
        out = {}
        for name, item in raw.items():
            if not isinstance(name, str) or not name:
                self.problem(key, f"keys must be non-empty strings, got {show(name)}")
                continue
            sub = _join(key, name)
            wrong = _key_problem(policy, name)
            if wrong:
                self.problem(sub, wrong)
                continue
            before = len(self.problems)
            value = self.value(policy[name] if isinstance(policy, Mapping) else vtype, item, sub, rules)
            if not (partial and len(self.problems) > before):
                out[name] = value
        return out

    def _sequence(self, tp: Any, raw: Any, key: str, meta: Mapping[str, Any]) -> list[Any] | tuple[Any, ...] | None:
        if not isinstance(raw, (list, tuple)):
            self.problem(key, f"expected a list, got {show(raw)}")
            return None
        args = typing.get_args(tp)
        if typing.get_origin(tp) is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(raw) != len(args):
                self.problem(key, f"expected a list of {len(args)} values, got {len(raw)}")
                return None
            types_ = list(args)
        else:
            types_ = [args[0]] * len(raw)
        partial, rules = meta.get("partial"), _scalar_rules(meta)
        out = []
        for i, (etype, item) in enumerate(zip(types_, raw)):
            before = len(self.problems)
            value = self.value(etype, item, f"{key}[{i}]", rules)
            if not (partial and len(self.problems) > before):
                out.append(value)
        return out if typing.get_origin(tp) is list else tuple(out)

    def field(self, tp: Any, raw: Any, key: str, meta: Mapping[str, Any]) -> Any:
        """One field's value: the ``convert`` hook, the type and rules, ``min_len``, the ``validate`` hook.

        Returns the value (with ``partial``, what is left of it), or None after recording a problem.
        """
        before = len(self.problems)
        if meta.get("convert") is not None:
            raw = meta["convert"](raw, self.reporter(key))
            if len(self.problems) > before and not meta.get("partial"):
                return None
        value = self.value(tp, raw, key, meta)
        if value is None or len(self.problems) > before:
            return value
        least = meta.get("min_len")
        if least is not None:
            size = len(value.strip()) if isinstance(value, str) else len(value) if isinstance(
                value, (list, tuple, Mapping)) else least
            if size < least:
                self.problem(key, "must not be empty" if least == 1 else
                             f"must have at least {least} items, got {size}")
                return None
        if meta.get("validate") is not None:
            meta["validate"](value, self.reporter(key))
            if len(self.problems) > before:
                return None
        return value

    def _tagged(self, union: TaggedUnion, raw: Any, key: str) -> Any:
        if not isinstance(raw, Mapping):
            self.problem(key, f"expected a mapping, got {show(raw)}")
            return None
        tag = raw.get(union.tag)
        if not isinstance(tag, str) or tag not in union.variants:
            options = ", ".join(union.variants)
            hint = did_you_mean(str(tag), list(union.variants))
            got = "nothing" if tag is None else show(tag)
            self.problem(_join(key, union.tag), f"must be one of {options}, got {got}{hint}")
            return None
        return self.build(union.variants[tag], raw, key)

    def build(self, cls: type, raw: Any, key: str = "") -> Any:
        """Build dataclass ``cls`` from mapping ``raw``; missing optional fields take their defaults.

        Returns None if a field has a problem (``check()`` then does not run). With ``partial`` fields the
        object may be built although problems were recorded: look at :attr:`problems`.
        """
        if not isinstance(raw, Mapping):
            self.problem(key, f"expected a mapping, got {show(raw)}")
            return None
        hints, fields = _class_fields(cls)
        for name in raw:
            if name not in fields:
                self.problem(_join(key, str(name)), unknown_key(str(name), list(fields)))
        kwargs: dict[str, Any] = {}
        failed = False
        for name, f in fields.items():
            sub = _join(key, name)
            tp = f.metadata.get("union") or hints[name]
            if name in raw:
                before = len(self.problems)
                value = self.field(tp, raw[name], sub, f.metadata)
                bad = len(self.problems) > before
                if value is None and not bad and not (_optional(hints[name]) or hints[name] is Any):
                    self.problem(sub, "must not be empty")
                    bad = True
                if bad and (value is None or not f.metadata.get("partial")):
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


def _scalar_rules(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: meta[k] for k in _SCALAR_RULES if k in meta}


def _key_problem(policy: KeyPolicy | None, name: str) -> str | None:
    if policy is None:
        return None
    if callable(policy) and not isinstance(policy, Mapping):
        return policy(name)
    return None if name in policy else unknown_key(name, list(policy))


def _optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def _join(key: str, name: str) -> str:
    if not key or not name:
        return key or name
    return f"{key}{name}" if name.startswith("[") else f"{key}.{name}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def show(value: Any, items: int = 0) -> str:
    """A value as a message shows it: short; containers are named, never rendered (a YAML alias bomb must not
    be expanded into a message), except a flat list of at most ``items`` scalars, shown in full."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        if 0 < len(value) <= items and not any(isinstance(v, (Mapping, list, tuple)) for v in value):
            return "[" + ", ".join("null" if v is None else show(v) for v in value) + "]"
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


def did_you_mean(word: str, options: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the option closest to ``word``, or ``""``."""
    close = difflib.get_close_matches(word[:100], options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_key(name: str, options: list[str]) -> str:
    """The message for an unknown key: a did-you-mean hint, else the allowed keys (when there are few).

    Dotted options (``hbm2.energy_per_bit``) are compared level by level: ``hbm3`` is matched against the first
    components, ``hbm2.energy_per_bitt`` against the keys under ``hbm2``.
    """
    parts = name.split(".")
    split = [o.split(".") for o in options]
    depth = 0
    while depth < len(parts) - 1 and any(o[:depth + 1] == parts[:depth + 1] and len(o) > depth + 1 for o in split):
        depth += 1
    level = list(dict.fromkeys(o[depth] for o in split if o[:depth] == parts[:depth] and len(o) > depth))
    hint = did_you_mean(parts[depth], level)
    if not hint and 0 < len(level) <= MAX_LISTED_KEYS:
        hint = f" (allowed: {', '.join(level)})"
    return f"unknown key{hint}"


_show = show  # the names other modules imported before these became public
_did_you_mean = did_you_mean


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
            rows.extend(describe(tp, key))  # type: ignore[arg-type]
        elif typing.get_origin(tp) is dict and dataclasses.is_dataclass(typing.get_args(tp)[1]):
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
