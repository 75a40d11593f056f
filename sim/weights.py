"""Where a run's weights come from: a safetensors checkpoint or the seeded synthetic generator, quantized per format.

One place for the timing path, the functional pass and ``sim quantize``: :func:`gobo_params` (a design's GOBO
quantization parameters), :func:`synthetic_shapes` (the tensors the synthetic generator makes for a workload),
:func:`quantize_model_for` (the GOBO-quantized model of a workload, disk-cached by :mod:`sim.quant`) and
:func:`tensor_values` (one tensor's float values, for plots).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from sim.errors import SimInputError
from sim.quant import (
    GoboParams,
    QuantizedModel,
    classify_tensor,
    quantize_checkpoint,
    quantize_synthetic,
    read_safetensors,
    synthetic_tensor,
)
from sim.workload.graph import OperatorGraph, lower
from sim.workload.loader import load_workload
from sim.workload.spec import WorkloadSpec

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig

__all__ = ["gobo_params", "quantize_model_for", "synthetic_shapes", "tensor_values"]

QUANT_WORKERS = 2
"""Processes used to quantize a model (the machines this targets have 2 cores)."""


def gobo_params(hw: HardwareConfig) -> GoboParams:
    """The GOBO quantization parameters of a design (its ``weights`` section)."""
    w = hw.weights
    return GoboParams(bits=w.bits, embedding_bits=w.embedding_bits, outlier_threshold=w.outlier_threshold,
                      quantize_embeddings=w.quantize_embeddings)


def synthetic_shapes(graph: OperatorGraph) -> dict[str, tuple[tuple[int, ...], str]]:
    """name -> (shape, kind) of the tensors the synthetic generator can make for a graph."""
    shapes = {}
    for t in graph.tensors:
        info = classify_tensor(t.name)
        if info is not None and info.kind not in ("head", "buffer"):
            shapes[t.name] = (t.shape, info.kind)
    return shapes


def quantize_model_for(graph: OperatorGraph | None, params: GoboParams, *,
                       weights: str | os.PathLike[str] | None = None, seed: int = 0) -> QuantizedModel:
    """The GOBO-quantized model: of a safetensors checkpoint (``weights``), or of the seeded synthetic weights of
    the workload whose graph is ``graph``."""
    if weights is not None:
        return quantize_checkpoint(os.fspath(weights), params, workers=QUANT_WORKERS)
    if graph is None:
        raise SimInputError("quantize: give a workload (synthetic weights) or a checkpoint")
    return quantize_synthetic(synthetic_shapes(graph), params, seed=seed, workers=QUANT_WORKERS)


def tensor_values(name: str, *, weights: str | os.PathLike[str] | None = None,
                  workload: str | os.PathLike[str] | WorkloadSpec | None = None, seed: int = 0) -> Any:
    """The float values of one tensor: read from the checkpoint, or regenerated from the synthetic seed."""
    if weights is not None:
        found = read_safetensors(str(weights))
        for key in (name, f"bert.{name}", f"roberta.{name}"):
            if key in found:
                return found[key]
        raise SimInputError(f"{weights}: no tensor named {name!r}")
    if workload is None:
        raise SimInputError("give a workload (synthetic weights) or a checkpoint")
    wl = workload if isinstance(workload, WorkloadSpec) else load_workload(workload)
    shapes = synthetic_shapes(lower(wl))
    if name not in shapes:
        raise SimInputError(f"--tensor {name}: not a quantizable tensor of {wl.name}")
    shape, kind = shapes[name]
    return synthetic_tensor(name, shape, kind, seed)
