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
    overlap = params.schedule == "preload-overlap"
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
    if params.schedule == "scalesim":
        cycles -= 1  # SCALE-Sim reports the index of the last busy cycle, one less than their count
    return g.y, cycles, g.counts


def _run_stationary_pipelined(params: SystolicParams, x: np.ndarray, w: np.ndarray) -> _StepOut:
    """Step the ws/is array with folds back to back (``schedule="pipelined"``), register by register.

    Every PE has two weight banks (active, shadow) and a bank select that flips when the first streamed
    operand of a new fold reaches it, so the swap travels with the wavefront. The shadow banks of a column
    form a shift chain fed from the top, one block row per cycle (bottom row first); row i of the chain
    latches from above only once the feed's head has reached it, so a tile follows the previous fold's
    swap wavefront down the column without disturbing the rows that have not swapped yet. Every register
    carries the fold it belongs to; a swap to a tile that is not fully loaded, an overwritten unswapped
    shadow weight or a partial sum meeting an operand of another fold is a schedule error.
    """
    R, C = params.rows, params.cols
    T, dr = x.shape
    dc = w.shape[1]
    fr, fc = _ceil_div(dr, R), _ceil_div(dc, C)
    folds = [(rf, cf) for cf in range(fc) for rf in range(fr)]
    nf = len(folds)
    z = np.zeros((R, C), dtype=np.int64)
    f_ = np.zeros((R, C), dtype=bool)
    w_act, w_act_f = z.copy(), z - 1  # value and fold tag (-1: nothing)
    w_act_v = f_.copy()
    w_sh, w_sh_v, w_sh_f = z.copy(), f_.copy(), z - 1
    pending = f_.copy()  # the shadow holds a complete tile not yet swapped in
    a, a_v, a_t, a_f = z.copy(), f_.copy(), z - 1, z - 1
    ps, ps_v, ps_t, ps_f = z.copy(), f_.copy(), z - 1, z - 1
    y = np.zeros((T, dc), dtype=np.int64)
    y_written = np.zeros((T, dc), dtype=bool)
    counts = {"mac_int8": 0, "add_int32": 0, "reg_bits": 0}
    rows_idx = np.arange(R)[:, None]

    def block(fi: int) -> tuple[np.ndarray, np.ndarray]:
        rf, cf = folds[fi]
        sub = w[rf * R: (rf + 1) * R, cf * C: (cf + 1) * C]
        blk, val = np.zeros((R, C), dtype=np.int64), np.zeros((R, C), dtype=bool)
        blk[: sub.shape[0], : sub.shape[1]] = sub
        val[: sub.shape[0], : sub.shape[1]] = True
        return blk, val

    feeds: list[tuple[int, int]] = []  # (tile, first feed cycle of column 0), oldest first
    starts: list[int] = []  # cycle fold f's vector 0 enters row 0
    next_tile = 0
    emitted = [0] * nf
    cycle = 0
    limit = 4 * (nf * (2 * R + C + T) + R + C + 8)
    while True:
        # -- controller: start the next tile's feed when the feed is idle and PE(0, 0)'s shadow is free
        #    (or is swapped in this cycle, read before write); start the next fold's stream when its tile
        #    is loaded at PE(0, 0) and the previous stream has entered row 0 completely.
        fi = len(starts)
        arriving_00 = fi if fi < nf and (fi == 0 or cycle >= starts[-1] + T) and pending[0, 0] \
            and w_sh_f[0, 0] == fi else None
        if arriving_00 is not None:
            starts.append(cycle)
        feed_idle = not feeds or cycle >= feeds[-1][1] + R
        shadow_free_00 = not pending[0, 0] or arriving_00 is not None
        if next_tile < nf and feed_idle and shadow_free_00:
            feeds.append((next_tile, cycle))
            next_tile += 1
        # -- inject the streamed operand: fold f's vector t enters row i at starts[f] + t + i
        inj, inj_v = np.zeros(R, dtype=np.int64), np.zeros(R, dtype=bool)
        inj_t, inj_f = np.full(R, -1, dtype=np.int64), np.full(R, -1, dtype=np.int64)
        ridx = np.arange(R)
        for f, s0 in enumerate(starts):
            if cycle - s0 >= T + R:
                continue
            rf, _ = folds[f]
            t = cycle - s0 - ridx
            on = (t >= 0) & (t < T)  # padded rows carry the fold's tag (the swap signal), no operand
            inj_t[on], inj_f[on] = t[on], f
            real = on & (ridx < dr - rf * R)
            inj[real] = x[t[real], rf * R + ridx[real]]
            inj_v[real] = True
        a_in, a_in_v = _shift_right(a, inj), _shift_right(a_v, inj_v)
        a_in_t, a_in_f = _shift_right(a_t, inj_t), _shift_right(a_f, inj_f)
        # -- bank select flips where the first operand of a new fold arrives
        swap = (a_in_f >= 0) & (a_in_f != w_act_f)
        if np.any(swap & ~(pending & (w_sh_f == a_in_f))):
            raise RuntimeError("systolic schedule error: a fold's operand reached a PE before its weight")
        old_act = w_act.copy()
        w_act = np.where(swap, w_sh, w_act)
        w_act_v = np.where(swap, w_sh_v, w_act_v)
        w_act_f = np.where(swap, w_sh_f, w_act_f)
        w_sh, w_sh_v = np.where(swap, old_act, w_sh), np.where(swap, False, w_sh_v)  # the freed bank
        w_sh_f = np.where(swap, -1, w_sh_f)
        pending = pending & ~swap
        # -- MACs: valid operand meets a valid weight; partial sums move down
        p_in, p_in_v = _shift_down(ps, np.zeros(C, np.int64)), _shift_down(ps_v, np.zeros(C, bool))
        p_in_t, p_in_f = _shift_down(ps_t, np.full(C, -1, np.int64)), _shift_down(ps_f, np.full(C, -1, np.int64))
        mac = a_in_v & w_act_v & (w_act_f == a_in_f)
        if np.any(mac & p_in_v & ((p_in_t != a_in_t) | (p_in_f != a_in_f))):
            raise RuntimeError("systolic schedule error: partial sum meets an operand of another vector")
        ps = np.where(p_in_v, p_in, 0) + np.where(mac, a_in * w_act, 0)
        ps_v = mac | p_in_v
        ps_t = np.where(mac, a_in_t, p_in_t)
        ps_f = np.where(mac, a_in_f, p_in_f)
        _check_int32(ps[ps_v], "partial sum")
        a, a_v, a_t, a_f = np.where(a_in_v, a_in, 0), a_in_v, a_in_t, a_in_f
        counts["mac_int8"] += int(mac.sum())
        counts["reg_bits"] += OPERAND_BITS * int(a_in_v.sum()) + ACC_BITS * int(ps_v.sum())
        for j in np.flatnonzero(ps_v[R - 1]):
            f, tv = int(ps_f[R - 1, j]), int(ps_t[R - 1, j])
            col, out = folds[f][1] * C + int(j), int(ps[R - 1, j])
            if y_written[tv, col]:
                y[tv, col] += out
                counts["add_int32"] += 1
                _check_int32(y[tv: tv + 1, col], "output accumulator")
            else:
                y[tv, col], y_written[tv, col] = out, True
            emitted[f] += 1
        # -- shadow chains: column j of tile k is fed at q + j .. q + j + R - 1; row i latches from above
        #    from cycle q + j + i on (the feed's head has reached it)
        cidx = np.arange(C)
        for k, q in feeds:
            blk, val = block(k)
            fs = cycle - q - cidx  # feed cycle of each column
            active = (fs >= 0) & (fs < R)
            if not active.any():
                continue
            en = active[None, :] & (rows_idx <= fs[None, :])
            if np.any(en & pending):
                raise RuntimeError("systolic schedule error: a shadow weight overwritten before its swap")
            top = np.clip(R - 1 - fs, 0, R - 1)
            col_in = np.concatenate([blk[top, cidx][None, :], w_sh[:-1]], axis=0)
            col_in_v = np.concatenate([(val[top, cidx] & active)[None, :], w_sh_v[:-1]], axis=0)
            w_sh = np.where(en, col_in, w_sh)
            w_sh_v = np.where(en, col_in_v, w_sh_v)
            w_sh_f = np.where(en, k, w_sh_f)
            counts["reg_bits"] += OPERAND_BITS * int((en & w_sh_v).sum())
            pending[:, active & (fs == R - 1)] = True
        feeds = [(k, q) for k, q in feeds if cycle < q + C - 1 + R - 1]
        cycle += 1
        # the static schedule ends when the last fold's last vector has crossed the whole array (its tag
        # travels through padded PEs too); by then every result must have left
        if a_f[R - 1, C - 1] == nf - 1 and a_t[R - 1, C - 1] == T - 1:
            if any(e != T * (min((folds[f][1] + 1) * C, dc) - folds[f][1] * C) for f, e in enumerate(emitted)):
                raise RuntimeError("systolic schedule error: a fold did not emit all its results")
            break
        if cycle > limit:
            raise RuntimeError("systolic schedule error: the pipelined schedule did not finish")
    if not y_written.all():
        raise RuntimeError("systolic schedule error: some outputs were never produced")
    return y, cycle, counts


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
    overlap = params.schedule in ("preload-overlap", "scalesim")
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
    if params.schedule == "scalesim":
        # SCALE-Sim 3.0.0 charges no drain of os results (only the hidden ones would be right) and
        # reports the index of the last busy cycle: the last fold's drain and one cycle are not counted
        cycles -= R + 1
    return g.c, cycles, g.counts


