"""Bit-accurate integer-only encoder forward (the I-BERT pipeline) for the BERT family (post-LN).

Per layer, with ``x`` the int8 layer input at scale ``s_x`` (names are calibration points, widths signed):

================  ====================================================================================
step              integer arithmetic
================  ====================================================================================
Q, K, V           ``x @ W^T`` int8 x int8 (GOBO: int8 x {int8 centroid, int16 outlier}) -> int32, plus the
                  int32 bias ``round(b / (s_x s_w))``; dyadic requantization to int8 at ``s_q/s_k/s_v``
scores            ``Q_h K_h^T`` int8 x int8 -> int32 per head, scale ``s_q s_k / sqrt(d)`` (the 1/sqrt(d) is
                  folded into the float scale handed to the kernel: no integer work)
padding mask      score entries of padded keys are set to ``-2^31`` (the most negative int32); the row
                  max is then a real key's score, the centred value is below ``-2^31 + 1``, far below
                  the exp kernels' clamp (16 ln 2 / 15 log2 units), so their exp is exactly 0
softmax           ``ibert.int_softmax`` / ``ivit.shiftmax`` (clean kernels) -> uint8 probabilities, 2^-8
context           ``P_h V_h`` uint8 x int8 -> int32 (declared 9-bit signed operands), dyadic -> int8 ``s_ctx``
out proj          ``ctx @ Wo^T`` + bias -> int32
residual          each term requantized (dyadic, rounded separately, saturating) to the 22-bit
                  ``attn_res`` scale and added; the sum saturates to 22 bits (I-BERT's QuantAct(22))
LayerNorm         ``ibert.int_layernorm`` / ``ivit.int_layernorm`` (22-bit in) -> int8 ``s_ln_attn``
FFN1              int8 GEMM + bias -> int32, dyadic -> int16 at ``s_ffn1`` (one per-tensor scale for
                  GELU: per-channel weight scales make the accumulator scale per column)
GELU              ``ibert.int_gelu`` / ``ivit.shift_gelu`` on int16 -> 32-bit, dyadic -> int8 ``s_gelu``
FFN2, residual,   as above -> 22-bit -> LayerNorm -> int8 layer output
LayerNorm
================  ====================================================================================

Embeddings: the gathered rows of the integer tables (int8 per-channel, or GOBO int16 per tensor) are each
requantized (dyadic, per channel where the table scale is) to the 22-bit ``emb.sum`` scale, added
(saturating to 22 bits) and normalized by the integer LayerNorm to int8. Pooler: the ``[CLS]`` row's
int8 GEMM + bias is integer; its ``tanh`` is evaluated in float on the dequantized accumulator (no
integer tanh kernel exists in :mod:`sim.kernels`). Output: the last LayerNorm's int8 tensor and scale.

All float work is scale bookkeeping (dyadic multipliers, kernel constants), done once per tensor.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from sim.kernels import ibert, ivit
from sim.kernels.dyadic import rescale
from sim.kernels.widths import check_width, saturate

from .calibration import Calibration
from .dims import EncoderDims
from .gemmrun import GemmRunner, GemmStats
from .qweights import QuantizedWeights
from .reference import position_ids
from .weights import FloatWeights

__all__ = ["IntegerEncoder", "IntegerOutput", "NONLINEAR_SETS", "MASKED_SCORE", "RESIDUAL_BITS"]

NONLINEAR_SETS = ("ibert", "ivit")
#: Score value written at padded key positions (the most negative int32).
MASKED_SCORE = -(1 << 31)
#: Width of the residual sums that feed LayerNorm (I-BERT's QuantAct(22)).
RESIDUAL_BITS = 22


@dataclass(frozen=True)
class IntegerOutput:
    """Integer forward result.

    ``q_out``: int8 ``[batch, seq, hidden]`` (the last LayerNorm's output); ``scale``: its float scale;
    ``hidden``: ``q_out * scale`` as float64; ``pooled``: float64 ``[batch, hidden]`` or None;
    ``stats``: GEMM counts and check results.
    """

    q_out: np.ndarray
    scale: float
    hidden: np.ndarray
    pooled: np.ndarray | None
    stats: GemmStats

    def sha256(self) -> str:
        """sha256 (hex) of ``q_out``'s bytes (int8, C order): deterministic for equal integer outputs."""
        return hashlib.sha256(np.ascontiguousarray(self.q_out, dtype=np.int8).tobytes()).hexdigest()


class IntegerEncoder:
    """The integer model: weights (``qw``), LayerNorm parameters (from ``w``), calibrated scales (``cal``).

    ``nonlinear``: "ibert" or "ivit" (the kernel set); ``engine``/``rows``: see :class:`~.gemmrun.GemmRunner`.
    """

    def __init__(self, dims: EncoderDims, w: FloatWeights, qw: QuantizedWeights, cal: Calibration, *,
                 nonlinear: str = "ibert", engine: str = "reference", rows: int = 64, act_bits: int = 8,
                 softmax_bits: int = 8) -> None:
        if nonlinear not in NONLINEAR_SETS:
            raise ValueError(f"nonlinear must be one of {NONLINEAR_SETS}, got {nonlinear!r}")
        if dims.is_vit:
            raise ValueError("the integer forward supports the BERT family (post-LN); ViT is not implemented")
        self.dims = dims
        self.w = w
        self.qw = qw
        self.cal = cal
        self.nonlinear = nonlinear
        self.engine = engine
        self.rows = rows
        self.act_bits = int(act_bits)
        self.softmax_bits = int(softmax_bits)
        self._bias: dict[tuple[str, float], np.ndarray] = {}
        self._trace: dict[str, np.ndarray] | None = None

    def _record(self, name: str, q: np.ndarray, s: object) -> None:
        if self._trace is not None:
            self._trace[name] = np.asarray(q, dtype=np.float64) * np.asarray(s, dtype=np.float64)

    # ---- kernels of the chosen set ---------------------------------------------------------------

    def _softmax(self, q: np.ndarray, s: float) -> tuple[np.ndarray, float]:
        if self.nonlinear == "ibert":
            return ibert.int_softmax(q, s, self.softmax_bits, in_bits=32)
        return ivit.shiftmax(q, s, self.softmax_bits, in_bits=32)

    def _gelu(self, q: np.ndarray, s: float) -> tuple[np.ndarray, float]:
        if self.nonlinear == "ibert":
            return ibert.int_gelu(q, s, in_bits=16)
        return ivit.shift_gelu(q, s, in_bits=16)

    def _layernorm(self, q: np.ndarray, s: float, prefix: str, out_scale: float) -> np.ndarray:
        g = self.w[f"{prefix}.weight"]
        b = self.w[f"{prefix}.bias"]
        kern = ibert.int_layernorm if self.nonlinear == "ibert" else ivit.int_layernorm
        out, _ = kern(q, s, g, b, self.act_bits, out_scale=out_scale, in_bits=RESIDUAL_BITS)
        return out

    def _scale(self, name: str) -> float:
        """Scale of a GEMM-input activation point (``act_bits`` wide)."""
        return self.cal.scale(name, self.act_bits)

    # ---- building blocks ---------------------------------------------------------------------------

    def _linear(self, run: GemmRunner, x: np.ndarray, s_x: float, name: str) -> tuple[np.ndarray, object]:
        lin = self.qw.linears[name]
        key = (name, s_x)
        if key not in self._bias:
            self._bias[key] = lin.bias_int(s_x)
        acc = run.linear(x, lin, name) + self._bias[key]
        check_width(acc, 32, True, kernel="functional.linear", what=f"{name} accumulator + bias")
        return acc, lin.acc_scale(s_x)

    @staticmethod
    def _residual(a: np.ndarray, s_a: object, b: np.ndarray, s_b: object, s_out: float) -> np.ndarray:
        total = rescale(a, s_a, s_out, RESIDUAL_BITS) + rescale(b, s_b, s_out, RESIDUAL_BITS)
        return saturate(total, RESIDUAL_BITS, True)

    def _embeddings(self, ids: np.ndarray, tt: np.ndarray) -> np.ndarray:
        s_e = self.cal.scale("emb.sum")
        pos = position_ids(ids, self.dims)
        total = np.zeros(ids.shape + (self.dims.hidden,), dtype=np.int64)
        for name, rows in (("embeddings.word_embeddings.weight", ids), ("embeddings.position_embeddings.weight", pos),
                           ("embeddings.token_type_embeddings.weight", tt)):
            tab = self.qw.tables.get(name)
            if tab is None:
                continue
            total += rescale(tab.ints[rows].astype(np.int64), tab.scale, s_e, RESIDUAL_BITS)
        return saturate(total, RESIDUAL_BITS, True)

    def _layer(self, run: GemmRunner, li: int, x: np.ndarray, s_x: float, mask: np.ndarray) -> tuple[np.ndarray, float]:
        d = self.dims
        b, s, h = x.shape
        nh, hd = d.heads, d.head_dim
        pre = f"encoder.layer.{li}"
        c = self.cal
        L = f"L{li}"
        x2 = x.reshape(-1, h)
        heads = []
        scales = []
        for part in ("query", "key", "value"):
            acc, s_acc = self._linear(run, x2, s_x, f"{pre}.attention.self.{part}")
            s8 = self._scale(f"{L}.{part[0]}")
            q8 = rescale(acc, s_acc, s8, self.act_bits)
            self._record(f"{L}.{part[0]}", q8, s8)
            heads.append(q8.reshape(b, s, nh, hd).transpose(0, 2, 1, 3))
            scales.append(s8)
        qh, kh, vh = heads
        s_q, s_k, s_v = scales
        scores = run.bmm(qh, kh.transpose(0, 1, 3, 2), f"{L}.qk", in_bits=self.act_bits)
        scores = np.where(mask[:, None, None, :].astype(bool), scores, MASKED_SCORE)
        probs, s_p = self._softmax(scores, s_q * s_k / math.sqrt(hd))
        # uint8 probabilities x int8 values: both fit a signed 9-bit operand
        ctx = run.bmm(probs, vh, f"{L}.av", in_bits=max(self.act_bits, self.softmax_bits + 1))
        s_ctx = self._scale(f"{L}.ctx")
        ctx8 = rescale(ctx, s_p * s_v, s_ctx, self.act_bits).transpose(0, 2, 1, 3).reshape(-1, h)
        self._record(f"{L}.ctx", ctx8, s_ctx)
        o_acc, s_o = self._linear(run, ctx8, s_ctx, f"{pre}.attention.output.dense")
        s_r1 = c.scale(f"{L}.attn_res")
        r1 = self._residual(o_acc, s_o, x2, s_x, s_r1)
        self._record(f"{L}.attn_res", r1, s_r1)
        s_ln1 = self._scale(f"{L}.ln_attn")
        x1 = self._layernorm(r1, s_r1, f"{pre}.attention.output.LayerNorm", s_ln1)
        self._record(f"{L}.ln_attn", x1, s_ln1)
        f_acc, s_f = self._linear(run, x1, s_ln1, f"{pre}.intermediate.dense")
        s_f16 = c.scale(f"{L}.ffn1")
        f16 = rescale(f_acc, s_f, s_f16, 16)
        self._record(f"{L}.ffn1", f16, s_f16)
        g, s_g = self._gelu(f16, s_f16)
        s_g8 = self._scale(f"{L}.gelu")
        g8 = rescale(g, s_g, s_g8, self.act_bits)
        self._record(f"{L}.gelu", g8, s_g8)
        o2, s_o2 = self._linear(run, g8, s_g8, f"{pre}.output.dense")
        s_r2 = c.scale(f"{L}.ffn_res")
        r2 = self._residual(o2, s_o2, x1, s_ln1, s_r2)
        self._record(f"{L}.ffn_res", r2, s_r2)
        s_ln2 = self._scale(f"{L}.ln_ffn")
        out = self._layernorm(r2, s_r2, f"{pre}.output.LayerNorm", s_ln2)
        self._record(f"{L}.ln_ffn", out, s_ln2)
        return out.reshape(b, s, h), s_ln2

    # ---- forward -----------------------------------------------------------------------------------

    def forward(self, input_ids: np.ndarray, attention_mask: np.ndarray | None = None,
                token_type_ids: np.ndarray | None = None, *, check: bool = False,
                trace: dict[str, np.ndarray] | None = None) -> IntegerOutput:
        """Integer forward of ``input_ids`` ``[batch, seq]`` (validated by the caller). ``check``: compare every
        datapath GEMM with ``int_gemm`` (see :class:`~.gemmrun.GemmStats`). ``trace``: if a dict is given,
        it receives the dequantized value (float64, token-major ``[batch*seq, width]``) at every calibration
        point, under the same names, for error analysis."""
        self._trace = trace
        ids = np.asarray(input_ids, dtype=np.int64)
        mask = np.ones_like(ids) if attention_mask is None else np.asarray(attention_mask, dtype=np.int64)
        tt = np.zeros_like(ids) if token_type_ids is None else np.asarray(token_type_ids, dtype=np.int64)
        run = GemmRunner(self.engine, rows=self.rows, check=check, act_bits=self.act_bits)
        emb = self._embeddings(ids, tt)
        self._record("emb.sum", emb, self.cal.scale("emb.sum"))
        s_x = self._scale("emb.ln")
        x = self._layernorm(emb, self.cal.scale("emb.sum"), "embeddings.LayerNorm", s_x)
        self._record("emb.ln", x, s_x)
        for li in range(self.dims.layers):
            x, s_x = self._layer(run, li, x, s_x, mask)
        pooled = None
        if self.dims.pooler and "pooler.dense" in self.qw.linears:
            acc, s_acc = self._linear(run, x[:, 0], s_x, "pooler.dense")
            pooled = np.tanh(acc * np.asarray(s_acc, dtype=np.float64))
        q_out = x.astype(np.int8)
        self._trace = None
        return IntegerOutput(q_out, float(s_x), q_out.astype(np.float64) * s_x, pooled, run.stats)
