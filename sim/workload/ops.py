"""The operator graph's data types: parameter tensors, operators and the graph (shared by the encoder and
decoder lowerings, :mod:`sim.workload.graph` and :mod:`sim.workload.decoder`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sim.workload.spec import WorkloadSpec

DTYPE_BITS = {"int8": 8, "uint8": 8, "int16": 16, "int32": 32, "fp16": 16, "fp32": 32}
STAGES = ("embeddings", "encoder", "pooler", "decoder", "head")  # the last two: decoder models


@dataclass(frozen=True)
class WeightTensor:
    """A parameter tensor of the model as stored (Hugging Face orientation: Linear weights are [out, in])."""

    name: str  # canonical name, e.g. "encoder.layer.0.attention.self.query.weight"
    shape: tuple[int, ...]
    tensor_type: str  # query, key, value, attn_out, ffn1, ffn2, word_emb, pos_emb, type_emb, patch_emb,
    # pooler, classifier, layernorm, bias

    @property
    def elems(self) -> int:
        """Number of elements."""
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class Operator:
    """One operator of the graph, with everything the mapping, timing and energy models need."""

    name: str  # unique, e.g. "L3.ffn1"
    layer: int  # encoder layer index; -1 for embeddings and pooler/head
    stage: str  # embeddings | encoder | pooler (decoders: embeddings | decoder | head)
    kind: str  # gemm, bmm, softmax, gelu, layernorm, add, gather, tanh (decoders also relu, silu, mul, rope)
    in_dtype: str
    out_dtype: str
    m: int = 0  # gemm/bmm: A is m x k, B is k x n, `count` products
    k: int = 0
    n: int = 0
    count: int = 1
    weight: WeightTensor | None = None  # B of a weight GEMM (stored [n, k]); None for BMMs and element-wise ops
    rows: int = 0  # row-wise ops (softmax, layernorm, gather): rows x row_len elements
    row_len: int = 0
    elements: int = 0  # element-wise work items (output elements) for non-GEMM ops and GEMM epilogues
    epilogue: str | None = None  # "requant": int32 -> int8 on the GEMM's way out
    inputs: tuple[str, ...] = field(default_factory=tuple)  # producing operators (for liveness)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of all ``count`` products (0 for element-wise operators)."""
        return self.m * self.k * self.n * self.count if self.kind in ("gemm", "bmm") else 0

    @property
    def is_matmul(self) -> bool:
        """True for gemm and bmm."""
        return self.kind in ("gemm", "bmm")

    @property
    def in_elems(self) -> int:
        """Activation input elements (A of a matmul, B too for a BMM; the input of an element-wise op)."""
        if self.kind == "gemm":
            return self.m * self.k * self.count
        if self.kind == "bmm":
            return (self.m * self.k + self.k * self.n) * self.count
        if self.kind == "add":
            return 2 * self.elements
        return self.elements

    @property
    def out_elems(self) -> int:
        """Output elements."""
        return self.m * self.n * self.count if self.is_matmul else self.elements

    @property
    def in_bytes(self) -> int:
        """Activation input bytes at ``in_dtype``."""
        return self.in_elems * DTYPE_BITS[self.in_dtype] // 8

    @property
    def out_bytes(self) -> int:
        """Output bytes at ``out_dtype``."""
        return self.out_elems * DTYPE_BITS[self.out_dtype] // 8

    def weight_bytes(self, bits: float) -> float:
        """Weight bytes at ``bits`` per weight (0 when the operator has no weight)."""
        return self.weight.elems * bits / 8 if self.weight is not None else 0.0


@dataclass(frozen=True)
class OperatorGraph:
    """The operators of one workload in execution order, and every parameter tensor of the model."""

    workload: WorkloadSpec
    ops: tuple[Operator, ...]
    tensors: tuple[WeightTensor, ...]
    phase: str = ""  # decoders: "prefill" or "decode" (sim.workload.decoder); "" for an encoder
    context: int = 0  # decoders: tokens each query attends over (the prompt, or the cache in a decode step)

    @cached_property
    def weight_elems(self) -> int:
        """Elements of every parameter tensor (computed once per graph: the graph is frozen)."""
        return sum(t.elems for t in self.tensors)

    def matmuls(self, stage: str | None = "encoder") -> list[Operator]:
        """GEMM/BMM operators, of one stage (default the encoder) or of all (None)."""
        return [o for o in self.ops if o.is_matmul and (stage is None or o.stage == stage)]

    def total_macs(self, stage: str | None = None) -> int:
        """MACs of all matmuls (of one stage if given)."""
        return sum(o.macs for o in self.matmuls(stage))

    def tensor(self, name: str) -> WeightTensor:
        """The parameter tensor of that canonical name."""
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)
