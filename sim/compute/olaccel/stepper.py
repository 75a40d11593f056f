"""OLAccel lane groups: the per-cycle reference (slow; :mod:`.timing`'s closed form is tested against it).

Every group is a small state machine stepped one cycle at a time: the pass of output rows and the reduction
index it is on, the outliers of the current slice still waiting for the outlier MACs, its ``rows x lanes`` int32
accumulators, and a delay line of accumulator writes (a write issued at cycle t lands at t + pipeline_cycles). The groups of a wave
step together; the wave ends on the cycle its last write lands. Products are computed on the real integers and
the result is returned, so the reference is checked for the right product too.
"""

from __future__ import annotations

import numpy as np

from sim.hw.timing import StepperResult

__all__ = ["OlaccelStepper"]

_I32 = (-(1 << 31), (1 << 31) - 1)


class _Group:
    def __init__(self, x: np.ndarray, w: np.ndarray, outl: np.ndarray, rows: int) -> None:
        self.x, self.w, self.outl, self.R = x, w, outl, rows  # w, outl: [lanes of this block, K]
        self.M, self.K = x.shape
        self.m0 = self.k = 0
        self.pending: list[int] = []  # lanes whose outlier products still wait in this slice
        self.acc = np.zeros((min(rows, self.M), w.shape[0]), dtype=np.int64)
        self.done = self.M == 0
        self.y = np.zeros((self.M, w.shape[0]), dtype=np.int64)

    def cycle(self, counts: dict[str, int]) -> bool:
        """One cycle; returns True when it issued work."""
        if self.done:
            return False
        a = self.x[self.m0:self.m0 + self.R, self.k].astype(np.int64)  # this pass's activations at k
        real = a.size
        if not self.pending:  # a new slice: every lane row's dense lanes now, the first outlier per row
            col = self.w[:, self.k]
            dense = ~self.outl[:, self.k]
            self.acc[:real, dense] += np.outer(a, col[dense])
            counts["mac_w4a8"] += real * int(dense.sum())
            counts["reg_bits"] += real * (8 + 36 * int(dense.sum()))
            self.pending = list(np.flatnonzero(~dense))
        if self.pending:  # each row's outlier MAC takes the same outlier lane this cycle
            lane = self.pending.pop(0)
            self.acc[:real, lane] += a * int(self.w[lane, self.k])
            counts["mac_outlier"] += real
            counts["reg_bits"] += 40 * real
        if self.acc.size and (self.acc.min() < _I32[0] or self.acc.max() > _I32[1]):
            raise OverflowError("OLAccel lane accumulator left int32")
        if not self.pending:  # slice finished: next k, or the pass's results leave
            self.k += 1
            if self.k == self.K:
                self.y[self.m0:self.m0 + real] = self.acc[:real]
                self.acc[:] = 0
                self.k = 0
                self.m0 += self.R
                self.done = self.m0 >= self.M
        return True


class OlaccelStepper:
    """Per-cycle reference of ``groups`` lane groups of ``rows x lanes`` lanes."""

    def __init__(self, groups: int, lanes: int, rows: int, pipeline_cycles: int) -> None:
        self.groups, self.lanes, self.rows, self.pipeline = int(groups), int(lanes), int(rows), int(pipeline_cycles)

    def run_gemm(self, x: np.ndarray, w_nk: np.ndarray, outlier_mask: np.ndarray, *, continues: bool = False
                 ) -> StepperResult:
        """``x [M, K] @ w_nk^T`` with the outliers at ``outlier_mask`` (``[N, K]``) on the outlier MACs."""
        x = np.asarray(x, dtype=np.int64)
        w = np.asarray(w_nk, dtype=np.int64)
        M = x.shape[0]
        N = w.shape[0]
        L, G = self.lanes, self.groups
        counts = {"mac_w4a8": 0, "mac_outlier": 0, "add_int32": 0, "reg_bits": 0}
        y = np.zeros((M, N), dtype=np.int64)
        blocks = list(range(0, N, L))
        cycles = 0
        for w0 in range(0, len(blocks), G):
            wave = [(b, _Group(x, w[b:b + L], outlier_mask[b:b + L], self.rows)) for b in blocks[w0:w0 + G]]
            t = 0
            last_issue = -1
            while not all(g.done for _, g in wave):
                for _, g in wave:
                    if g.cycle(counts):
                        last_issue = t
                t += 1
            cycles += last_issue + 1 + self.pipeline  # the last accumulator write lands pipeline cycles later
            for b, g in wave:
                y[:, b:b + L] = g.y
        if continues:
            counts["add_int32"] += M * N
        return StepperResult(y, cycles, {k: v for k, v in counts.items() if v})

    def run_dense(self, a: np.ndarray, b: np.ndarray) -> StepperResult:
        """``a @ b`` of int8 operands: ``b`` in two nibble passes (no outliers), merged per output."""
        b = np.asarray(b, dtype=np.int64)
        none = np.zeros((b.shape[1], b.shape[0]), dtype=bool)
        lo = self.run_gemm(a, (b & 0xF).T, none)
        hi = self.run_gemm(a, (b >> 4).T, none)
        acts = {k: lo.actions.get(k, 0) + hi.actions.get(k, 0) for k in set(lo.actions) | set(hi.actions)}
        acts["add_int32"] = acts.get("add_int32", 0) + int(lo.output.size)
        return StepperResult(hi.output * 16 + lo.output, lo.cycles + hi.cycles, acts)
