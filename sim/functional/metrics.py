"""Accuracy metrics of the functional model against the float reference (float64 arithmetic)."""

from __future__ import annotations

import numpy as np

__all__ = ["cosine", "max_abs_error", "mean_pool", "sentence_embedding", "per_sequence_cosine"]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two arrays flattened (1.0 for two zero arrays)."""
    x = np.asarray(a, dtype=np.float64).reshape(-1)
    y = np.asarray(b, dtype=np.float64).reshape(-1)
    nx, ny = float(np.linalg.norm(x)), float(np.linalg.norm(y))
    if nx == 0.0 or ny == 0.0:
        return 1.0 if nx == ny else 0.0
    return float(np.dot(x, y) / (nx * ny))


def max_abs_error(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a - b|`` (float)."""
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``sum_t h[t] m[t] / max(sum_t m[t], 1e-9)`` per sequence: ``[batch, hidden]`` (sentence-transformers)."""
    m = np.asarray(mask, dtype=np.float64)[..., None]
    return (np.asarray(hidden, dtype=np.float64) * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)


def sentence_embedding(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean pooling then L2 normalisation (``max(norm, 1e-12)``), as all-MiniLM-L6-v2's pipeline."""
    p = mean_pool(hidden, mask)
    return p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)


def per_sequence_cosine(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Cosine of ``a[i]`` and ``b[i]`` over the unmasked tokens of each sequence ``i``."""
    keep = np.asarray(mask).astype(bool)
    return np.array([cosine(a[i][keep[i]], b[i][keep[i]]) for i in range(keep.shape[0])])
