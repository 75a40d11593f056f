"""Figures (matplotlib, Agg backend): sized for a paper column, axis labels with units."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    return _save(fig, Path(path))


# ---------------------------------------------------------------------------------------------------------
# `sim plot`: figures from run / compare reports and sweep results.
#
# Inputs: a sweep directory or its results.csv (kinds: pareto, sweep); one or more run JSONs (energy, area,
# energy-ops, latency, roofline, histogram); a compare JSON (energy, area, speedup). Every figure is one
# paper column wide (3.4 in) with 7 pt text; axis labels carry units, with an SI prefix chosen from the data.
# A figure whose data are null (e.g. energy before the energy model priced the run) is skipped with a
# reason instead of failing.
# ---------------------------------------------------------------------------------------------------------

KINDS = ("energy", "energy-ops", "area", "latency", "speedup", "pareto", "sweep", "roofline", "histogram")
APPLICABLE = {
    "sweep": ("pareto", "sweep"),
    "runs": ("energy", "area", "energy-ops", "latency", "roofline", "histogram"),
    "compare": ("energy", "area", "speedup"),
}
TASK_KEYS = ("workload", "seq_len", "batch")  # swept keys that change the task, not the design
_PREFIXES = ((1e-12, "p"), (1e-9, "n"), (1e-6, "\u00b5"), (1e-3, "m"), (1.0, ""), (1e3, "k"), (1e6, "M"),
             (1e9, "G"), (1e12, "T"))


class PlotSkipped(Exception):
    """A figure that cannot be drawn from these data (the message says why)."""


def _si(values, unit: str, base: float = 1.0) -> tuple[float, str]:
    """(divisor, label unit): the SI prefix that puts the largest |value| x ``base`` in [1, 1000)."""
    arr = np.asarray([v for v in np.ravel(values) if v is not None and np.isfinite(v)], dtype=np.float64) * base
    top = float(np.max(np.abs(arr))) if arr.size else 1.0
    scale, prefix = 1.0, ""
    for s, p in _PREFIXES:
        if top >= s:
            scale, prefix = s, p
    return scale / base, f"{prefix}{unit}"


def _save(fig, out: Path) -> Path:
    """Write the figure atomically (through :mod:`sim.io`: a planted symlink is replaced, never followed)."""
    import matplotlib.pyplot as plt

    from sim.io import write_atomic

    fmt = out.suffix.lstrip(".").lower() or "png"
    try:
        write_atomic(out, lambda fh: fig.savefig(fh, format=fmt))
    finally:
        plt.close(fig)
    return out


MAX_STEM_CHARS = 120


def safe_stem(text: str) -> str:
    """A file-name stem made from report fields or metric names: letters, digits, ``.``, ``_``, ``+``, ``-`` and
    ``=`` are kept, any other character (a separator, ``..``, a control character, a space) becomes ``_``;
    never empty, never hidden (no leading ``.``), at most :data:`MAX_STEM_CHARS` characters."""
    out = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "._+-=" else "_" for ch in str(text))
    while ".." in out:
        out = out.replace("..", "_")
    out = out.lstrip(".")[:MAX_STEM_CHARS]
    return out or "_"


def unique_stems(stems: list[str]) -> list[str]:
    """``stems`` made distinct, case-insensitively (case-folding file systems): later repeats get ``-2``, ``-3``."""
    seen: set[str] = set()
    out = []
    for stem in stems:
        cand, n = stem, 1
        while cand.lower() in seen:
            n += 1
            cand = f"{stem}-{n}"
        seen.add(cand.lower())
        out.append(cand)
    return out


def _palette(n: int) -> list:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _stacked_bars(ax, labels: list[str], parts: list[str], matrix: np.ndarray, horizontal: bool = False) -> None:
    """Bars per label, stacked by part (``matrix``: labels x parts), legend outside-top."""
    bottom = np.zeros(len(labels))
    colors = _palette(len(parts))
    pos = np.arange(len(labels))
    for j, part in enumerate(parts):
        if horizontal:
            ax.barh(pos, matrix[:, j], left=bottom, color=colors[j], label=part, height=0.7)
        else:
            ax.bar(pos, matrix[:, j], bottom=bottom, color=colors[j], label=part, width=0.7)
        bottom = bottom + matrix[:, j]
    if horizontal:
        ax.set_yticks(pos, labels)
        ax.invert_yaxis()
    else:
        ax.set_xticks(pos, labels, rotation=30 if max(map(len, labels)) > 6 else 0,
                      ha="right" if max(map(len, labels)) > 6 else "center")
        if len(labels) <= 2:  # a lone bar need not fill the column
            ax.set_xlim(-1.5, len(labels) + 0.5)
    longest = max(len(p) for p in parts)
    ncol = min(len(parts), 5 if longest <= 8 else 4 if longest <= 12 else 3)
    ax.figure.legend(frameon=False, ncol=ncol, loc="outside upper center", handlelength=1.0, columnspacing=0.8)


def _breakdown_figure(designs: list[tuple[str, dict | None, float | None]], unit: str, quantity: str, base: float):
    """Stacked bars of a breakdown per design; a design with only a total gets one 'total' segment."""
    plt = _pyplot()
    usable = [(n, b, t) for n, b, t in designs if b or t is not None]
    if not usable:
        raise PlotSkipped(f"{quantity} is null in every input (not modelled in these reports)")
    parts = list(dict.fromkeys(p for _, b, _ in usable for p in (b or {})))
    if any(not b for _, b, _ in usable):
        parts.append("total (no breakdown)")
    matrix = np.zeros((len(usable), len(parts)))
    for i, (_, b, t) in enumerate(usable):
        if b:
            for part, v in b.items():
                matrix[i, parts.index(part)] = v or 0.0
        else:
            matrix[i, -1] = t
    div, u = _si(matrix.sum(axis=1), unit, base)
    fig, ax = plt.subplots(figsize=(COLUMN_IN[0], 2.4), layout="constrained")
    _stacked_bars(ax, [n for n, _, _ in usable], parts, matrix / div)
    ax.set_ylabel(f"{quantity} ({u})")
    return fig


def fig_energy(designs: list[tuple[str, dict | None, float | None]]):
    """Energy per design, stacked by component (pJ in the reports; the axis picks nJ/uJ/mJ)."""
    return _breakdown_figure(designs, "J", "energy", 1e-12)


def fig_area(designs: list[tuple[str, dict | None, float | None]]):
    """Area per design, stacked by component (mm^2)."""
    return _breakdown_figure(designs, "mm\u00b2", "area", 1.0)


def _short_op(op: dict) -> str:
    stage = op.get("stage", "encoder")
    full = op["name"]
    phase = op.get("phase")  # decoder runs: "prefill.L0.q_proj" -> "pre.q_proj"
    if phase and full.startswith(f"{phase}."):
        full = full[len(phase) + 1:]
    name = full.split(".", 1)[1] if "." in full else full
    short = name if stage in ("encoder", "decoder") else f"{stage[:3]}.{name}" if stage != "pooler" \
        else f"pooler.{name}"
    return f"{phase[:3]}.{short}" if phase else short


def fig_energy_ops(run: dict):
    """Energy per operator type (summed over layers), stacked by component; horizontal bars."""
    plt = _pyplot()
    ops = run.get("ops", [])
    if not any(op.get("energy_pj") is not None or op.get("energy_breakdown_pj") for op in ops):
        raise PlotSkipped("per-operator energy_pj is null (not modelled in this report)")
    totals: dict[str, dict[str, float]] = {}
    for op in ops:
        b = op.get("energy_breakdown_pj") or ({"total": op["energy_pj"]} if op.get("energy_pj") else {})
        acc = totals.setdefault(_short_op(op), {})
        for part, v in b.items():
            acc[part] = acc.get(part, 0.0) + (v or 0.0)
    names = [n for n, b in totals.items() if sum(b.values()) > 0]
    parts = list(dict.fromkeys(p for n in names for p in totals[n]))
    matrix = np.array([[totals[n].get(p, 0.0) for p in parts] for n in names])
    div, u = _si(matrix.sum(axis=1), "J", 1e-12)
    fig, ax = plt.subplots(figsize=(COLUMN_IN[0], 0.9 + 0.13 * len(names)), layout="constrained")
    _stacked_bars(ax, names, parts, matrix / div, horizontal=True)
    ax.set_xlabel(f"energy ({u}), summed over {run.get('workload')} layers")
    return fig


def fig_family(points: list[dict]):
    """Designs of a family side by side: latency vs energy (marker area proportional to the chip area) and
    latency vs area, one color and marker per design, named with its ``label`` (e.g. an accuracy figure) in the
    legend. ``points``:
    dicts with ``hw``, ``seconds``, ``energy_pj``, ``area_mm2`` and optionally ``label``."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7.2, 3.0))
    colors = _palette(len(points))
    amax = max((p["area_mm2"] or 0.0) for p in points) or 1.0
    markers = ["o", "s", "^", "D", "v", "P", "X", "*", "h"]
    for i, (p, c) in enumerate(zip(points, colors, strict=True)):
        ms, mj, mm2 = p["seconds"] * 1e3, p["energy_pj"] / 1e9, p["area_mm2"]
        legend = p["hw"] + (f": {p['label']}" if p.get("label") else "")
        m = markers[i % len(markers)]
        ax1.scatter([ms], [mj], s=30 + 300 * mm2 / amax, color=c, marker=m, alpha=0.6, edgecolors="black",
                    linewidths=0.4)
        ax2.scatter([ms], [mm2], s=40, color=c, marker=m, edgecolors="black", linewidths=0.4, label=legend)
    ax2.legend(loc="best", fontsize=5.5, frameon=True, framealpha=0.8)
    ax1.set_xlabel("latency (ms)")
    ax1.set_ylabel("energy (mJ)")
    ax1.set_title("latency vs energy (marker area ~ chip area)")
    ax2.set_xlabel("latency (ms)")
    ax2.set_ylabel("area (mm$^2$)")
    ax2.set_title("latency vs area")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
        ax.margins(0.25)
    fig.tight_layout()
    return fig


