"""The base of every report the tool writes: typed dataclasses with JSON, pandas, schema and a short repr.

A report class is a ``@dataclass`` subclass of :class:`Report`. It gets:

- ``to_dict()``: plain JSON data, keys in field order (nested reports and lists of them converted);
  fields named in ``OMIT_IF_NONE`` are left out when None (e.g. ``m``/``k``/``n`` of non-matmul operators);
- ``to_json(path=None)``: deterministic JSON text (fixed key order, no NaN), written atomically to ``path``;
- ``from_dict(data)`` / ``from_json(text_or_path)``: the typed report back (nested reports rebuilt from the
  type hints; unknown keys are an error naming them, so a file of another kind is never half-read);
- ``to_frame()``: a pandas DataFrame (one row per item of the report's main list, or one row);
- ``json_schema()``: a JSON Schema (draft 2020-12) generated from the type hints (:mod:`sim.results.schema`);
- ``schema_version`` (an integer field every report carries; bumped when a field is renamed or removed) and
  ``version`` (the tool version that wrote it);
- a short ``repr`` naming the fields in ``REPR_FIELDS``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from sim.errors import SimInputError
from sim.io import write_text_atomic
from sim.results.schema import schema_of

T = TypeVar("T", bound="Report")

SCHEMA_VERSION = 1
"""The current schema version of every report (1: the first versioned schema)."""


class Report:
    """Mix-in of the report dataclasses (see the module docstring)."""

    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ()
    REPR_FIELDS: ClassVar[tuple[str, ...]] = ()
    FRAME_ROWS: ClassVar[str | None] = None
    """The list field whose items are the rows of :meth:`to_frame` (None: the report is one row)."""

    # -- plain data ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON data, keys in field order."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and f.name in self.OMIT_IF_NONE:
                continue
            out[f.name] = _plain(value)
        return out

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """Deterministic JSON text (fixed key order, no timestamps); written atomically to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        if path is not None:
            write_text_atomic(Path(path), text)
        return text

    @classmethod
    def from_dict(cls: type[T], data: Any, source: str = "<data>") -> T:
        """Rebuild the typed report from :meth:`to_dict` data (nested reports rebuilt from the type hints)."""
        return _build(cls, data, source)

    @classmethod
    def from_json(cls: type[T], text_or_path: str | os.PathLike[str]) -> T:
        """Rebuild the typed report from JSON text, or from a JSON file's path."""
        source = "<json>"
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            p = Path(text_or_path)
            source = str(p)
            try:
                text = p.read_text(encoding="utf-8")
            except OSError as exc:
                raise SimInputError(f"{p}: cannot read ({exc.strerror or exc})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SimInputError(f"{source}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        except RecursionError:
            raise SimInputError(f"{source}: nested too deeply") from None
        except ValueError as exc:  # an integer of over 4300 digits
            raise SimInputError(f"{source}: a value cannot be read ({str(exc).split(';')[0][:120]})") from None
        return cls.from_dict(data, source)

    # -- tables ----------------------------------------------------------------------------------------
    def to_frame(self) -> Any:
        """A pandas DataFrame: one row per item of ``FRAME_ROWS`` (nested mappings left out), or one row."""
        import pandas as pd

        if self.FRAME_ROWS is None:
            row = {k: v for k, v in self.to_dict().items() if not isinstance(v, (dict, list))}
            return pd.DataFrame([row])
        items = self.to_dict()[self.FRAME_ROWS]
        rows = [{k: v for k, v in item.items() if not isinstance(v, (dict, list))} for item in items]
        return pd.DataFrame(rows)

    # -- schema ------------------------------------------------------------------------------------------
    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON Schema of this report's JSON (generated from the type hints)."""
        return schema_of(cls)

    def __repr__(self) -> str:
        parts = [f"{name}={getattr(self, name)!r}" for name in self.REPR_FIELDS]
        return f"{type(self).__name__}({', '.join(parts)})"


def _plain(value: Any) -> Any:
    if isinstance(value, Report):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _build(tp: Any, data: Any, where: str) -> Any:
    """Convert JSON data to type ``tp`` (report dataclasses, lists, dicts, Optional, scalars)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if data is None:
            return None
        return _build(args[0], data, where) if len(args) == 1 else data
    if isinstance(tp, type) and issubclass(tp, Report) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise SimInputError(f"{where}: expected a JSON object for {tp.__name__}")
        hints = typing.get_type_hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp) if f.init}
        unknown = [k for k in data if k not in fields]
        if unknown:
            raise SimInputError(f"{where}: not a {tp.__name__} (unknown keys: {', '.join(map(str, unknown[:5]))})")
        kwargs = {}
        for name, f in fields.items():
            if name in data:
                kwargs[name] = _build(hints[name], data[name], f"{where}.{name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                if name in tp.OMIT_IF_NONE:
                    kwargs[name] = None
                else:
                    raise SimInputError(f"{where}: {name}: missing (a {tp.__name__} has it)")
        return tp(**kwargs)
    if origin is list:
        (etype,) = typing.get_args(tp) or (Any,)
        if not isinstance(data, list):
            raise SimInputError(f"{where}: expected a JSON list")
        return [_build(etype, v, f"{where}[{i}]") for i, v in enumerate(data)]
    if origin is dict:
        _, vtype = typing.get_args(tp) or (str, Any)
        if not isinstance(data, dict):
            raise SimInputError(f"{where}: expected a JSON object")
        return {k: _build(vtype, v, f"{where}.{k}") for k, v in data.items()}
    return data


MAX_REPORT_VALUE = 1e24  # no count, time, energy or area in a report is larger in magnitude (assumed: far beyond
                         # any simulated run: 1e24 pJ is 1 TJ, 1e24 cycles 3e7 years at 1 GHz)


def check_numbers(data: Any, source: str, limit: float = MAX_REPORT_VALUE) -> None:
    """Refuse (one line naming ``source`` and the key) a report holding a number that is NaN, infinite or larger
    than ``limit`` in magnitude (1e308 seconds, 10**400 counts): later arithmetic would overflow or be
    meaningless. Walks iteratively (a deeply nested report cannot overflow the stack)."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        v, key = stack.pop()
        if isinstance(v, Mapping):
            stack.extend((x, f"{key}.{k}" if key else str(k)) for k, x in v.items())
        elif isinstance(v, (list, tuple)):
            stack.extend((x, f"{key}[{i}]") for i, x in enumerate(v))
        elif isinstance(v, bool) or v is None or isinstance(v, str):
            continue
        elif isinstance(v, int):
            if v.bit_length() > 80 or abs(v) > limit:
                raise SimInputError(f"{source}: {key or 'value'}: a number of {v.bit_length()} bits is out of range "
                                    f"(at most {limit:g} in magnitude)")
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise SimInputError(f"{source}: {key or 'value'}: must be a finite number, got {v}")
            if abs(v) > limit:
                raise SimInputError(f"{source}: {key or 'value'}: {v:g} is out of range "
                                    f"(at most {limit:g} in magnitude)")
