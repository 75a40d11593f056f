"""Lower a decoder-only language model (GPT-2, OPT, Llama) to the operator graph of one phase.

A generation run has two phases (:mod:`sim.generation` drives them):

- **prefill**: the whole prompt (``seq_len`` tokens per sequence) in one pass, causal attention over the
  prompt; the keys and values of every prompt token are written to the KV cache;
- **decode step** at context ``L``: one new token per sequence, every weight GEMM with ``m = batch`` rows,
  attention of that token over the ``L`` cached keys and values (``L - 1`` earlier tokens + itself); the new
  token's key and value are appended to the cache.

Both phases end with the final norm and the LM head on the last token of each sequence (``m = batch``): the
logits of the next token. The layers are pre-LN (GPT-2, OPT and Llama alike). Integer types follow the encoder
graph (:mod:`sim.workload.graph`): int8 activations into every GEMM, int32 accumulators into the row-wise
kernels and residual adds. Llama's RMSNorm is charged as a LayerNorm on the vector unit (the same operation
mix minus the mean: an upper bound), its SiLU as an i-GELU-like polynomial, its rotary embedding as an
element-wise kernel fused into the Q and K projections' epilogues (costs in :mod:`sim.mapping.kvcache`).

The causal mask is applied in softmax: the prefill QK^T and AV products are computed dense over the whole
prompt (the masked half too), as a dense matrix unit does.

Weights keep the canonical BERT names of :mod:`sim.workload.graph` (``encoder.layer.N.attention.self.query``,
...), so the quantizer, the synthetic weights and the weight formats treat them as the encoders'. Llama's gate
projection is ``encoder.layer.N.intermediate.gate``; the final norm is ``final_layernorm``; a tied LM head is the
word-embedding table itself (stored once, streamed again by the head GEMM).
"""

from __future__ import annotations

import dataclasses

from sim.workload.ops import Operator, OperatorGraph, WeightTensor
from sim.workload.spec import WorkloadSpec

PHASES = ("prefill", "decode")


def _linear(prefix: str, out_f: int, in_f: int, tensor_type: str, bias: bool) -> list[WeightTensor]:
    out = [WeightTensor(f"{prefix}.weight", (out_f, in_f), tensor_type)]
    if bias:
        out.append(WeightTensor(f"{prefix}.bias", (out_f,), "bias"))
    return out


def _norm(prefix: str, width: int, bias: bool) -> list[WeightTensor]:
    out = [WeightTensor(f"{prefix}.weight", (width,), "layernorm")]
    if bias:
        out.append(WeightTensor(f"{prefix}.bias", (width,), "layernorm"))
    return out


def decoder_tensors(w: WorkloadSpec) -> list[WeightTensor]:
    """Every parameter tensor of a decoder model (canonical names, Hugging Face [out, in] orientation)."""
    H, I, kv = w.hidden, w.intermediate, w.kv_dim  # noqa: E741
    llama = w.family == "llama"
    bias = not llama  # GPT-2 and OPT linears and norms have biases; Llama's have none
    tensors = [WeightTensor("embeddings.word_embeddings.weight", (w.vocab, H), "word_emb")]
    if w.positions == "learned":
        rows = w.max_positions + (2 if w.family == "opt" else 0)  # OPT's table has 2 offset rows
        tensors.append(WeightTensor("embeddings.position_embeddings.weight", (rows, H), "pos_emb"))
    for li in range(w.layers):
        pre = f"encoder.layer.{li}"
        tensors += _norm(f"{pre}.attention.output.LayerNorm", H, bias)
        tensors += _linear(f"{pre}.attention.self.query", H, H, "query", bias)
        tensors += _linear(f"{pre}.attention.self.key", kv, H, "key", bias)
        tensors += _linear(f"{pre}.attention.self.value", kv, H, "value", bias)
        tensors += _linear(f"{pre}.attention.output.dense", H, H, "attn_out", bias)
        tensors += _norm(f"{pre}.output.LayerNorm", H, bias)
        if w.activation == "silu":
            tensors += _linear(f"{pre}.intermediate.gate", I, H, "ffn1", bias)
        tensors += _linear(f"{pre}.intermediate.dense", I, H, "ffn1", bias)
        tensors += _linear(f"{pre}.output.dense", H, I, "ffn2", bias)
    tensors += _norm("final_layernorm", H, bias)
    if not w.tie_embeddings:
        tensors += _linear("classifier", w.vocab, H, "classifier", False)
    return tensors