def save_family_plot(points: list[dict], out: str | Path) -> Path:
    """:func:`fig_family` written to ``out`` (PNG/SVG/PDF by its suffix)."""
    return _save(fig_family(points), Path(out))


def _layer_label(op: dict) -> str:
    stage = op.get("stage", "encoder")
    return f"L{op['layer']}" if stage in ("encoder", "decoder") else {"embeddings": "emb"}.get(stage, stage)


def fig_latency(run: dict):
    """Time per layer (embeddings, L0.., pooler), stacked by operator kind (cycles / clock_hz)."""
    plt = _pyplot()
    ops = run.get("ops", [])
    if not ops:
        raise PlotSkipped("the report has no ops")
    layers = list(dict.fromkeys(_layer_label(op) for op in ops))
    kinds = list(dict.fromkeys(op["kind"] for op in ops if op["cycles"] > 0))
    matrix = np.zeros((len(layers), len(kinds)))
    for op in ops:
        if op["cycles"] > 0:
            matrix[layers.index(_layer_label(op)), kinds.index(op["kind"])] += op["cycles"] / run["clock_hz"]
    div, u = _si(matrix.sum(axis=1), "s")
    fig, ax = plt.subplots(figsize=(COLUMN_IN[0], 2.4), layout="constrained")
    _stacked_bars(ax, layers, kinds, matrix / div)
    ax.set_xticks(range(len(layers)), layers, rotation=90 if len(layers) > 12 else 0, ha="center")
    ax.set_ylabel(f"time per layer ({u})")
    ax.set_xlabel(f"{run.get('hw')} on {run.get('workload')} (seq {run.get('seq_len')}, batch {run.get('batch')}); "
                  f"total {run['seconds'] / _si([run['seconds']], 's')[0]:.3g} {_si([run['seconds']], 's')[1]}")
    return fig


