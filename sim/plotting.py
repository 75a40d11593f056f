"""Figures (matplotlib, Agg backend): sized for a paper column, axis labels with units."""

from __future__ import annotations

from pathlib import Path

import numpy as np

COLUMN_IN = (3.4, 2.4)  # one paper column, inches


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 7, "axes.titlesize": 7, "axes.labelsize": 7, "legend.fontsize": 6,
                         "xtick.labelsize": 6, "ytick.labelsize": 6, "savefig.dpi": 200})
    return plt


def plot_weight_histogram(values: np.ndarray, packed, path: str | Path, title: str | None = None) -> Path:
    """Histogram of one tensor's weights with its GOBO centroids and the outlier thresholds marked."""
    plt = _pyplot()
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    fig, ax = plt.subplots(figsize=COLUMN_IN, constrained_layout=True)
    lo, hi = float(packed.lo), float(packed.hi)
    edges = np.linspace(float(v.min()), float(v.max()), 201)  # the full range: outliers included
    ax.hist(v, bins=edges, color="0.55", log=True, label="weights")
    for i, c in enumerate(np.asarray(packed.centroids, dtype=np.float64)):
        ax.axvline(c, color="tab:blue", lw=0.8, label="centroids" if i == 0 else None)
    for i, t in enumerate((lo, hi)):
        ax.axvline(t, color="tab:red", ls="--", lw=0.9, label="outlier threshold" if i == 0 else None)
    n_out = int(np.count_nonzero((v <= lo) | (v >= hi)))
    ax.set_xlabel("weight value")
    ax.set_ylabel("count (log scale)")
    short = packed.name.replace("encoder.layer.", "L").replace(".weight", "")
    ax.set_title(title or f"{short}\n{packed.bits}-bit GOBO: {n_out:,} outliers of {v.size:,} ({n_out / v.size:.3%})")
    ax.legend(loc="upper right", frameon=False)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
