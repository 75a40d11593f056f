"""Bit-accurate integer kernels: I-BERT, I-ViT, int8 GEMM and the GOBO GEMM (numpy only).

Integers in, integers out, plus the float scale (real value = ``q * s``)::

    from sim.kernels import ibert, ivit, gemm, quant, dyadic
    q_out, s_out = ibert.int_gelu(q, s)
    q_out, s_out = ibert.int_softmax(q, s, output_bits=8)
    q_out, s_out = ibert.int_layernorm(q, s, weight, bias, output_bits=8)
    q_out, s_out = ivit.shift_gelu(q, s); ivit.shiftmax(q, s, output_bits=8)
    q_out, s_out = ivit.int_layernorm(q, s, weight, bias, output_bits=8)
    root = ibert.int_sqrt(n)

``compat=None`` (default) is the clean algorithm the hardware executes; ``compat="reference"``
reproduces the public reference code (HF/I-BERT, zkkli/I-ViT) bit for bit. Every intermediate
has a declared width (``WIDTHS`` in each module); overflow raises
:class:`~sim.kernels.widths.IntegerOverflowError`. Op counts per kernel: :mod:`.opcounts`.
"""

from . import dyadic, gemm, ibert, ivit, opcounts, quant, widths
from .widths import IntegerOverflowError

__all__ = ["IntegerOverflowError", "dyadic", "gemm", "ibert", "ivit", "opcounts", "quant", "widths"]