def fig_speedup(compare: dict):
    """Speedup and energy efficiency of each design against the compare report's baseline (x, higher is better)."""
    plt = _pyplot()
    designs = compare.get("designs", [])
    if not designs:
        raise PlotSkipped("the compare report has no designs")
    names = [d["hw"] for d in designs]
    speed = np.array([d.get("speedup") or np.nan for d in designs], dtype=float)
    eff = np.array([d["energy_efficiency"] if d.get("energy_efficiency") is not None else np.nan for d in designs],
                   dtype=float)
    have_eff = bool(np.isfinite(eff).any())
    fig, ax = plt.subplots(figsize=(COLUMN_IN[0], 2.2), constrained_layout=True)
    pos = np.arange(len(names))
    w = 0.38 if have_eff else 0.6
    colors = _palette(2)
    ax.bar(pos - (w / 2 if have_eff else 0), speed, w, color=colors[0], label="speedup (time)")
    if have_eff:
        ax.bar(pos + w / 2, eff, w, color=colors[1], label="energy efficiency")
    for x, v in zip(pos - (w / 2 if have_eff else 0), speed):
        if np.isfinite(v):
            ax.text(x, v, f"{v:.2f}", ha="center", va="bottom", fontsize=5.5)
    if have_eff:
        for x, v in zip(pos + w / 2, eff):
            if np.isfinite(v):
                ax.text(x, v, f"{v:.2f}", ha="center", va="bottom", fontsize=5.5)
    ax.axhline(1.0, color="0.3", lw=0.6, ls="--")
    ax.set_xticks(pos, names, rotation=20, ha="right")
    ax.set_ylabel(f"relative to {compare.get('baseline')} (\u00d7)")
    iso = compare.get("iso", "none")
    iso_note = "" if iso in (None, "none") else f", iso-{iso}"
    ax.set_title(f"{compare.get('workload')} (seq {compare.get('seq_len')}, batch {compare.get('batch')}){iso_note}")
    if not have_eff:
        ax.text(0.99, 0.98, "energy efficiency: energy not modelled", transform=ax.transAxes, ha="right",
                va="top", fontsize=5.5, color="0.35")
    ax.set_ylim(0, np.nanmax(np.r_[speed, eff if have_eff else []]) * 1.18)
    ax.legend(frameon=False, loc="upper left")
    return fig


