"""TPU-like systolic array: the per-cycle reference stepper (slow; :mod:`.timing`'s closed form is tested
against it). Every PE has explicit registers (stationary operand with a shadow bank, forwarded A/B registers,
partial-sum or accumulator register, the os drain register), each with a valid bit; all PEs update
synchronously every cycle (see ``docs/hw/systolic.md``). It shares no formula with the closed form: only
the parameter record :class:`~.timing.SystolicParams` and the register widths.
"""

from __future__ import annotations

import numpy as np

from sim.compute.systolic.timing import ACC_BITS, INT8_MAX, INT8_MIN, INT32_MAX, INT32_MIN, OPERAND_BITS, SystolicParams
from sim.hw.timing import StepperResult


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _check_int32(values: np.ndarray, where: str) -> None:
    if values.size and (values.min() < INT32_MIN or values.max() > INT32_MAX):
        raise OverflowError(f"int32 overflow in the systolic array ({where})")


def _shift_right(reg: np.ndarray, inject: np.ndarray) -> np.ndarray:
    """What each PE sees from its left neighbour's register; column 0 sees ``inject``."""
    return np.concatenate([inject[:, None], reg[:, :-1]], axis=1)


def _shift_down(reg: np.ndarray, inject: np.ndarray) -> np.ndarray:
    """What each PE sees from its upper neighbour's register; row 0 sees ``inject``."""
    return np.concatenate([inject[None, :], reg[:-1, :]], axis=0)


class _StationaryGrid:
    """R x C PE registers of the ws/is array: shadow + active weight, streamed operand, partial sum.

    Computes ``Y[T, Dc] = X[T, Dr] @ W[Dr, Dc]`` with W pinned (ws: X=A, W=B; is: X=B^T, W=A^T).
    Every register has a valid bit and a tag (the stream index t) used to check the schedule.
    """

    def __init__(self, rows: int, cols: int, x: np.ndarray, w: np.ndarray) -> None:
        self.R, self.C = rows, cols
        self.x, self.w = x, w
        self.T, self.dr = x.shape
        self.dc = w.shape[1]
        z = np.zeros((rows, cols), dtype=np.int64)
        f = np.zeros((rows, cols), dtype=bool)
        self.w_act, self.w_act_v = z.copy(), f.copy()
        self.w_sh, self.w_sh_v = z.copy(), f.copy()
        self.a, self.a_v, self.a_tag = z.copy(), f.copy(), z - 1
        self.p, self.p_v, self.p_tag = z.copy(), f.copy(), z - 1
        self.y = np.zeros((self.T, self.dc), dtype=np.int64)
        self.y_written = np.zeros((self.T, self.dc), dtype=bool)
        self.counts = {"mac_int8": 0, "add_int32": 0, "reg_bits": 0}

    def block(self, rf: int, cf: int) -> tuple[np.ndarray, np.ndarray]:
        """Stationary block of fold (rf, cf), padded to R x C, with its valid mask."""
        r0, c0 = rf * self.R, cf * self.C
        sub = self.w[r0 : r0 + self.R, c0 : c0 + self.C]
        blk = np.zeros((self.R, self.C), dtype=np.int64)
        val = np.zeros((self.R, self.C), dtype=bool)
        blk[: sub.shape[0], : sub.shape[1]] = sub
        val[: sub.shape[0], : sub.shape[1]] = True
        return blk, val

    def preload_cycle(self, s: int, blk: np.ndarray, val: np.ndarray) -> None:
        """Preload cycle s (0..R-1): the shadow chain shifts down one row; row R-1-s enters at the top."""
        row = self.R - 1 - s
        self.w_sh = _shift_down(self.w_sh, blk[row])
        self.w_sh_v = _shift_down(self.w_sh_v, val[row])
        self.counts["reg_bits"] += OPERAND_BITS * int(self.w_sh_v.sum())

    def swap(self) -> None:
        """Fold boundary: the shadow bank becomes active (ping-pong select, no register write)."""
        self.w_act, self.w_act_v = self.w_sh, self.w_sh_v
        self.w_sh = np.zeros_like(self.w_sh)
        self.w_sh_v = np.zeros_like(self.w_sh_v)

    def compute_cycle(self, tau: int, rf: int, cf: int) -> int:
        """Fold cycle tau: inject skewed X; every PE computes from last cycle's neighbours.

        Returns the number of results that left the bottom edge this cycle.
        """
        R, C = self.R, self.C
        r0, c0 = rf * R, cf * C
        inj = np.zeros(R, dtype=np.int64)
        inj_v = np.zeros(R, dtype=bool)
        inj_tag = np.full(R, -1, dtype=np.int64)
        for i in range(min(R, self.dr - r0)):
            t = tau - i
            if 0 <= t < self.T:
                inj[i], inj_v[i], inj_tag[i] = self.x[t, r0 + i], True, t
        a_in = _shift_right(self.a, inj)
        a_in_v = _shift_right(self.a_v, inj_v)
        a_in_tag = _shift_right(self.a_tag, inj_tag)
        zero_row = np.zeros(C, dtype=np.int64)
        p_in = _shift_down(self.p, zero_row)
        p_in_v = _shift_down(self.p_v, np.zeros(C, dtype=bool))
        p_in_tag = _shift_down(self.p_tag, zero_row - 1)
        mac = a_in_v & self.w_act_v
        if np.any(mac & p_in_v & (p_in_tag != a_in_tag)):
            raise RuntimeError("systolic schedule error: partial sum meets an operand of another vector")
        prod = np.where(mac, a_in * self.w_act, 0)
        self.p = np.where(p_in_v, p_in, 0) + prod
        self.p_v = mac | p_in_v
        self.p_tag = np.where(mac, a_in_tag, p_in_tag)
        _check_int32(self.p[self.p_v], "partial sum")
        self.a, self.a_v, self.a_tag = np.where(a_in_v, a_in, 0), a_in_v, a_in_tag
        self.counts["mac_int8"] += int(mac.sum())
        self.counts["reg_bits"] += OPERAND_BITS * int(a_in_v.sum()) + ACC_BITS * int(self.p_v.sum())
        # The bottom row's partial sums leave the array into the output accumulators.
        emitted = 0
        for j in np.flatnonzero(self.p_v[R - 1]):
            t, col, val = int(self.p_tag[R - 1, j]), c0 + int(j), int(self.p[R - 1, j])
            if self.y_written[t, col]:
                self.y[t, col] += val
                self.counts["add_int32"] += 1
                _check_int32(self.y[t : t + 1, col], "output accumulator")
            else:
                self.y[t, col], self.y_written[t, col] = val, True
            emitted += 1
        return emitted


