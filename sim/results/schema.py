"""JSON Schemas generated from the report dataclasses' type hints (draft 2020-12).

:func:`schema_of` maps ``int`` -> integer, ``float`` -> number (integers accepted), ``str``, ``bool``, ``None``,
``X | None`` -> either, ``list[X]`` -> array, ``dict[str, X]`` -> object of X, ``Any`` -> anything, and a nested
report dataclass -> a ``$defs`` entry referenced by name, with every field required except those the report
omits when None (``OMIT_IF_NONE``) and no other properties allowed. ``docs/schemas/*.json`` are written from
these by ``python -m sim.results docs/schemas`` (a test checks they are current and validates every
report the CLI writes against them).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any

from sim.io import write_text_atomic

__all__ = ["schema_of", "write_schemas"]

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _type(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if tp is Any:
        return {}
    if tp is type(None):
        return {"type": "null"}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_type(a, defs) for a in typing.get_args(tp)]}
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return {"type": "array", "items": _type(args[0], defs) if args else {}}
    if origin is dict:
        args = typing.get_args(tp)
        return {"type": "object", "additionalProperties": _type(args[1], defs) if args else {}}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # placeholder against recursion
            defs[name] = _object(tp, defs)
        return {"$ref": f"#/$defs/{name}"}
    simple = {int: "integer", float: "number", str: "string", bool: "boolean"}
    if tp in simple:
        return {"type": simple[tp]}
    raise TypeError(f"no JSON Schema for type {tp!r}")


def _object(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    omit = set(getattr(cls, "OMIT_IF_NONE", ()))
    props = {}
    for f in dataclasses.fields(cls):
        prop = _type(hints[f.name], defs)
        doc = f.metadata.get("doc") if f.metadata else None
        if doc:
            prop = {**prop, "description": doc}
        props[f.name] = prop
    out: dict[str, Any] = {"type": "object", "properties": props,
                           "required": [f.name for f in dataclasses.fields(cls) if f.name not in omit],
                           "additionalProperties": False}
    if cls.__doc__:
        out["description"] = " ".join(cls.__doc__.split())
    return out


def schema_of(cls: type) -> dict[str, Any]:
    """The JSON Schema of report class ``cls``'s JSON."""
    defs: dict[str, Any] = {}
    body = _object(cls, defs)
    out = {"$schema": _DIALECT, "$id": f"gobosim/{cls.__name__}.json", "title": cls.__name__, **body}
    if defs:
        out["$defs"] = dict(sorted(defs.items()))
    return out


def write_schemas(directory: str | Path, classes: dict[str, type]) -> list[Path]:
    """Write ``<name>.schema.json`` for every report class into ``directory``; returns the paths."""
    d = Path(directory)
    paths = []
    for name, cls in classes.items():
        path = d / f"{name}.schema.json"
        write_text_atomic(path, json.dumps(schema_of(cls), indent=2) + "\n")
        paths.append(path)
    return paths
