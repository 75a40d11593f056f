"""OliVe's functional dataflow: GEMMs on the integers the edge decoders rebuild from the packed pair bytes.

:class:`OliveDatapath` computes a weight GEMM as the array does: the weight's packed OVP bytes (one byte per
pair) go through the pair decoder (:func:`sim.quant.olive.decode_codes`: 4-bit integers, or an outlier's
mantissa and shift with its victim zeroed), and the decoded weights are accumulated fold by fold over the PE
rows in int32 (:func:`sim.compute.systolic.dataflow.systolic_gemm`, every running sum checked). The reference
it is checked against (:func:`sim.kernels.gemm.int_gemm`) takes the quantizer's own integers, not the
decoder's, so a decoder or packing error shows as a mismatch.

Activations: int8 (W4A8, ``compute.act_bits: 8``), or OVP pairs (W4A4, :class:`OvpActivations`): then
every activation operand the integer pipeline snapped onto the OVP grid is packed by the pair encoder
(:func:`sim.quant.olive.encode_pairs`, one byte per pair, as the activations are written back) and rebuilt by
the decoders at the array's left (streamed) or top (stationary) edge; the PEs multiply the two decoded
operands (4-bit x 4-bit mantissas with both exponent shifts). A pair-encoding error changes the decoded values
and so shows as a mismatch against the reference on the quantizer's integers.

Attention matmuls. W4A8: both operands int8, the stationary one in two nibble passes (``b = 16 hi + lo``),
merged per output. W4A4: ``Q K^T`` has both operands OVP (Q paired along the head dimension, K^T along its
rows, the same axis) and runs in one pass on the decoded pairs; ``P V``: V is OVP (paired along the head
dimension, two adjacent PE columns) and the softmax probabilities stay uint8 (see docs/hw/olive.md), streamed
in two unsigned nibble passes merged per output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.compute.systolic.dataflow import systolic_gemm
from sim.kernels.widths import check_width
from sim.quant.olive import NORMAL_MAX, decode_codes, encode_pairs, quantize_activations, snap_ints


def _pad_even(a: np.ndarray, axis: int) -> np.ndarray:
    if a.shape[axis] % 2 == 0:
        return a
    pad = [(0, 0)] * a.ndim
    pad[axis] = (0, 1)
    return np.pad(a, pad)


def pair_roundtrip(q: np.ndarray, axis: int = -1) -> np.ndarray:
    """OVP integers ``q`` paired along ``axis`` -> their pair bytes (the encoder) -> the integers the edge
    decoder rebuilds from those bytes alone (int64, ``q``'s shape)."""
    moved = np.moveaxis(np.asarray(q).astype(np.int64), axis, -1)
    n = moved.shape[-1]
    dec = decode_codes(encode_pairs(_pad_even(moved, -1)))[..., :n].astype(np.int64)
    return np.moveaxis(dec, -1, axis)


@dataclass(frozen=True)
class OvpActivations:
    """OliVe's 4-bit OVP activations (an :class:`~sim.compute.base.ActivationFormat`): one scale per tensor
    from the OVP scale search (:func:`sim.quant.olive.quantize_activations`) on the calibration values, pairs
    along the hidden axis, values snapped integer-only (:func:`sim.quant.olive.snap_ints`)."""

    name: str = "ovp4"
    bits: int = 4

    @property
    def key(self) -> tuple[Any, ...]:
        """Identity for caches."""
        return (self.name, self.bits)

    def calibrate(self, samples: np.ndarray) -> float:
        """The OVP scale search on the calibration values (one float32 scale)."""
        return float(quantize_activations(np.asarray(samples, dtype=np.float64)).scales[0])

    def snap(self, v: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
        """Integers at the scale -> OVP integers (pairs along the last axis); counts elements and outliers."""
        vi = np.asarray(v).astype(np.int64)
        n = vi.shape[-1]
        q = snap_ints(_pad_even(vi, -1))[..., :n].astype(np.int64)
        return q, {"elements": int(q.size), "outliers": int((np.abs(q) > NORMAL_MAX).sum())}


class OliveDatapath:
    """GEMMs of the integer forward on an OliVe array with ``rows`` PE rows; ``act_bits`` 4: OVP activations."""

    name = "olive"

    def __init__(self, rows: int = 64, act_bits: int = 8) -> None:
        self.rows = int(rows)
        self.act_bits = int(act_bits)
        self.key: tuple[Any, ...] = ("olive", self.rows, self.act_bits)

    def _activations(self, x: np.ndarray, axis: int = -1) -> np.ndarray:
        """The streamed/stationary activation operand as the PEs see it: decoded from its pair bytes (W4A4), or
        the int8 values themselves (W4A8)."""
        return pair_roundtrip(x, axis) if self.act_bits == 4 else np.asarray(x).astype(np.int64)

    def linear(self, x: np.ndarray, lin: Any, in_bits: int) -> tuple[np.ndarray, str] | None:
        """``x @ W^T`` with ``W`` decoded from the linear's packed OVP bytes (``lin.packed``); a linear without
        them (not OVP-quantized) runs on the nibble path like an activation operand."""
        packed = getattr(lin, "packed", None)
        acts = "ovp pairs" if self.act_bits == 4 else "int8"
        if packed is None:
            out = self._nibble_passes(self._activations(x), lin.matrix_nk().T, in_bits)
            return out, f"olive-nibbles(rows={self.rows}, int8 weight, {acts} activations)"
        w = decode_codes(packed.pairs)[:, : packed.cols]
        out = systolic_gemm(self._activations(x), w.T, self.rows, in_bits=in_bits, kernel="olive_gemm")
        return out, f"olive-ovp(rows={self.rows}, decoded pairs, {acts} activations)"

    def _nibble_passes(self, a: np.ndarray, b: np.ndarray, in_bits: int) -> np.ndarray:
        """``a @ b`` with the stationary operand ``b`` in two nibble passes, merged per output."""
        bi = np.asarray(b).astype(np.int64)
        lo = systolic_gemm(a, bi & 0xF, self.rows, in_bits=in_bits, kernel="olive_bmm")
        hi = systolic_gemm(a, bi >> 4, self.rows, in_bits=in_bits, kernel="olive_bmm")
        return check_width(hi * 16 + lo, 32, True, kernel="olive_bmm", what="merged nibble accumulator")

    def bmm(self, a: np.ndarray, b: np.ndarray, in_bits: int,
            pair_axes: tuple[int | None, int | None] = (None, None)) -> np.ndarray:
        """``a @ b`` of activations. ``pair_axes``: the axis along which each operand is OVP-paired (None: not
        an OVP operand; given only with OVP activations). W4A8: the stationary operand in two nibble passes.
        W4A4: OVP operands decoded from their pair bytes; a non-OVP streamed operand (the uint8 softmax
        probabilities) in two unsigned nibble passes, merged per output."""
        pa, pb = pair_axes
        if self.act_bits != 4 or pb is None:
            return self._nibble_passes(a, b, in_bits)
        bd = pair_roundtrip(b, pb)
        if pa is not None:
            return systolic_gemm(pair_roundtrip(a, pa), bd, self.rows, in_bits=in_bits, kernel="olive_bmm")
        ai = np.asarray(a).astype(np.int64)
        lo = systolic_gemm(ai & 0xF, bd, self.rows, in_bits=in_bits, kernel="olive_bmm")
        hi = systolic_gemm(ai >> 4, bd, self.rows, in_bits=in_bits, kernel="olive_bmm")
        return check_width(hi * 16 + lo, 32, True, kernel="olive_bmm", what="merged nibble accumulator")