_StepOut = tuple[np.ndarray, int, dict[str, int]]


def _run_stationary(params: SystolicParams, x: np.ndarray, w: np.ndarray) -> _StepOut:
    """Step the ws/is array cycle by cycle over all folds of ``Y = X @ W`` (W pinned)."""
    R, C = params.rows, params.cols
    g = _StationaryGrid(R, C, x, w)
    fr, fc = _ceil_div(g.dr, R), _ceil_div(g.dc, C)
    folds = [(rf, cf) for cf in range(fc) for rf in range(fr)]
    L = R + C + g.T - 2
    overlap = params.weight_preload_overlap
    cycles = 0
    if overlap:
        blk = g.block(*folds[0])
        for s in range(R):
            g.preload_cycle(s, *blk)
            cycles += 1
    for idx, (rf, cf) in enumerate(folds):
        if not overlap:
            blk = g.block(rf, cf)
            for s in range(R):
                g.preload_cycle(s, *blk)
                cycles += 1
        g.swap()
        nxt = g.block(*folds[idx + 1]) if overlap and idx + 1 < len(folds) else None
        emitted = 0
        for tau in range(L):
            if nxt is not None and tau < R:
                g.preload_cycle(tau, *nxt)
            emitted += g.compute_cycle(tau, rf, cf)
            cycles += 1
        expected = g.T * (min((cf + 1) * C, g.dc) - cf * C)
        if emitted != expected:
            raise RuntimeError(
                f"systolic schedule error: fold {idx} emitted {emitted} results, expected {expected}"
            )
    if not g.y_written.all():
        raise RuntimeError("systolic schedule error: some outputs were never produced")
    return g.y, cycles, g.counts


