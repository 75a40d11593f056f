"""Outlier position stream: row-major flat positions as uint16 skip counts with an escape code.

For outliers at flat (row-major) positions ``p_0 < p_1 < ...``, the stream stores the number of
non-outlier weights skipped before each one: ``skip_0 = p_0`` and ``skip_i = p_i - p_{i-1} - 1``.
A skip ``>= 65535`` is written as ``skip // 65535`` escape entries of value ``0xFFFF`` (each meaning
"advance 65535 weights, no outlier here") followed by the remainder ``skip % 65535`` (< 65535).
Decoding: every non-escape entry ``e`` advances the position by ``e + 1`` and marks an outlier at
the position reached minus one; every escape advances by 65535.

Cost: 16 bits per outlier plus 16 bits per 65535-weight gap between outliers (rare: with the
0.1-0.5% outlier rates of BERT weights the mean gap is a few hundred weights). A CSR layout
(uint32 row pointer per row plus uint16 columns) would cost 32*(rows+1) bits more per tensor,
0.08 bits per weight on a 384x384 tensor: more than the positions themselves.
"""

from __future__ import annotations

import numpy as np

from .errors import QuantError

ESCAPE = 0xFFFF


def encode_positions(positions: np.ndarray) -> np.ndarray:
    """Encode strictly increasing non-negative flat positions (int) as the uint16 skip stream."""
    p = np.asarray(positions, dtype=np.int64).reshape(-1)
    if p.size == 0:
        return np.zeros(0, dtype=np.uint16)
    skips = np.empty_like(p)
    skips[0] = p[0]
    np.subtract(p[1:], p[:-1] + 1, out=skips[1:])
    if skips.min() < 0:
        raise QuantError("outlier positions must be strictly increasing and non-negative")
    esc, rem = np.divmod(skips, ESCAPE)
    real_at = np.cumsum(esc + 1) - 1
    out = np.full(int(real_at[-1]) + 1, ESCAPE, dtype=np.uint16)
    out[real_at] = rem
    return out


def decode_positions(stream: np.ndarray) -> np.ndarray:
    """Decode the uint16 skip stream back to flat positions (int64, increasing)."""
    s = np.asarray(stream, dtype=np.uint16).reshape(-1)
    if s.size == 0:
        return np.zeros(0, dtype=np.int64)
    real = s != ESCAPE
    advance = np.where(real, s.astype(np.int64) + 1, ESCAPE)
    return np.cumsum(advance)[real] - 1
