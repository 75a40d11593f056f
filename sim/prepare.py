"""A run prepared once: configuration, workload, operator graph, design, weights and their sources.

:func:`prepare` builds a :class:`PreparedRun`, an immutable object that the engine (:mod:`sim.simulate`), the
cost model, the functional pass (:mod:`sim.functional.check`) and the reports consume, so nothing is loaded,
lowered, mapped or quantized twice in one run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sim.compute.base import ComputeKind, MatrixUnit
from sim.compute.registry import get_kind
from sim.config.hardware import HardwareConfig
from sim.config.loader import load_hardware
from sim.mapping.plan import WeightSource, dense_source, gobo_source
from sim.mapping.weights import tensor_format
from sim.quant import QuantizedModel, WorkloadCheckpoint
from sim.weights import gobo_params, load_weights, quantize_model_for, synthetic_source
from sim.workload.graph import OperatorGraph, lower
from sim.workload.loader import load_workload
from sim.workload.spec import WorkloadSpec

__all__ = ["PreparedRun", "prepare", "resolve_inputs", "weight_sources"]

_ELEM_BYTES = {"int8": 1, "fp16": 2, "int32": 4, "fp32": 4}


@dataclass(frozen=True, eq=False)
class PreparedRun:
    """Everything one simulation of one design on one workload needs, built once by :func:`prepare`."""

    hw: HardwareConfig
    """The validated hardware configuration (``--set`` overrides applied)."""
    workload: WorkloadSpec
    """The workload (sequence length and batch overrides applied)."""
    graph: OperatorGraph
    """The workload's operator graph."""
    kind: ComputeKind
    """The compute kind's plug-in (``hw.compute.kind``)."""
    unit: MatrixUnit
    """The design's matrix unit: timing and mapping hooks."""
    qmodel: QuantizedModel | None
    """The GOBO-quantized model (GOBO weight format), else None."""
    weights_path: str | None
    """The checkpoint the weights come from (None: seeded synthetic weights, seed ``hw.weights.seed``)."""
    weight_sources: Mapping[str, WeightSource]
    """Per parameter tensor: its off-chip and on-chip bytes per chunk (and packed layout), for the mapper."""
    checkpoint: WorkloadCheckpoint | None = None
    """The checkpoint conformed to the workload (loaded and checked for every design), or None (synthetic)."""

    @property
    def weights_source(self) -> str:
        """Where the weights come from, as reports state it: the checkpoint's path and sha256, or the seed."""
        if self.checkpoint is not None:
            return self.checkpoint.source
        return synthetic_source(self.hw.weights.seed)


def resolve_inputs(hw: str | os.PathLike[str] | HardwareConfig, workload: str | os.PathLike[str] | WorkloadSpec, *,
                   seq_len: int | None = None, batch: int | None = None,
                   sets: Iterable[str] = ()) -> tuple[HardwareConfig, WorkloadSpec]:
    """Load (or pass through) the hardware and workload specs, applying overrides."""
    hw_cfg = hw if isinstance(hw, HardwareConfig) else load_hardware(hw, sets)
    if isinstance(workload, WorkloadSpec):
        wl = workload.with_overrides(seq_len, batch)
    else:
        wl = load_workload(workload, seq_len=seq_len, batch=batch)
    return hw_cfg, wl


def weight_sources(graph: OperatorGraph, hw: HardwareConfig, unit: MatrixUnit,
                   qmodel: QuantizedModel | None = None) -> dict[str, WeightSource]:
    """Per parameter tensor: its off-chip and on-chip sizes per chunk (and outlier layout for GOBO)."""
    packed_on_chip = unit.native_format == "gobo"
    onchip = None if packed_on_chip else float(unit.weight_bytes)
    out = {}
    for t in graph.tensors:
        if len(t.shape) < 2:
            continue
        rows, cols = t.shape[0], int(math.prod(t.shape[1:]))
        fmt = tensor_format(t, hw)
        packed = qmodel.packed.get(t.name) if (qmodel is not None and fmt == "gobo") else None
        if packed is not None:
            out[t.name] = gobo_source(packed, onchip)
        else:
            off = _ELEM_BYTES["fp32" if fmt == "gobo" else fmt]
            out[t.name] = dense_source(rows, cols, off, unit.weight_bytes if onchip is not None else off)
    return out


def prepare(hw: str | os.PathLike[str] | HardwareConfig, workload: str | os.PathLike[str] | WorkloadSpec, *,
            seq_len: int | None = None, batch: int | None = None, sets: Iterable[str] = (),
            weights: str | os.PathLike[str] | None = None, qmodel: QuantizedModel | None = None) -> PreparedRun:
    """Load, validate, lower, map the design and prepare the weights of one run.

    ``weights``: a safetensors checkpoint (None: seeded synthetic weights), loaded and checked against the
    workload for every design (one loader, :func:`sim.weights.load_weights`; a checkpoint that does not cover
    the workload is an error, never a synthetic fallback); GOBO formats quantize it, the int8 and fp16 formats
    convert the same tensors in the functional pass. ``qmodel``: an already quantized model to use instead of
    quantizing here (GOBO formats).
    """
    hw_cfg, wl = resolve_inputs(hw, workload, seq_len=seq_len, batch=batch, sets=sets)
    graph = lower(wl)
    kind = get_kind(hw_cfg.compute.kind)
    unit = kind.unit(hw_cfg)
    path = os.fspath(weights) if weights is not None else None
    ckpt = load_weights(path, graph) if path is not None else None
    if hw_cfg.weights.format == "gobo" and qmodel is None:
        qmodel = quantize_model_for(graph, gobo_params(hw_cfg), weights=ckpt, seed=hw_cfg.weights.seed)
    elif hw_cfg.weights.format != "gobo":
        qmodel = None
    return PreparedRun(hw=hw_cfg, workload=wl, graph=graph, kind=kind, unit=unit, qmodel=qmodel, weights_path=path,
                       weight_sources=weight_sources(graph, hw_cfg, unit, qmodel), checkpoint=ckpt)