class _OutputStationaryGrid:
    """R x C PE registers of the os array: A and B forward registers, accumulator bank, drain bank."""

    def __init__(self, rows: int, cols: int, a: np.ndarray, b: np.ndarray) -> None:
        self.R, self.C = rows, cols
        self.A, self.B = a, b
        self.M, self.K = a.shape
        self.N = b.shape[1]
        z = np.zeros((rows, cols), dtype=np.int64)
        f = np.zeros((rows, cols), dtype=bool)
        self.a, self.a_v, self.a_tag = z.copy(), f.copy(), z - 1
        self.b, self.b_v, self.b_tag = z.copy(), f.copy(), z - 1
        self.acc, self.acc_v = z.copy(), f.copy()
        self.dr, self.dr_v, self.dr_m, self.dr_n = z.copy(), f.copy(), z - 1, z - 1
        self.c = np.zeros((self.M, self.N), dtype=np.int64)
        self.c_written = np.zeros((self.M, self.N), dtype=bool)
        self.counts = {"mac_int8": 0, "add_int32": 0, "reg_bits": 0}

    def compute_cycle(self, tau: int, rf: int, cf: int) -> None:
        """Fold cycle tau: inject skewed A (left) and B (top); every PE multiplies what reaches it."""
        R, C = self.R, self.C
        m0, n0 = rf * R, cf * C
        a_inj, a_inj_v, a_inj_tag = np.zeros(R, np.int64), np.zeros(R, bool), np.full(R, -1, np.int64)
        for i in range(min(R, self.M - m0)):
            k = tau - i
            if 0 <= k < self.K:
                a_inj[i], a_inj_v[i], a_inj_tag[i] = self.A[m0 + i, k], True, k
        b_inj, b_inj_v, b_inj_tag = np.zeros(C, np.int64), np.zeros(C, bool), np.full(C, -1, np.int64)
        for j in range(min(C, self.N - n0)):
            k = tau - j
            if 0 <= k < self.K:
                b_inj[j], b_inj_v[j], b_inj_tag[j] = self.B[k, n0 + j], True, k
        a_in, a_in_v = _shift_right(self.a, a_inj), _shift_right(self.a_v, a_inj_v)
        a_in_tag = _shift_right(self.a_tag, a_inj_tag)
        b_in, b_in_v = _shift_down(self.b, b_inj), _shift_down(self.b_v, b_inj_v)
        b_in_tag = _shift_down(self.b_tag, b_inj_tag)
        mac = a_in_v & b_in_v
        if np.any(mac & (a_in_tag != b_in_tag)):
            raise RuntimeError("systolic schedule error: A and B of different k meet in a PE")
        self.acc = np.where(mac, np.where(self.acc_v, self.acc, 0) + a_in * b_in, self.acc)
        self.acc_v = self.acc_v | mac
        _check_int32(self.acc[self.acc_v], "accumulator")
        self.a, self.a_v, self.a_tag = np.where(a_in_v, a_in, 0), a_in_v, a_in_tag
        self.b, self.b_v, self.b_tag = np.where(b_in_v, b_in, 0), b_in_v, b_in_tag
        n_mac = int(mac.sum())
        self.counts["mac_int8"] += n_mac
        self.counts["reg_bits"] += OPERAND_BITS * int(a_in_v.sum() + b_in_v.sum()) + ACC_BITS * n_mac

    def toggle(self, rf: int, cf: int) -> None:
        """Fold end: the accumulator bank becomes the drain bank (ping-pong select, no write)."""
        if self.dr_v.any():
            raise RuntimeError("systolic schedule error: drain bank not empty at fold boundary")
        rows = np.arange(self.R)[:, None] + rf * self.R
        cols = np.arange(self.C)[None, :] + cf * self.C
        self.dr, self.dr_v = self.acc, self.acc_v
        self.dr_m = np.broadcast_to(rows, (self.R, self.C)).astype(np.int64)
        self.dr_n = np.broadcast_to(cols, (self.R, self.C)).astype(np.int64)
        self.acc = np.zeros_like(self.acc)
        self.acc_v = np.zeros_like(self.acc_v)

    def drain_cycle(self) -> None:
        """The bottom row's results leave the array; the drain chain shifts down one row."""
        R, C = self.R, self.C
        for j in np.flatnonzero(self.dr_v[R - 1]):
            m, n = int(self.dr_m[R - 1, j]), int(self.dr_n[R - 1, j])
            if self.c_written[m, n]:
                raise RuntimeError(f"systolic schedule error: C[{m}, {n}] written twice")
            self.c[m, n], self.c_written[m, n] = self.dr[R - 1, j], True
        none = np.full(C, -1, dtype=np.int64)
        self.dr = _shift_down(self.dr, np.zeros(C, dtype=np.int64))
        self.dr_v = _shift_down(self.dr_v, np.zeros(C, dtype=bool))
        self.dr_m = _shift_down(self.dr_m, none)
        self.dr_n = _shift_down(self.dr_n, none)
        self.counts["reg_bits"] += ACC_BITS * int(self.dr_v.sum())


