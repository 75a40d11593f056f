"""Bit-accurate integer-only encoder forward: the I-BERT pipeline for the BERT family (post-LN) and the
I-ViT pipeline for ViT (pre-LN), one model with two layer orders.

Per layer, with ``x`` the int8 layer input at scale ``s_x`` (names are calibration points, widths signed):

================  ====================================================================================
step              integer arithmetic
================  ====================================================================================
Q, K, V           ``x @ W^T`` int8 x int8 (GOBO: int8 x {int8 centroid, int16 outlier}) -> int32, plus the
                  int32 bias ``round(b / (s_x s_w))``; dyadic requantization to int8 at ``s_q/s_k/s_v``
scores            ``Q_h K_h^T`` int8 x int8 -> int32 per head, scale ``s_q s_k / sqrt(d)`` (the 1/sqrt(d) is
                  folded into the float scale handed to the kernel: no integer work)
padding mask      score entries of padded keys are set to ``-2^31`` (:data:`MASKED_SCORE`, the most negative
                  int32); the row max is then a real key's score and the centred value is below
                  ``-2^31 + 1``, far below the exp kernels' clamp, so their exp is exactly 0: real tokens'
                  outputs are bit-identical with or without padding (tested)
softmax           ``ibert.int_softmax`` / ``ivit.shiftmax`` (clean kernels) -> uint8 probabilities, 2^-8
context           ``P_h V_h`` uint8 x int8 -> int32 (declared 9-bit signed operands), dyadic -> int8 ``s_ctx``
out proj          ``ctx @ Wo^T`` + bias -> int32
residual          each term requantized (dyadic, rounded separately, saturating) to the 22-bit
                  ``attn_res`` scale and added; the sum saturates to 22 bits (I-BERT's QuantAct(22))
LayerNorm         ``ibert.int_layernorm`` / ``ivit.int_layernorm`` (22-bit in) -> int8 ``s_ln_attn``
FFN1              int8 GEMM + bias -> int32, dyadic -> int16 at ``s_ffn1`` (one per-tensor scale for
                  GELU: per-channel weight scales make the accumulator scale per column)
GELU              ``ibert.int_gelu`` / ``ivit.shift_gelu`` on int16 -> 32-bit, then dyadic -> **asymmetric**
                  int8: ``q = sat(round(g / s_gelu) + zp)`` over the calibrated ``[min, max]`` (GELU >= -0.17,
                  so a symmetric range would waste half the codes); FFN2's datapath computes ``q @ W^T``
                  and the zero-point term ``zp * sum_k W[n, k]`` is folded into its int32 bias offline
FFN2, residual,   as above -> 22-bit -> LayerNorm -> int8 layer output
LayerNorm
================  ====================================================================================

Smoothing (int8 weights only, :mod:`.smoothing`): LayerNorm outputs are emitted divided per channel by
``t_c`` (LayerNorm's gamma/beta divided offline), their consumers' weight columns multiplied by ``t_c``; the
residual skip path multiplies back by ``t_c`` inside its per-channel dyadic requantization.

Embeddings: the gathered rows of the integer tables (int8 per-channel, or GOBO int16 per tensor) are each
requantized (dyadic, per channel where the table scale is) to the 22-bit ``emb.sum`` scale, added
(saturating to 22 bits) and normalized by the integer LayerNorm to int8. Pooler: the ``[CLS]`` row's
int8 GEMM + bias is integer; its ``tanh`` is evaluated in float on the dequantized accumulator (no
integer tanh kernel exists in :mod:`sim.kernels`). Output: the last LayerNorm's int8 tensor and scale.

ViT (pre-LN, :meth:`IntegerEncoder.forward_images`):

================  ====================================================================================
step              integer arithmetic
================  ====================================================================================
input             the images (float, normalised) are split into ``p x p`` patches (row-major, channel-major
                  inside, as the conv weight) and quantized once to int8 at the calibrated ``emb.pixels``
                  scale: the only float-to-integer step, the input quantizer (I-ViT's first ``QuantAct``)
patch embedding   int8 GEMM of the flattened patches with the projection weight ``[H, C p p]`` + int32 bias
class token,      the [CLS] row and the position table as integer tables (int8 per channel; GOBO where the
positions         model quantized them), each term requantized (dyadic) to the 22-bit ``emb.sum`` scale and
                  added, saturating: the 22-bit residual stream
block             ``y = LN(x)`` (22-bit in, int8 out at ``s_ln_attn``); attention exactly as above on ``y``;
                  ``x = sat22(rq(out_proj) + rq(x))`` at ``s_attn_res``; ``y = LN(x)`` at ``s_ln_ffn``; FFN1,
                  GELU, asymmetric int8, FFN2 as above; ``x = sat22(rq(FFN2) + rq(x))`` at ``s_ffn_res``. The
                  stream stays 22-bit between layers; only LayerNorm outputs feed GEMMs
head              final ``LN(x)`` -> int8 at ``s_final`` (the output, all tokens); classifier: the [CLS]
                  row's int8 GEMM + int32 bias; the logits are its accumulators times their scale
================  ====================================================================================

Smoothing of a ViT (int8): each LayerNorm's output is divided by ``t`` and the GEMMs it feeds (Q/K/V, FFN1,
the classifier) absorb it; the residual stream is never smoothed, so nothing multiplies back.

Activation formats (``act_format``, a design's :class:`~sim.compute.base.ActivationFormat`: OliVe's OVP
pairs, OLAccel's 4-bit dense + int8 outliers): at every GEMM-input point (:data:`GEMM_INPUT_POINTS`, the
classifier input of a ViT too) the value is requantized (dyadic) to a 32-bit integer at the format's
calibrated scale (``Calibration.format_scales``; LayerNorm: its 16-bit output at that scale; a ViT's
patches: ``rint(x / s)``) and the format's ``snap`` puts it on the grid with integer operations only; the
GELU output is then symmetric (no zero point). The snapped values fit int8; what the formats count
(outliers, clipped values) is summed over the forward into ``GemmStats.activations``. Without a format
the code path is the int8 one above, unchanged.

All float work is scale bookkeeping (dyadic multipliers, kernel constants), done once per tensor.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.compute.base import ActivationFormat, Datapath
from sim.kernels import ibert, ivit
from sim.kernels.dyadic import rescale
from sim.kernels.widths import check_width, saturate

from .calibration import Calibration, is_format_point
from .dims import EncoderDims
from .gemmrun import GemmRunner, GemmStats
from .qweights import QuantizedWeights
from .reference import patchify, position_ids
from .weights import FloatWeights

__all__ = ["IntegerEncoder", "IntegerOutput", "NONLINEAR_SETS", "MASKED_SCORE", "RESIDUAL_BITS"]

NONLINEAR_SETS = ("ibert", "ivit")
#: Score value written at padded key positions (the most negative int32).
MASKED_SCORE = -(1 << 31)
#: Width of the residual sums that feed LayerNorm (I-BERT's QuantAct(22)).
RESIDUAL_BITS = 22
#: Activation points that are GEMM inputs (``ln``: every LayerNorm output; ``pixels``: a ViT's patches); their
#: width is ``act_bits``.
GEMM_INPUT_POINTS = ("q", "k", "v", "ctx", "ln", "gelu", "pixels")


@dataclass(frozen=True)
class IntegerOutput:
    """Integer forward result.

    ``q_out``: int8 ``[batch, seq, hidden]`` (the last LayerNorm's output); ``scale``: its scale, a float, or
    per channel ``(hidden,)`` when the output is smoothed; ``hidden``: ``q_out * scale`` as float64;
    ``pooled``: float64 ``[batch, hidden]`` or None;
    ``stats``: GEMM counts and check results.
    """

    q_out: np.ndarray
    scale: float | np.ndarray
    hidden: np.ndarray
    pooled: np.ndarray | None
    stats: GemmStats

    def sha256(self) -> str:
        """sha256 (hex) of ``q_out``'s bytes (int8, C order): deterministic for equal integer outputs."""
        return hashlib.sha256(np.ascontiguousarray(self.q_out, dtype=np.int8).tobytes()).hexdigest()


class IntegerEncoder:
    """The integer model: integer weights (``qw``), LayerNorm parameters (from ``w``, float: the kernels turn
    them into per-channel dyadic constants), calibrated activation scales (``cal``).

    ``nonlinear``: "ibert" or "ivit" (the kernel set); ``datapath``: the design's GEMM datapath
    (:class:`~.gemmrun.GemmRunner`; None: the reference kernel).
    ``act_bits``: width of the GEMM-input activations (an int, or per point of :data:`GEMM_INPUT_POINTS`;
    8 is the designs' int8; wider values are for error studies and need ``datapath=None`` or a
    datapath declared that wide). ``softmax_bits``: unsigned probability width (8). ``smooth``: smoothing
    factors per point (:mod:`.smoothing`; the weights in ``qw`` must already absorb them). ``asym_gelu``:
    asymmetric (zero-point) int8 for the GELU output where its calibrated range is known (not under a format).
    ``act_format``: the design's GEMM-input activation format (None: int8); ``cal`` must then carry its scales
    (:meth:`~.calibration.Calibration.with_format`).
    """

    def __init__(self, dims: EncoderDims, w: FloatWeights, qw: QuantizedWeights, cal: Calibration, *,
                 nonlinear: str = "ibert", datapath: Datapath | None = None,
                 act_bits: int | dict[str, int] = 8, softmax_bits: int = 8,
                 smooth: dict[str, np.ndarray] | None = None, asym_gelu: bool = True,
                 act_format: ActivationFormat | None = None) -> None:
        if nonlinear not in NONLINEAR_SETS:
            raise ValueError(f"nonlinear must be one of {NONLINEAR_SETS}, got {nonlinear!r}")
        self.dims = dims
        self.w = w
        self.qw = qw
        self.cal = cal
        self.nonlinear = nonlinear
        self.datapath = datapath
        bits = dict.fromkeys(GEMM_INPUT_POINTS, act_bits) if isinstance(act_bits, int) else dict(act_bits)
        unknown = set(bits) - set(GEMM_INPUT_POINTS)
        if unknown or set(bits) != set(GEMM_INPUT_POINTS):
            raise ValueError(f"act_bits must give every point of {GEMM_INPUT_POINTS}")
        self.bits = {k: int(v) for k, v in bits.items()}
        self.act_bits = max(self.bits.values())
        self.softmax_bits = int(softmax_bits)
        self.smooth = dict(smooth or {})
        self.act_format = act_format
        if act_format is not None and cal.format_key != act_format.key:
            raise ValueError(f"the calibration carries no scales of activation format {act_format.name!r}")
        self.asym_gelu = bool(asym_gelu) and act_format is None
        self._counts: dict[str, int] = {}
        self._bias: dict[tuple[str, float, int], np.ndarray] = {}
        self._trace: dict[str, np.ndarray] | None = None

    @property
    def engine(self) -> str:
        """Name of the GEMM datapath ("int_gemm" for the reference kernel)."""
        return self.datapath.name if self.datapath is not None else "int_gemm"

    def _record(self, name: str, q: np.ndarray, s: object) -> None:
        if self._trace is not None:
            t = np.asarray(self._t(name), dtype=np.float64)
            self._trace[name] = np.asarray(q, dtype=np.float64) * np.asarray(s, dtype=np.float64) * t

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
        if self.act_format is not None:  # 16-bit at the format's scale, then onto its grid
            wide, _ = kern(q, s, g, b, 16, out_scale=out_scale, in_bits=RESIDUAL_BITS)
            return self._snap(wide)
        out, _ = kern(q, s, g, b, self.bits["ln"], out_scale=out_scale, in_bits=RESIDUAL_BITS)
        return out

    def _snap(self, v: np.ndarray) -> np.ndarray:
        """Integers at a format point's scale -> the format's grid (integer-only); the counts are summed."""
        assert self.act_format is not None
        q, counts = self.act_format.snap(v)
        for k, n in counts.items():
            self._counts[k] = self._counts.get(k, 0) + int(n)
        return q

    def _requant(self, acc: np.ndarray, s_acc: Any, s_out: float, name: str) -> np.ndarray:
        """Accumulators at ``s_acc`` -> the GEMM-input point ``name`` at ``s_out``: int8 (saturating dyadic
        rescale), or under a format the 32-bit dyadic rescale snapped onto the format's grid."""
        if self.act_format is None:
            return rescale(acc, s_acc, s_out, self._bits(name))
        return self._snap(rescale(acc, s_acc, s_out, 32))

    def _t(self, name: str) -> np.ndarray | float:
        """Smoothing factor of a point (``x = x_smoothed * t`` per channel), 1.0 where not smoothed."""
        return self.smooth.get(name, 1.0)

    def _bits(self, name: str) -> int:
        suffix = name.split(".", 1)[1]
        return self.bits["ln" if suffix.startswith("ln") else suffix]

    def _scale(self, name: str) -> float:
        """Scale of a GEMM-input activation point (``self.bits`` wide; the format's where there is one)."""
        if self.act_format is not None and is_format_point(name):
            return self.cal.format_scale(name)
        if name == "head.final":
            return self.cal.scale(name, self.bits["ln"])
        return self.cal.scale(name, self._bits(name))

    # ---- building blocks ---------------------------------------------------------------------------

    def _linear(self, run: GemmRunner, x: np.ndarray, s_x: float, name: str, zp: int = 0
                ) -> tuple[np.ndarray, Any]:
        """``(x - zp) @ W^T + b`` as int32 accumulators: the datapath computes ``x @ W^T``; the zero-point
        term ``zp * sum_k W[n, k]`` is folded offline into the int32 bias (exact)."""
        lin = self.qw.linears[name]
        key = (name, s_x, zp)
        if key not in self._bias:
            b = lin.bias_int(s_x)
            if zp:
                rowsum = lin.matrix_nk().astype(np.int64).sum(axis=1)
                b = check_width(b - zp * rowsum, 32, True, kernel="functional.linear", what=f"{name} bias - zp*rowsum")
            self._bias[key] = b
        acc = run.linear(x, lin, name) + self._bias[key]
        check_width(acc, 32, True, kernel="functional.linear", what=f"{name} accumulator + bias")
        return acc, lin.acc_scale(s_x)

    @staticmethod
    def _residual(a: np.ndarray, s_a: Any, b: np.ndarray, s_b: Any, s_out: float) -> np.ndarray:
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
            total += rescale(tab.rows(rows).astype(np.int64), tab.scale, s_e, RESIDUAL_BITS)
        return saturate(total, RESIDUAL_BITS, True)

    def _attention(self, run: GemmRunner, li: int, x2: np.ndarray, s_x: float, mask: np.ndarray, b: int, s: int
                   ) -> tuple[np.ndarray, Any]:
        """Self-attention of layer ``li`` on the int8 rows ``x2`` ``[b*s, h]`` (scale ``s_x``): Q/K/V, scores,
        softmax, context, output projection; returns its int32 accumulators and their scale."""
        d = self.dims
        h = x2.shape[1]
        nh, hd = d.heads, d.head_dim
        pre = f"encoder.layer.{li}"
        L = f"L{li}"
        heads = []
        scales = []
        for part in ("query", "key", "value"):
            acc, s_acc = self._linear(run, x2, s_x, f"{pre}.attention.self.{part}")
            s8 = self._scale(f"{L}.{part[0]}")
            q8 = self._requant(acc, s_acc, s8, f"{L}.{part[0]}")
            self._record(f"{L}.{part[0]}", q8, s8)
            heads.append(q8.reshape(b, s, nh, hd).transpose(0, 2, 1, 3))
            scales.append(s8)
        qh, kh, vh = heads
        s_q, s_k, s_v = scales
        fmt = self.act_format is not None  # Q, K, V paired along the head dimension (K^T: along its rows)
        scores = run.bmm(qh, kh.transpose(0, 1, 3, 2), f"{L}.qk", in_bits=max(self.bits["q"], self.bits["k"]),
                         pair_axes=(-1, -2) if fmt else (None, None))
        scores = np.where(mask[:, None, None, :].astype(bool), scores, MASKED_SCORE)
        probs, s_p = self._softmax(scores, s_q * s_k / math.sqrt(hd))
        # uint8 probabilities x int8 values: both fit a signed 9-bit operand
        ctx = run.bmm(probs, vh, f"{L}.av", in_bits=max(self.bits["v"], self.softmax_bits + 1),
                      pair_axes=(None, -1) if fmt else (None, None))
        s_ctx = self._scale(f"{L}.ctx")
        ctx_t = np.ascontiguousarray(ctx.transpose(0, 2, 1, 3)).reshape(-1, h)
        ctx8 = self._requant(ctx_t, s_p * s_v, s_ctx, f"{L}.ctx")
        self._record(f"{L}.ctx", ctx8, s_ctx)
        return self._linear(run, ctx8, s_ctx, f"{pre}.attention.output.dense")

    def _mlp(self, run: GemmRunner, li: int, x2: np.ndarray, s_x: float) -> tuple[np.ndarray, Any]:
        """FFN1, GELU, asymmetric int8 requantization, FFN2 of layer ``li`` on the int8 rows ``x2`` (scale
        ``s_x``); returns FFN2's int32 accumulators and their scale."""
        pre = f"encoder.layer.{li}"
        L = f"L{li}"
        c = self.cal
        f_acc, s_f = self._linear(run, x2, s_x, f"{pre}.intermediate.dense")
        s_f16 = c.scale(f"{L}.ffn1")
        f16 = rescale(f_acc, s_f, s_f16, 16)
        self._record(f"{L}.ffn1", f16, s_f16)
        g, s_g = self._gelu(f16, s_f16)
        gb = self.bits["gelu"]
        if self.act_format is not None:  # symmetric, on the format's grid
            s_g8 = self._scale(f"{L}.gelu")
            g8 = self._snap(rescale(g, s_g / self._t(f"{L}.gelu"), s_g8, 32))
            self._record(f"{L}.gelu", g8, s_g8)
            return self._linear(run, g8, s_g8, f"{pre}.output.dense")
        if self.asym_gelu and f"{L}.gelu" in self.cal.maxv:
            s_g8, zp = c.asymmetric(f"{L}.gelu", gb)  # GELU >= -0.17: spend the int8 range on [min, max]
        else:
            s_g8, zp = self._scale(f"{L}.gelu"), 0
        g8 = saturate(rescale(g, s_g / self._t(f"{L}.gelu"), s_g8, 32) + zp, gb, True)
        self._record(f"{L}.gelu", g8 - zp, s_g8)
        return self._linear(run, g8, s_g8, f"{pre}.output.dense", zp)

    def _layer(self, run: GemmRunner, li: int, x: np.ndarray, s_x: float, mask: np.ndarray) -> tuple[np.ndarray, float]:
        """Post-LN (BERT family) layer: int8 in and out."""
        t_in = self._t("emb.ln" if li == 0 else f"L{li - 1}.ln_ffn")
        b, s, h = x.shape
        pre = f"encoder.layer.{li}"
        c = self.cal
        L = f"L{li}"
        x2 = x.reshape(-1, h)
        o_acc, s_o = self._attention(run, li, x2, s_x, mask, b, s)
        s_r1 = c.scale(f"{L}.attn_res")
        r1 = self._residual(o_acc, s_o, x2, s_x * t_in, s_r1)
        self._record(f"{L}.attn_res", r1, s_r1)
        s_ln1 = self._scale(f"{L}.ln_attn")
        x1 = self._layernorm(r1, s_r1, f"{pre}.attention.output.LayerNorm", s_ln1)
        self._record(f"{L}.ln_attn", x1, s_ln1)
        o2, s_o2 = self._mlp(run, li, x1, s_ln1)
        s_r2 = c.scale(f"{L}.ffn_res")
        r2 = self._residual(o2, s_o2, x1, s_ln1 * self._t(f"{L}.ln_attn"), s_r2)
        self._record(f"{L}.ffn_res", r2, s_r2)
        s_ln2 = self._scale(f"{L}.ln_ffn")
        out = self._layernorm(r2, s_r2, f"{pre}.output.LayerNorm", s_ln2)
        self._record(f"{L}.ln_ffn", out, s_ln2)
        return out.reshape(b, s, h), s_ln2

    def _vit_layer(self, run: GemmRunner, li: int, x: np.ndarray, s_x: float, mask: np.ndarray
                   ) -> tuple[np.ndarray, float]:
        """Pre-LN (ViT) layer on the 22-bit residual stream ``x`` ``[b, s, h]`` at scale ``s_x``:
        ``x += Attn(LN(x))``, ``x += MLP(LN(x))``; returns the new 22-bit stream and its scale. The LayerNorm
        outputs feed only GEMMs (their smoothing is absorbed in the weights); the stream itself is never
        smoothed."""
        b, s, h = x.shape
        pre = f"encoder.layer.{li}"
        c = self.cal
        L = f"L{li}"
        x2 = x.reshape(-1, h)
        s_ln1 = self._scale(f"{L}.ln_attn")
        y1 = self._layernorm(x2, s_x, f"{pre}.attention.output.LayerNorm", s_ln1)
        self._record(f"{L}.ln_attn", y1, s_ln1)
        o_acc, s_o = self._attention(run, li, y1, s_ln1, mask, b, s)
        s_r1 = c.scale(f"{L}.attn_res")
        r1 = self._residual(o_acc, s_o, x2, s_x, s_r1)
        self._record(f"{L}.attn_res", r1, s_r1)
        s_ln2 = self._scale(f"{L}.ln_ffn")
        y2 = self._layernorm(r1, s_r1, f"{pre}.output.LayerNorm", s_ln2)
        self._record(f"{L}.ln_ffn", y2, s_ln2)
        o2, s_o2 = self._mlp(run, li, y2, s_ln2)
        s_r2 = c.scale(f"{L}.ffn_res")
        r2 = self._residual(o2, s_o2, r1, s_r1, s_r2)
        self._record(f"{L}.ffn_res", r2, s_r2)
        return r2.reshape(b, s, h), s_r2

    def _vit_embeddings(self, run: GemmRunner, pixel_values: np.ndarray) -> np.ndarray:
        """Patch projection (int8 GEMM over the flattened patches), class token and position embeddings added
        in integers: the 22-bit ``emb.sum`` stream ``[b, 1 + patches, h]``."""
        d = self.dims
        patches = patchify(np.asarray(pixel_values, dtype=np.float64), d.patch_size)
        b, n, k = patches.shape
        s_px = self._scale("emb.pixels")
        if self.act_format is not None:
            q_px = self._snap(np.rint(patches / s_px).astype(np.int64))
        else:
            q_px = saturate(np.rint(patches / s_px).astype(np.int64), self.bits["pixels"], True)
        self._record("emb.pixels", q_px.reshape(-1, k), s_px)
        acc, s_acc = self._linear(run, q_px.reshape(-1, k), s_px, "embeddings.patch_embeddings.projection")
        s_e = self.cal.scale("emb.sum")
        total = np.zeros((b, n + 1, d.hidden), dtype=np.int64)
        total[:, 1:] = rescale(acc, s_acc, s_e, RESIDUAL_BITS).reshape(b, n, d.hidden)
        cls = self.qw.tables["embeddings.cls_token"]
        total[:, :1] = rescale(cls.ints.astype(np.int64), cls.scale, s_e, RESIDUAL_BITS)[None]
        pos = self.qw.tables["embeddings.position_embeddings"]
        total += rescale(pos.ints.astype(np.int64), pos.scale, s_e, RESIDUAL_BITS)[None]
        return saturate(total, RESIDUAL_BITS, True)

    # ---- forward -----------------------------------------------------------------------------------

    def forward(self, input_ids: np.ndarray, attention_mask: np.ndarray | None = None,
                token_type_ids: np.ndarray | None = None, *, check: bool = False,
                trace: dict[str, np.ndarray] | None = None) -> IntegerOutput:
        """Integer forward of ``input_ids`` ``[batch, seq]`` (validated by the caller); for a ViT, of the images
        ``[batch, channels, image, image]`` (see :meth:`forward_images`). ``check``: compare every
        datapath GEMM with ``int_gemm`` (see :class:`~.gemmrun.GemmStats`). ``trace``: if a dict is given,
        it receives the dequantized value (float64, token-major ``[batch*seq, width]``) at every calibration
        point, under the same names, for error analysis."""
        if self.dims.is_vit:
            return self.forward_images(input_ids, check=check, trace=trace)
        self._trace = trace
        ids = np.asarray(input_ids, dtype=np.int64)
        mask = np.ones_like(ids) if attention_mask is None else np.asarray(attention_mask, dtype=np.int64)
        tt = np.zeros_like(ids) if token_type_ids is None else np.asarray(token_type_ids, dtype=np.int64)
        run = GemmRunner(self.datapath, check=check, act_bits=self.act_bits)
        self._counts = run.stats.activations
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
        q_out = x.astype(np.int8 if self.bits["ln"] <= 8 else np.int32)
        self._trace = None
        scale = s_x * self._t(f"L{self.dims.layers - 1}.ln_ffn")
        return IntegerOutput(q_out, scale, q_out.astype(np.float64) * scale, pooled, run.stats)

    def forward_images(self, pixel_values: np.ndarray, *, check: bool = False,
                       trace: dict[str, np.ndarray] | None = None) -> IntegerOutput:
        """Integer forward of a pre-LN ViT on ``pixel_values`` ``[batch, channels, image, image]`` (float,
        normalised, validated by the caller). The images are quantized once to int8 at the calibrated
        ``emb.pixels`` scale (the input quantizer, I-ViT's first ``QuantAct``); everything after is integer.
        Output: the final LayerNorm's int8 tensor (``hidden``, all tokens); ``pooled``: the classifier's
        logits (its int32 accumulators times their scale) where the model has a classifier."""
        if not self.dims.is_vit:
            raise ValueError("forward_images needs a ViT model")
        self._trace = trace
        run = GemmRunner(self.datapath, check=check, act_bits=self.act_bits)
        self._counts = run.stats.activations
        x = self._vit_embeddings(run, pixel_values)
        s_x = self.cal.scale("emb.sum")
        self._record("emb.sum", x.reshape(-1, x.shape[-1]), s_x)
        mask = np.ones(x.shape[:2], dtype=np.int64)
        for li in range(self.dims.layers):
            x, s_x = self._vit_layer(run, li, x, s_x, mask)
        s_out = self._scale("head.final")
        y = self._layernorm(x, s_x, "layernorm", s_out)
        self._record("head.final", y.reshape(-1, y.shape[-1]), s_out)
        pooled = None
        if "classifier" in self.qw.linears:
            acc, s_acc = self._linear(run, y[:, 0], s_out, "classifier")
            pooled = acc * np.asarray(s_acc, dtype=np.float64)
        q_out = y.astype(np.int8 if self.bits["ln"] <= 8 else np.int32)
        self._trace = None
        scale = s_out * self._t("head.final")
        return IntegerOutput(q_out, scale, q_out.astype(np.float64) * scale, pooled, run.stats)
