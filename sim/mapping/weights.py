"""Stored weight formats: which format each parameter tensor is kept in off chip, and its size in bytes.

- GEMM weights: the design's ``weights.format`` (gobo: packed indices + dictionary + outliers; int8 with
  one fp32 scale per tensor; fp16).
- Embedding tables: GOBO at ``weights.embedding_bits`` when the format is gobo and
  ``weights.quantize_embeddings`` is on; otherwise as the GEMM weights' element format (int8 / fp16),
  or fp32 for a gobo design with embedding quantization off.
- Ternary and BCQ designs (integer pipelines like int8): GEMM weights in the packed format
  (:func:`sim.quant.ternary.ternary_bytes`, :func:`sim.quant.bcq.bcq_bytes`: functions of the shape alone,
  equal to the quantizers' buffers), embedding tables int8, biases int32.
- OliVe (``olive``): GEMM weights as 4-bit outlier-victim pairs (one byte per pair) + one fp32 scale per output
  channel (:func:`sim.quant.olive.olive_bytes`, exact without quantizing: the format is memory-aligned);
  embedding tables int8 (the integer pipeline's per-channel int8 tables), biases int32.
- OLAccel (``olaccel``): GEMM weights as dense 4-bit nibbles + a sparse int8 outlier list with row pointers
  and column indices + fp32 row scales (:mod:`sim.quant.olaccel`); the exact size depends on the outliers,
  so it comes from the quantized tensors (``packed_bytes``) or, without them, the dense part and the scales
  only (a lower bound, :func:`nominal_olaccel_bytes`); embedding tables int8, biases int32.
- LayerNorm parameters and biases: fp32 for gobo and fp16 designs' vector unit inputs are kept exact
  (GOBO leaves them unquantized); int32 biases and fp32 LayerNorm parameters for the int8 design.

Exact GOBO sizes come from the packed tensors of the quantized model; without it (a bound computed before
quantization), :func:`nominal_gobo_bytes` counts indices and dictionary only and says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from sim.config.hardware import HardwareConfig
from sim.quant.bcq import bcq_bytes
from sim.quant.olive import olive_bytes
from sim.quant.ternary import ternary_bytes
from sim.workload.graph import OperatorGraph, WeightTensor

EMBEDDING_TYPES = ("word_emb", "pos_emb", "type_emb")
PACKED_DENSE_FORMATS = ("olive",)
"""Packed formats whose size follows from the shape alone (fixed bits per weight plus per-row scales)."""
MATMUL_TYPES = ("query", "key", "value", "attn_out", "ffn1", "ffn2", "pooler", "classifier", "patch_emb")
SHAPE_FORMATS = ("ternary", "bcq")
"""Packed formats whose bytes follow from the tensor's shape (no quantization needed to size them)."""
INTEGER_FORMATS = ("int8", "ternary", "bcq", "olive", "olaccel")
"""Formats of integer pipelines (int8 embedding tables, int32 biases)."""


def shape_format_bytes(fmt: str, rows: int, cols: int, hw: HardwareConfig) -> int:
    """Packed bytes of a ``rows x cols`` tensor in a shape-sized format (ternary, bcq) with ``hw``'s options."""
    if fmt == "ternary":
        return ternary_bytes(rows, cols, hw.weights.ternary_granularity)
    if fmt == "bcq":
        return bcq_bytes(rows, cols, hw.weights.bcq_bits)
    raise ValueError(f"{fmt!r} is not a shape-sized weight format")


def tensor_format(t: WeightTensor, hw: HardwareConfig) -> str:
    """The off-chip format of tensor ``t`` in design ``hw``: gobo, ternary, bcq, olive, olaccel, int8, fp16, int32
    or fp32."""
    fmt = hw.weights.format
    if t.tensor_type in MATMUL_TYPES:
        return fmt
    if t.tensor_type in EMBEDDING_TYPES:
        if fmt == "gobo":
            return "gobo" if hw.weights.quantize_embeddings else "fp32"
        return "int8" if fmt in INTEGER_FORMATS else fmt
    if t.tensor_type == "bias" and fmt in INTEGER_FORMATS:
        return "int32"
    return "fp32"


def tensor_bits(t: WeightTensor, hw: HardwareConfig) -> int:
    """GOBO index bits for a gobo-format tensor (embedding bits for the tables)."""
    return hw.weights.embedding_bits if t.tensor_type in EMBEDDING_TYPES else hw.weights.bits


def packed_dense_bytes(fmt: str, rows: int, cols: int) -> int:
    """Exact stored bytes of a ``rows x cols`` tensor in a fixed-size packed format (:data:`PACKED_DENSE_FORMATS`)."""
    if fmt == "olive":
        return olive_bytes(rows, cols)
    raise ValueError(f"not a fixed-size packed format: {fmt!r}")


def nominal_olaccel_bytes(rows: int, cols: int) -> int:
    """Dense nibbles + row pointers + fp32 scales, no outliers: a lower bound on an OLAccel tensor's bytes."""
    return rows * ((cols + 1) // 2) + 4 * (rows + 1) + 4 * rows


def nominal_gobo_bytes(t: WeightTensor, bits: int) -> int:
    """Indices (bit-packed) + fp32 dictionary, no outliers: a lower bound on the packed size."""
    return math.ceil(t.elems * bits / 8) + (2**bits) * 4


_ELEM_BYTES = {"int8": 1, "fp16": 2, "int32": 4, "fp32": 4}


def stored_bytes(graph: OperatorGraph, hw: HardwareConfig,
                 packed_bytes: Mapping[str, int] | None = None) -> dict[str, int]:
    """Bytes of every parameter tensor as stored off chip (int8 tensors include one fp32 scale)."""
    out = {}
    for t in graph.tensors:
        fmt = tensor_format(t, hw)
        if fmt == "gobo":
            if packed_bytes is not None and t.name in packed_bytes:
                out[t.name] = int(packed_bytes[t.name])
            else:
                out[t.name] = nominal_gobo_bytes(t, tensor_bits(t, hw))
        elif fmt == "olaccel":
            if packed_bytes is not None and t.name in packed_bytes:
                out[t.name] = int(packed_bytes[t.name])
            else:
                out[t.name] = nominal_olaccel_bytes(t.shape[0], t.elems // t.shape[0])
        elif fmt in PACKED_DENSE_FORMATS:
            out[t.name] = packed_dense_bytes(fmt, t.shape[0], t.elems // t.shape[0])
        elif fmt in SHAPE_FORMATS:
            out[t.name] = shape_format_bytes(fmt, t.shape[0], t.elems // t.shape[0], hw)
        else:
            out[t.name] = t.elems * _ELEM_BYTES[fmt] + (4 if fmt == "int8" else 0)
    return out