def _run_output_stationary(params: SystolicParams, a: np.ndarray, b: np.ndarray) -> _StepOut:
    """Step the os array cycle by cycle over all folds of ``C = A @ B``."""
    R, C = params.rows, params.cols
    g = _OutputStationaryGrid(R, C, a, b)
    fr, fc = _ceil_div(g.M, R), _ceil_div(g.N, C)
    folds = [(rf, cf) for cf in range(fc) for rf in range(fr)]
    L = R + C + g.K - 2
    overlap = params.weight_preload_overlap
    cycles = 0
    for idx, (rf, cf) in enumerate(folds):
        for tau in range(L):
            if overlap and idx > 0 and tau < R:
                g.drain_cycle()  # previous fold's results drain while this fold computes
            g.compute_cycle(tau, rf, cf)
            cycles += 1
        g.toggle(rf, cf)
        if not overlap:
            for _ in range(R):
                g.drain_cycle()
                cycles += 1
    if overlap:
        for _ in range(R):
            g.drain_cycle()
            cycles += 1
    if not g.c_written.all() or g.dr_v.any():
        raise RuntimeError("systolic schedule error: some outputs were never drained")
    return g.c, cycles, g.counts


class SystolicStepper:
    """Slow per-cycle reference model of the array (for tests; use :func:`systolic_gemm_timing` in runs).

    Each PE has explicit registers (stationary operand with a shadow bank, forwarded A/B registers,
    partial-sum or accumulator register, os drain register), each with a valid bit and a tag. Every
    cycle all PEs update synchronously from their neighbours' registers of the previous cycle (numpy
    vectorises the grid, not the time axis). Operands are injected with the skew of the module
    docstring; results leave at the bottom edge. Cost: O(cycles * rows * cols).
    """

    def __init__(self, params: SystolicParams) -> None:
        self.params = params

    def run(self, a: np.ndarray, b: np.ndarray) -> StepperResult:
        """Compute ``A @ B`` on the array cycle by cycle.

        Args:
            a: int8-range integer array, shape (M, K) (activations).
            b: int8-range integer array, shape (K, N) (weights).

        Returns:
            ``sim.hw.timing.StepperResult``: ``output`` = C (int64, M x N, every value fits int32),
            ``cycles`` (unit: clock cycles), ``actions`` (counted register by register, zeros
            dropped); ``result.timing`` is comparable with :func:`systolic_gemm_timing`.

        Raises:
            ValueError: bad shapes, non-integer dtype, or values outside int8.
            OverflowError: a partial sum or accumulator leaves the int32 range.
        """
        a = np.asarray(a)
        b = np.asarray(b)
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0] or 0 in a.shape or 0 in b.shape:
            raise ValueError(f"expected A (M, K) and B (K, N) with M, K, N >= 1, got {a.shape} and {b.shape}")
        for name, arr in (("A", a), ("B", b)):
            if not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(f"{name} must be an integer array, got dtype {arr.dtype}")
            if arr.min() < INT8_MIN or arr.max() > INT8_MAX:
                raise ValueError(f"{name} has values outside int8 [{INT8_MIN}, {INT8_MAX}]")
        a64, b64 = a.astype(np.int64), b.astype(np.int64)
        df = self.params.dataflow
        if df == "ws":
            c, cycles, counts = _run_stationary(self.params, a64, b64)
        elif df == "is":
            ct, cycles, counts = _run_stationary(self.params, b64.T.copy(), a64.T.copy())
            c = ct.T.copy()
        else:
            c, cycles, counts = _run_output_stationary(self.params, a64, b64)
        return StepperResult(c, cycles, {name: n for name, n in counts.items() if n})
