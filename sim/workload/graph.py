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

from sim.workload.decoder import lower_decoder
from sim.workload.ops import DTYPE_BITS, STAGES, Operator, OperatorGraph, WeightTensor
from sim.workload.spec import WorkloadSpec

__all__ = ["DTYPE_BITS", "STAGES", "Operator", "OperatorGraph", "WeightTensor", "encoder_macs_closed_form", "lower"]

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
    """The operator graph of workload ``w`` (post-LN BERT/RoBERTa/DistilBERT, pre-LN ViT; a decoder's prefill
    pass, see :mod:`sim.workload.decoder`)."""
    if w.is_decoder:
        return lower_decoder(w, "prefill")
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
