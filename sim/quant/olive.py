"""OliVe outlier-victim pair (OVP) quantization (Guo et al., ISCA 2023), numpy only.

Every value is a 4-bit code; codes come in aligned pairs along the last axis (the reduction dimension K of a
``[n, k]`` weight). In a pair:

- two **normal** values: each a 4-bit two's-complement integer in [-7, 7] (the code ``0b1000``, -8, is never
  a normal value: it is the pair's *victim marker*);
- an **outlier** and its **victim**: the victim's slot holds ``0b1000`` (its value is pruned to 0) and the
  outlier's slot holds a sign bit and a 3-bit exponent-integer code ``m``: magnitude
  ``(2 + (m & 1)) << (2 + (m >> 1))``, i.e. 12, 16, 24, 32, 48, 64, 96 for m = 1..7 (m = 0, magnitude 8, is
  not used, as in the authors' abfloat code, whose smallest outlier value is skipped: the normal grid ends at 7
  and an outlier must be worth its victim).

An element is an outlier when its nearest value on the union grid {0..7, 12, ..., 96} is 12 or more; when both
elements of a pair are outliers the larger magnitude is kept (ties: the first) and the other becomes the victim.
(The authors' reference code keeps the first of the pair unconditionally; keeping the larger loses less.)

Scale: one per row (``per_row=True``: weights, one per output channel) or one per tensor (activations); the
integer unit is ``s``, the normal range clips at ``7 s`` (``alpha``). ``alpha`` is searched over ratios of the
row's ``max(|mean + 3 std|, |mean - 3 std|)`` for the least squared error of the whole OVP encoding
(victims included), as the authors' quantizer does (they search 1% steps; we search :data:`ALPHA_RATIOS`).

Packed bytes: one byte per pair (first code in the low nibble), rows padded to an even length with a zero
element, then the scales as float32: ``bits_per_weight`` is measured from those bytes (4 + 32/k bits).
:meth:`OlivePacked.decode` is the decoder at the array edge: it rebuilds the integer values from the bytes
alone, and the tests check it against the quantizer's integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ALPHA_RATIOS", "MARKER", "NORMAL_MAX", "OUTLIER_MAGNITUDES", "OlivePacked",
           "decode_codes", "encode_pairs", "olive_bytes", "quantize", "quantize_activations", "snap_ints"]

NORMAL_MAX = 7
"""Largest normal magnitude (4-bit two's complement without -8)."""
MARKER = 0b1000
"""The victim marker code (two's-complement -8, never a normal value)."""
OUTLIER_MAGNITUDES = tuple((2 + (m & 1)) << (2 + (m >> 1)) for m in range(1, 8))
"""Outlier magnitudes of codes m = 1..7: 12, 16, 24, 32, 48, 64, 96 (in units of the scale)."""
ALPHA_RATIOS = tuple(round(0.6 + 0.1 * i, 1) for i in range(10))
"""Clip ratios searched (0.6 .. 1.5 of the 3-sigma bound, in steps of 0.1)."""

_GRID = np.array(list(range(NORMAL_MAX + 1)) + list(OUTLIER_MAGNITUDES), dtype=np.float64)
_MIDS = (_GRID[1:] + _GRID[:-1]) / 2.0


def _pad_even(a: np.ndarray) -> np.ndarray:
    if a.shape[-1] % 2:
        a = np.concatenate([a, np.zeros(a.shape[:-1] + (1,), dtype=a.dtype)], axis=-1)
    return a


def _ovp_ints(v: np.ndarray) -> np.ndarray:
    """``v`` (in units of the scale, even last axis) -> OVP integer values (int16, victims zeroed)."""
    m = np.abs(v)
    mag = np.minimum(np.rint(m), NORMAL_MAX).astype(np.int16)  # the normal grid (round half to even)
    big = m > _MIDS[NORMAL_MAX]  # nearer an outlier magnitude than 7 (rare: searched only there)
    if big.any():
        mag[big] = _GRID[np.searchsorted(_MIDS, m[big], side="left")].astype(np.int16)
    return _pair_victims(np.where(v < 0, -mag, mag), mag)


#: Integer snapping thresholds: a magnitude ``m <= _INT_UPPER[i]`` (and above the previous) snaps to
#: ``_INT_VALUE[i]``; ``m <= 9`` is a normal value (``min(m, 7)``). The bounds are the float grid's midpoints
#: rounded down (9.5 -> 9) or, where a midpoint is an integer (14, 20, 28, 40, 56, 80), the midpoint itself:
#: the float quantizer's ``searchsorted(side="left")`` sends an exact midpoint to the lower magnitude.
_INT_UPPER = (14, 20, 28, 40, 56, 80)
_INT_VALUE = OUTLIER_MAGNITUDES[:-1]


def _pair_victims(q: np.ndarray, mag: np.ndarray) -> np.ndarray:
    """Signed grid values ``q`` and their magnitudes ``mag`` (even last axis) -> OVP integers: in a pair with
    two outliers the larger magnitude is kept (ties: the first), and an outlier's partner becomes its victim
    (0). Integer-only."""
    out = mag > NORMAL_MAX
    a, b = q[..., 0::2], q[..., 1::2]
    oa, ob = out[..., 0::2], out[..., 1::2]
    keep_a = oa & (~ob | (mag[..., 0::2] >= mag[..., 1::2]))  # a is the pair's outlier
    keep_b = ob & ~keep_a
    res = np.empty_like(q)
    res[..., 0::2] = np.where(keep_b, 0, a)  # a is b's victim
    res[..., 1::2] = np.where(keep_a, 0, b)
    return res


def snap_ints(v: np.ndarray) -> np.ndarray:
    """Integers ``v`` (already at the scale, any width, even last axis) -> OVP integers (int16), integer-only.

    The same grid and victim rule as the float quantizer (:func:`quantize`): a magnitude up to 9 is normal
    (clipped to 7), 10..14 -> 12, 15..20 -> 16, 21..28 -> 24, 29..40 -> 32, 41..56 -> 48, 57..80 -> 64, above
    -> 96. On ``v = rint(x / s)`` it equals the float quantizer on ``x / s`` except where ``rint`` lands on
    an integer midpoint of the outlier grid (14, 20, 28, 40, 56, 80) from above (e.g. ``x / s = 14.3``: the
    float quantizer gives 16, the integer snap of 14 gives 12): double rounding, at most one grid step.
    """
    vi = np.asarray(v).astype(np.int64)
    m = np.abs(vi)
    mag = np.where(m <= NORMAL_MAX + 2, np.minimum(m, NORMAL_MAX), OUTLIER_MAGNITUDES[-1])
    for upper, value in zip(reversed(_INT_UPPER), reversed(_INT_VALUE)):
        mag = np.where((m > NORMAL_MAX + 2) & (m <= upper), value, mag)
    mag = mag.astype(np.int16)
    return _pair_victims(np.where(vi < 0, -mag, mag), mag)


def _bound(x: np.ndarray, axis: int | None) -> np.ndarray:
    mean = x.mean(axis=axis, keepdims=axis is not None)
    std = x.std(axis=axis, keepdims=axis is not None)
    return np.maximum(np.abs(mean + 3 * std), np.abs(mean - 3 * std))


def _search(x: np.ndarray, per_row: bool) -> np.ndarray:
    """Best scale per row (or one): the least squared error over :data:`ALPHA_RATIOS`."""
    axis = -1 if per_row else None
    base = np.maximum(np.asarray(_bound(x, axis), dtype=np.float64), 1e-12)
    best_err = np.full(base.shape, np.inf)
    best_s = np.zeros(base.shape)
    x32 = x.astype(np.float32)
    for r in ALPHA_RATIOS:
        s = base * r / NORMAL_MAX
        s32 = s.astype(np.float32)
        q = _ovp_ints(x32 / s32)
        err = np.square(q * s32 - x32).sum(axis=axis, keepdims=per_row, dtype=np.float64)
        better = err < best_err
        best_err = np.where(better, err, best_err)
        best_s = np.where(better, s, best_s)
    return best_s


def encode_pairs(q: np.ndarray) -> np.ndarray:
    """OVP integers (even last axis) -> one byte per pair (first code in the low nibble): the encoder that
    packs weights offline and activations as they are written back."""
    a = q[..., 0::2].astype(np.int64)
    b = q[..., 1::2].astype(np.int64)

    def code(v: np.ndarray) -> np.ndarray:
        mag = np.abs(v)
        normal = v & 0xF  # two's complement nibble of [-7, 7]
        m = np.zeros_like(v)
        for i, om in enumerate(OUTLIER_MAGNITUDES, start=1):
            m = np.where(mag == om, i, m)
        outl = ((v < 0).astype(np.int64) << 3) | m
        return np.where(mag > NORMAL_MAX, outl, normal)

    ca, cb = code(a), code(b)
    ca = np.where(np.abs(b) > NORMAL_MAX, MARKER, ca)
    cb = np.where(np.abs(a) > NORMAL_MAX, MARKER, cb)
    return (ca | (cb << 4)).astype(np.uint8)


def decode_codes(pairs: np.ndarray) -> np.ndarray:
    """The array-edge decoder: bytes of pairs ``[..., k/2]`` -> integer values ``[..., k]`` (int16).

    Per pair: a marker in one slot makes that value 0 and the other slot an outlier code (sign, mantissa
    ``2 + (m & 1)``, shift ``2 + (m >> 1)``); otherwise both slots are 4-bit two's-complement integers.
    """
    p = pairs.astype(np.int16)
    lo, hi = p & 0xF, p >> 4
    sext = lambda c: np.where(c >= 8, c - 16, c)  # noqa: E731
    outl = lambda c: np.where(c & 8, -1, 1) * ((2 + (c & 1)) << (2 + ((c & 7) >> 1)))  # noqa: E731
    lo_victim, hi_victim = lo == MARKER, hi == MARKER
    va = np.where(lo_victim, 0, np.where(hi_victim, outl(lo), sext(lo)))
    vb = np.where(hi_victim, 0, np.where(lo_victim, outl(hi), sext(hi)))
    out = np.empty(p.shape[:-1] + (2 * p.shape[-1],), dtype=np.int16)
    out[..., 0::2], out[..., 1::2] = va, vb
    return out


def olive_bytes(rows: int, cols: int, per_row: bool = True) -> int:
    """Packed bytes of a ``rows x cols`` OVP tensor: one byte per pair + float32 scales (exact, data-free)."""
    return rows * ((cols + 1) // 2) + 4 * (rows if per_row else 1)


@dataclass(frozen=True, eq=False)
class OlivePacked:
    """One OVP-quantized tensor: ``pairs`` (uint8 ``[rows, ceil(cols/2)]``), ``scales`` (float32, per row or
    one), the quantizer's integers ``ints`` (int16 ``[rows, cols]``), the original ``shape``."""

    shape: tuple[int, ...]
    pairs: np.ndarray
    scales: np.ndarray
    ints: np.ndarray
    rel_l2_error: float

    @property
    def rows(self) -> int:
        """Rows (output channels of a weight)."""
        return int(self.ints.shape[0])

    @property
    def cols(self) -> int:
        """Columns (the reduction dimension of a weight)."""
        return int(self.ints.shape[1])

    def to_bytes(self) -> bytes:
        """The stored bytes: the pair bytes row by row, then the float32 scales."""
        return self.pairs.tobytes() + self.scales.astype(np.float32).tobytes()

    @property
    def nbytes(self) -> int:
        """``len(to_bytes())``."""
        return int(self.pairs.nbytes + self.scales.astype(np.float32).nbytes)

    @property
    def packed_bytes(self) -> int:
        """Bytes of the packed buffers (``nbytes``; the registry's name, :mod:`sim.quant.formats`)."""
        return self.nbytes

    @property
    def bits_per_weight(self) -> float:
        """Stored bits per element, from the packed bytes."""
        return 8.0 * self.nbytes / max(1, self.ints.size)

    def decode(self) -> np.ndarray:
        """The integers rebuilt from the pair bytes (the decoder at the array edge), ``[rows, cols]`` int16."""
        return decode_codes(self.pairs)[:, : self.cols]

    def scale_column(self) -> np.ndarray:
        """Scales as a ``[rows, 1]`` (or ``[1, 1]``) float64 column."""
        return self.scales.astype(np.float64).reshape(-1, 1)

    def dequantized(self) -> np.ndarray:
        """``ints * scale`` as float32 in the original shape."""
        return (self.ints.astype(np.float64) * self.scale_column()).astype(np.float32).reshape(self.shape)

    @property
    def outlier_fraction(self) -> float:
        """Kept outliers / elements."""
        return float((np.abs(self.ints) > NORMAL_MAX).mean()) if self.ints.size else 0.0

    def stats(self) -> dict[str, float | int]:
        """Accuracy-relevant statistics: outlier and victim fractions, bits per weight, relative L2 error."""
        n_out = int((np.abs(self.ints) > NORMAL_MAX).sum())
        return {"outlier_fraction": self.outlier_fraction, "victim_fraction": n_out / max(1, self.ints.size),
                "bits_per_weight": self.bits_per_weight, "rel_l2_error": self.rel_l2_error,
                "packed_bytes": self.packed_bytes}


def quantize(w: np.ndarray, *, per_row: bool = True) -> OlivePacked:
    """OVP-quantize one float tensor (rows = all leading axes, pairs along the last axis)."""
    a = np.asarray(w, dtype=np.float64)
    shape = tuple(a.shape)
    x = a.reshape(1, -1) if a.ndim < 2 else a.reshape(-1, a.shape[-1])
    cols = x.shape[1]
    xe = _pad_even(x)
    s = _search(xe, per_row)
    scales = np.asarray(s, dtype=np.float32).reshape(-1)
    # the integers are re-derived at the float32 scales actually stored, so stored bytes and values agree
    q = _ovp_ints(xe / scales.astype(np.float64).reshape(-1, 1)) if per_row else _ovp_ints(xe / float(scales[0]))
    pairs = encode_pairs(q)
    q = q[:, :cols]
    deq = q.astype(np.float64) * scales.astype(np.float64).reshape(-1, 1)
    ref = float(np.linalg.norm(x))
    rel = float(np.linalg.norm(deq - x) / ref) if ref > 0 else 0.0
    return OlivePacked(shape, pairs, scales, q, rel)


def quantize_activations(x: np.ndarray) -> OlivePacked:
    """4-bit OVP activations (OliVe quantizes activations the same way, one scale per tensor)."""
    return quantize(x, per_row=False)

