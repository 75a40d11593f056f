"""Integer weights of the integer pipeline: int8 (per output channel), GOBO integer variants, and the packed
low-bit formats (ternary, BCQ, OliVe, OLAccel).

* ``int8`` (the TPU-like design): every GEMM weight is symmetric int8, **one scale per output channel**
  (``s_n = max_k |W[n, k]| / 127``, values in [-127, 127], round half to even). Per channel because
  real BERT weights have rare huge values (all-MiniLM-L6-v2's FFN2 reaches ~175 std): one scale per
  tensor would spend the whole int8 range on one row. (The mapping's storage model counts one fp32 scale
  per int8 tensor; per channel adds ``n`` fp32 scales, 0.1-0.4% of the tensor's bytes: not counted there.)
  Embedding tables: symmetric int8 with one scale per hidden channel (column), for the same reason
  (position-embedding outliers sit in a few channels). A ViT's class token and position embeddings are
  tables of 1 and S rows under the same rule.
* ``gobo`` (GOBO designs): the quantized model's :class:`~sim.quant.integer.IntegerGobo` per tensor: int8
  centroids, int16 outliers, **one scale per tensor**. GEMM weights and the embedding tables the model
  quantized use it; a tensor the model left in fp32 falls back to the int8 rule above (stated in the
  result's ``fallback`` list).

* ``ternary`` / ``ternary-tensor`` (ternary designs): TWN-ternarized GEMM weights (:mod:`sim.quant.ternary`),
  ``w_nk`` in {-1, 0, +1} with the scale per output channel (``ternary``) or per tensor; embedding tables int8
  per channel as above.
* ``bcq{q}`` (BiQGEMM designs): ``q``-plane binary-coded GEMM weights (:mod:`sim.quant.bcq`), ``w_nk`` the
  integer matrix ``sum_i c_i b_i`` (``|.| <= 127 q``, declared ``bits`` wide) with the per-row unit as scale,
  and the packed planes in ``packed`` for the lookup-table datapath; embedding tables int8 per channel.
* ``olive`` (OliVe designs): every GEMM weight OVP-quantized (:mod:`sim.quant.olive`): 4-bit outlier-victim
  pairs, **one scale per output channel**; ``IntLinear.w_nk`` holds the quantizer's integers (|v| <= 96, int8)
  and ``IntLinear.packed`` the packed pairs the OliVe datapath decodes. Embedding tables: int8 per channel, as
  above.
* ``olaccel`` (OLAccel designs): every GEMM weight 4-bit with the top 3% of each output channel as sparse int8
  outliers at the same scale (:mod:`sim.quant.olaccel`), one scale per output channel; ``IntLinear.w_nk`` holds
  the quantizer's integers, ``IntLinear.packed`` the packed arrays the OLAccel datapath reads. Embedding tables:
  int8 per channel.

Linear biases become int32 at the accumulator scale ``s_x * s_w`` once the input scale is known
(:meth:`IntLinear.bias_int`), checked against int32.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from sim.kernels.widths import check_width
from sim.quant import olaccel as olaccel_format
from sim.quant import olive as olive_format
from sim.quant.bcq import bcq
from sim.quant.integer import IntegerGobo
from sim.quant.ternary import ternarize

from .names import canonical_name
from .weights import FloatWeights

__all__ = ["IntLinear", "IntTable", "QuantizedWeights", "int8_linear", "int8_table", "quantize_weights",
           "GEMM_WEIGHTS", "TABLES", "VIT_TABLES", "format_mode", "format_linear"]

#: Per-layer GEMM weights (prefix ``encoder.layer.{i}.``) in execution order.
GEMM_WEIGHTS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                "intermediate.dense", "output.dense")
#: Embedding tables of the BERT family.
TABLES = ("embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
          "embeddings.token_type_embeddings.weight")
#: The ViT's added embeddings (``[1, 1, H]`` class token, ``[1, S, H]`` positions), held as ``[rows, H]`` tables.
VIT_TABLES = ("embeddings.cls_token", "embeddings.position_embeddings")


def _sym_int8(w: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(w, dtype=np.float64)
    if axis is None:
        amax = np.full((1, 1), float(np.abs(a).max(initial=0.0)))
    else:
        amax = np.abs(a).max(axis=axis, keepdims=True)
    scale = np.maximum(amax, 1e-12) / 127.0
    q = np.clip(np.rint(a / scale), -127, 127).astype(np.int8)
    return q, scale


@dataclass(frozen=True, eq=False)
class IntLinear:
    """One GEMM weight ``[n, k]`` (Hugging Face orientation) in integer form.

    Exactly one of ``w_nk`` (int8 ``[n, k]``, ``scale`` per output channel, shape ``(n,)``) and ``gobo``
    (``IntegerGobo`` in "nk" orientation, ``scale`` a 1-element array: one scale per tensor) is set.
    ``bias``: float64 ``(n,)``. Real weight = ``int * scale[n]``.
    """

    name: str
    scale: np.ndarray
    bias: np.ndarray
    w_nk: np.ndarray | None = None
    gobo: IntegerGobo | None = None
    bits: int | None = None
    """Declared width of ``w_nk`` when it is not int8 (BCQ's integer matrix)."""
    packed: object | None = None
    """The packed tensor a design's datapath computes on or decodes (ternary/BCQ planes, OliVe pairs, OLAccel
    nibbles + outlier list), or None."""

    @property
    def shape_nk(self) -> tuple[int, int]:
        """``(n, k)``."""
        return self.gobo.shape if self.gobo is not None else tuple(self.w_nk.shape)  # type: ignore[union-attr]

    @property
    def in_bits(self) -> int:
        """Declared width of the integer weights: 8 (int8, ternary), 16 (GOBO: int16 outliers) or ``bits``."""
        if self.bits is not None:
            return self.bits
        return 16 if self.gobo is not None else 8

    def matrix_nk(self) -> np.ndarray:
        """The integer weight matrix ``[n, k]``: int8, or the reconstructed GOBO matrix (int16, built once)."""
        if self.gobo is not None:
            cached = self.__dict__.get("_matrix")
            if cached is None:
                g = self.gobo if self.gobo.orientation == "nk" else self.gobo.transposed()
                cached = g.matrix(np.int16)
                object.__setattr__(self, "_matrix", cached)
            return cached
        return self.w_nk  # type: ignore[return-value]

    def dequantized_nk(self) -> np.ndarray:
        """``int * scale`` as float32 ``[n, k]`` (for calibration)."""
        m = self.matrix_nk().astype(np.float64)
        s = self.scale.reshape(-1, 1) if self.scale.size > 1 else float(self.scale[0])
        return (m * s).astype(np.float32)

    def acc_scale(self, s_x: float) -> np.ndarray | float:
        """Scale of the int32 accumulator for input scale ``s_x``: a float (per tensor) or ``(n,)`` array."""
        return s_x * (float(self.scale[0]) if self.scale.size == 1 else self.scale)

    def bias_int(self, s_x: float) -> np.ndarray:
        """int32-valued (int64 array) bias ``round(b / (s_x s_w))`` at the accumulator scale; width-checked."""
        b = np.rint(self.bias / np.asarray(self.acc_scale(s_x), dtype=np.float64)).astype(np.int64)
        return check_width(b, 32, True, kernel="functional.linear", what=f"{self.name} bias")


@dataclass(frozen=True, eq=False)
class IntTable:
    """An embedding table ``[rows, hidden]`` in integer form: ``stored`` is the int8/int16 table itself, or the
    GOBO tensor (:class:`~sim.quant.integer.IntegerGobo`, as stored: ``[rows, hidden]``) it is rebuilt from;
    ``scale`` a float (per tensor, GOBO) or a ``(hidden,)`` array (per channel, int8). A lookup
    (:meth:`rows`) of a GOBO table rebuilds only the rows it reads; :attr:`ints` is the whole table."""

    name: str
    stored: np.ndarray | IntegerGobo
    scale: float | np.ndarray

    @property
    def ints(self) -> np.ndarray:
        """The whole table (int8, or int16 for GOBO: ``centroid_ints[indices]`` with the outliers; built once)."""
        if not isinstance(self.stored, IntegerGobo):
            return self.stored
        built = self.__dict__.get("_ints")
        if built is None:
            built = self.stored.matrix(np.int16)
            object.__setattr__(self, "_ints", built)
        return built

    def rows(self, r: np.ndarray) -> np.ndarray:
        """``ints[r]`` (``r`` integer row numbers, any shape); for a GOBO table only the distinct rows of ``r`` are
        rebuilt (a lookup of a few hundred tokens in a 30k-row vocabulary)."""
        if not isinstance(self.stored, IntegerGobo) or "_ints" in self.__dict__:
            return self.ints[r]
        try:
            return self.stored.matrix_rows(r, np.int16)
        except IndexError as exc:
            raise IndexError(f"{self.name}: {exc}") from None

    def dequantized(self) -> np.ndarray:
        """``ints * scale`` as float32."""
        return (self.ints.astype(np.float64) * self.scale).astype(np.float32)


def int8_linear(name: str, w_nk: np.ndarray, bias: np.ndarray | None, per_channel: bool = True) -> IntLinear:
    """Symmetric int8 weight (one scale per output channel, or per tensor)."""
    q, s = _sym_int8(w_nk, 1 if per_channel else None)
    n = q.shape[0]
    scale = s.reshape(-1) if per_channel else s.reshape(-1)[:1]
    b = np.zeros(n) if bias is None else np.asarray(bias, dtype=np.float64)
    return IntLinear(name, scale, b, w_nk=q)


def int8_table(name: str, table: np.ndarray) -> IntTable:
    """Symmetric int8 embedding table, one scale per hidden channel (column)."""
    q, s = _sym_int8(table, 0)
    return IntTable(name, q, s.reshape(-1))


def format_mode(fmt: str) -> tuple[str, dict[str, object]] | None:
    """``(format, options)`` of a ternary, BCQ, OliVe or OLAccel integer mode ("ternary", "ternary-tensor",
    "bcq3", "olive", "olaccel"), else None."""
    if fmt in ("olive", "olaccel"):
        return fmt, {}
    if fmt == "ternary":
        return "ternary", {"granularity": "row"}
    if fmt == "ternary-tensor":
        return "ternary", {"granularity": "tensor"}
    if fmt.startswith("bcq") and fmt[3:].isdigit() and 1 <= int(fmt[3:]) <= 8:
        return "bcq", {"bits": int(fmt[3:])}
    return None


def format_linear(name: str, w_nk: np.ndarray, bias: np.ndarray | None, fmt: str) -> IntLinear:
    """One GEMM weight in a ternary, BCQ, OliVe or OLAccel integer mode (see :func:`format_mode`)."""
    found = format_mode(fmt)
    if found is None:
        raise ValueError(f"unknown integer weight format {fmt!r}")
    base, opts = found
    if base == "olive":
        return olive_linear(name, w_nk, bias)
    if base == "olaccel":
        return olaccel_linear(name, w_nk, bias)
    b = np.zeros(w_nk.shape[0]) if bias is None else np.asarray(bias, dtype=np.float64)
    if base == "ternary":
        t = ternarize(w_nk, granularity=str(opts["granularity"]), name=name)
        scale = t.scales.astype(np.float64).reshape(-1)
        return IntLinear(name, scale, b, w_nk=t.ints(), packed=t)
    q = bcq(w_nk, int(opts["bits"]), name=name)  # type: ignore[call-overload]
    return IntLinear(name, q.units.astype(np.float64), b, w_nk=q.int_matrix(), bits=q.int_bits, packed=q)


@dataclass(frozen=True, eq=False)
class QuantizedWeights:
    """All integer weights of one model in one mode: ``linears`` by weight name (without ``.weight``),
    ``tables`` by table name, ``fmt`` ("int8", "gobo" or a mode of :func:`format_mode`), ``bits`` (GOBO index
    bits) and ``fallback`` (GOBO mode: tensors that were not GOBO-quantized and use int8)."""

    fmt: str
    linears: dict[str, IntLinear]
    tables: dict[str, IntTable]
    bits: int | None = None
    fallback: tuple[str, ...] = field(default_factory=tuple)

    def dequantized(self, w: FloatWeights) -> FloatWeights:
        """``w`` with every quantized tensor replaced by its dequantized integer form (for calibration)."""
        t = dict(w.tensors)
        for name, lin in self.linears.items():
            t[f"{name}.weight"] = lin.dequantized_nk()
        for name, tab in self.tables.items():
            t[name] = tab.dequantized()
        return FloatWeights(t, w.source + f" ({self.fmt} dequantized)")


def _linear_names(w: FloatWeights) -> list[str]:
    names = [n[: -len(".weight")] for n, a in w.tensors.items() if n.endswith(".weight") and a.ndim == 2
             and n not in TABLES and not n.startswith("embeddings.position_embeddings")]
    return names


def olive_linear(name: str, w_nk: np.ndarray, bias: np.ndarray | None) -> IntLinear:
    """OVP 4-bit weight (one scale per output channel) with its packed pairs."""
    p = olive_format.quantize(w_nk)
    b = np.zeros(p.rows) if bias is None else np.asarray(bias, dtype=np.float64)
    return IntLinear(name, p.scales.astype(np.float64), b, w_nk=p.ints.astype(np.int8), packed=p)


def olaccel_linear(name: str, w_nk: np.ndarray, bias: np.ndarray | None) -> IntLinear:
    """OLAccel weight (4-bit + sparse int8 outliers, one scale per output channel) with its packed arrays."""
    p = olaccel_format.quantize(w_nk)
    b = np.zeros(p.rows) if bias is None else np.asarray(bias, dtype=np.float64)
    return IntLinear(name, p.scales.astype(np.float64), b, w_nk=p.ints.astype(np.int8), packed=p)


def quantize_weights(w: FloatWeights, fmt: str, *, qmodel: object | None = None, per_channel: bool = True
                     ) -> QuantizedWeights:
    """Integer weights of ``w`` in format ``fmt``: "int8", a mode of :func:`format_mode` ("ternary", "bcq3",
    "olive", "olaccel", ...), or "gobo" from ``qmodel`` (a
    :class:`sim.quant.QuantizedModel`; its tensor names may carry family prefixes)."""
    linears: dict[str, IntLinear] = {}
    tables: dict[str, IntTable] = {}
    fallback: list[str] = []
    packed: Mapping[str, object] = {}
    bits = None
    if fmt == "gobo":
        if qmodel is None:
            raise ValueError("gobo weights need a quantized model")
        packed = {c: p for n, p in qmodel.packed.items()  # type: ignore[attr-defined]
                  if (c := canonical_name(n)) is not None}
        bits = int(qmodel.params.bits)  # type: ignore[attr-defined]
    elif fmt != "int8" and format_mode(fmt) is None:
        raise ValueError(f"unknown integer weight format {fmt!r}")
    for base in _linear_names(w):
        wname = f"{base}.weight"
        bias = w.get(f"{base}.bias")
        p = packed.get(wname)
        if p is not None:
            g = p.integer()  # type: ignore[attr-defined]
            b = np.zeros(g.shape[0]) if bias is None else np.asarray(bias, dtype=np.float64)
            linears[base] = IntLinear(base, np.array([g.scale], dtype=np.float64), b, gobo=g)
        elif format_mode(fmt) is not None:
            linears[base] = format_linear(base, w[wname], bias, fmt)
        else:
            if fmt == "gobo":
                fallback.append(wname)
            linears[base] = int8_linear(base, w[wname], bias, per_channel)
    for name in TABLES + VIT_TABLES:
        if name not in w:
            continue
        p = packed.get(name)
        if p is not None:
            g = p.integer()  # type: ignore[attr-defined]
            tables[name] = IntTable(name, g, float(g.scale))
        else:
            if fmt == "gobo":
                fallback.append(name)
            tab = w[name]
            tables[name] = int8_table(name, tab.reshape(-1, tab.shape[-1]))
    return QuantizedWeights(fmt, linears, tables, bits, tuple(fallback))
