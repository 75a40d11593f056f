"""Errors raised by :mod:`sim.quant` for input the user can fix.

Every message is one line and names what is wrong (and the file, where there is one). They are
:class:`~sim.errors.SimInputError` subclasses (``sim.errors`` is standard library only, so this package
still needs nothing but numpy), so the CLI reports them like any bad input: one line, exit code 2; and,
like every ``SimInputError``, ``ValueError`` subclasses, for callers that know neither package.
"""

from __future__ import annotations

from sim.errors import SimInputError


class QuantError(SimInputError):
    """Bad input to the quantizer (parameters, tensors or files); the message is meant for the user."""


class QuantParamError(QuantError):
    """A quantization parameter is out of range (e.g. ``bits`` outside 2..8)."""
