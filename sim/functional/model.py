"""Build an integer encoder: quantize the weights, calibrate the activation scales, smooth (int8), assemble."""

from __future__ import annotations

import numpy as np

from sim.compute.base import ActivationFormat, Datapath
from sim.compute.registry import native_kind

from .calibration import Calibration
from .dims import EncoderDims
from .integer import IntegerEncoder
from .qweights import format_mode, quantize_weights
from .reference import bert_forward, vit_forward
from .smoothing import DEFAULT_ALPHA, apply_smoothing, smoothing_factors
from .weights import FloatWeights

__all__ = ["build_integer_encoder", "default_datapath"]


def default_datapath(fmt: str) -> Datapath | None:
    """The datapath a weight format runs on by default: that of the compute kind computing on it natively
    (int8: the systolic array, 64 rows; gobo: the GOBO PE), from the compute-kind registry."""
    found = format_mode(fmt)
    kind = native_kind(found[0] if found is not None else fmt)
    return kind.default_datapath() if kind is not None else None


def build_integer_encoder(dims: EncoderDims, w: FloatWeights, fmt: str, calib_ids: np.ndarray,
                          calib_mask: np.ndarray | None = None, *, qmodel: object | None = None,
                          nonlinear: str = "ibert", datapath: Datapath | None | str = "default",
                          smooth_alpha: float | None = DEFAULT_ALPHA, per_channel: bool = True,
                          act_bits: int = 8, calib_source: str = "", smooth_gelu: bool = False,
                          asym_gelu: bool = True, act_format: ActivationFormat | None = None) -> IntegerEncoder:
    """The integer model of ``w`` in weight format ``fmt`` ("int8", "gobo" with ``qmodel``, or a ternary/BCQ
    mode of :func:`~.qweights.format_mode`: "ternary", "ternary-tensor", "bcq3", ...).

    ``calib_ids``: the calibration batch, token ids ``[batch, seq]`` (BERT family) or, for a ViT, images
    ``[batch, channels, image, image]`` (``calib_mask`` unused).

    Steps: integer weights (:func:`~.qweights.quantize_weights`); calibration (:mod:`.calibration`): the
    float32 forward of the original float weights on ``calib_ids``/``calib_mask`` ``[batch, seq]`` (using the
    dequantized integer weights instead changed all-MiniLM-L6-v2's cosines by <= 0.01 for gobo3 and
    <= 0.0004 for int8, and costs a float copy of every weight);
    for "int8" with ``smooth_alpha`` not None, smoothing (:mod:`.smoothing`) and re-quantization of the
    smoothed weights. ``datapath``: the GEMM datapath (a design's, from its compute-kind plug-in; None: the
    reference kernel); "default": the format's own (:func:`default_datapath`). ``act_format``: a design's
    GEMM-input activation format (None: int8): the calibration keeps the GEMM-input values and the format
    sets each point's scale from them (:meth:`~.calibration.Calibration.with_format`).
    """
    cal = Calibration(source=calib_source, keep_samples=act_format is not None)
    if dims.is_vit:
        vit_forward(w, dims, np.asarray(calib_ids, dtype=np.float32), dtype=np.float32, observe=cal.observe)
    else:
        ids = np.asarray(calib_ids, dtype=np.int64)
        mask = np.ones_like(ids) if calib_mask is None else np.asarray(calib_mask, dtype=np.int64)
        bert_forward(w, dims, ids, mask, dtype=np.float32, observe=cal.observe)
    factors: dict[str, np.ndarray] = {}
    ws = w
    if fmt == "int8" and smooth_alpha is not None:
        factors = smoothing_factors(cal, w, dims, smooth_alpha, smooth_gelu)
        ws = apply_smoothing(w, factors, dims)
        cal = cal.smoothed(factors)
    if act_format is not None:
        cal = cal.with_format(act_format)
    qw = quantize_weights(ws, fmt, qmodel=qmodel, per_channel=per_channel)
    # the integer model keeps only what it computes with: integer weights + LayerNorm parameters
    ln = FloatWeights({k: v for k, v in ws.tensors.items() if ".LayerNorm." in k or k.startswith("layernorm.")},
                      ws.source)
    dp = default_datapath(fmt) if isinstance(datapath, str) else datapath
    return IntegerEncoder(dims, ln, qw, cal, nonlinear=nonlinear, datapath=dp, act_bits=act_bits, smooth=factors,
                          asym_gelu=asym_gelu, act_format=act_format)
