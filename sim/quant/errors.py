"""Errors raised by :mod:`sim.quant` for input the user can fix.

Every message is one line and names what is wrong (and the file, where there is one). They are
``ValueError`` subclasses so that callers without knowledge of this package can still catch them.
"""

from __future__ import annotations


class QuantError(ValueError):
    """Bad input to the quantizer (parameters, tensors or files); the message is meant for the user."""


class QuantParamError(QuantError):
    """A quantization parameter is out of range (e.g. ``bits`` outside 2..8)."""