def fig_roofline(run: dict):
    """Roofline of one run: each matmul operator at (MACs per DRAM byte, achieved MACs/cycle) under the roof."""
    plt = _pyplot()
    peak, bpc = run.get("peak_macs_per_cycle"), run.get("dram_bytes_per_cycle")
    ops = [op for op in run.get("ops", []) if op.get("macs", 0) > 0 and op.get("cycles", 0) > 0]
    if not ops or not peak or not bpc:
        raise PlotSkipped("no operator with MACs, or no peak_macs_per_cycle / dram_bytes_per_cycle")
    traffic = np.array([op["dram_read_bytes"] + op["dram_write_bytes"] for op in ops], dtype=float)
    macs = np.array([op["macs"] for op in ops], dtype=float)
    achieved = macs / np.array([op["cycles"] for op in ops], dtype=float)
    ridge = peak / bpc
    has = traffic > 0
    oi = np.where(has, macs / np.where(has, traffic, 1), np.nan)
    finite = oi[has]
    x_lo = min(float(finite.min()) if finite.size else ridge, ridge) / 3
    x_hi = max(float(finite.max()) if finite.size else ridge, ridge) * 3
    edge = x_hi * 1.6  # ops that move no DRAM bytes: intensity is unbounded, drawn at the right edge
    fig, ax = plt.subplots(figsize=(COLUMN_IN[0], 2.5), constrained_layout=True)
    xs = np.geomspace(x_lo, edge * 1.3, 200)
    ax.plot(xs, np.minimum(peak, bpc * xs), color="0.15", lw=1.0, label=f"roof: {peak:,} MACs/cycle, {bpc:.3g} B/cycle")
    ax.axvline(ridge, color="0.6", lw=0.5, ls=":")
    ax.text(ridge, peak * 1.05, f"ridge {ridge:.3g}", fontsize=5.5, ha="center", va="bottom", color="0.35")
    kinds = list(dict.fromkeys(op["kind"] for op in ops))
    colors = dict(zip(kinds, _palette(len(kinds))))
    for kind in kinds:
        sel = np.array([op["kind"] == kind for op in ops])
        ax.scatter(oi[sel & has], achieved[sel & has], s=9, color=colors[kind], label=kind, alpha=0.8,
                   edgecolors="none")
        if (sel & ~has).any():
            ax.scatter(np.full(int((sel & ~has).sum()), edge), achieved[sel & ~has], s=12, marker=">",
                       color=colors[kind], edgecolors="none", alpha=0.8)
    if (~has).any():
        ax.scatter([], [], marker=">", color="0.4", s=12, label="0 DRAM bytes (right edge)")
    above = has & (achieved > np.minimum(peak, bpc * np.nan_to_num(oi, nan=np.inf)) * 1.001)
    if above.any():  # the per-operator roof assumes an operator's bytes move during its own cycles
        ax.plot([], [], " ", label=f"{int(above.sum())} above roof (loads prefetched)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_lo, edge * 1.3)
    ax.set_ylim(max(achieved.min() / 3, 1e-3), peak * 2.2)
    _log_axis(ax, "x")
    _log_axis(ax, "y")
    ax.set_xlabel("operational intensity (MACs / DRAM byte)")
    ax.set_ylabel("achieved MACs / cycle")
    ax.set_title(f"{run.get('hw')} on {run.get('workload')} (seq {run.get('seq_len')}, batch {run.get('batch')})")
    ax.legend(frameon=False, loc="upper left", fontsize=5.5)  # above the sloped roof: no operator lives there
    return fig


def _swept_columns(df) -> list[str]:
    cols = list(df.columns)
    end = cols.index("cycles") if "cycles" in cols else len(cols)
    return [c for c in cols[1:end]]


def _metric_label(metric: str, values) -> tuple[float, str]:
    """(divisor, axis label with unit) for a results column."""
    if metric == "seconds":
        div, u = _si(values, "s")
        return div, f"latency ({u})"
    if metric.endswith("_pj"):
        div, u = _si(values, "J", 1e-12)
        return div, f"{metric[:-3].replace('_', ' ')} ({u})"
    if metric.endswith("_bytes"):
        div, u = _si(values, "B")
        return div, f"{metric[:-6].replace('_', ' ')} ({u})"
    if metric.endswith("_mm2"):
        return 1.0, f"{metric[:-4].replace('_', ' ')} (mm\u00b2)"
    if metric.endswith("_cycles") or metric == "cycles":
        div, u = _si(values, "cycles")
        return div, f"{metric.replace('_', ' ')} ({u})"
    if metric == "utilization":
        return 1.0, "utilization (fraction of peak)"
    if metric == "peak_macs_per_cycle":
        return 1.0, "peak compute (MACs / cycle)"
    if metric == "macs":
        div, u = _si(values, "MACs")
        return div, f"work ({u})"
    return 1.0, metric


def _numeric(df, col):
    import pandas as pd

    return pd.to_numeric(df[col], errors="coerce")


def fig_pareto(df, metrics: tuple[str, str] = ("seconds", "energy_pj"), title: str = ""):
    """Scatter of two metrics (default latency vs energy), coloured by area (else by the first numeric swept key),
    the Pareto front (both minimised) drawn as a line through its points; one front per task (workload/seq/batch)."""
    from sim.sweeps.pareto import pareto_front

    plt = _pyplot()
    x, y = metrics
    for m in metrics:
        if m not in df.columns:
            raise PlotSkipped(f"no column {m!r} in the results")
    ok = df[(df.get("status", "ok") == "ok")] if "status" in df.columns else df
    ok = ok[_numeric(ok, x).notna() & _numeric(ok, y).notna()]
    if ok.empty:
        null = [m for m in metrics if _numeric(df, m).isna().all()]
        why = f"{', '.join(null)} is null in every row (not modelled)" if null else "no finished point"
        raise PlotSkipped(f"{why}; choose other axes with --metrics, e.g. --metrics seconds dram_read_bytes")
    swept = _swept_columns(df)
    tasks = [c for c in swept if c in TASK_KEYS and ok[c].nunique() > 1]
    color_col: str | None = "area_mm2"
    color_label = "area (mm\u00b2)"
    if _numeric(ok, "area_mm2").isna().all() if "area_mm2" in ok.columns else True:
        numeric = [c for c in swept if c not in tasks and _numeric(ok, c).notna().all() and ok[c].nunique() > 1]
        color_col = numeric[0] if numeric else None
        color_label = f"{color_col} (area not modelled)" if color_col else ""
    dx, lx = _metric_label(x, _numeric(ok, x))
    dy, ly = _metric_label(y, _numeric(ok, y))
    fig, ax = plt.subplots(figsize=(COLUMN_IN[0], 2.6), constrained_layout=True)
    markers = "osD^v<>P"
    groups = list(ok.groupby(tasks, sort=True)) if tasks else [((), ok)]
    sc = None
    for gi, (key, g) in enumerate(groups):
        feas = g["feasible"].map(lambda v: v is not False) if "feasible" in g.columns else np.ones(len(g), bool)
        feas = np.asarray(feas, dtype=bool)
        cvals = _numeric(g, color_col) if color_col else None
        kw: dict[str, Any] = dict(c=cvals, cmap="viridis") if cvals is not None else dict(color="tab:blue")
        if cvals is not None:
            kw.update(vmin=float(_numeric(ok, color_col).min()), vmax=float(_numeric(ok, color_col).max()))
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{k}={v}" for k, v in zip(tasks, key)) if tasks else None
        sc = ax.scatter(_numeric(g, x)[feas] / dx, _numeric(g, y)[feas] / dy, s=10, marker=markers[gi % len(markers)],
                        edgecolors="none", alpha=0.85,
                        **({k: (v[feas] if k == "c" else v) for k, v in kw.items()}))
        if label:  # a neutral legend entry: the colour encodes area (or a swept key), the marker the task
            ax.scatter([], [], s=10, marker=markers[gi % len(markers)], color="0.45", label=label)
        if (~feas).any():
            ax.scatter(_numeric(g, x)[~feas] / dx, _numeric(g, y)[~feas] / dy, s=10, marker="x", color="0.6", lw=0.6,
                       label="violates a metric constraint" if gi == 0 else None)
        front = pareto_front(g, [x, y])
        ax.plot(_numeric(front, x) / dx, _numeric(front, y) / dy, color="crimson", lw=0.8, zorder=3,
                label="Pareto front" if gi == 0 else None)
        ax.scatter(_numeric(front, x) / dx, _numeric(front, y) / dy, s=22, facecolors="none", edgecolors="crimson",
                   lw=0.8, zorder=4, marker=markers[gi % len(markers)])
    if color_col and sc is not None:
        cb = fig.colorbar(sc, ax=ax, pad=0.01)
        cb.set_label(color_label)
    xs, ys = _numeric(ok, x), _numeric(ok, y)
    if xs.min() > 0 and xs.max() / xs.min() >= 8:
        _log_axis(ax, "x")
    if ys.min() > 0 and ys.max() / ys.min() >= 8:
        _log_axis(ax, "y")
    ax.set_xlabel(lx)
    ax.set_ylabel(ly)
    if title:
        ax.set_title(title)
    ax.legend(frameon=False, fontsize=5.5, loc="best")
    return fig


def _determined(df, key: str, by: list[str]) -> bool:
    """True if ``key`` has one value for every combination of ``by`` (it adds no line of its own)."""
    if not by:
        return df[key].nunique() <= 1
    return bool((df.groupby(by, sort=False)[key].nunique() <= 1).all())


def fig_sweep(df, metric: str = "seconds", x: str | None = None, title: str = ""):
    """A metric against one numeric swept key, one line per combination of the other swept keys (<= 12).

    ``x`` defaults to the numeric swept key with the most distinct values (first in spec order on ties);
    a swept key fixed by ``x`` and the keys already on the lines (e.g. ``compute.cols`` when the spec
    constrains it to ``compute.rows``, or a linked key) draws no lines of its own.
    """
    plt = _pyplot()
    ok = df[df["status"] == "ok"] if "status" in df.columns else df
    if metric not in ok.columns:
        raise PlotSkipped(f"no column {metric!r} in the results")
    if _numeric(ok, metric).isna().all():
        raise PlotSkipped(f"{metric} is null in every row (not modelled)")
    swept = [c for c in _swept_columns(ok) if ok[c].nunique() > 1]
    numeric = [c for c in swept if _numeric(ok, c).notna().all()]
    if x is None:
        if not numeric:
            raise PlotSkipped("no numeric swept key with more than one value to put on the x axis")
        x = max(numeric, key=lambda c: (ok[c].nunique(), -numeric.index(c)))
    elif x not in numeric:
        raise PlotSkipped(f"--x {x}: not a numeric swept key with several values (those: {', '.join(numeric)})")
    lines: list[str] = []
    for c in swept:
        if c != x and not _determined(ok, c, [x, *lines]):
            lines.append(c)
    groups = list(ok.groupby(lines, sort=True)) if lines else [((), ok)]
    if len(groups) > 12:
        raise PlotSkipped(f"{len(groups)} lines (combinations of {', '.join(lines)}); at most 12: choose --x")
    linked = [c for c in swept if c != x and c not in lines and lines and _determined(ok, c, lines)]
    dy, ly = _metric_label(metric, _numeric(ok, metric))
    fig, ax = plt.subplots(figsize=(COLUMN_IN[0], 2.5 if len(groups) <= 4 else 2.5 + 0.09 * len(groups)),
                           layout="constrained")
    colors = _palette(len(groups))
    markers = "os^Dv<>P*X"
    for i, ((key, g), color) in enumerate(zip(groups, colors)):
        g = g.assign(_x=_numeric(g, x)).sort_values("_x")
        key = key if isinstance(key, tuple) else (key,)
        parts = [*zip(lines, key), *((c, g[c].iloc[0]) for c in linked)]
        label = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in parts) or None
        ax.plot(g["_x"], _numeric(g, metric) / dy, marker=markers[i % len(markers)], ms=2.5, lw=0.9, color=color,
                label=label)
    xs = _numeric(ok, x)
    if xs.min() > 0 and xs.max() / xs.min() >= 8:
        ax.set_xscale("log", base=2)
        ticks = sorted(xs.unique())
        ax.set_xticks(ticks, [_tick(v) for v in ticks])
        ax.minorticks_off()
    ys = _numeric(ok, metric)
    if ys.min() > 0 and ys.max() / ys.min() >= 8:
        _log_y(ax)
    ax.set_xlabel(_key_label(x))
    ax.set_ylabel(ly)
    if title:
        ax.set_title(title)
    if lines and len(groups) > 4:
        fig.legend(frameon=False, fontsize=5.5, ncol=2, loc="outside lower center")
    elif lines:
        ax.legend(frameon=False, fontsize=5.5, loc="best")
    return fig


