"""Finding and reading configuration files: built-in presets by name, YAML/JSON with one-line errors."""

from __future__ import annotations

import copy
import json
import stat
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


MAX_FILE_BYTES = 16 << 20  # an input file (configuration, spec, report) larger than this is refused unread
MAX_ALIASES = 1000  # YAML aliases (*name) per document: real files use a few; an alias bomb uses them to multiply
MAX_DEPTH = 64  # nesting of mappings and lists in any input: real files use < 10
MAX_NODES = 1_000_000  # scalars + containers in one document, counted with aliases expanded


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, counting aliases and nesting while composing (before anything is built)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Refused(f"more than {MAX_ALIASES} YAML aliases (*name); refused (an alias bomb?)")
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Refused(Exception):
    """An input refused for its shape (size, depth, aliases), before it is built."""


def check_shape(value: Any, where: str) -> None:
    """Refuse (one line) a loaded value nested deeper than :data:`MAX_DEPTH` or with more than :data:`MAX_NODES`
    nodes once YAML aliases are expanded (walked iteratively: a deep value cannot overflow the stack)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    nodes = 0
    while stack:
        v, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise SimInputError(f"{where}: more than {MAX_NODES:,} values (aliases expanded); refused")
        if isinstance(v, (dict, list, tuple)):
            if depth >= MAX_DEPTH:
                raise SimInputError(f"{where}: nested deeper than {MAX_DEPTH} levels")
            items = v.values() if isinstance(v, dict) else v
            stack.extend((x, depth + 1) for x in items)
            if isinstance(v, dict):
                stack.extend((k, depth + 1) for k in v if isinstance(k, (tuple, list)))


#: Parsed YAML documents a process keeps (by their text and name), least recently used dropped first.
YAML_MEMO_ENTRIES = 32
_YAML_MEMO: dict[tuple[str, str], Any] = {}


def parse_yaml(text: str, where: str) -> Any:
    """``text`` as YAML (safe tags only) with the shape limits of this module; one-line :class:`SimInputError`.

    A text parsed before in this process (a sweep's points, repeated runs) is not parsed again: the result is
    a deep copy of the first parse (the parser is pure; errors are never remembered)."""
    key = (text, where)
    if key in _YAML_MEMO:
        _YAML_MEMO[key] = _YAML_MEMO.pop(key)  # most recently used last
        return copy.deepcopy(_YAML_MEMO[key])
    value = _parse_yaml(text, where)
    if len(text) > 1 << 20:  # only the small documents of configs and workloads are kept
        return value
    _YAML_MEMO[key] = copy.deepcopy(value)
    while len(_YAML_MEMO) > YAML_MEMO_ENTRIES:
        del _YAML_MEMO[next(iter(_YAML_MEMO))]
    return value


def _parse_yaml(text: str, where: str) -> Any:
    try:
        value = yaml.load(text, Loader=_Loader)  # noqa: S506 -- _Loader is a SafeLoader
    except _Refused as exc:
        raise SimInputError(f"{where}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or "syntax error"
        raise SimInputError(f"{where}: invalid YAML{line}: {reason}") from None
    except RecursionError:
        raise SimInputError(f"{where}: nested too deeply") from None
    except (ValueError, OverflowError) as exc:  # e.g. an integer of over 4300 digits
        raise SimInputError(f"{where}: a value cannot be read ({_short(exc)})") from None
    check_shape(value, where)
    return value


def parse_json(text: str, where: str) -> Any:
    """``text`` as JSON with the shape limits of this module; one-line :class:`SimInputError`."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SimInputError(f"{where}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except RecursionError:
        raise SimInputError(f"{where}: nested too deeply") from None
    except (ValueError, OverflowError) as exc:  # an integer of over 4300 digits
        raise SimInputError(f"{where}: a value cannot be read ({_short(exc)})") from None
    check_shape(value, where)
    return value


def _short(exc: BaseException) -> str:
    text = str(exc).split(";")[0]
    return text if len(text) <= 120 else text[:117] + "..."


def read_text_limited(path: Path, what: str = "file") -> str:
    """The UTF-8 text of a regular file of at most :data:`MAX_FILE_BYTES` (checked before reading)."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise SimInputError(f"{path}: not a regular file")
        if st.st_size > MAX_FILE_BYTES:
            raise SimInputError(f"{path}: {st.st_size:,} bytes; a {what} of at most {MAX_FILE_BYTES:,} bytes "
                                "is expected")
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SimInputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise SimInputError(f"{path}: more than {MAX_FILE_BYTES:,} bytes; refused")
    if b"\x00" in data:
        raise SimInputError(f"{path}: not a text file (binary content)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SimInputError(f"{path}: not UTF-8 text") from None


def read_mapping(path: Path) -> dict[str, Any]:
    """Parse a YAML or JSON file into a mapping; any problem is a one-line :class:`SimInputError`."""
    return mapping_of_text(path, read_text_limited(path))


def mapping_of_text(path: Path, text: str) -> dict[str, Any]:
    """:func:`read_mapping` of a file whose text was already read (``path`` names it in messages and chooses
    JSON or YAML by its suffix)."""
    if not text.strip():
        raise SimInputError(f"{path}: empty file (expected a mapping with 'version: 1')")
    raw = parse_json(text, str(path)) if path.suffix == ".json" else parse_yaml(text, str(path))
    if not isinstance(raw, dict):
        kind = type(raw).__name__
        raise SimInputError(f"{path}: expected a mapping of keys to values at the top level, got a {kind}")
    return raw
