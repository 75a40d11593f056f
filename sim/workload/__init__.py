"""Workloads: model descriptions (YAML or Hugging Face config.json) and their operator graphs."""

from sim.workload.graph import Operator, OperatorGraph, WeightTensor, encoder_macs_closed_form, lower
from sim.workload.loader import load_workload
from sim.workload.spec import WorkloadSpec

__all__ = ["Operator", "OperatorGraph", "WeightTensor", "WorkloadSpec", "encoder_macs_closed_form",
           "load_workload", "lower"]
