"""OliVe's functional dataflow: GEMMs on the integers the edge decoders rebuild from the packed pair bytes.

:class:`OliveDatapath` computes a weight GEMM as the array does: the weight's packed OVP bytes (one byte per
pair) go through the pair decoder (:func:`sim.quant.olive.decode_codes`: 4-bit integers, or an outlier's
mantissa and shift with its victim zeroed), and the decoded weights are accumulated fold by fold over the PE
rows in int32 (:func:`sim.compute.systolic.dataflow.systolic_gemm`, every running sum checked). The reference
it is checked against (:func:`sim.kernels.gemm.int_gemm`) takes the quantizer's own integers, not the
decoder's, so a decoder or packing error shows as a mismatch. Attention matmuls (both operands int8
activations) run as two nibble passes of the 4-bit weight port, ``b = 16 hi + lo``, merged per output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.compute.systolic.dataflow import systolic_gemm
from sim.kernels.widths import check_width
from sim.quant.olive import decode_codes


class OliveDatapath:
    """GEMMs of the integer forward on an OliVe array with ``rows`` PE rows."""

    name = "olive"

    def __init__(self, rows: int = 64) -> None:
        self.rows = int(rows)
        self.key: tuple[Any, ...] = ("olive", self.rows)

    def linear(self, x: np.ndarray, lin: Any, in_bits: int) -> tuple[np.ndarray, str] | None:
        """``x @ W^T`` with ``W`` decoded from the linear's packed OVP bytes (``lin.packed``); a linear without
        them (not OVP-quantized) runs on the nibble path like an activation operand."""
        packed = getattr(lin, "packed", None)
        if packed is None:
            return self.bmm(x, lin.matrix_nk().T, in_bits), f"olive-nibbles(rows={self.rows}, int8 weight)"
        w = decode_codes(packed.pairs)[:, : packed.cols]
        out = systolic_gemm(x, w.T, self.rows, in_bits=in_bits, kernel="olive_gemm")
        return out, f"olive-ovp(rows={self.rows}, decoded pairs)"

    def bmm(self, a: np.ndarray, b: np.ndarray, in_bits: int) -> np.ndarray:
        """``a @ b`` of activations: the stationary operand in two nibble passes, merged per output."""
        bi = np.asarray(b).astype(np.int64)
        lo = systolic_gemm(a, bi & 0xF, self.rows, in_bits=in_bits, kernel="olive_bmm")
        hi = systolic_gemm(a, bi >> 4, self.rows, in_bits=in_bits, kernel="olive_bmm")
        out = hi * 16 + lo
        return check_width(out, 32, True, kernel="olive_bmm", what="merged nibble accumulator")
