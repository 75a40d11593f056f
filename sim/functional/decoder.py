"""Float reference forward of decoder-only language models (GPT-2, OPT, Llama), in numpy, with a KV cache.

The models, as Hugging Face ``GPT2Model`` / ``OPTModel`` / ``LlamaModel`` in eval mode (pre-LN blocks):

- **embeddings**: ``word[ids] + position[pos]`` (GPT-2: positions ``start .. start+s-1``; OPT: the same plus
  its offset of 2 rows); Llama: ``word[ids]`` only (rotary positions inside attention);
- **block**: ``x = x + Attn(Norm(x))``, ``x = x + FFN(Norm(x))``; Norm is LayerNorm (GPT-2, OPT) or RMSNorm
  ``x / sqrt(mean(x^2) + eps) * w`` (Llama); FFN is ``W2 act(W1 x)`` with GPT-2's tanh GELU (``gelu_new``) or
  OPT's ReLU, or Llama's ``W_down (silu(W_gate x) * W_up x)``;
- **attention**: ``Q K^T / sqrt(d)`` with the causal mask (a query at position ``p`` sees keys ``0..p``; the
  additive mask is ``finfo(dtype).min`` as Hugging Face), softmax, ``P V``; grouped-query attention repeats
  each KV head for ``heads / kv_heads`` query heads; Llama rotates Q and K (``rotate_half`` convention,
  ``inv_freq = theta^(-2i/d)``);
- **final norm**, then the LM head (the tied word-embedding table, or ``classifier.weight``).

:func:`decoder_forward` takes a KV cache (``past``: per layer the keys and values of the earlier tokens) and
returns the new one, so a prefill followed by one-token steps reproduces the full forward (tested).

``observe(name, value, mask)`` is called where the integer pipeline (:mod:`.decoder_integer`) quantizes an
activation: ``emb.sum``; per layer ``L{i}.`` ``ln_attn``, ``q``, ``k``, ``v``, ``ctx``, ``attn_res``, ``ln_ffn``,
``ffn1``, ``gelu`` (the FFN activation's output, whichever it is), ``ffn_res``; ``head.final``.

:func:`gpt2_canonical` and :func:`opt_canonical` rename Hugging Face checkpoints' tensors to the graph's
canonical names (:mod:`sim.workload.decoder`); GPT-2's ``Conv1D`` weights are ``[in, out]`` and its fused
``c_attn`` is split into Q, K and V.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from sim.workload.spec import WorkloadSpec

from .mathfn import layernorm, softmax
from .weights import FloatWeights

__all__ = ["CANONICAL", "DecoderDims", "DecoderOutput", "KVCache", "decoder_forward", "gpt2_canonical",
           "llama_canonical", "opt_canonical"]

Observer = Callable[[str, np.ndarray, np.ndarray], None]
KVCache = list[tuple[np.ndarray, np.ndarray]]  # per layer (keys, values) [batch, kv_heads, tokens, head_dim]


@dataclass(frozen=True)
class DecoderDims:
    """Shape parameters of a decoder (from a :class:`~sim.workload.spec.WorkloadSpec`)."""

    family: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    max_positions: int
    norm_eps: float
    activation: str
    norm: str
    positions: str
    rope_theta: float
    tie_embeddings: bool

    @property
    def head_dim(self) -> int:
        """Per-head width."""
        return self.hidden // self.heads

    @property
    def position_offset(self) -> int:
        """Rows of the position table before position 0 (OPT: 2)."""
        return 2 if self.family == "opt" else 0

    @classmethod
    def from_workload(cls, wl: WorkloadSpec) -> DecoderDims:
        """The dimensions of decoder workload ``wl``."""
        if not wl.is_decoder:
            raise ValueError(f"{wl.name} is not a decoder workload")
        return cls(wl.family, wl.layers, wl.hidden, wl.heads, wl.kv_head_count, wl.intermediate, wl.vocab,
                   wl.max_positions, wl.norm_eps, wl.activation, wl.norm, wl.positions, wl.rope_theta,
                   wl.tie_embeddings)


@dataclass(frozen=True)
class DecoderOutput:
    """``hidden``: the final norm's output ``[batch, s, hidden]``; ``logits``: ``[batch, s, vocab]``;
    ``present``: the KV cache including these tokens."""

    hidden: np.ndarray
    logits: np.ndarray
    present: KVCache


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """GPT-2's ``gelu_new``: ``x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