def _log_y(ax) -> None:
    """Log y axis with plain-number tick labels (2, 5, 10, 20 rather than 2x10^0)."""
    _log_axis(ax, "y")


def _log_axis(ax, which: str) -> None:
    """Log scale on ``which`` ("x" or "y") with plain-number ticks at 1, 2, 5 x 10^k inside the data range."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    lo, hi = ax.get_xlim() if which == "x" else ax.get_ylim()
    wide = hi / lo > 2e3  # more than ~3 decades: label the powers of ten only
    for mantissas in ((1,), (1, 2, 5), (1, 2, 3, 5), (1, 1.5, 2, 3, 4, 5, 6, 8))[0 if wide else 1:]:
        ticks = [m * 10.0 ** e for e in range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1)
                 for m in mantissas if lo <= m * 10.0 ** e <= hi]
        if len(ticks) >= (3 if mantissas == (1,) else 4):
            break
    axis = ax.xaxis if which == "x" else ax.yaxis
    if len(ticks) >= 2:
        axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


def _tick(v: float) -> str:
    """Compact tick label: 262144 -> 256Ki, 4096 -> 4Ki, 32 -> 32."""
    v = float(v)
    for div, suffix in ((2**30, "Gi"), (2**20, "Mi"), (2**10, "Ki")):
        if v >= div and v % div == 0:
            return f"{int(v // div)}{suffix}"
    return f"{v:g}"


def _key_label(key: str) -> str:
    """An axis label for a swept key, with its unit where the key name gives one."""
    if key.endswith("_bytes"):
        return f"{key} (bytes)"
    if key.endswith("_hz"):
        return f"{key} (Hz)"
    if key.endswith("_nm"):
        return f"{key} (nm)"
    if key == "seq_len":
        return "sequence length (tokens)"
    return key


def histogram_for_run(run: dict, path: Path) -> Path:
    """The GOBO weight histogram (first FFN1 weight) of the synthetic weights a run used (re-quantized; cached)."""
    from sim import api
    from sim.config.loader import build_spec
    from sim.workload.spec import WorkloadSpec

    w = (run.get("config") or {}).get("hw", {}).get("weights", {})
    if w.get("format") != "gobo":
        raise PlotSkipped(f"{run.get('hw')} does not store GOBO-quantized weights")
    if any("checkpoint" in n for n in run.get("notes", []) if "GOBO weights" in n):
        raise PlotSkipped("this run used a checkpoint; use sim quantize --weights FILE --plot OUT.png")
    wl = build_spec(WorkloadSpec, run["config"]["workload"], "run report")
    model = api.quantize(wl, bits=w.get("bits", 3), embedding_bits=w.get("embedding_bits", 4),
                         outlier_threshold=w.get("outlier_threshold", -4.0), seed=w.get("seed", 0))
    names = [n for n in model.order if n in model.packed and ".intermediate." in n] or list(model.packed)
    values = api.tensor_values(names[0], workload=wl, seed=w.get("seed", 0))
    return plot_weight_histogram(values, model.packed[names[0]], path)


def _check_frame(df, source: str) -> None:
    """Sweep results: every numeric cell finite (or empty) and within the reports' range."""
    from sim.errors import SimInputError
    from sim.results.base import MAX_REPORT_VALUE

    for col in df.columns:
        if df[col].dtype.kind in "fiu":
            values = df[col].to_numpy(dtype=float)
            bad = ~np.isnan(values) & ~(np.abs(values) <= MAX_REPORT_VALUE)
            if bad.any():
                raise SimInputError(f"{source}: column {col}: {values[bad][0]} is out of range (at most "
                                    f"{MAX_REPORT_VALUE:g} in magnitude)")


