"""Activation-scale calibration for the integer pipeline: max-abs per tensor over a calibration batch.

Method. The float forward (:mod:`.reference`, float32) of the model with its original float weights runs
on a calibration batch (see :func:`sim.functional.model.build_integer_encoder` for why not the dequantized ones);
at every point where the integer pipeline quantizes an activation (:data:`~.reference.OBSERVED_POINTS`
per layer, plus ``emb.sum``, ``emb.ln``) the maximum of ``|value|`` over the real (unpadded) tokens is
recorded. The scale of a ``b``-bit signed activation is ``max(maxabs, 1e-8) / (2^(b-1) - 1)``; the
requantizers saturate anything beyond.

Why max-abs and not a percentile: it is what I-BERT's ``QuantAct`` does (running min/max), and BERT's
LayerNorm outputs and residual streams carry a few large "outlier" channels that carry meaning; clipping
them (a percentile) hurts accuracy more than the coarser step costs. The widths (8 bits for GEMM
inputs, 16 for the GELU input, 22 for the residual sums that feed LayerNorm, as I-BERT's
``QuantAct(22)``) leave the residual stream fine-grained where the outliers matter.

Activation formats (a design's 4-bit GEMM inputs, :class:`sim.compute.base.ActivationFormat`): the same
forward also keeps the real tokens' values at the GEMM-input points (:data:`FORMAT_POINTS`) when asked
(``Calibration(keep_samples=True)``); :meth:`Calibration.with_format` hands each point's values to the format's
own calibration (OliVe: the OVP scale search; OLAccel: a high quantile of ``|x|``) and records the scales
in ``format_scales``. The max-abs statistics are unchanged, so the other designs' scales do not move.

Calibration batches (stated per run in the results): for a checkpoint with a ``vocab.txt`` beside it,
:data:`CALIBRATION_SENTENCES` tokenized by the model's own tokenizer (distinct from the test sentences);
otherwise seeded random token ids (:func:`random_token_batch`); for a ViT, seeded random images
(:func:`random_image_batch`: no image set ships with the repository).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Calibration", "CALIBRATION_SENTENCES", "random_token_batch", "random_image_batch", "ACTIVATION_BITS",
           "CHANNEL_POINTS", "WIDE_HEADROOM", "FORMAT_POINTS", "is_format_point"]

#: Range multiplier of the wide (>= 16-bit) points: inputs outside the calibration batch's range (seen up
#: to 1.5x on all-MiniLM-L6-v2's residual sums) must not saturate, and 2 bits of 16-22 cost nothing.
WIDE_HEADROOM = 4.0

#: Points whose per-channel max |value| is also recorded (LayerNorm outputs, GELU output): smoothing uses them.
CHANNEL_POINTS = ("ln", "ln_attn", "ln_ffn", "gelu", "final")

#: Suffixes of the GEMM-input points an activation format applies to (``ln*``: every LayerNorm output that
#: feeds a GEMM; ``final``: a ViT's final LayerNorm, the classifier's input).
FORMAT_POINTS = ("q", "k", "v", "ctx", "gelu", "pixels", "ln", "ln_attn", "ln_ffn", "final")


def is_format_point(name: str) -> bool:
    """True for a GEMM-input point (``emb.ln``, ``L3.q``, ``head.final``, ...): see :data:`FORMAT_POINTS`."""
    return name.split(".", 1)[-1] in FORMAT_POINTS


#: Width (bits, signed) of each quantized activation point (the suffix after ``L{i}.`` / ``emb.``).
ACTIVATION_BITS = {
    "sum": 22, "ln": 8, "pixels": 8,  # embeddings (``pixels``: a ViT's flattened patches)
    "q": 8, "k": 8, "v": 8, "ctx": 8, "attn_res": 22, "ln_attn": 8,
    "ffn1": 16, "gelu": 8, "ffn_res": 22, "ln_ffn": 8, "final": 8,
}

#: Calibration text for real checkpoints with a vocabulary (not the sentences the tests evaluate).
CALIBRATION_SENTENCES = (
    "The cat sat on the mat and looked out of the window.",
    "Stock markets fell sharply on Monday after the central bank raised interest rates.",
    "How do I reset my password if I no longer have access to my email account?",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "She scored twice in the second half, and the home team won 3-1.",
    "The recipe calls for two cups of flour, a pinch of salt and three eggs.",
    "Researchers trained a neural network to translate between English and German.",
    "Please remember to bring your passport, your ticket and a printed itinerary.",
    "The museum's new exhibition features paintings from the nineteenth century.",
    "Heavy rain is expected tomorrow, with strong winds along the northern coast.",
    "My laptop battery drains quickly when I watch videos in high resolution.",
    "The committee will publish its final report at the end of next month.",
    "A small bakery on the corner sells fresh bread every morning at seven.",
    "Quantum computers could break some of today's public-key encryption schemes.",
    "He apologized for being late, explaining that the train had been cancelled.",
    "Do you know which platform the express to the airport leaves from?",
)


def random_token_batch(vocab: int, batch: int, seq: int, seed: int, *, low: int = 0) -> np.ndarray:
    """Seeded uniform token ids in ``[low, vocab)``, int64 ``[batch, seq]`` (numpy PCG64 of ``seed``)."""
    rng = np.random.default_rng(int(seed))
    return rng.integers(low, vocab, size=(batch, seq), dtype=np.int64)


def random_image_batch(batch: int, channels: int, image: int, seed: int) -> np.ndarray:
    """Seeded images uniform in [-1, 1) (the range of a ViT image processor's output: mean 0.5, std 0.5),
    float32 ``[batch, channels, image, image]`` (numpy PCG64 of ``seed``)."""
    rng = np.random.default_rng(int(seed))
    return rng.uniform(-1.0, 1.0, size=(batch, channels, image, image)).astype(np.float32)


@dataclass
class Calibration:
    """Max |activation| per quantization point; :meth:`observe` is the forward's observer callback."""

    maxabs: dict[str, float] = field(default_factory=dict)
    channel_maxabs: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""
    minv: dict[str, float] = field(default_factory=dict)
    maxv: dict[str, float] = field(default_factory=dict)
    format_scales: dict[str, float] = field(default_factory=dict)
    """Per-tensor scale of each GEMM-input point under an activation format (empty: int8 max-abs)."""
    format_key: tuple | None = None
    """The activation format's key these scales belong to."""
    keep_samples: bool = False
    """Keep the real tokens' values at the :data:`FORMAT_POINTS` (for :meth:`with_format`)."""
    samples: dict[str, list[np.ndarray]] = field(default_factory=dict, repr=False)

    def observe(self, name: str, value: np.ndarray, mask: np.ndarray) -> None:
        """Record ``max |value|`` over the tokens where ``mask`` is 1 (``value`` is ``[batch, seq, ...]``),
        per tensor and, for the LayerNorm and GELU outputs (:data:`CHANNEL_POINTS`), per channel."""
        v = np.abs(np.asarray(value, dtype=np.float64))
        keep = np.asarray(mask).astype(bool)
        sel = v[keep] if v.ndim >= 2 and v.shape[:2] == keep.shape else v.reshape(-1, v.shape[-1])
        m = float(sel.max()) if sel.size else 0.0
        self.maxabs[name] = max(self.maxabs.get(name, 0.0), m)
        raw = np.asarray(value, dtype=np.float64)
        rsel = raw[keep] if raw.ndim >= 2 and raw.shape[:2] == keep.shape else raw
        if rsel.size:
            self.minv[name] = min(self.minv.get(name, 0.0), float(rsel.min()))
            self.maxv[name] = max(self.maxv.get(name, 0.0), float(rsel.max()))
        if self.keep_samples and is_format_point(name) and rsel.size:
            self.samples.setdefault(name, []).append(np.asarray(rsel, dtype=np.float32).reshape(-1, v.shape[-1]))
        if name.split(".", 1)[1] in CHANNEL_POINTS and sel.size:
            ch = sel.reshape(-1, v.shape[-1]).max(axis=0)
            old = self.channel_maxabs.get(name)
            self.channel_maxabs[name] = ch if old is None else np.maximum(old, ch)

    def smoothed(self, factors: dict[str, np.ndarray]) -> Calibration:
        """The calibration of the smoothed model (activations divided by ``factors[name]`` per channel):
        ``maxabs = max_c(channel_maxabs_c / t_c)`` at the smoothed points, the rest unchanged."""
        out = Calibration(dict(self.maxabs), dict(self.channel_maxabs), self.source, dict(self.minv),
                          dict(self.maxv))
        for name, t in factors.items():
            ch = self.channel_maxabs[name] / t
            out.maxabs[name] = float(ch.max())
            out.channel_maxabs[name] = ch
            out.minv.pop(name, None)  # the smoothed range is only known in max-abs form
            out.maxv.pop(name, None)
        return out

    def with_format(self, fmt: object) -> Calibration:
        """A copy whose GEMM-input points carry ``fmt``'s scales (``fmt.calibrate`` on each point's kept values;
        needs ``keep_samples``); the samples are not copied."""
        if not self.samples:
            raise ValueError("an activation format needs the calibration values: observe with keep_samples=True")
        scales = {name: float(fmt.calibrate(np.concatenate(parts, axis=0)))  # type: ignore[attr-defined]
                  for name, parts in self.samples.items()}
        return Calibration(dict(self.maxabs), dict(self.channel_maxabs), self.source, dict(self.minv),
                           dict(self.maxv), scales, fmt.key)  # type: ignore[attr-defined]

    def format_scale(self, name: str) -> float:
        """The activation format's scale of GEMM-input point ``name``."""
        if name not in self.format_scales:
            raise KeyError(f"no activation-format calibration for {name!r}")
        return self.format_scales[name]

    def asymmetric(self, name: str, bits: int = 8) -> tuple[float, int]:
        """``(scale, zero_point)`` of an asymmetric signed ``bits``-bit quantization of the observed range
        ``[min(min, 0), max(max, 0)]``: ``x = scale * (q - zero_point)``, ``q`` in ``[-2^(b-1), 2^(b-1) - 1]``."""
        lo, hi = self.minv.get(name), self.maxv.get(name)
        if lo is None or hi is None:
            return self.scale(name, bits), 0
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        levels = (1 << bits) - 1
        scale = max(hi - lo, 1e-8) / levels
        zp = int(round(-(1 << (bits - 1)) - lo / scale))
        return scale, zp

    def scale(self, name: str, bits: int | None = None) -> float:
        """Scale (real units per integer step) of point ``name`` at ``bits`` (default from ACTIVATION_BITS):
        ``max(maxabs, 1e-8) * headroom / (2^(bits-1) - 1)`` with ``headroom`` = :data:`WIDE_HEADROOM` for
        points of 16 bits or more (residual sums, GELU input), 1 for 8-bit points."""
        if name not in self.maxabs:
            raise KeyError(f"no calibration for activation {name!r}")
        b = bits if bits is not None else ACTIVATION_BITS[name.split(".", 1)[1]]
        headroom = WIDE_HEADROOM if b >= 16 else 1.0
        return max(self.maxabs[name], 1e-8) * headroom / float((1 << (b - 1)) - 1)
