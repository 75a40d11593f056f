"""Bit-accurate integer-only forward of GPT-2- and OPT-family decoders (pre-LN), with an integer KV cache.

The I-BERT kernels (:mod:`sim.kernels.ibert`) and the building blocks of the encoder pipeline
(:mod:`.integer`: dyadic requantization, 22-bit residual sums, the GEMM runner that sends every product
through the design's datapath) applied to a pre-LN decoder; per layer, with ``r`` the 22-bit residual stream:

================  ====================================================================================
step              integer arithmetic
================  ====================================================================================
LayerNorm         ``ibert.int_layernorm`` of ``r`` (22-bit in) -> int8 at ``s_ln_attn``
Q, K, V           int8 GEMM + int32 bias, dyadic requantization to int8 at ``s_q/s_k/s_v``; K and V are
                  appended to the layer's int8 KV cache (the scales are fixed, so cached and new entries
                  share them)
scores            ``Q_h K_h^T`` over every cached key, int32; the **causal mask** writes ``-2^31``
                  (:data:`~.integer.MASKED_SCORE`) where the key comes after the query, so the integer
                  exp is exactly 0 there
softmax, context  ``ibert.int_softmax`` -> uint8, ``P_h V_h`` -> int32, dyadic -> int8 ``s_ctx``
out proj          int8 GEMM + bias -> int32; residual: both terms requantized to the 22-bit ``attn_res`` scale
FFN               LayerNorm -> int8; FFN1 GEMM -> int32; GPT-2: dyadic -> int16, ``ibert.int_gelu`` (the erf
                  GELU; GPT-2's tanh form differs from it by < 1e-3 of the input scale) -> asymmetric int8;
                  OPT: ReLU on the int32 accumulator (a compare) -> asymmetric int8 over ``[0, max]``; the
                  zero point folded into FFN2's bias; FFN2 -> residual (22-bit ``ffn_res``)
final             ``ibert.int_layernorm`` -> int8 ``head.final``; the LM head (the tied word-embedding
                  table as a GEMM weight: GOBO-packed, or int8 per vocabulary row) -> int32 logits
================  ====================================================================================

Embeddings: the gathered word and position rows (int8 per channel, or GOBO int16 per tensor) requantized to
the 22-bit ``emb.sum`` scale and added. A prefill followed by decode steps gives bit for bit the integer
outputs of the full forward over the same tokens (every operation is per row, and the masked keys contribute
exactly 0; tested). Activation scales are calibrated by max |value| on the float model
(:mod:`.calibration`); int8 weights are not smoothed here (the encoder's SmoothQuant-style step is not applied).
Llama (RMSNorm, SiLU, rotary) has no integer kernels here: its runs are timing only.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from sim.compute.base import Datapath
from sim.kernels import ibert
from sim.kernels.dyadic import rescale
from sim.kernels.widths import check_width, saturate

from .calibration import Calibration
from .decoder import DecoderDims, decoder_forward
from .gemmrun import GemmRunner, GemmStats
from .integer import MASKED_SCORE, RESIDUAL_BITS
from .qweights import IntLinear, QuantizedWeights, int8_linear, quantize_weights
from .weights import FloatWeights

__all__ = ["IntegerDecoder", "IntegerDecoderOutput", "INTEGER_FAMILIES", "calibrate_decoder"]

INTEGER_FAMILIES = ("gpt2", "opt")
IntKV = list[tuple[np.ndarray, np.ndarray]]  # per layer int8 keys and values [batch, kv_heads, tokens, head_dim]


@dataclass(frozen=True)
class IntegerDecoderOutput:
    """``q_out``: int8 final-norm output ``[batch, s, hidden]`` at ``scale``; ``hidden`` its float64 value;
    ``logits_acc``: the LM head's int64 accumulators ``[batch, vocab]`` of the last token at ``logits_scale``;
    ``cache``: the integer KV cache including these tokens."""

    q_out: np.ndarray
    scale: float
    hidden: np.ndarray
    logits_acc: np.ndarray
    logits_scale: float | np.ndarray
    cache: IntKV

    def sha256(self) -> str:
        """sha256 of ``q_out``'s int8 bytes."""
        return hashlib.sha256(np.ascontiguousarray(self.q_out, dtype=np.int8).tobytes()).hexdigest()


def calibrate_decoder(w: FloatWeights, dims: DecoderDims, ids: np.ndarray, source: str) -> Calibration:
    """Max |activation| at every quantization point of the float model on ``ids`` (the whole sequences)."""
    cal = Calibration(source=source)
    decoder_forward(w, dims, ids, dtype=np.float32, observe=cal.observe)
    return cal


