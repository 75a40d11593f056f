"""Lower a workload to its operator graph: shapes, dtypes, MACs, element-wise work and bytes per operator.

The graph follows the integer-only (I-BERT) pipeline: GEMMs take int8 activations and accumulate in int32;
GEMMs whose consumer is another GEMM requantize their int32 results to int8 in an epilogue; softmax and
GELU take the int32 accumulator values, LayerNorm takes the int32 residual sum, and their outputs are int8
(softmax: uint8 probabilities). Weights are named canonically with BERT's Hugging Face names (without
the ``bert.`` prefix) for every family; checkpoint readers map each family's names onto these.

Conventions: a GEMM/BMM computes ``count`` products of A (m x k) times B (k x n); ``macs`` includes all
``count`` products. Token-wise GEMMs have m = batch x seq_len.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.workload.spec import WorkloadSpec

DTYPE_BITS = {"int8": 8, "uint8": 8, "int16": 16, "int32": 32, "fp16": 16, "fp32": 32}
STAGES = ("embeddings", "encoder", "pooler")


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
    stage: str  # embeddings | encoder | pooler
    kind: str  # gemm, bmm, softmax, gelu, layernorm, add, gather, tanh
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


def encoder_macs_closed_form(w: WorkloadSpec) -> int:
    """Encoder GEMM + BMM MACs: L x (4 T H^2 + 2 T H I + 2 B S^2 H), T = B x S tokens."""
    t = w.batch * w.seq_len
    return w.layers * (4 * t * w.hidden * w.hidden + 2 * t * w.hidden * w.intermediate
                       + 2 * w.batch * w.seq_len * w.seq_len * w.hidden)


def _linear(prefix: str, out_f: int, in_f: int, tensor_type: str) -> tuple[WeightTensor, WeightTensor]:
    return (WeightTensor(f"{prefix}.weight", (out_f, in_f), tensor_type),
            WeightTensor(f"{prefix}.bias", (out_f,), "bias"))


def _layernorm(prefix: str, width: int) -> tuple[WeightTensor, WeightTensor]:
    return (WeightTensor(f"{prefix}.weight", (width,), "layernorm"),
            WeightTensor(f"{prefix}.bias", (width,), "layernorm"))


def lower(w: WorkloadSpec) -> OperatorGraph:
    """The operator graph of workload ``w`` (post-LN BERT/RoBERTa/DistilBERT, pre-LN ViT)."""
    ops: list[Operator] = []
    tensors: list[WeightTensor] = []
    # the papers' notation: T tokens, H hidden, I FFN width, A heads, d head width, S seq, B batch
    T, H, I, A, d, S, B = w.tokens, w.hidden, w.intermediate, w.heads, w.head_dim, w.seq_len, w.batch  # noqa: E741
    vit = w.family == "vit"

    def gemm(name, layer, stage, m, k, n, weight, out_dtype, inputs, epilogue=None):
        ops.append(Operator(name, layer, stage, "gemm", "int8", out_dtype, m=m, k=k, n=n, weight=weight,
                            elements=m * n if epilogue else 0, epilogue=epilogue, inputs=tuple(inputs)))

    def elementwise(name, layer, stage, kind, in_dtype, out_dtype, rows, row_len, inputs):
        ops.append(Operator(name, layer, stage, kind, in_dtype, out_dtype, rows=rows, row_len=row_len,
                            elements=rows * row_len, inputs=tuple(inputs)))

    # Embeddings.
    if vit:
        p = w.patch_size
        patches = (w.image_size // p) ** 2
        pw, pb = _linear("embeddings.patch_embeddings.projection", H, w.channels * p * p, "patch_emb")
        tensors += [pw, pb,
                    WeightTensor("embeddings.cls_token", (1, 1, H), "bias"),
                    WeightTensor("embeddings.position_embeddings", (1, S, H), "pos_emb")]
        gemm("emb.patch_proj", -1, "embeddings", B * patches, w.channels * p * p, H, pw, "int32", ())
        elementwise("emb.add_pos", -1, "embeddings", "add", "int32", "int32", T, H, ("emb.patch_proj",))
        last = "emb.add_pos"
    else:
        tensors.append(WeightTensor("embeddings.word_embeddings.weight", (w.vocab, H), "word_emb"))
        tensors.append(WeightTensor("embeddings.position_embeddings.weight", (w.max_positions, H), "pos_emb"))
        if w.type_vocab:
            tensors.append(WeightTensor("embeddings.token_type_embeddings.weight", (w.type_vocab, H), "type_emb"))
        tensors += _layernorm("embeddings.LayerNorm", H)
        tables = 2 + (1 if w.type_vocab else 0)
        elementwise("emb.gather", -1, "embeddings", "gather", "int8", "int8", T * tables, H, ())
        # the table sum: one output element per token and channel (charged as one residual add each)
        elementwise("emb.add", -1, "embeddings", "add", "int8", "int32", T, H, ("emb.gather",))
        elementwise("emb.layernorm", -1, "embeddings", "layernorm", "int32", "int8", T, H, ("emb.add",))
        last = "emb.layernorm"

    # Encoder layers.
    for li in range(w.layers):
        pre = f"encoder.layer.{li}"
        L = f"L{li}"
        q, qb = _linear(f"{pre}.attention.self.query", H, H, "query")
        k, kb = _linear(f"{pre}.attention.self.key", H, H, "key")
        v, vb = _linear(f"{pre}.attention.self.value", H, H, "value")
        o, ob = _linear(f"{pre}.attention.output.dense", H, H, "attn_out")
        f1, f1b = _linear(f"{pre}.intermediate.dense", I, H, "ffn1")
        f2, f2b = _linear(f"{pre}.output.dense", H, I, "ffn2")
        ln1 = _layernorm(f"{pre}.attention.output.LayerNorm", H)
        ln2 = _layernorm(f"{pre}.output.LayerNorm", H)
        tensors += [q, qb, k, kb, v, vb, o, ob, *ln1, f1, f1b, f2, f2b, *ln2]
        layer_in = last
        if vit:  # pre-LN: the norms come before attention and before the MLP
            elementwise(f"{L}.ln_attn", li, "encoder", "layernorm", "int32", "int8", T, H, (last,))
            last = f"{L}.ln_attn"
        for name, wt in (("q_proj", q), ("k_proj", k), ("v_proj", v)):
            gemm(f"{L}.{name}", li, "encoder", T, H, H, wt, "int8", (last,), epilogue="requant")
        ops.append(Operator(f"{L}.qk", li, "encoder", "bmm", "int8", "int32", m=S, k=d, n=S, count=B * A,
                            inputs=(f"{L}.q_proj", f"{L}.k_proj")))
        elementwise(f"{L}.softmax", li, "encoder", "softmax", "int32", "uint8", B * A * S, S, (f"{L}.qk",))
        ops.append(Operator(f"{L}.av", li, "encoder", "bmm", "int8", "int8", m=S, k=S, n=d, count=B * A,
                            elements=B * A * S * d, epilogue="requant", inputs=(f"{L}.softmax", f"{L}.v_proj")))
        gemm(f"{L}.out_proj", li, "encoder", T, H, H, o, "int32", (f"{L}.av",))
        elementwise(f"{L}.attn_residual", li, "encoder", "add", "int32", "int32", T, H, (f"{L}.out_proj", layer_in))
        last = f"{L}.attn_residual"
        if not vit:
            elementwise(f"{L}.ln_attn", li, "encoder", "layernorm", "int32", "int8", T, H, (last,))
            last = f"{L}.ln_attn"
        else:
            elementwise(f"{L}.ln_ffn", li, "encoder", "layernorm", "int32", "int8", T, H, (last,))
        mid = last if not vit else f"{L}.ln_ffn"
        gemm(f"{L}.ffn1", li, "encoder", T, H, I, f1, "int32", (mid,))
        elementwise(f"{L}.gelu", li, "encoder", "gelu", "int32", "int8", T, I, (f"{L}.ffn1",))
        gemm(f"{L}.ffn2", li, "encoder", T, I, H, f2, "int32", (f"{L}.gelu",))
        elementwise(f"{L}.ffn_residual", li, "encoder", "add", "int32", "int32", T, H, (f"{L}.ffn2", last))
        last = f"{L}.ffn_residual"
        if not vit:
            elementwise(f"{L}.ln_ffn", li, "encoder", "layernorm", "int32", "int8", T, H, (last,))
            last = f"{L}.ln_ffn"

    # Pooler (BERT/RoBERTa: dense + tanh on the first token) or ViT head (final LayerNorm + classifier).
    if vit:
        tensors += _layernorm("layernorm", H)
        elementwise("head.layernorm", -1, "pooler", "layernorm", "int32", "int8", T, H, (last,))
        last = "head.layernorm"
        if w.pooler and w.num_classes:
            cw, cb = _linear("classifier", w.num_classes, H, "classifier")
            tensors += [cw, cb]
            gemm("head.classifier", -1, "pooler", B, H, w.num_classes, cw, "int32", (last,))
    elif w.pooler:
        pw, pb = _linear("pooler.dense", H, H, "pooler")
        tensors += [pw, pb]
        gemm("pooler.dense", -1, "pooler", B, H, H, pw, "int32", (last,))
        elementwise("pooler.tanh", -1, "pooler", "tanh", "int32", "int8", B, H, ("pooler.dense",))
    return OperatorGraph(w, tuple(ops), tuple(tensors))
