"""A run prepared once: configuration, workload, operator graph, design, weights and their sources.

:func:`prepare` builds a :class:`PreparedRun`, an immutable object that the engine (:mod:`sim.simulate`), the
cost model, the functional pass (:mod:`sim.functional.check`) and the reports consume, so nothing is loaded,
lowered, mapped or quantized twice in one run.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sim.compute.base import ComputeKind, MatrixUnit
from sim.compute.registry import get_kind
from sim.config.hardware import HardwareConfig
from sim.config.loader import load_hardware
from sim.errors import SimInputError
from sim.mapping.plan import WeightSource, dense_source, gobo_source, shape_format_source
from sim.mapping.weights import (
    PACKED_DENSE_FORMATS,
    SHAPE_FORMATS,
    nominal_olaccel_bytes,
    packed_dense_bytes,
    shape_format_bytes,
    tensor_format,
)
from sim.progress import step
from sim.quant import QuantizedModel, WorkloadCheckpoint, olaccel, synthetic_tensor
from sim.weights import gobo_params, load_weights, quantize_model_for, synthetic_shapes, synthetic_source
from sim.workload.graph import OperatorGraph, lower
from sim.workload.loader import load_workload
from sim.workload.spec import WorkloadSpec

__all__ = ["PreparedRun", "check_functional_size", "check_weights_size", "prepare", "resolve_inputs",
           "weight_sources"]

_ELEM_BYTES = {"int8": 1, "fp16": 2, "int32": 4, "fp32": 4}

# Size checks made from the workload's shapes alone, before anything is allocated (assumed limits: ~6x
# bert-large's 335 M weights, room for opt-1.3b and llama-3.2-1b; and activations of ~2 GiB as int64): a
# schema-valid but huge workload is refused in milliseconds instead of exhausting memory in the quantizer or the
# functional pass.
MAX_MODEL_WEIGHTS = 2_000_000_000
MAX_FUNCTIONAL_ELEMENTS = 1 << 28


def model_weights(graph: OperatorGraph) -> int:
    """Parameters of the model (every weight tensor's elements), from the shapes only."""
    return graph.weight_elems


#: Operator graphs a process keeps (by their workload), oldest dropped first.
GRAPH_MEMO_ENTRIES = 16
_GRAPHS: dict[WorkloadSpec, OperatorGraph] = {}


def graph_of(wl: WorkloadSpec) -> OperatorGraph:
    """The operator graph of a workload (:func:`sim.workload.graph.lower`), lowered once per process for equal
    workloads (a sweep's points, repeated runs): the workload spec and the graph are frozen (tuples of frozen
    operators), and lowering is a pure function of the spec's fields, which the key compares."""
    graph = _GRAPHS.get(wl)
    if graph is None:
        graph = lower(wl)
        if len(_GRAPHS) >= GRAPH_MEMO_ENTRIES:
            _GRAPHS.pop(next(iter(_GRAPHS)))
        _GRAPHS[wl] = graph
    return graph


def check_weights_size(graph: OperatorGraph, wl: WorkloadSpec, what: str) -> None:
    """Refuse (one line) a model whose weights would be materialized (``what``) and have over
    :data:`MAX_MODEL_WEIGHTS` elements."""
    n = model_weights(graph)
    if n > MAX_MODEL_WEIGHTS:
        raise SimInputError(f"workload {wl.name}: {n:,} weights (layers={wl.layers}, hidden={wl.hidden}, "
                            f"intermediate={wl.intermediate}, vocab={wl.vocab}); {what} handles at most "
                            f"{MAX_MODEL_WEIGHTS:,}")


def check_functional_size(graph: OperatorGraph, wl: WorkloadSpec) -> None:
    """Refuse (one line) a functional pass whose weights or largest activation (the attention scores
    batch x heads x seq_len^2, or the FFN batch x seq_len x intermediate) are too large to hold."""
    check_weights_size(graph, wl, "the functional pass (--no-functional skips it)")
    largest = max(wl.batch * wl.heads * wl.seq_len * wl.seq_len,
                  wl.batch * wl.seq_len * max(wl.intermediate, wl.hidden))
    if largest > MAX_FUNCTIONAL_ELEMENTS:
        raise SimInputError(f"workload {wl.name}: the functional pass would hold an activation of {largest:,} "
                            f"elements (batch={wl.batch}, heads={wl.heads}, seq_len={wl.seq_len}); at most "
                            f"{MAX_FUNCTIONAL_ELEMENTS:,} (--no-functional skips it)")


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
                   seq_len: int | None = None, batch: int | None = None, sets: Iterable[str] = (),
                   gen_tokens: int | None = None,
                   decode_samples: int | None = None) -> tuple[HardwareConfig, WorkloadSpec]:
    """Load (or pass through) the hardware and workload specs, applying overrides (decoders: also the generated
    tokens and the decode steps simulated)."""
    hw_cfg = hw if isinstance(hw, HardwareConfig) else load_hardware(hw, sets)
    if isinstance(workload, WorkloadSpec):
        if (gen_tokens is not None or decode_samples is not None) and not workload.is_decoder:
            raise SimInputError(f"--gen-tokens/--decode-samples: {workload.name} is not a decoder workload")
        wl = workload.with_overrides(seq_len, batch, gen_tokens, decode_samples)
        if wl.is_decoder and wl.seq_len + wl.gen_tokens > wl.max_positions:
            raise SimInputError(f"workload {wl.name}: gen_tokens: prompt ({wl.seq_len}) + generated tokens "
                                f"({wl.gen_tokens}) must be <= max_positions ({wl.max_positions})")
    else:
        wl = load_workload(workload, seq_len=seq_len, batch=batch, gen_tokens=gen_tokens,
                           decode_samples=decode_samples)
    return hw_cfg, wl


