"""Finding and reading configuration files: built-in presets by name, YAML/JSON with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from sim.errors import SimInputError

# Built-in files live at the repository's top level (hwconfigs/, workloads/) and are installed as
# sim/_builtin/hwconfigs and sim/_builtin/workloads (see pyproject.toml's package-dir).
_PACKAGE = Path(__file__).resolve().parents[1]
_REPO_ROOT = _PACKAGE.parent


def builtin_dir(which: str) -> Path:
    """Directory of the built-in ``hwconfigs`` or ``workloads`` (installed package data, else the source tree)."""
    installed = _PACKAGE / "_builtin" / which
    return installed if installed.is_dir() else _REPO_ROOT / which


def builtin_names(which: str) -> list[str]:
    """Names of the built-in presets (file stems), sorted."""
    return sorted(p.stem for p in builtin_dir(which).glob("*.yaml"))


def resolve(name_or_path: str, which: str, what: str) -> Path:
    """A path as given if it exists, else the built-in preset ``name`` or ``name.yaml``; one-line error otherwise."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    stem = path.name[:-5] if path.name.endswith(".yaml") else path.name
    if path.parent == Path(".") and stem:
        candidate = builtin_dir(which) / f"{stem}.yaml"
        if candidate.is_file():
            return candidate
    if path.exists():
        raise SimInputError(f"{name_or_path}: not a file")
    names = ", ".join(builtin_names(which))
    raise SimInputError(f"{name_or_path}: no such file, and no built-in {what} of that name (built-in: {names})")


def read_mapping(path: Path) -> dict[str, Any]:
    """Parse a YAML or JSON file into a mapping; any problem is a one-line :class:`SimInputError`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SimInputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if b"\x00" in data:
        raise SimInputError(f"{path}: not a text file (binary content)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SimInputError(f"{path}: not UTF-8 text") from None
    if not text.strip():
        raise SimInputError(f"{path}: empty file (expected a mapping with 'version: 1')")
    try:
        if path.suffix == ".json":
            raw = json.loads(text)
        else:
            raw = yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise SimInputError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or "syntax error"
        raise SimInputError(f"{path}: invalid YAML{where}: {reason}") from None
    except RecursionError:
        raise SimInputError(f"{path}: nested too deeply") from None
    if not isinstance(raw, dict):
        kind = type(raw).__name__
        raise SimInputError(f"{path}: expected a mapping of keys to values at the top level, got a {kind}")
    return raw
