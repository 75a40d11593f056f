"""The registry of compute kinds: ``compute.kind`` -> its plug-in (:class:`~sim.compute.base.ComputeKind`).

The built-in kinds (``gobo``, ``systolic``, ``tensorcore``, ``ternary``, ``biqgemm``, ``olive``, ``olaccel``) are
registered when this module is imported; a new kind is registered with :func:`register` (a test does so with a toy
kind at run time). Registering makes the kind's config section valid in hardware YAML files, and every layer
(mapping, engine, cost, functional pass, iso-area/iso-peak resizing, sweeps) then finds it here: nothing else
branches on a kind's name.
"""

from __future__ import annotations

from sim.compute.base import ComputeConfig, ComputeKind
from sim.compute.biqgemm.plugin import KIND as BIQGEMM
from sim.compute.gobo.plugin import KIND as GOBO
from sim.compute.olaccel.plugin import KIND as OLACCEL
from sim.compute.olive.plugin import KIND as OLIVE
from sim.compute.systolic.plugin import KIND as SYSTOLIC
from sim.compute.tensorcore.plugin import KIND as TENSORCORE
from sim.compute.ternary.plugin import KIND as TERNARY

__all__ = ["config_classes", "get_kind", "kinds", "native_kind", "register", "unregister"]

_KINDS: dict[str, ComputeKind] = {}


def register(plugin: ComputeKind, *, replace: bool = False) -> ComputeKind:
    """Add a compute kind (its ``name`` must be new unless ``replace``); returns the plug-in."""
    if not isinstance(plugin, ComputeKind):
        raise TypeError(f"a compute kind must be a ComputeKind instance, got {type(plugin).__name__}")
    name = plugin.name
    if name in _KINDS and not replace:
        raise ValueError(f"compute kind {name!r} is already registered")
    choices = next((f.metadata.get("choices") for f in plugin.config.__dataclass_fields__.values()
                    if f.name == "kind"), None)
    if choices != (name,):
        raise ValueError(f"compute kind {name!r}: its config class's 'kind' field must have choices ({name!r},)")
    _KINDS[name] = plugin
    return plugin


def unregister(name: str) -> None:
    """Remove a compute kind (tests that registered a toy kind clean up with this)."""
    _KINDS.pop(name, None)


def get_kind(name: str) -> ComputeKind:
    """The plug-in of ``compute.kind`` ``name``; KeyError naming the registered kinds otherwise."""
    try:
        return _KINDS[name]
    except KeyError:
        raise KeyError(f"unknown compute kind {name!r} (registered: {', '.join(_KINDS)})") from None


def kinds() -> dict[str, ComputeKind]:
    """Every registered kind, by name, in registration order."""
    return dict(_KINDS)


def config_classes() -> dict[str, type[ComputeConfig]]:
    """``compute.kind`` -> the spec class of its ``compute:`` section (the config's tagged union)."""
    return {name: k.config for name, k in _KINDS.items()}


def native_kind(weight_format: str) -> ComputeKind | None:
    """The kind that computes on ``weight_format`` natively (the format's reference datapath), if any."""
    return next((k for k in _KINDS.values() if k.weight_formats.get(weight_format) == "native"), None)


for _builtin in (GOBO, SYSTOLIC, TENSORCORE, TERNARY, BIQGEMM, OLIVE, OLACCEL):
    register(_builtin)