def lower_decoder(w: WorkloadSpec, phase: str = "prefill", context: int | None = None) -> OperatorGraph:
    """The operator graph of one phase of decoder workload ``w``.

    ``phase``: ``prefill`` (the prompt, ``seq_len`` tokens per sequence) or ``decode`` (one token per sequence
    attending over ``context`` cached tokens, the new one included; default ``seq_len + 1``). A decode step's
    graph holds ``w`` with ``seq_len = 1`` (the tokens of its own pass)."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    ops: list[Operator] = []
    tensors = decoder_tensors(w)
    by_name = {t.name: t for t in tensors}
    B, H, I, A, d, kv = w.batch, w.hidden, w.intermediate, w.heads, w.head_dim, w.kv_dim  # noqa: E741
    rows_q = w.seq_len if phase == "prefill" else 1  # query rows per sequence
    L = w.seq_len if phase == "prefill" else (context if context is not None else w.seq_len + 1)
    if L < 1 or (phase == "decode" and L < 2):
        raise ValueError(f"context must be >= 2 in a decode step, got {L}")
    T = B * rows_q

    def gemm(name, layer, stage, m, k, n, weight, out_dtype, inputs, epilogue=None):
        ops.append(Operator(name, layer, stage, "gemm", "int8", out_dtype, m=m, k=k, n=n, weight=by_name[weight],
                            elements=m * n if epilogue else 0, epilogue=epilogue, inputs=tuple(inputs)))

    def elementwise(name, layer, stage, kind, in_dtype, out_dtype, rows, row_len, inputs):
        ops.append(Operator(name, layer, stage, kind, in_dtype, out_dtype, rows=rows, row_len=row_len,
                            elements=rows * row_len, inputs=tuple(inputs)))

    tables = 2 if w.positions == "learned" else 1
    elementwise("emb.gather", -1, "embeddings", "gather", "int8", "int8" if tables > 1 else "int32", T * tables,
                H, ())
    last = "emb.gather"
    if tables > 1:  # word + position rows summed into the residual stream
        elementwise("emb.add", -1, "embeddings", "add", "int8", "int32", T, H, ("emb.gather",))
        last = "emb.add"
    for li in range(w.layers):
        pre = f"encoder.layer.{li}"
        P = f"L{li}"
        layer_in = last
        elementwise(f"{P}.ln_attn", li, "decoder", "layernorm", "int32", "int8", T, H, (last,))
        gemm(f"{P}.q_proj", li, "decoder", T, H, H, f"{pre}.attention.self.query.weight", "int8",
             (f"{P}.ln_attn",), epilogue="requant")
        gemm(f"{P}.k_proj", li, "decoder", T, H, kv, f"{pre}.attention.self.key.weight", "int8",
             (f"{P}.ln_attn",), epilogue="requant")
        gemm(f"{P}.v_proj", li, "decoder", T, H, kv, f"{pre}.attention.self.value.weight", "int8",
             (f"{P}.ln_attn",), epilogue="requant")
        q_src, k_src = f"{P}.q_proj", f"{P}.k_proj"
        if w.positions == "rotary":
            elementwise(f"{P}.rope_q", li, "decoder", "rope", "int8", "int8", T, H, (f"{P}.q_proj",))
            elementwise(f"{P}.rope_k", li, "decoder", "rope", "int8", "int8", T, kv, (f"{P}.k_proj",))
            q_src, k_src = f"{P}.rope_q", f"{P}.rope_k"
        ops.append(Operator(f"{P}.qk", li, "decoder", "bmm", "int8", "int32", m=rows_q, k=d, n=L, count=B * A,
                            inputs=(q_src, k_src)))
        elementwise(f"{P}.softmax", li, "decoder", "softmax", "int32", "uint8", B * A * rows_q, L, (f"{P}.qk",))
        ops.append(Operator(f"{P}.av", li, "decoder", "bmm", "int8", "int8", m=rows_q, k=L, n=d, count=B * A,
                            elements=B * A * rows_q * d, epilogue="requant",
                            inputs=(f"{P}.softmax", f"{P}.v_proj")))
        gemm(f"{P}.out_proj", li, "decoder", T, H, H, f"{pre}.attention.output.dense.weight", "int32", (f"{P}.av",))
        elementwise(f"{P}.attn_residual", li, "decoder", "add", "int32", "int32", T, H, (f"{P}.out_proj", layer_in))
        mid = f"{P}.attn_residual"
        elementwise(f"{P}.ln_ffn", li, "decoder", "layernorm", "int32", "int8", T, H, (mid,))
        if w.activation == "silu":  # SwiGLU: down(silu(gate(x)) * up(x))
            gemm(f"{P}.ffn_gate", li, "decoder", T, H, I, f"{pre}.intermediate.gate.weight", "int32",
                 (f"{P}.ln_ffn",))
            elementwise(f"{P}.silu", li, "decoder", "silu", "int32", "int8", T, I, (f"{P}.ffn_gate",))
            gemm(f"{P}.ffn1", li, "decoder", T, H, I, f"{pre}.intermediate.dense.weight", "int32", (f"{P}.ln_ffn",))
            elementwise(f"{P}.gate_mul", li, "decoder", "mul", "int32", "int8", T, I, (f"{P}.ffn1", f"{P}.silu"))
            act = f"{P}.gate_mul"
        else:
            gemm(f"{P}.ffn1", li, "decoder", T, H, I, f"{pre}.intermediate.dense.weight", "int32", (f"{P}.ln_ffn",))
            elementwise(f"{P}.{w.activation}", li, "decoder", w.activation, "int32", "int8", T, I, (f"{P}.ffn1",))
            act = f"{P}.{w.activation}"
        gemm(f"{P}.ffn2", li, "decoder", T, I, H, f"{pre}.output.dense.weight", "int32", (act,))
        elementwise(f"{P}.ffn_residual", li, "decoder", "add", "int32", "int32", T, H, (f"{P}.ffn2", mid))
        last = f"{P}.ffn_residual"
    elementwise("head.layernorm", -1, "head", "layernorm", "int32", "int8", T, H, (last,))
    head_w = "embeddings.word_embeddings.weight" if w.tie_embeddings else "classifier.weight"
    gemm("head.lm_head", -1, "head", B, H, w.vocab, head_w, "int32", ("head.layernorm",))
    # a decode step's graph carries the workload of its own pass: one token per sequence
    pass_w = w if phase == "prefill" else dataclasses.replace(w, seq_len=1)
    return OperatorGraph(pass_w, tuple(ops), tuple(tensors), phase=phase, context=L)


def kv_cache_bytes_per_token(w: WorkloadSpec, act_bytes: int) -> int:
    """KV-cache bytes one token of one sequence adds over all layers (keys and values at ``act_bytes``)."""
    return 2 * w.layers * w.kv_dim * act_bytes


def decoder_macs_closed_form(w: WorkloadSpec, phase: str = "prefill", context: int | None = None) -> int:
    """MACs of one pass (every GEMM and BMM, the LM head included), from the shapes alone:
    ``L x (2 T H^2 + 2 T H kv + g T H I + 2 B A q C d) + B H V`` with ``T = B q`` token rows, ``q`` query rows
    per sequence (the prompt, or 1 in a decode step), ``C`` the context, ``g`` 3 for a gated FFN else 2."""
    q = w.seq_len if phase == "prefill" else 1
    c = w.seq_len if phase == "prefill" else (context if context is not None else w.seq_len + 1)
    t = w.batch * q
    gated = 3 if w.activation == "silu" else 2
    per_layer = (2 * t * w.hidden * w.hidden + 2 * t * w.hidden * w.kv_dim + gated * t * w.hidden * w.intermediate
                 + 2 * w.batch * w.heads * q * c * w.head_dim)
    return w.layers * per_layer + w.batch * w.hidden * w.vocab
