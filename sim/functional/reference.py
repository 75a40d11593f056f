"""Float reference forward of BERT / RoBERTa / DistilBERT (post-LN) and ViT (pre-LN) encoders, in numpy.

Precision: float64 by default (every tensor cast to float64, so the result is the float64 model of the
float32 weights: it matches torch's float64 run of the same checkpoint to ~1e-12); ``dtype=np.float32``
computes in float32 like a torch float32 run (agreement ~1e-6, the order of summation differs).

BERT family (Hugging Face ``BertModel`` / ``RobertaModel`` / ``DistilBertModel``, eval mode):
embeddings = word[ids] + position[pos] + token_type[tt] (no token types for DistilBERT; RoBERTa's
positions count from ``pad_token_id + 1`` over non-padding tokens), LayerNorm; per layer
``x = LN(x + Attn(x))``, ``x = LN(x + W2 GELU(W1 x))``; attention scores ``Q K^T / sqrt(d)`` plus the
additive padding mask ``(1 - mask) * finfo(dtype).min`` (as Hugging Face), softmax, ``P V``; GELU with
the exact erf. Pooler (BERT/RoBERTa): ``tanh(W_p h[:, 0] + b_p)``.

ViT (``ViTModel``): patch projection of non-overlapping ``p x p`` patches (row-major patch order, each
patch flattened channel-major as the conv weight ``[H, C, p, p]``), ``[CLS]`` prepended, position
embeddings added; per layer ``x = x + Attn(LN(x))``, ``x = x + MLP(LN(x))``; final LayerNorm. The
"pooled" output is the classifier logits of the ``[CLS]`` token when the weights have a classifier.

``observe(name, value, mask)`` is called at every point where the integer pipeline quantizes an
activation (see :data:`OBSERVED_POINTS`); the calibration uses it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .dims import EncoderDims
from .mathfn import gelu, layernorm, softmax
from .weights import FloatWeights

__all__ = ["FloatOutput", "bert_forward", "vit_forward", "position_ids", "OBSERVED_POINTS", "Observer"]

Observer = Callable[[str, np.ndarray, np.ndarray], None]

#: Activation points the integer pipeline quantizes, per layer ``L{i}.`` (plus ``emb.*``, ``head.final``).
OBSERVED_POINTS = ("q", "k", "v", "ctx", "attn_res", "ln_attn", "ffn1", "gelu", "ffn_res", "ln_ffn")


@dataclass(frozen=True)
class FloatOutput:
    """Float forward result: ``last_hidden_state`` ``[batch, seq, hidden]``; ``pooled`` ``[batch, *]`` or None."""

    last_hidden_state: np.ndarray
    pooled: np.ndarray | None


def position_ids(input_ids: np.ndarray, dims: EncoderDims) -> np.ndarray:
    """Position ids: ``0..S-1`` (BERT, DistilBERT); RoBERTa: ``cumsum(ids != pad) * (ids != pad) + pad``."""
    b, s = input_ids.shape
    if dims.family == "roberta":
        keep = (input_ids != dims.pad_token_id).astype(np.int64)
        return np.cumsum(keep, axis=1) * keep + dims.pad_token_id
    return np.broadcast_to(np.arange(s, dtype=np.int64), (b, s))


def _h(a: np.ndarray, fp16: bool) -> np.ndarray:
    """An operand as the GEMM sees it: rounded to fp16 (then held in float32) for the tensor-core model."""
    return a.astype(np.float16).astype(np.float32) if fp16 else a


def _linear(w: FloatWeights, prefix: str, x: np.ndarray, fp16: bool = False) -> np.ndarray:
    wt = _h(w[f"{prefix}.weight"].astype(x.dtype, copy=False), fp16)
    x2 = _h(x, fp16).reshape(-1, x.shape[-1])  # one 2-D GEMM (numpy's stacked matmul is slower)
    y = x2 @ wt.T + _h(w[f"{prefix}.bias"].astype(x.dtype, copy=False), fp16)
    return y.reshape(x.shape[:-1] + (wt.shape[0],))


def _attention(w: FloatWeights, pre: str, x: np.ndarray, add_mask: np.ndarray, dims: EncoderDims,
               observe: Observer | None, li: int, mask: np.ndarray, fp16: bool = False) -> np.ndarray:
    b, s, h = x.shape
    nh, d = dims.heads, dims.head_dim
    q = _linear(w, f"{pre}.attention.self.query", x, fp16)
    k = _linear(w, f"{pre}.attention.self.key", x, fp16)
    v = _linear(w, f"{pre}.attention.self.value", x, fp16)
    if observe is not None:
        observe(f"L{li}.q", q, mask)
        observe(f"L{li}.k", k, mask)
        observe(f"L{li}.v", v, mask)
    qh = _h(q.reshape(b, s, nh, d).transpose(0, 2, 1, 3), fp16)
    kh = _h(k.reshape(b, s, nh, d).transpose(0, 2, 1, 3), fp16)
    vh = _h(v.reshape(b, s, nh, d).transpose(0, 2, 1, 3), fp16)
    scores = qh @ kh.transpose(0, 1, 3, 2) / x.dtype.type(math.sqrt(d)) + add_mask
    ctx = (_h(softmax(scores), fp16) @ vh).transpose(0, 2, 1, 3).reshape(b, s, h)
    if observe is not None:
        observe(f"L{li}.ctx", ctx, mask)
    return _linear(w, f"{pre}.attention.output.dense", ctx, fp16)


def _ffn(w: FloatWeights, pre: str, x: np.ndarray, observe: Observer | None, li: int,
         mask: np.ndarray, fp16: bool = False) -> np.ndarray:
    f1 = _linear(w, f"{pre}.intermediate.dense", x, fp16)
    g = gelu(f1)
    if observe is not None:
        observe(f"L{li}.ffn1", f1, mask)
        observe(f"L{li}.gelu", g, mask)
    return _linear(w, f"{pre}.output.dense", g, fp16)


def _additive_mask(mask: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return ((1.0 - mask.astype(dtype)) * np.finfo(dtype).min)[:, None, None, :]


def bert_forward(w: FloatWeights, dims: EncoderDims, input_ids: np.ndarray, attention_mask: np.ndarray | None = None,
                 token_type_ids: np.ndarray | None = None, *, dtype: type = np.float64,
                 observe: Observer | None = None, fp16: bool = False) -> FloatOutput:
    """Post-LN BERT/RoBERTa/DistilBERT forward. ``input_ids`` ``[batch, seq]`` (validated by the caller);
    ``attention_mask`` 1 = token, 0 = padding (default all ones); ``token_type_ids`` default zeros.

    ``fp16=True`` models a tensor-core design: computes in float32 with every GEMM/BMM operand
    (activations, weights, biases, probabilities) rounded to fp16 and fp32 accumulation; embeddings,
    softmax, GELU and LayerNorm stay float32."""
    dt = np.dtype(np.float32 if fp16 else dtype)
    ids = np.asarray(input_ids, dtype=np.int64)
    mask = np.ones_like(ids) if attention_mask is None else np.asarray(attention_mask, dtype=np.int64)
    tt = np.zeros_like(ids) if token_type_ids is None else np.asarray(token_type_ids, dtype=np.int64)
    x = w["embeddings.word_embeddings.weight"][ids].astype(dt)
    x = x + w["embeddings.position_embeddings.weight"][position_ids(ids, dims)].astype(dt)
    if "embeddings.token_type_embeddings.weight" in w:
        x = x + w["embeddings.token_type_embeddings.weight"][tt].astype(dt)
    if observe is not None:
        observe("emb.sum", x, mask)
    x = layernorm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], dims.norm_eps)
    if observe is not None:
        observe("emb.ln", x, mask)
    add_mask = _additive_mask(mask, dt)
    for li in range(dims.layers):
        pre = f"encoder.layer.{li}"
        h = x + _attention(w, pre, x, add_mask, dims, observe, li, mask, fp16)
        if observe is not None:
            observe(f"L{li}.attn_res", h, mask)
        x = layernorm(h, w[f"{pre}.attention.output.LayerNorm.weight"], w[f"{pre}.attention.output.LayerNorm.bias"],
                      dims.norm_eps)
        if observe is not None:
            observe(f"L{li}.ln_attn", x, mask)
        h = x + _ffn(w, pre, x, observe, li, mask, fp16)
        if observe is not None:
            observe(f"L{li}.ffn_res", h, mask)
        x = layernorm(h, w[f"{pre}.output.LayerNorm.weight"], w[f"{pre}.output.LayerNorm.bias"], dims.norm_eps)
        if observe is not None:
            observe(f"L{li}.ln_ffn", x, mask)
    pooled = None
    if dims.pooler and "pooler.dense.weight" in w:
        pooled = np.tanh(_linear(w, "pooler.dense", x[:, 0], fp16))
    return FloatOutput(x, pooled)


def patchify(pixel_values: np.ndarray, patch: int) -> np.ndarray:
    """``[B, C, H, W]`` images -> ``[B, (H/p)(W/p), C*p*p]`` patches, row-major patch order, channel-major inside."""
    b, c, hh, ww = pixel_values.shape
    gh, gw = hh // patch, ww // patch
    x = pixel_values.reshape(b, c, gh, patch, gw, patch).transpose(0, 2, 4, 1, 3, 5)
    return x.reshape(b, gh * gw, c * patch * patch)


def vit_forward(w: FloatWeights, dims: EncoderDims, pixel_values: np.ndarray, *, dtype: type = np.float64,
                observe: Observer | None = None, fp16: bool = False) -> FloatOutput:
    """Pre-LN ViT forward of ``pixel_values`` ``[batch, channels, image, image]`` (already normalised).

    ``fp16=True``: the tensor-core model, as :func:`bert_forward` (float32, every GEMM/BMM operand rounded to
    fp16, the patch projection and the classifier included). Observed points: ``emb.pixels`` (the flattened
    patches, the patch projection's input), ``emb.sum``, per layer those of :data:`OBSERVED_POINTS`, and
    ``head.final`` (the final LayerNorm's output)."""
    dt = np.dtype(np.float32 if fp16 else dtype)
    px = np.asarray(pixel_values, dtype=dt)
    patches = patchify(px, dims.patch_size)
    if observe is not None:
        observe("emb.pixels", patches, np.ones(patches.shape[:2], dtype=np.int64))
    emb = _linear(w, "embeddings.patch_embeddings.projection", patches, fp16)
    b = emb.shape[0]
    cls = np.broadcast_to(w["embeddings.cls_token"].astype(dt).reshape(1, 1, -1), (b, 1, dims.hidden))
    x = np.concatenate([cls, emb], axis=1) + w["embeddings.position_embeddings"].astype(dt)
    mask = np.ones(x.shape[:2], dtype=np.int64)
    if observe is not None:
        observe("emb.sum", x, mask)
    add_mask = _additive_mask(mask, dt)
    for li in range(dims.layers):
        pre = f"encoder.layer.{li}"
        y = layernorm(x, w[f"{pre}.attention.output.LayerNorm.weight"], w[f"{pre}.attention.output.LayerNorm.bias"],
                      dims.norm_eps)
        if observe is not None:
            observe(f"L{li}.ln_attn", y, mask)
        x = x + _attention(w, pre, y, add_mask, dims, observe, li, mask, fp16)
        if observe is not None:
            observe(f"L{li}.attn_res", x, mask)
        y = layernorm(x, w[f"{pre}.output.LayerNorm.weight"], w[f"{pre}.output.LayerNorm.bias"], dims.norm_eps)
        if observe is not None:
            observe(f"L{li}.ln_ffn", y, mask)
        x = x + _ffn(w, pre, y, observe, li, mask, fp16)
        if observe is not None:
            observe(f"L{li}.ffn_res", x, mask)
    x = layernorm(x, w["layernorm.weight"], w["layernorm.bias"], dims.norm_eps)
    if observe is not None:
        observe("head.final", x, mask)
    pooled = _linear(w, "classifier", x[:, 0], fp16) if "classifier.weight" in w else None
    return FloatOutput(x, pooled)