def _escape_names(data: Any) -> None:
    """Design and workload names drawn in figures and printed: control characters shown as escapes."""
    from sim.errors import one_line

    if not isinstance(data, dict):
        return
    for item in [data, *(d for d in data.get("designs") or [] if isinstance(d, dict))]:
        for key in ("hw", "workload", "baseline"):
            if isinstance(item.get(key), str):
                item[key] = one_line(item[key])


def load_plot_inputs(paths: list[str | Path]) -> tuple[str, dict]:
    """Classify the inputs: ("sweep", {frame, name}) | ("runs", {runs}) | ("compare", {compare}).

    Raises:
        SimInputError: a missing or unrecognised file, or a mix of kinds.
    """
    import json

    from sim.errors import SimInputError
    from sim.results.base import check_numbers
    from sim.sweeps.store import RESULTS, read_results

    if not paths:
        raise SimInputError("plot: give a sweep directory, a results.csv, run JSONs or a compare JSON")
    kinds, runs, compare, frame, name = [], [], None, None, ""
    for p in map(Path, paths):
        if p.is_dir():
            p = p / RESULTS
            if not p.is_file():
                raise SimInputError(f"{p.parent}: no {RESULTS} in this directory (not a sweep output directory)")
        if not p.is_file():
            raise SimInputError(f"{p}: no such file")
        if p.suffix == ".csv":
            try:
                frame = read_results(p)
            except (ValueError, OSError, UnicodeDecodeError) as exc:
                raise SimInputError(f"{p}: not readable sweep results ({type(exc).__name__})") from None
            if "point_id" not in frame.columns or "status" not in frame.columns:
                raise SimInputError(f"{p}: not sweep results (no point_id/status columns)")
            _check_frame(frame, str(p))
            name = p.parent.name
            kinds.append("sweep")
            continue
        try:
            data = json.loads(p.read_text())
        except RecursionError:
            raise SimInputError(f"{p}: not a JSON report (nested too deeply)") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise SimInputError(f"{p}: not a JSON report ({str(exc)[:200]})") from None
        check_numbers(data, str(p))
        _escape_names(data)
        if isinstance(data, dict) and "designs" in data:
            compare = data
            kinds.append("compare")
        elif isinstance(data, dict) and "ops" in data and "cycles" in data:
            runs.append(data)
            kinds.append("runs")
        else:
            raise SimInputError(f"{p}: neither a run report (ops, cycles) nor a compare report (designs)")
    if len(set(kinds)) > 1 or kinds.count("sweep") > 1 or kinds.count("compare") > 1:
        raise SimInputError("plot: give one sweep (DIR or results.csv), one compare JSON, or run JSONs, not a mix")
    kind = kinds[0]
    return kind, {"frame": frame, "name": name, "runs": runs, "compare": compare}


