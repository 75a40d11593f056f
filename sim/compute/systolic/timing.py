"""TPU-like systolic array (``compute.kind: systolic``): fold plan and closed-form timing.

A ``rows x cols`` grid of int8 MAC PEs with int32 partial sums computes ``C[M, N] = A[M, K] @ B[K, N]``. One
operand block is pinned in the PEs ("stationary"): a *fold*; the other streams through as ``T`` skewed
vectors. ``R = rows``, ``C = cols``, ``F = ceil(row_extent / R) * ceil(col_extent / C)`` folds,
``L = R + C + T - 2``:

=========  ==============  ==============  ======  ==========  ===========================
dataflow   stationary      PE rows <- dim  cols    stream T    folds F
=========  ==============  ==============  ======  ==========  ===========================
``ws``     B (K x N blk)   K               N       M           ceil(K/R) * ceil(N/C)
``is``     A^T (K x M blk) K               M       N           ceil(K/R) * ceil(M/C)
``os``     C (M x N blk)   M               N       K           ceil(M/R) * ceil(N/C)
=========  ==============  ==============  ======  ==========  ===========================

GEMM cycles by fold schedule (``compute.fold_schedule``), ``P = max(T, R)``:

===================  ===========================  =============================================================
schedule             cycles                        what overlaps
===================  ===========================  =============================================================
``serial``           ``F * (2R + C + T - 2)``      nothing: each fold transfers its stationary block, then runs
``preload-overlap``  ``F * (R + C + T - 2) + R``   a fold's transfer runs in shadow registers under its
                                                   neighbour's compute; folds never overlap their fill/drain
``pipelined``        ``R + (F - 1) P + L``         folds back to back: the next block shifts in behind the
                                                   current wavefront (TPUv1), one fold starts every P cycles
``scalesim``         ws/is ``F (2R + C + T - 2) - 1``, os ``F (R + C + T - 2) - 1``: SCALE-Sim 3.0.0's count
===================  ===========================  =============================================================

The micro-architecture, the choices (edge folds charged the full array, ...), the action counts and the
sources are in ``docs/hw/systolic.md``; the per-cycle reference these are proven against is :mod:`.stepper`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

from sim.hw.timing import TileTiming

Dataflow = Literal["ws", "os", "is"]
DATAFLOWS: tuple[str, ...] = ("ws", "os", "is")
FOLD_SCHEDULES: tuple[str, ...] = ("preload-overlap", "serial", "pipelined", "scalesim")
"""How consecutive folds of one GEMM share the array (see the module docstring)."""

OPERAND_BITS = 8
"""Width of an A or B operand register (unit: bits)."""
ACC_BITS = 32
"""Width of a partial-sum / accumulator register (unit: bits)."""
INT8_MIN, INT8_MAX = -(2**7), 2**7 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _check_pos_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class SystolicParams:
    """Specification of one systolic array.

    Attributes:
        rows: PE rows R (unit: PEs). ws/is: the K-slice of a fold; os: the M-slice.
        cols: PE columns C (unit: PEs). ws: the N-slice; is: the M-slice; os: the N-slice.
        dataflow: ``"ws"`` weight-stationary (default, TPUv1), ``"os"`` output-stationary,
            ``"is"`` input-stationary.
        schedule: how consecutive folds share the array (:data:`FOLD_SCHEDULES`):
            ``"preload-overlap"`` (default): the stationary operand of a fold is transferred through
            shadow (ping-pong) PE registers while the neighbouring fold computes (ws/is: preload of the
            next fold's block; os: drain of the previous fold's results), so only one R-cycle transfer
            per GEMM is exposed, but each fold pays its own skew fill and drain. ``"serial"``: every fold
            pays its own R-cycle transfer too (``2R + C + T - 2`` per fold). ``"pipelined"``: the next
            fold's block shifts in right behind the current fold's first wavefront and its stream follows
            the current one back to back (TPUv1's double-buffered weights), one fold every
            ``max(T, R)`` cycles. ``"scalesim"``: SCALE-Sim 3.0.0's reported compute cycles.
    """

    rows: int
    cols: int
    dataflow: Dataflow = "ws"
    schedule: str = "preload-overlap"

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", _check_pos_int("SystolicParams.rows", self.rows))
        object.__setattr__(self, "cols", _check_pos_int("SystolicParams.cols", self.cols))
        if self.dataflow not in DATAFLOWS:
            raise ValueError(f"SystolicParams.dataflow must be one of {DATAFLOWS}, got {self.dataflow!r}")
        if self.schedule not in FOLD_SCHEDULES:
            raise ValueError(f"SystolicParams.schedule must be one of {FOLD_SCHEDULES}, got {self.schedule!r}")

    @property
    def weight_preload_overlap(self) -> bool:
        """True when a fold's stationary transfer is hidden in shadow registers (double-buffered PEs)."""
        return self.schedule in ("preload-overlap", "pipelined")


def systolic_peak_macs_per_cycle(params: SystolicParams) -> int:
    """Peak throughput of the array: ``rows * cols`` (unit: MACs per cycle)."""
    return params.rows * params.cols


# --------------------------------------------------------------------------------------------------
# Fold mapping and closed form
# --------------------------------------------------------------------------------------------------

_DIMS: dict[str, tuple[str, str, str, str]] = {
    # dataflow: (dim on PE rows, dim on PE cols, streamed dim, stationary operand)
    "ws": ("K", "N", "M", "B"),
    "is": ("K", "M", "N", "A"),
    "os": ("M", "N", "K", "C"),
}


def _extents(dataflow: str, m: int, k: int, n: int) -> tuple[int, int, int]:
    """(row extent, column extent, stream length T) of the GEMM under ``dataflow`` (unit: elements)."""
    sizes = {"M": m, "K": k, "N": n}
    row_dim, col_dim, stream_dim, _ = _DIMS[dataflow]
    return sizes[row_dim], sizes[col_dim], sizes[stream_dim]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _sum_tri(extent: int, size: int) -> int:
    """Sum over the folds of one dimension of ``u (u + 1) / 2``, u = used size of the fold."""
    q, e = divmod(extent, size)
    return q * size * (size + 1) // 2 + e * (e + 1) // 2


def _fold_reg_bits(dataflow: str, r_arr: int, c_arr: int, r: int, c: int, t: int) -> int:
    """Valid register bits written by one fold using ``r x c`` of an ``r_arr x c_arr`` array (unit: bits)."""
    if dataflow == "os":
        fwd = OPERAND_BITS * t * (r * c_arr + c * r_arr)  # A forwarded across all cols, B down all rows
        acc = ACC_BITS * t * r * c  # one accumulator write per MAC
        drain = ACC_BITS * c * (r_arr * r - r * (r + 1) // 2)  # sum_{i<r} (R - 1 - i) hops
        return fwd + acc + drain
    preload = OPERAND_BITS * c * r * (r + 1) // 2  # weight for row i hops through rows 0..i
    fwd = OPERAND_BITS * t * r * c_arr  # streamed operand forwarded across all C columns
    psum = ACC_BITS * t * c * r_arr  # partial sum latched in every one of the R rows
    return preload + fwd + psum


def _fold_actions(
    dataflow: str, r_arr: int, c_arr: int, r: int, c: int, t: int, row_fold: int
) -> dict[str, int]:
    """Action counts of one fold (see the module docstring for their meaning)."""
    adds = t * c if (dataflow != "os" and row_fold > 0) else 0
    return {
        "mac_int8": t * r * c,
        "add_int32": adds,
        "reg_bits": _fold_reg_bits(dataflow, r_arr, c_arr, r, c, t),
    }


def _check_gemm(m: int, k: int, n: int) -> tuple[int, int, int]:
    return _check_pos_int("M", m), _check_pos_int("K", k), _check_pos_int("N", n)


def _schedule_cycles(schedule: str, dataflow: str, r: int, c: int, t: int, folds: int) -> int:
    """Cycles of ``folds`` folds of stream length ``t`` on an ``r x c`` array under ``schedule``."""
    fill_drain = r + c + t - 2  # L: one fold's skewed stream through the array
    if schedule == "serial":
        return folds * (fill_drain + r)
    if schedule == "preload-overlap":
        return folds * fill_drain + r
    if schedule == "pipelined":
        return r + (folds - 1) * max(t, r) + fill_drain
    # scalesim: its os folds charge no drain; its count is one less than the folds' cycles
    per_fold = fill_drain if dataflow == "os" else fill_drain + r
    return folds * per_fold - 1


def systolic_gemm_timing(params: SystolicParams, M: int, K: int, N: int) -> TileTiming:
    """Closed-form compute timing of ``C[M, N] = A[M, K] @ B[K, N]`` on the array, O(1).

    Args:
        params: the array.
        M, K, N: GEMM dimensions (unit: elements), each >= 1.

    Returns:
        ``TileTiming``: ``cycles`` (unit: clock cycles) from the first stationary/streamed operand
        entering the array to the last result reaching the output accumulators, equal to the
        per-cycle stepper's count; ``actions`` ``mac_int8``, ``add_int32``, ``reg_bits``.
    """
    m, k, n = _check_gemm(M, K, N)
    r_arr, c_arr, df = params.rows, params.cols, params.dataflow
    dr, dc, t = _extents(df, m, k, n)
    fr, fc = _ceil_div(dr, r_arr), _ceil_div(dc, c_arr)
    folds = fr * fc
    cycles = _schedule_cycles(params.schedule, df, r_arr, c_arr, t, folds)
    # Sum of the per-fold counts over all folds; the sum of used sizes is the extent itself.
    if df == "os":
        reg_bits = (
            OPERAND_BITS * t * (c_arr * dr * fc + r_arr * dc * fr)
            + ACC_BITS * t * dr * dc
            + ACC_BITS * dc * (r_arr * dr - _sum_tri(dr, r_arr))
        )
        adds = 0
    else:
        reg_bits = (
            OPERAND_BITS * dc * _sum_tri(dr, r_arr)
            + OPERAND_BITS * t * c_arr * dr * fc
            + ACC_BITS * t * r_arr * dc * fr
        )
        adds = (fr - 1) * t * dc
    return TileTiming(cycles, {"mac_int8": m * k * n, "add_int32": adds, "reg_bits": reg_bits})


def systolic_utilization(params: SystolicParams, M: int, K: int, N: int) -> float:
    """Useful-MAC utilization of the GEMM: ``M*K*N / (cycles * rows * cols)`` (unit: fraction, 0..1; under the
    ``scalesim`` schedule's os count it can exceed 1, or divide by zero, on a 1 x 1 array, as SCALE-Sim does)."""
    timing = systolic_gemm_timing(params, M, K, N)
    return (M * K * N) / (timing.cycles * systolic_peak_macs_per_cycle(params))


@dataclass(frozen=True)
class SystolicFold:
    """One fold: the block pinned in the array and its timing.

    Ranges are half-open ``(start, stop)`` element ranges of the GEMM dimensions; the streamed
    dimension covers its full range.
    """

    index: int
    """Position in the execution order (col folds outer, row folds inner, as in SCALE-Sim)."""
    row_fold: int
    """Index of the fold along the PE-row dimension (ws/is: K-slice; os: M-slice)."""
    col_fold: int
    """Index of the fold along the PE-column dimension (ws/os: N-slice; is: M-slice)."""
    m_range: tuple[int, int]
    k_range: tuple[int, int]
    n_range: tuple[int, int]
    rows_used: int
    """PE rows holding real data (unit: PEs); the fold is still charged the full array."""
    cols_used: int
    """PE columns holding real data (unit: PEs)."""
    timing: TileTiming
    """Cycles this fold adds to the sequence under the schedule (unit: clock cycles; the folds' cycles sum to
    the GEMM's; includes the exposed R-cycle preload on the first fold (ws/is) or drain on the last fold
    (os) under preload-overlap and pipelined) and its actions (including
    the reg_bits of its own preload/drain, whenever that transfer happens)."""


@dataclass(frozen=True)
class SystolicFoldPlan:
    """Fold decomposition of one GEMM on one array; ``sum(f.timing for f in folds()) == timing``."""

    params: SystolicParams
    m: int
    k: int
    n: int
    row_dim: str
    """GEMM dimension mapped to PE rows ("K" for ws/is, "M" for os)."""
    col_dim: str
    """GEMM dimension mapped to PE columns ("N" for ws/os, "M" for is)."""
    stream_dim: str
    """GEMM dimension streamed in time ("M" ws, "N" is, "K" os)."""
    stationary_operand: str
    """Operand pinned in the PEs: "B" (ws), "A" (is, transposed), "C" (os)."""
    row_folds: int
    """``ceil(row extent / rows)`` (unit: folds)."""
    col_folds: int
    """``ceil(col extent / cols)`` (unit: folds)."""
    stream_len: int
    """T, vectors streamed per fold (unit: cycles of streaming)."""
    compute_cycles_per_fold: int
    """``L = rows + cols + T - 2``: skewed fill, streaming, last partial sums out (unit: cycles)."""
    transfer_cycles_per_fold: int
    """``rows``: stationary preload (ws/is) or output drain (os) of one fold (unit: cycles)."""

    @property
    def num_folds(self) -> int:
        """Total folds ``row_folds * col_folds`` (unit: folds)."""
        return self.row_folds * self.col_folds

    @property
    def fold_period_cycles(self) -> int:
        """Cycles from one fold's start to the next one's (unit: cycles): ``L + R`` (serial, and scalesim
        ws/is), ``L`` (preload-overlap, scalesim os), ``max(T, R)`` (pipelined)."""
        s, r, t = self.params.schedule, self.transfer_cycles_per_fold, self.stream_len
        if s == "pipelined":
            return max(t, r)
        if s == "preload-overlap" or (s == "scalesim" and self.params.dataflow == "os"):
            return self.compute_cycles_per_fold
        return self.compute_cycles_per_fold + r

    def _fold_cycles(self, idx: int) -> int:
        """Cycles fold ``idx`` adds to the sequence; they sum to :attr:`cycles`."""
        p, last = self.params, self.num_folds - 1
        r, L = self.transfer_cycles_per_fold, self.compute_cycles_per_fold
        cycles = self.fold_period_cycles
        if p.schedule == "pipelined" and idx == last:
            cycles = L  # the last fold's wavefront drains completely
        exposed = (p.dataflow != "os" and idx == 0) or (p.dataflow == "os" and idx == last)
        if p.schedule in ("preload-overlap", "pipelined") and exposed:
            cycles += r  # the one exposed transfer: first fold's preload (ws/is) or last fold's drain (os)
        if p.schedule == "scalesim" and idx == last:
            cycles -= 1
        return cycles

    @property
    def cycles(self) -> int:
        """Total compute cycles of the GEMM (unit: clock cycles); equals ``systolic_gemm_timing``."""
        f = self.num_folds
        if f == 1:
            return self._fold_cycles(0)
        return self._fold_cycles(0) + (f - 2) * self.fold_period_cycles + self._fold_cycles(f - 1)

    @property
    def timing(self) -> TileTiming:
        """Closed-form timing of the whole GEMM (see :func:`systolic_gemm_timing`)."""
        return systolic_gemm_timing(self.params, self.m, self.k, self.n)

    def folds(self) -> Iterator[SystolicFold]:
        """Yield the folds in execution order (O(1) each; there are ``num_folds`` of them)."""
        p = self.params
        r_arr, c_arr, df = p.rows, p.cols, p.dataflow
        dr, dc, t = _extents(df, self.m, self.k, self.n)
        for cf in range(self.col_folds):
            c_lo, c_hi = cf * c_arr, min((cf + 1) * c_arr, dc)
            for rf in range(self.row_folds):
                idx = cf * self.row_folds + rf
                r_lo, r_hi = rf * r_arr, min((rf + 1) * r_arr, dr)
                cycles = self._fold_cycles(idx)
                ranges = {"M": (0, self.m), "K": (0, self.k), "N": (0, self.n)}
                ranges[self.row_dim] = (r_lo, r_hi)
                ranges[self.col_dim] = (c_lo, c_hi)
                r_used, c_used = r_hi - r_lo, c_hi - c_lo
                yield SystolicFold(
                    index=idx,
                    row_fold=rf,
                    col_fold=cf,
                    m_range=ranges["M"],
                    k_range=ranges["K"],
                    n_range=ranges["N"],
                    rows_used=r_used,
                    cols_used=c_used,
                    timing=TileTiming(cycles, _fold_actions(df, r_arr, c_arr, r_used, c_used, t, rf)),
                )


def systolic_fold_plan(params: SystolicParams, M: int, K: int, N: int) -> SystolicFoldPlan:
    """Fold decomposition of ``C[M, N] = A[M, K] @ B[K, N]`` (mapping, fold count, per-fold cycles).

    Args:
        params: the array.
        M, K, N: GEMM dimensions (unit: elements), each >= 1.

    Returns:
        A :class:`SystolicFoldPlan`; iterate ``plan.folds()`` to schedule folds (or groups of them)
        as tiles; the per-fold timings sum to :func:`systolic_gemm_timing`.
    """
    m, k, n = _check_gemm(M, K, N)
    row_dim, col_dim, stream_dim, stationary = _DIMS[params.dataflow]
    dr, dc, t = _extents(params.dataflow, m, k, n)
    return SystolicFoldPlan(
        params=params,
        m=m,
        k=k,
        n=n,
        row_dim=row_dim,
        col_dim=col_dim,
        stream_dim=stream_dim,
        stationary_operand=stationary,
        row_folds=_ceil_div(dr, params.rows),
        col_folds=_ceil_div(dc, params.cols),
        stream_len=t,
        compute_cycles_per_fold=params.rows + params.cols + t - 2,
        transfer_cycles_per_fold=params.rows,
    )
