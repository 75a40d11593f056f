"""Configuration: YAML -> validation -> frozen dataclasses (hardware specs; workloads live in sim.workload)."""

from sim.config.hardware import HardwareConfig
from sim.config.loader import load_hardware, parse_set, to_dict

__all__ = ["HardwareConfig", "load_hardware", "parse_set", "to_dict"]
