"""Pareto fronts of a results table (2 or 3 metrics).

Row ``a`` dominates row ``b`` when ``a`` is no worse in every metric and strictly better in at least one.
The front is the set of rows no other row dominates; rows with identical metric values are all kept.
Rows that cannot compete are left out first: a missing (NaN/null) metric, ``status`` other than ``ok``
where that column exists, ``feasible`` False where that column exists (unknown feasibility counts as
feasible). 2 metrics: O(n log n) (sort, then a running minimum). 3 metrics: vectorised pairwise
comparison in blocks (O(n^2) work, O(block x n) memory).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BLOCK = 1024


def _candidates(df, metrics: Sequence[str]):
    import pandas as pd

    keep = pd.Series(True, index=df.index)
    if "status" in df.columns:
        keep &= df["status"].astype(str) == "ok"
    if "feasible" in df.columns:
        keep &= df["feasible"].map(lambda v: v is not False and v != "False")
    for m in metrics:
        keep &= pd.to_numeric(df[m], errors="coerce").notna()
    return df[keep]


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``values`` (n x 2 or n x 3, every column minimised)."""
    v = np.asarray(values, dtype=np.float64)
    n, d = v.shape
    if n == 0:
        return np.zeros(0, dtype=bool)
    if d == 2:
        order = np.lexsort((v[:, 1], v[:, 0]))  # by x, then y
        x, y = v[order, 0], v[order, 1]
        starts = np.flatnonzero(np.r_[True, x[1:] != x[:-1]])  # first row of each distinct x
        group_min = np.minimum.reduceat(y, starts)  # best y at each x
        best_before = np.r_[np.inf, np.minimum.accumulate(group_min)[:-1]]  # best y at any smaller x
        group_of = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))
        on_front = (y == group_min[group_of]) & (y < best_before[group_of])
        mask = np.zeros(n, dtype=bool)
        mask[order[on_front]] = True
        return mask
    mask = np.ones(n, dtype=bool)
    for lo in range(0, n, BLOCK):
        block = v[lo:lo + BLOCK]  # is any row of v dominating each row of the block?
        no_worse = (v[None, :, :] <= block[:, None, :]).all(axis=2)
        better = (v[None, :, :] < block[:, None, :]).any(axis=2)
        mask[lo:lo + BLOCK] = ~np.any(no_worse & better, axis=1)
    return mask


def pareto_front(df, metrics: Sequence[str] = ("seconds", "energy_pj"), minimize: bool | Sequence[bool] = True):
    """The non-dominated rows of ``df`` over 2 or 3 ``metrics`` (a DataFrame, original index, sorted by the first).

    Args:
        df: a results table (e.g. what :func:`sim.sweep` returns, or ``results.csv`` read with pandas).
        metrics: 2 or 3 column names.
        minimize: True (all minimised), False (all maximised), or one flag per metric.
    """
    metrics = list(metrics)
    if len(metrics) not in (2, 3):
        raise ValueError(f"pareto_front: give 2 or 3 metrics, got {len(metrics)}")
    missing = [m for m in metrics if m not in df.columns]
    if missing:
        raise ValueError(f"pareto_front: no column {missing[0]!r} (columns: {', '.join(map(str, df.columns))})")
    flags = [bool(minimize)] * len(metrics) if isinstance(minimize, (bool, np.bool_)) else [bool(f) for f in minimize]
    if len(flags) != len(metrics):
        raise ValueError(f"pareto_front: minimize has {len(flags)} flags for {len(metrics)} metrics")
    import pandas as pd

    cand = _candidates(df, metrics)
    values = np.column_stack([pd.to_numeric(cand[m]).to_numpy(dtype=np.float64) * (1.0 if f else -1.0)
                              for m, f in zip(metrics, flags)]) if len(cand) else np.zeros((0, len(metrics)))
    front = cand[pareto_mask(values)]
    return front.sort_values(metrics[0], ascending=flags[0], kind="stable")