def rmsnorm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """RMSNorm over the last axis (Llama), in ``x``'s dtype."""
    ms = (x * x).mean(axis=-1, keepdims=True)
    return x / np.sqrt(ms + x.dtype.type(eps)) * weight.astype(x.dtype)


def rotary(x: np.ndarray, positions: np.ndarray, theta: float) -> np.ndarray:
    """Rotary embedding of ``x`` ``[b, heads, s, d]`` at ``positions`` ``(s,)`` (Hugging Face rotate_half)."""
    d = x.shape[-1]
    inv = 1.0 / (theta ** (np.arange(0, d, 2, dtype=np.float64) / d))
    freqs = np.outer(positions.astype(np.float64), inv)
    emb = np.concatenate([freqs, freqs], axis=-1)
    cos, sin = np.cos(emb).astype(x.dtype), np.sin(emb).astype(x.dtype)
    half = d // 2
    rot = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rot * sin


def _h(a: np.ndarray, fp16: bool) -> np.ndarray:
    """A GEMM operand as an fp16 engine sees it (rounded to fp16, held in the working dtype)."""
    return a.astype(np.float16).astype(a.dtype) if fp16 else a


def _linear(w: FloatWeights, prefix: str, x: np.ndarray, fp16: bool = False) -> np.ndarray:
    wt = _h(w[f"{prefix}.weight"].astype(x.dtype, copy=False), fp16)
    y = _h(x, fp16).reshape(-1, x.shape[-1]) @ wt.T
    b = w.get(f"{prefix}.bias")
    if b is not None:
        y = y + b.astype(x.dtype, copy=False)
    return y.reshape(x.shape[:-1] + (wt.shape[0],))


def _norm(w: FloatWeights, prefix: str, x: np.ndarray, dims: DecoderDims) -> np.ndarray:
    if dims.norm == "rmsnorm":
        return rmsnorm(x, w[f"{prefix}.weight"], dims.norm_eps)
    return layernorm(x, w[f"{prefix}.weight"], w[f"{prefix}.bias"], dims.norm_eps)


def decoder_forward(w: FloatWeights, dims: DecoderDims, ids: np.ndarray, *, past: KVCache | None = None,
                    dtype: type = np.float64, observe: Observer | None = None, fp16: bool = False) -> DecoderOutput:
    """Forward of token ids ``[batch, s]`` after the ``past`` cache (None: none); see the module docstring.
    ``fp16``: every GEMM operand (weights, activations, attention operands) rounded to fp16 first (the
    tensor-core model; accumulation and nonlinearities stay in ``dtype``)."""
    ids = np.asarray(ids, dtype=np.int64)
    b, s = ids.shape
    start = past[0][0].shape[2] if past else 0
    pos = np.arange(start, start + s, dtype=np.int64)
    mask = np.ones((b, s), dtype=np.int64)
    x = w["embeddings.word_embeddings.weight"].astype(dtype)[ids]
    if dims.positions == "learned":
        x = x + w["embeddings.position_embeddings.weight"].astype(dtype)[pos + dims.position_offset][None]
    if observe is not None:
        observe("emb.sum", x, mask)
    nh, kvh, d = dims.heads, dims.kv_heads, dims.head_dim
    total = start + s
    causal = np.arange(total)[None, :] <= pos[:, None]  # [s, total]
    add_mask: np.ndarray = np.where(causal, 0.0, np.finfo(dtype).min).astype(dtype)
    present: KVCache = []
    for li in range(dims.layers):
        pre = f"encoder.layer.{li}"
        L = f"L{li}"
        h = _norm(w, f"{pre}.attention.output.LayerNorm", x, dims)
        q = _linear(w, f"{pre}.attention.self.query", h, fp16)
        k = _linear(w, f"{pre}.attention.self.key", h, fp16)
        v = _linear(w, f"{pre}.attention.self.value", h, fp16)
        if observe is not None:
            observe(f"{L}.ln_attn", h, mask)
            observe(f"{L}.q", q, mask)
            observe(f"{L}.k", k, mask)
            observe(f"{L}.v", v, mask)
        qh = q.reshape(b, s, nh, d).transpose(0, 2, 1, 3)
        kh = k.reshape(b, s, kvh, d).transpose(0, 2, 1, 3)
        vh = v.reshape(b, s, kvh, d).transpose(0, 2, 1, 3)
        if dims.positions == "rotary":
            qh, kh = rotary(qh, pos, dims.rope_theta), rotary(kh, pos, dims.rope_theta)
        if past:
            kh = np.concatenate([past[li][0].astype(dtype), kh], axis=2)
            vh = np.concatenate([past[li][1].astype(dtype), vh], axis=2)
        present.append((kh, vh))
        rep = nh // kvh
        kr, vr = (np.repeat(kh, rep, axis=1), np.repeat(vh, rep, axis=1)) if rep > 1 else (kh, vh)
        scores = _h(qh, fp16) @ _h(kr, fp16).transpose(0, 1, 3, 2) / dtype(math.sqrt(d)) + add_mask
        ctx = (_h(softmax(scores), fp16) @ _h(vr, fp16)).transpose(0, 2, 1, 3).reshape(b, s, nh * d)
        if observe is not None:
            observe(f"{L}.ctx", ctx, mask)
        x = x + _linear(w, f"{pre}.attention.output.dense", ctx, fp16)
        if observe is not None:
            observe(f"{L}.attn_res", x, mask)
        h = _norm(w, f"{pre}.output.LayerNorm", x, dims)
        if observe is not None:
            observe(f"{L}.ln_ffn", h, mask)
        f = _linear(w, f"{pre}.intermediate.dense", h, fp16)
        if dims.activation == "silu":
            g = _linear(w, f"{pre}.intermediate.gate", h, fp16)
            a = g / (1.0 + np.exp(-g)) * f
        elif dims.activation == "relu":
            a = np.maximum(f, 0)
        else:
            a = gelu_tanh(f)
        if observe is not None:
            observe(f"{L}.ffn1", f, mask)
            observe(f"{L}.gelu", a, mask)
        x = x + _linear(w, f"{pre}.output.dense", a, fp16)
        if observe is not None:
            observe(f"{L}.ffn_res", x, mask)
    hidden = _norm(w, "final_layernorm", x, dims)
    if observe is not None:
        observe("head.final", hidden, mask)
    head = w["embeddings.word_embeddings.weight"] if dims.tie_embeddings else w["classifier.weight"]
    logits = _h(hidden, fp16) @ _h(head.astype(dtype), fp16).T
    return DecoderOutput(hidden, logits, present)