def lm_head_linear(w: FloatWeights, qw: QuantizedWeights, qmodel: object | None, dims: DecoderDims) -> IntLinear:
    """The LM head's integer weight: the GOBO-packed word-embedding table as a GEMM weight, else int8 per
    vocabulary row (the tied table; an untied ``classifier`` as any linear)."""
    if not dims.tie_embeddings:
        return qw.linears["classifier"]
    name = "embeddings.word_embeddings.weight"
    packed = getattr(qmodel, "packed", {}).get(name) if qmodel is not None else None
    if packed is not None:
        g = packed.integer()
        return IntLinear("lm_head", np.array([g.scale], dtype=np.float64), np.zeros(g.shape[0]), gobo=g)
    return int8_linear("lm_head", w[name], None, per_channel=True)


class IntegerDecoder:
    """The integer GPT-2/OPT model: integer weights ``qw``, float norm parameters ``w``, activation scales
    ``cal``, the design's ``datapath`` (None: the reference kernel)."""

    def __init__(self, dims: DecoderDims, w: FloatWeights, qw: QuantizedWeights, cal: Calibration, head: IntLinear,
                 *, datapath: Datapath | None = None) -> None:
        if dims.family not in INTEGER_FAMILIES:
            raise ValueError(f"the integer decoder covers {INTEGER_FAMILIES}, not {dims.family}")
        self.dims, self.w, self.qw, self.cal, self.head, self.datapath = dims, w, qw, cal, head, datapath
        self._bias: dict[tuple[str, float, int], np.ndarray] = {}

    @classmethod
    def build(cls, dims: DecoderDims, w: FloatWeights, fmt: str, calib_ids: np.ndarray, *,
              qmodel: object | None = None, datapath: Datapath | None = None, calib_source: str = "") -> IntegerDecoder:
        """Quantize ``w`` (``fmt`` int8 or gobo with ``qmodel``) and calibrate on ``calib_ids``."""
        qw = quantize_weights(w, fmt, qmodel=qmodel)
        cal = calibrate_decoder(w, dims, calib_ids, calib_source)
        return cls(dims, w, qw, cal, lm_head_linear(w, qw, qmodel, dims), datapath=datapath)

    # -- blocks ------------------------------------------------------------------------------------
    def _linear(self, run: GemmRunner, x: np.ndarray, s_x: float, lin: IntLinear, zp: int = 0):
        key = (lin.name, s_x, zp)
        if key not in self._bias:
            b = lin.bias_int(s_x)
            if zp:
                rowsum = lin.matrix_nk().astype(np.int64).sum(axis=1)
                b = check_width(b - zp * rowsum, 32, True, kernel="functional.linear", what=f"{lin.name} bias - zp")
            self._bias[key] = b
        acc = run.linear(x, lin, lin.name) + self._bias[key]
        check_width(acc, 32, True, kernel="functional.linear", what=f"{lin.name} accumulator + bias")
        return acc, lin.acc_scale(s_x)

    def _ln(self, r: np.ndarray, s_r: float, prefix: str, s_out: float) -> np.ndarray:
        out, _ = ibert.int_layernorm(r, s_r, self.w[f"{prefix}.weight"], self.w[f"{prefix}.bias"], 8,
                                     out_scale=s_out, in_bits=RESIDUAL_BITS)
        return out

    @staticmethod
    def _residual(a: np.ndarray, s_a, b: np.ndarray, s_b, s_out: float) -> np.ndarray:
        total = rescale(a, s_a, s_out, RESIDUAL_BITS) + rescale(b, s_b, s_out, RESIDUAL_BITS)
        return saturate(total, RESIDUAL_BITS, True)

    # -- forward -----------------------------------------------------------------------------------
    def forward(self, ids: np.ndarray, cache: IntKV | None = None, *, run: GemmRunner | None = None,
                check: bool = False) -> tuple[IntegerDecoderOutput, GemmStats]:
        """Integer forward of ``ids`` ``[batch, s]`` after ``cache`` (None: a prefill). ``run``: a GEMM runner to
        reuse (its stats accumulate over prefill and decode steps); else a new one (``check``: compare every
        datapath product with ``int_gemm``)."""
        d, c = self.dims, self.cal
        run = run or GemmRunner(self.datapath, check=check, act_bits=8)
        ids = np.asarray(ids, dtype=np.int64)
        b, s = ids.shape
        start = cache[0][0].shape[2] if cache else 0
        pos = np.arange(start, start + s)
        s_e = c.scale("emb.sum")
        emb = np.zeros((b, s, d.hidden), dtype=np.int64)
        for name, rows in (("embeddings.word_embeddings.weight", ids),
                           ("embeddings.position_embeddings.weight", np.broadcast_to(pos + d.position_offset, (b, s)))):
            tab = self.qw.tables[name]
            emb += rescale(tab.rows(rows).astype(np.int64), tab.scale, s_e, RESIDUAL_BITS)
        r: np.ndarray = saturate(emb, RESIDUAL_BITS, True).reshape(b * s, d.hidden)
        s_r = s_e
        nh, kvh, hd = d.heads, d.kv_heads, d.head_dim
        total = start + s
        keep = np.arange(total)[None, :] <= pos[:, None]  # [s, total] causal
        new_cache: IntKV = []
        for li in range(d.layers):
            pre, L = f"encoder.layer.{li}", f"L{li}"
            s_ln = c.scale(f"{L}.ln_attn", 8)
            x = self._ln(r, s_r, f"{pre}.attention.output.LayerNorm", s_ln)
            heads, scales = [], []
            for part, width in (("query", nh), ("key", kvh), ("value", kvh)):
                acc, s_acc = self._linear(run, x, s_ln, self.qw.linears[f"{pre}.attention.self.{part}"])
                s8 = c.scale(f"{L}.{part[0]}", 8)
                q8 = rescale(acc, s_acc, s8, 8)
                heads.append(q8.reshape(b, s, width, hd).transpose(0, 2, 1, 3))
                scales.append(s8)
            qh, kh, vh = heads
            if cache:
                kh = np.concatenate([cache[li][0], kh], axis=2)
                vh = np.concatenate([cache[li][1], vh], axis=2)
            new_cache.append((kh, vh))
            rep = nh // kvh
            kr, vr = (np.repeat(kh, rep, axis=1), np.repeat(vh, rep, axis=1)) if rep > 1 else (kh, vh)
            scores = run.bmm(qh, kr.transpose(0, 1, 3, 2), f"{L}.qk", in_bits=8)
            scores = np.where(keep[None, None], scores, MASKED_SCORE)
            probs, s_p = ibert.int_softmax(scores, scales[0] * scales[1] / math.sqrt(hd), 8, in_bits=32)
            ctx = run.bmm(probs, vr, f"{L}.av", in_bits=9)
            s_ctx = c.scale(f"{L}.ctx", 8)
            ctx8 = rescale(ctx, s_p * scales[2], s_ctx, 8).transpose(0, 2, 1, 3).reshape(b * s, nh * hd)
            o, s_o = self._linear(run, ctx8, s_ctx, self.qw.linears[f"{pre}.attention.output.dense"])
            s_r1 = c.scale(f"{L}.attn_res")
            r = self._residual(o, s_o, r, s_r, s_r1)
            s_r = s_r1
            s_ln2 = c.scale(f"{L}.ln_ffn", 8)
            x2 = self._ln(r, s_r, f"{pre}.output.LayerNorm", s_ln2)
            f, s_f = self._linear(run, x2, s_ln2, self.qw.linears[f"{pre}.intermediate.dense"])
            s_g8, zp = c.asymmetric(f"{L}.gelu", 8)
            if d.activation == "relu":
                g, s_g = np.maximum(f, 0), s_f  # a compare per element on the int32 accumulator
            else:
                s_f16 = c.scale(f"{L}.ffn1", 16)
                g, s_g = ibert.int_gelu(rescale(f, s_f, s_f16, 16), s_f16, in_bits=16)
            g8 = saturate(rescale(g, s_g, s_g8, 32) + zp, 8, True)
            o2, s_o2 = self._linear(run, g8, s_g8, self.qw.linears[f"{pre}.output.dense"], zp)
            s_r2 = c.scale(f"{L}.ffn_res")
            r = self._residual(o2, s_o2, r, s_r, s_r2)
            s_r = s_r2
        s_fin = c.scale("head.final", 8)
        out = self._ln(r, s_r, "final_layernorm", s_fin).reshape(b, s, d.hidden)
        last = out[:, -1]
        acc = run.linear(last, self.head, "lm_head")
        q_out = out.astype(np.int8)
        res = IntegerDecoderOutput(q_out, s_fin, q_out.astype(np.float64) * s_fin, acc, self.head.acc_scale(s_fin),
                                   new_cache)
        return res, run.stats