def layout_tensors(graph: OperatorGraph, hw: HardwareConfig, ckpt: WorkloadCheckpoint | None) -> dict[str, object]:
    """Formats whose timing depends on where their outliers fall and that are not GOBO (OLAccel): every GEMM
    weight quantized once here, from the checkpoint or the seeded synthetic weights (the same values the
    functional pass quantizes)."""
    if hw.weights.format != "olaccel":
        return {}
    shapes = synthetic_shapes(graph) if ckpt is None else {}
    out: dict[str, object] = {}
    for t in graph.tensors:
        if len(t.shape) < 2 or tensor_format(t, hw) != "olaccel":
            continue
        if ckpt is not None:
            values = ckpt.tensors[t.name]
        elif t.name in shapes:
            shape, kind = shapes[t.name]
            values = synthetic_tensor(t.name, shape, kind, hw.weights.seed)
        else:
            continue
        rows = t.shape[0]
        out[t.name] = olaccel.quantize(values.reshape(rows, -1))  # [n, k] as the mapper sees it
    return out


def weight_sources(graph: OperatorGraph, hw: HardwareConfig, unit: MatrixUnit,
                   qmodel: QuantizedModel | None = None,
                   layouts: Mapping[str, object] | None = None) -> dict[str, WeightSource]:
    """Per parameter tensor: its off-chip and on-chip sizes per chunk (and outlier layout for GOBO and
    ``layouts``' formats)."""
    packed_on_chip = unit.native_format == "gobo"
    onchip = None if packed_on_chip else float(unit.weight_bytes)
    out = {}
    for t in graph.tensors:
        if len(t.shape) < 2:
            continue
        rows, cols = t.shape[0], int(math.prod(t.shape[1:]))
        fmt = tensor_format(t, hw)
        packed = qmodel.packed.get(t.name) if (qmodel is not None and fmt == "gobo") else None
        lay = (layouts or {}).get(t.name)
        if packed is not None:
            out[t.name] = gobo_source(packed, onchip)
        elif lay is not None:  # a packed layout: its real bytes, spread evenly over the elements
            per = int(lay.nbytes) / (rows * cols)  # type: ignore[attr-defined]
            src = dense_source(rows, cols, per, per if unit.native_format == fmt else unit.weight_bytes)
            out[t.name] = dataclasses.replace(src, layout=lay)
        elif fmt in PACKED_DENSE_FORMATS or fmt == "olaccel":  # fixed-size packed (exact), or an OLAccel
            # tensor without a layout (no synthetic generator for it): the dense part and scales only
            total = packed_dense_bytes(fmt, rows, cols) if fmt != "olaccel" else nominal_olaccel_bytes(rows, cols)
            per = total / (rows * cols)
            out[t.name] = dense_source(rows, cols, per, per if unit.native_format == fmt else unit.weight_bytes)
        elif fmt in SHAPE_FORMATS:
            if unit.native_format != fmt:
                raise SimInputError(f"weights.format {fmt}: compute.kind {hw.compute.kind} does not compute on it")
            out[t.name] = shape_format_source(rows, cols, fmt,
                                              lambda r, c, f=fmt: shape_format_bytes(f, r, c, hw))  # type: ignore[misc]
        else:
            # a tensor of a GOBO design that GOBO does not quantize (ViT's patch projection, class token,
            # positions and classifier) is stored as the design's dense element (int8 on the GOBO PE, fp16 on
            # a tensor core), the same integers or halves the functional pass computes with
            off = unit.weight_bytes if fmt == "gobo" else _ELEM_BYTES[fmt]
            out[t.name] = dense_source(rows, cols, off, unit.weight_bytes if onchip is not None else off)
    return out