_GPT2 = (
    (r"(?:transformer\.)?wte\.weight", "embeddings.word_embeddings.weight"),
    (r"(?:transformer\.)?wpe\.weight", "embeddings.position_embeddings.weight"),
    (r"(?:transformer\.)?ln_f\.(weight|bias)", r"final_layernorm.\1"),
    (r"(?:transformer\.)?h\.(\d+)\.ln_1\.(weight|bias)", r"encoder.layer.\1.attention.output.LayerNorm.\2"),
    (r"(?:transformer\.)?h\.(\d+)\.ln_2\.(weight|bias)", r"encoder.layer.\1.output.LayerNorm.\2"),
    (r"(?:transformer\.)?h\.(\d+)\.attn\.c_proj\.(weight|bias)", r"encoder.layer.\1.attention.output.dense.\2"),
    (r"(?:transformer\.)?h\.(\d+)\.mlp\.c_fc\.(weight|bias)", r"encoder.layer.\1.intermediate.dense.\2"),
    (r"(?:transformer\.)?h\.(\d+)\.mlp\.c_proj\.(weight|bias)", r"encoder.layer.\1.output.dense.\2"),
)


def gpt2_canonical(tensors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A Hugging Face GPT-2 state dict in canonical names: Conv1D weights transposed to ``[out, in]``, the fused
    ``c_attn`` split into query, key and value; ``lm_head`` (tied) and attention-mask buffers dropped."""
    out: dict[str, np.ndarray] = {}
    for name, arr in tensors.items():
        a = np.asarray(arr, dtype=np.float32)
        m = re.fullmatch(r"(?:transformer\.)?h\.(\d+)\.attn\.c_attn\.(weight|bias)", name)
        if m:
            li, param = m.groups()
            parts = np.split(a, 3, axis=-1)
            for part, piece in zip(("query", "key", "value"), parts, strict=True):
                out[f"encoder.layer.{li}.attention.self.{part}.{param}"] = piece.T.copy() if param == "weight" \
                    else piece.copy()
            continue
        for pattern, repl in _GPT2:
            if re.fullmatch(pattern, name):
                canon = re.sub(pattern, repl, name)
                conv = ".attn.c_proj.weight" in name or ".mlp.c_" in name and name.endswith(".weight")
                out[canon] = a.T.copy() if conv else a
                break
    return out


_OPT_LAYER = r"(?:model\.)?decoder\.layers\.(\d+)\."
_OPT = (
    (r"(?:model\.)?decoder\.embed_tokens\.weight", "embeddings.word_embeddings.weight"),
    (r"(?:model\.)?decoder\.embed_positions\.weight", "embeddings.position_embeddings.weight"),
    (r"(?:model\.)?decoder\.final_layer_norm\.(weight|bias)", r"final_layernorm.\1"),
    (_OPT_LAYER + r"self_attn\.q_proj\.(weight|bias)", r"encoder.layer.\1.attention.self.query.\2"),
    (_OPT_LAYER + r"self_attn\.k_proj\.(weight|bias)", r"encoder.layer.\1.attention.self.key.\2"),
    (_OPT_LAYER + r"self_attn\.v_proj\.(weight|bias)", r"encoder.layer.\1.attention.self.value.\2"),
    (r"(?:model\.)?decoder\.layers\.(\d+)\.self_attn\.out_proj\.(weight|bias)",
     r"encoder.layer.\1.attention.output.dense.\2"),
    (r"(?:model\.)?decoder\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)",
     r"encoder.layer.\1.attention.output.LayerNorm.\2"),
    (r"(?:model\.)?decoder\.layers\.(\d+)\.final_layer_norm\.(weight|bias)", r"encoder.layer.\1.output.LayerNorm.\2"),
    (r"(?:model\.)?decoder\.layers\.(\d+)\.fc1\.(weight|bias)", r"encoder.layer.\1.intermediate.dense.\2"),
    (r"(?:model\.)?decoder\.layers\.(\d+)\.fc2\.(weight|bias)", r"encoder.layer.\1.output.dense.\2"),
)


def opt_canonical(tensors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A Hugging Face OPT state dict in canonical names (``lm_head``, tied, dropped)."""
    out: dict[str, np.ndarray] = {}
    for name, arr in tensors.items():
        for pattern, repl in _OPT:
            if re.fullmatch(pattern, name):
                out[re.sub(pattern, repl, name)] = np.asarray(arr, dtype=np.float32)
                break
    return out


_LLAMA = (
    (r"(?:model\.)?embed_tokens\.weight", "embeddings.word_embeddings.weight"),
    (r"(?:model\.)?norm\.weight", "final_layernorm.weight"),
    (r"(?:model\.)?layers\.(\d+)\.self_attn\.q_proj\.weight", r"encoder.layer.\1.attention.self.query.weight"),
    (r"(?:model\.)?layers\.(\d+)\.self_attn\.k_proj\.weight", r"encoder.layer.\1.attention.self.key.weight"),
    (r"(?:model\.)?layers\.(\d+)\.self_attn\.v_proj\.weight", r"encoder.layer.\1.attention.self.value.weight"),
    (r"(?:model\.)?layers\.(\d+)\.self_attn\.o_proj\.weight", r"encoder.layer.\1.attention.output.dense.weight"),
    (r"(?:model\.)?layers\.(\d+)\.input_layernorm\.weight", r"encoder.layer.\1.attention.output.LayerNorm.weight"),
    (r"(?:model\.)?layers\.(\d+)\.post_attention_layernorm\.weight", r"encoder.layer.\1.output.LayerNorm.weight"),
    (r"(?:model\.)?layers\.(\d+)\.mlp\.gate_proj\.weight", r"encoder.layer.\1.intermediate.gate.weight"),
    (r"(?:model\.)?layers\.(\d+)\.mlp\.up_proj\.weight", r"encoder.layer.\1.intermediate.dense.weight"),
    (r"(?:model\.)?layers\.(\d+)\.mlp\.down_proj\.weight", r"encoder.layer.\1.output.dense.weight"),
)


def llama_canonical(tensors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A Hugging Face Llama state dict in canonical names (``lm_head``, when tied, dropped)."""
    out: dict[str, np.ndarray] = {}
    for name, arr in tensors.items():
        for pattern, repl in _LLAMA:
            if re.fullmatch(pattern, name):
                out[re.sub(pattern, repl, name)] = np.asarray(arr, dtype=np.float32)
                break
    return out


CANONICAL = {"gpt2": gpt2_canonical, "opt": opt_canonical, "llama": llama_canonical}
"""Per decoder family: the Hugging Face state dict -> canonical names converter."""