def make_plots(inputs: list[str | Path], out_dir: str | Path, kinds: list[str] | None = None, fmt: str = "png",
               metrics: list[str] | None = None, x: str | None = None,
               y: str | None = None) -> tuple[list[Path], list[str]]:
    """Draw the requested figures (default: all the input supports) into ``out_dir`` as ``<kind>.<fmt>``.

    ``metrics``: the pareto plot's two axes (default seconds, energy_pj; other choices go to
    ``pareto-X-Y.<fmt>``). ``x``/``y``: the sweep plot's swept key and metric (default: the numeric key with
    the most values; seconds).

    Returns (files written, "kind: reason" of every figure skipped for lack of data).

    Raises:
        SimInputError: bad inputs, a kind the input cannot give, a bad format or metric list.
    """
    from sim.errors import SimInputError

    if fmt not in ("png", "svg", "pdf"):
        raise SimInputError(f"--format: must be png, svg or pdf, got {fmt!r}")
    source, data = load_plot_inputs(inputs)
    allowed = APPLICABLE[source]
    wanted = list(dict.fromkeys(kinds)) if kinds else list(allowed)
    bad = [k for k in wanted if k not in allowed]
    if bad:
        what = {"sweep": "sweep results", "runs": "run reports", "compare": "a compare report"}[source]
        raise SimInputError(f"--kind {bad[0]}: not available from {what} (available: {', '.join(allowed)})")
    if metrics is not None and len(metrics) != 2:
        raise SimInputError(f"--metrics: give two metrics (x y), got {len(metrics)}")
    out = Path(out_dir)
    written: list[Path] = []
    skipped: list[str] = []
    runs = data["runs"]

    def label(run: dict) -> str:
        one_workload = len({r.get("workload") for r in runs}) <= 1
        return run.get("hw", "?") if one_workload else f"{run.get('hw')}/{run.get('workload')}"

    jobs: list[tuple[str, str, object]] = []  # (kind, file stem, thunk)
    for kind in wanted:
        if kind in ("energy", "area"):
            if source == "compare":
                key = "energy_breakdown_pj" if kind == "energy" else "area_breakdown_mm2"
                tot = "energy_pj" if kind == "energy" else "area_mm2"
                designs = [(d["hw"], d.get(key), d.get(tot)) for d in data["compare"]["designs"]]
            else:
                key = "energy_breakdown_pj" if kind == "energy" else "area_breakdown_mm2"
                tot = "energy_pj" if kind == "energy" else "area_mm2"
                designs = [(label(r), r.get(key), r.get(tot)) for r in runs]
            fn = fig_energy if kind == "energy" else fig_area
            jobs.append((kind, kind, lambda fn=fn, designs=designs: fn(designs)))
        elif kind in ("energy-ops", "latency", "roofline", "histogram"):
            run_fig = {"energy-ops": fig_energy_ops, "latency": fig_latency, "roofline": fig_roofline,
                       "histogram": None}[kind]
            for r in runs:
                stem = kind if len(runs) == 1 else f"{kind}-{label(r).replace('/', '-')}"  # made safe below
                if kind == "histogram":
                    jobs.append((kind, stem, ("histogram", r)))
                else:
                    jobs.append((kind, stem, lambda fn=run_fig, r=r: fn(r)))
        elif kind == "speedup":
            jobs.append((kind, kind, lambda: fig_speedup(data["compare"])))
        elif kind == "pareto":
            m = tuple(metrics) if metrics else ("seconds", "energy_pj")
            stem = "pareto" if m == ("seconds", "energy_pj") else f"pareto-{m[0]}-{m[1]}"
            jobs.append((kind, stem, lambda m=m: fig_pareto(data["frame"], m, data["name"])))
        elif kind == "sweep":
            metric = y or "seconds"
            stem = "sweep" if metric == "seconds" and x is None else f"sweep-{metric}" + (f"-vs-{x}" if x else "")
            jobs.append((kind, stem, lambda metric=metric: fig_sweep(data["frame"], metric, x, data["name"])))
    stems = unique_stems([safe_stem(stem) for _, stem, _ in jobs])
    for (_, _, job), stem in zip(jobs, stems):
        path = out / f"{stem}.{fmt}"
        try:
            if isinstance(job, tuple):
                written.append(histogram_for_run(job[1], path))
            else:
                written.append(_save(job(), path))  # type: ignore[operator]
        except PlotSkipped as exc:
            skipped.append(f"{stem}: {exc}")
    return written, skipped
