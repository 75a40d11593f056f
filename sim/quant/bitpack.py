"""Dense bit packing of b-bit unsigned indices (1 <= b <= 8) into bytes.

Layout: index ``i`` of the flat sequence occupies stream bits ``[i*b, (i+1)*b)``, its least
significant bit first; stream bit ``t`` is bit ``t % 8`` (LSB = bit 0) of byte ``t // 8``. So the
byte stream is the little-endian integer ``sum_i idx[i] << (i*b)``. The stream is ``ceil(n*b/8)``
bytes; unused high bits of the last byte are 0. No padding between rows: a tensor is packed as one
row-major stream.
"""

from __future__ import annotations

import numpy as np

from .errors import QuantParamError


def _check(bits: int) -> int:
    if not 1 <= int(bits) <= 8:
        raise QuantParamError(f"bit width must be in 1..8, got {bits}")
    return int(bits)


def packed_size(n: int, bits: int) -> int:
    """Bytes needed for ``n`` indices of ``bits`` bits: ``ceil(n*bits/8)``."""
    return (int(n) * _check(bits) + 7) // 8


def pack_bits(indices: np.ndarray, bits: int) -> np.ndarray:
    """Pack unsigned integers < 2**bits (any shape, taken flat in C order) into a uint8 byte stream."""
    b = _check(bits)
    idx = np.asarray(indices).reshape(-1)
    n = idx.size
    if n and int(idx.max(initial=0)) >= (1 << b):
        raise QuantParamError(f"index {int(idx.max())} does not fit in {b} bits")
    if b == 8:
        return idx.astype(np.uint8).copy()
    groups = (n + 7) // 8
    wt = _word_type(b)
    padded = np.zeros(groups * 8, dtype=np.uint8)
    padded[:n] = idx
    lanes = padded.reshape(groups, 8)
    word = lanes[:, 0].astype(wt)
    for j in range(1, 8):  # 8 indices of b bits -> one b-byte little-endian word
        word |= lanes[:, j].astype(wt) << wt(j * b)
    le = np.dtype(wt).newbyteorder("<")
    out = word.astype(le, copy=False).view(np.uint8).reshape(groups, le.itemsize)[:, :b]
    return np.ascontiguousarray(out).reshape(-1)[: packed_size(n, b)]


def _word_type(bits: int) -> type[np.unsignedinteger]:
    """The narrowest unsigned integer holding one group of 8 indices of ``bits`` bits (8 * bits bits)."""
    return np.uint32 if bits <= 4 else np.uint64


def unpack_bits(data: np.ndarray, bits: int, n: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: the first ``n`` indices (uint8) from a packed byte stream."""
    b = _check(bits)
    raw = np.asarray(data, dtype=np.uint8).reshape(-1)
    need = packed_size(n, b)
    if raw.size < need:
        raise QuantParamError(f"packed stream has {raw.size} bytes, {need} needed for {n} x {b}-bit indices")
    if b == 8:
        return raw[:n].copy()
    groups = (n + 7) // 8
    wt = _word_type(b)
    size = np.dtype(wt).itemsize
    buf = np.zeros((groups, size), dtype=np.uint8)
    flat = np.zeros(groups * b, dtype=np.uint8)
    flat[:need] = raw[:need]
    buf[:, :b] = flat.reshape(groups, b)
    word = buf.view(np.dtype(wt).newbyteorder("<")).reshape(groups)
    mask = wt((1 << b) - 1)
    out = np.empty((groups, 8), dtype=np.uint8)
    for j in range(8):
        out[:, j] = (word >> wt(j * b)) & mask
    return out.reshape(-1)[:n]


def unpack_bit_range(data: np.ndarray, bits: int, start: int, count: int) -> np.ndarray:
    """Indices ``start .. start+count-1`` of a packed stream, decoding only the bytes they touch."""
    b = _check(bits)
    if count <= 0:
        return np.zeros(0, dtype=np.uint8)
    # align to an 8-index group so the slice starts at a group boundary (8*b bits = b bytes)
    group0 = start // 8
    byte0 = group0 * b
    skip = start - group0 * 8
    total = skip + count
    byte1 = min(np.asarray(data).size, byte0 + packed_size(total, b))
    return unpack_bits(np.asarray(data)[byte0:byte1], b, total)[skip:]
