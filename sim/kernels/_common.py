"""Helpers shared by the I-BERT and I-ViT kernels (not public API)."""

from __future__ import annotations

import math

import numpy as np

from .widths import bit_length, check_bound, check_width, saturate

CLEAN = "clean"
REFERENCE = "reference"


def resolve_compat(compat: str | None, kernel: str) -> str:
    """Map ``compat`` to ``"clean"`` or ``"reference"``; anything else is a ValueError."""
    if compat is None or compat == CLEAN:
        return CLEAN
    if compat == REFERENCE:
        return REFERENCE
    raise ValueError(f"{kernel}: compat must be None, 'clean' or 'reference', got {compat!r}")


def as_int64(q: np.ndarray, in_bits: int, kernel: str) -> np.ndarray:
    """Validate an integer input of declared signed width ``in_bits`` and return it as int64."""
    a = np.asarray(q)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{kernel}: input must be an integer array, got dtype {a.dtype}")
    if in_bits > 62:
        raise ValueError(f"{kernel}: in_bits must be <= 62, got {in_bits}")
    check_width(a, in_bits, True, kernel=kernel, what="input")
    return a.astype(np.int64)


def check_scale(s: float, kernel: str) -> float:
    """A per-tensor scale must be a positive finite float."""
    sf = float(s)
    if not (math.isfinite(sf) and sf > 0.0):
        raise ValueError(f"{kernel}: scale must be a positive finite float, got {s!r}")
    return sf


def working_shift(s: float, w_bits: int) -> int:
    """Smallest integer ``F`` with ``s * 2^-F <= 2^-w_bits``; then ``s * 2^-F`` lies in (2^-(w+1), 2^-w].

    Computed from ``frexp`` so exact powers of two are handled exactly. The kernel shifts its
    integer input by ``F`` (left for ``F > 0``, arithmetic right for ``F < 0``) so that it works at
    the fixed-point resolution ``s_w = s * 2^-F`` whatever the input scale.
    """
    mant, ex = math.frexp(s)
    return ex + w_bits - 1 if mant == 0.5 else ex + w_bits


def shift_by(v: np.ndarray, f: int, *, bound_bits: int, kernel: str, what: str) -> np.ndarray:
    """``v * 2^f`` for ``f >= 0`` (left shift, checked against ``bound_bits``), ``floor(v / 2^-f)`` otherwise."""
    if f >= 0:
        mx = 0 if v.size == 0 else max(abs(int(v.min())), abs(int(v.max())))
        check_bound(mx << f, bound_bits, True, kernel=kernel, what=what)
        return v << f
    return v >> (-f)


def isqrt_newton(n: np.ndarray, x0: np.ndarray | np.integer | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Integer ``floor(sqrt(n))`` by Newton's iteration (I-BERT Algorithm 1), vectorised; with iteration counts.

    ``x0=None`` starts at ``2^ceil(bits(n)/2)`` (above the root) and iterates
    ``x <- floor((x + floor(n/x)) / 2)`` until the new value is not smaller, returning the last
    smaller one. With a given start (e.g. I-ViT's 2^16, possibly below the root) one step is taken
    unconditionally first, which lands at or above ``isqrt(n)`` (AM-GM with floors), then the same
    loop. ``n = 0`` returns 0 with 0 iterations. Counts are the number of Newton updates evaluated
    (including the final one that stops the loop).
    """
    n_in = np.asarray(n, dtype=np.int64)
    n = n_in.reshape(-1)
    if n.size and int(n.min()) < 0:
        raise ValueError("int_sqrt: negative input")
    iters = np.zeros(n.shape, dtype=np.int64)
    zero = n == 0
    nn = np.where(zero, 1, n)
    if x0 is None:
        x = np.left_shift(np.int64(1), (bit_length(nn) + 1) // 2)
    else:
        x = np.broadcast_to(np.asarray(x0, dtype=np.int64).reshape(-1) if np.ndim(x0) else x0, n.shape).astype(np.int64)
        if x.size and int(x.min()) < 1:
            raise ValueError("int_sqrt: start must be >= 1")
        x = (x + nn // x) >> 1
        iters += ~zero
    active = ~zero
    while np.any(active):
        xa = x[active]
        na = nn[active]
        y = (xa + na // xa) >> 1
        iters[active] += 1
        dec = y < xa
        xa_new = np.where(dec, y, xa)
        x[active] = xa_new
        idx = np.flatnonzero(active)
        active[idx[~dec]] = False
    return np.where(zero, 0, x).reshape(n_in.shape), iters.reshape(n_in.shape)


NORM_SHIFT = 36  # softmax reciprocal f = floor(2^36 / sum)


def normalize_rows(e: np.ndarray, output_bits: int, *, kernel: str, e_bits: int) -> np.ndarray:
    """Clean softmax normalisation of non-negative ``e`` over the last axis -> ``[0, 2^output_bits - 1]``.

    ``e`` has declared width ``e_bits`` (unsigned) and every row contains its maximum ``exp(0)``
    of at least ``2^(e_bits - 2)``. Per row: ``sum`` (declared uint32, i.e. rows up to
    ``2^(34 - e_bits)`` long), one reciprocal ``f = floor(2^36 / sum)`` (``<= 2^(38 - e_bits)``).
    Per element: ``(e * f + 2^(35 - ob)) >> (36 - ob)`` (round half up; ``e * f <= 2^36``,
    product declared uint37; the truncation of ``f`` costs at most ``2^(e_bits - 36 + ob)`` LSB),
    saturated to ``2^ob - 1`` (a one-hot row gives 2^ob; the hardware saturates).
    Output scale ``2^-output_bits``.
    """
    if not 1 <= output_bits <= 16:
        raise ValueError(f"{kernel}: output_bits must be in [1, 16], got {output_bits}")
    check_width(e, e_bits, False, kernel=kernel, what="exp")
    total = e.sum(axis=-1, keepdims=True)
    check_width(total, 32, False, kernel=kernel, what="exp sum")
    if total.size and int(total.min()) <= 0:
        raise ValueError(f"{kernel}: empty or all-zero row")  # cannot happen: the row max gives e > 0
    f = (np.int64(1) << NORM_SHIFT) // total
    check_width(f, 40 - e_bits, False, kernel=kernel, what="reciprocal")
    sh = NORM_SHIFT - output_bits
    prod = e * f + (np.int64(1) << (sh - 1))
    check_width(prod, NORM_SHIFT + 1, False, kernel=kernel, what="normalisation product")
    return saturate(prod >> sh, output_bits, False)