def _run_output_stationary_pipelined(params: SystolicParams, a: np.ndarray, b: np.ndarray) -> _StepOut:
    """Step the os array with folds back to back (``schedule="pipelined"``), register by register.

    Each PE has an accumulator and a drain register (double-buffered outputs). The MAC of a fold's last
    pair writes its result into the PE's drain register instead of the accumulator; the drain registers
    of a column form a shift chain out of the bottom edge, started the cycle after the column's bottom PE
    finished the fold, R shifts long. The next fold's operands follow the current ones back to back;
    its stream starts once the row-0 stream is free and PE(0, 0)'s last MAC of the new fold cannot come
    before column 0's drain of the previous fold has started. A result written into a drain register that
    still holds one, or a pair of operands of different folds meeting, is a schedule error.
    """
    R, C = params.rows, params.cols
    M, K = a.shape
    N = b.shape[1]
    fr, fc = _ceil_div(M, R), _ceil_div(N, C)
    folds = [(rf, cf) for cf in range(fc) for rf in range(fr)]
    nf = len(folds)
    z = np.zeros((R, C), dtype=np.int64)
    f_ = np.zeros((R, C), dtype=bool)
    ar, ar_v, ar_k, ar_f = z.copy(), f_.copy(), z - 1, z - 1
    br, br_v, br_k, br_f = z.copy(), f_.copy(), z - 1, z - 1
    acc, acc_v = z.copy(), f_.copy()
    dr, dr_v, dr_f = z.copy(), f_.copy(), z - 1
    out = np.zeros((M, N), dtype=np.int64)
    written = np.zeros((M, N), dtype=bool)
    counts = {"mac_int8": 0, "add_int32": 0, "reg_bits": 0}
    starts: list[int] = []
    drains: list[tuple[int, int]] = []  # (fold, cycle its column-0 drain starts), still running
    n_drains = 0
    drain_at: list[int] = []  # cycle each started fold's column-0 drain starts
    cycle = 0
    cidx = np.arange(C)
    limit = 4 * (nf * (2 * R + C + K) + R + C + 8)
    while True:
        # -- controller
        if len(starts) < nf:
            prev_ok = not starts or cycle >= starts[-1] + K
            last_mac_00 = cycle + K - 1
            drain_ok = not starts or last_mac_00 >= drain_at[-1]
            if prev_ok and drain_ok:
                starts.append(cycle)
                # its column-0 drain starts the cycle after its stream passes PE(R-1, 0)
                drain_at.append(cycle + K - 1 + R - 1 + 1)
        # -- drains: column j of fold f shifts at d + j .. d + j + R - 1, the bottom row leaving first
        for f, d in drains:
            rf, cf = folds[f]
            s = cycle - d - cidx  # drain shift of each column
            active = (s >= 0) & (s < R)
            if not active.any():
                continue
            leave = active & dr_v[R - 1]
            if np.any(leave & (dr_f[R - 1] != f)):
                raise RuntimeError("systolic schedule error: a result left with another fold's drain")
            for jj in np.flatnonzero(leave):
                m_, n_ = rf * R + R - 1 - int(s[jj]), cf * C + int(jj)
                if written[m_, n_]:
                    raise RuntimeError(f"systolic schedule error: C[{m_}, {n_}] written twice")
                out[m_, n_], written[m_, n_] = dr[R - 1, jj], True
            # in the shifting columns, rows holding a newer fold's result hold it; the others latch from
            # above only this fold's results (the chain never pulls a newer result down)
            inc = np.concatenate([np.zeros((1, C), np.int64), dr[:-1]], axis=0)
            inc_v = np.concatenate([np.zeros((1, C), bool), dr_v[:-1] & (dr_f[:-1] == f)], axis=0)
            inc_v &= active[None, :]
            newer = dr_v & (dr_f != f)
            if np.any(newer & inc_v):
                raise RuntimeError("systolic schedule error: a result pushed into a newer fold's drain")
            sh = active[None, :] & ~newer
            dr = np.where(sh, np.where(inc_v, inc, 0), dr)
            dr_f = np.where(sh, np.where(inc_v, f, -1), dr_f)
            dr_v = np.where(sh, inc_v, dr_v)
            counts["reg_bits"] += ACC_BITS * int(inc_v.sum())
        # -- operands: fold f's pair k enters row i at starts[f] + k + i and column j at starts[f] + k + j
        a_inj, a_inj_v = np.zeros(R, np.int64), np.zeros(R, bool)
        a_inj_k, a_inj_f = np.full(R, -1, np.int64), np.full(R, -1, np.int64)
        b_inj, b_inj_v = np.zeros(C, np.int64), np.zeros(C, bool)
        b_inj_k, b_inj_f = np.full(C, -1, np.int64), np.full(C, -1, np.int64)
        ridx = np.arange(R)
        for f, s0 in enumerate(starts):
            if cycle - s0 >= K + max(R, C):
                continue
            rf, cf = folds[f]
            ka = cycle - s0 - ridx  # pair index entering each row
            on = (ka >= 0) & (ka < K) & (ridx < M - rf * R)
            a_inj[on], a_inj_v[on], a_inj_k[on], a_inj_f[on] = a[rf * R + ridx[on], ka[on]], True, ka[on], f
            kb = cycle - s0 - cidx  # pair index entering each column
            on = (kb >= 0) & (kb < K) & (cidx < N - cf * C)
            b_inj[on], b_inj_v[on], b_inj_k[on], b_inj_f[on] = b[kb[on], cf * C + cidx[on]], True, kb[on], f
        a_in, a_in_v = _shift_right(ar, a_inj), _shift_right(ar_v, a_inj_v)
        a_in_k, a_in_f = _shift_right(ar_k, a_inj_k), _shift_right(ar_f, a_inj_f)
        b_in, b_in_v = _shift_down(br, b_inj), _shift_down(br_v, b_inj_v)
        b_in_k, b_in_f = _shift_down(br_k, b_inj_k), _shift_down(br_f, b_inj_f)
        mac = a_in_v & b_in_v
        if np.any(mac & ((a_in_k != b_in_k) | (a_in_f != b_in_f))):
            raise RuntimeError("systolic schedule error: A and B of different k or folds meet in a PE")
        val = np.where(acc_v, acc, 0) + a_in * b_in
        last = mac & (a_in_k == K - 1)
        if np.any(last & dr_v):
            raise RuntimeError("systolic schedule error: a result written into a full drain register")
        dr = np.where(last, val, dr)
        dr_v = dr_v | last
        dr_f = np.where(last, a_in_f, dr_f)
        acc = np.where(mac & ~last, val, np.where(last, 0, acc))
        acc_v = (acc_v | mac) & ~last
        _check_int32(val[mac], "accumulator")
        ar, ar_v, ar_k, ar_f = np.where(a_in_v, a_in, 0), a_in_v, a_in_k, a_in_f
        br, br_v, br_k, br_f = np.where(b_in_v, b_in, 0), b_in_v, b_in_k, b_in_f
        n_mac = int(mac.sum())
        counts["mac_int8"] += n_mac
        counts["reg_bits"] += OPERAND_BITS * int(a_in_v.sum() + b_in_v.sum()) + ACC_BITS * n_mac
        # -- a column's drain starts the cycle after its bottom PE's last MAC of the fold (the stream of
        #    fold f passes row R-1 of column 0 at starts[f] + K - 1 + R - 1)
        f = n_drains
        if f < len(starts) and cycle + 1 == drain_at[f]:
            drains.append((f, cycle + 1))
            n_drains += 1
        done = n_drains == nf and cycle >= drains[-1][1] + C - 1 + R - 1
        drains = [(g, d) for g, d in drains if cycle < d + C - 1 + R - 1 or g == n_drains - 1]
        cycle += 1
        if done:  # the static schedule ends with the last fold's drain of column C-1
            if not written.all() or dr_v.any() or acc_v.any():
                raise RuntimeError("systolic schedule error: some outputs were never drained")
            break
        if cycle > limit:
            raise RuntimeError("systolic schedule error: the pipelined schedule did not finish")
    return out, cycle, counts


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
        pipelined = self.params.schedule == "pipelined"
        stationary = _run_stationary_pipelined if pipelined else _run_stationary
        if df == "ws":
            c, cycles, counts = stationary(self.params, a64, b64)
        elif df == "is":
            ct, cycles, counts = stationary(self.params, b64.T.copy(), a64.T.copy())
            c = ct.T.copy()
        elif pipelined:
            c, cycles, counts = _run_output_stationary_pipelined(self.params, a64, b64)
        else:
            c, cycles, counts = _run_output_stationary(self.params, a64, b64)
        return StepperResult(c, cycles, {name: n for name, n in counts.items() if n})