def prepare(hw: str | os.PathLike[str] | HardwareConfig, workload: str | os.PathLike[str] | WorkloadSpec, *,
            seq_len: int | None = None, batch: int | None = None, sets: Iterable[str] = (),
            weights: str | os.PathLike[str] | None = None, qmodel: QuantizedModel | None = None,
            gen_tokens: int | None = None, decode_samples: int | None = None) -> PreparedRun:
    """Load, validate, lower, map the design and prepare the weights of one run.

    ``weights``: a safetensors checkpoint (None: seeded synthetic weights), loaded and checked against the
    workload for every design (one loader, :func:`sim.weights.load_weights`; a checkpoint that does not cover
    the workload is an error, never a synthetic fallback); GOBO formats quantize it, the int8 and fp16 formats
    convert the same tensors in the functional pass. ``qmodel``: an already quantized model to use instead of
    quantizing here (GOBO formats).
    """
    hw_cfg, wl = resolve_inputs(hw, workload, seq_len=seq_len, batch=batch, sets=sets, gen_tokens=gen_tokens,
                                decode_samples=decode_samples)
    graph = graph_of(wl)
    kind = get_kind(hw_cfg.compute.kind)
    unit = kind.unit(hw_cfg)
    path = os.fspath(weights) if weights is not None else None
    ckpt = load_weights(path, graph) if path is not None else None
    if hw_cfg.weights.format == "gobo" and qmodel is None:
        if path is None:
            check_weights_size(graph, wl, "GOBO quantization of synthetic weights")
        with step("quantize weights"):
            qmodel = quantize_model_for(graph, gobo_params(hw_cfg), weights=ckpt, seed=hw_cfg.weights.seed)
    elif hw_cfg.weights.format != "gobo":
        qmodel = None
    with step("quantize weights"):  # OLAccel's outlier layouts (nothing for the other formats)
        layouts = layout_tensors(graph, hw_cfg, ckpt)
    return PreparedRun(hw=hw_cfg, workload=wl, graph=graph, kind=kind, unit=unit, qmodel=qmodel, weights_path=path,
                       weight_sources=weight_sources(graph, hw_cfg, unit, qmodel, layouts), checkpoint=ckpt)
