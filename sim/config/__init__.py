"""Configuration: YAML -> validation -> frozen dataclasses (hardware specs; workloads live in sim.workload).

Exports (loaded on first use, so importing a submodule never pulls in the rest):
``HardwareConfig``, ``load_hardware``, ``parse_set``, ``to_dict``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig
    from sim.config.loader import load_hardware, parse_set, to_dict

__all__ = ["HardwareConfig", "load_hardware", "parse_set", "to_dict"]

_EXPORTS = {"HardwareConfig": "sim.config.hardware", "load_hardware": "sim.config.loader",
            "parse_set": "sim.config.loader", "to_dict": "sim.config.loader"}


def __getattr__(name: str) -> Any:
    """Lazy exports (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sim.config' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
