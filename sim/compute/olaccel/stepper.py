"""OLAccel lane groups: the per-cycle reference (slow; :mod:`.timing`'s closed form is tested against it).

Every group is a small state machine stepped one cycle at a time: the pass of output rows and the reduction
index it is on, the outliers of the current slice still waiting for the outlier MACs, its ``rows x lanes`` int32
accumulators, and a delay line of accumulator writes (a write issued at cycle t lands at t + pipeline_cycles). Each
group is handed its work items (column block, pass of rows) as the unit deals them (item i to group i mod
groups) and works through them one after the other; all groups step together and the step ends on the cycle
the last write lands. Products are computed on the real integers and
the result is returned, so the reference is checked for the right product too.
"""

from __future__ import annotations

import numpy as np

from sim.hw.timing import StepperResult

__all__ = ["OlaccelStepper"]

_I32 = (-(1 << 31), (1 << 31) - 1)


class _Group:
    """One lane group working through its items ``(block columns n0, pass rows m0)`` one cycle at a time."""

    def __init__(self, x: np.ndarray, w: np.ndarray, outl: np.ndarray, rows: int, lanes: int,
                 items: list[tuple[int, int]], y: np.ndarray) -> None:
        self.x, self.w, self.outl, self.R, self.L = x, w, outl, rows, lanes
        self.K = x.shape[1]
        self.items = list(items)
        self.y = y
        self.k = 0
        self.pending: list[int] = []  # lanes whose outlier products still wait in this slice
        self.acc = np.zeros((rows, lanes), dtype=np.int64)

    @property
    def done(self) -> bool:
        return not self.items

    def cycle(self, counts: dict[str, int]) -> bool:
        """One cycle; returns True when it issued work."""
        if not self.items:
            return False
        n0, m0 = self.items[0]
        a = self.x[m0:m0 + self.R, self.k].astype(np.int64)  # this pass's activations at k
        real = a.size
        col = self.w[n0:n0 + self.L, self.k]
        if not self.pending:  # a new slice: every lane row's dense lanes now, the first outlier per row
            dense = ~self.outl[n0:n0 + self.L, self.k]
            self.acc[:real, : col.size][:, dense] += np.outer(a, col[dense])
            counts["mac_w4a8"] += real * int(dense.sum())
            counts["reg_bits"] += real * (8 + 36 * int(dense.sum()))
            self.pending = list(np.flatnonzero(~dense))
        if self.pending:  # each row's outlier MAC takes the same outlier lane this cycle
            lane = self.pending.pop(0)
            self.acc[:real, lane] += a * int(col[lane])
            counts["mac_outlier"] += real
            counts["reg_bits"] += 40 * real
        if self.acc.min() < _I32[0] or self.acc.max() > _I32[1]:
            raise OverflowError("OLAccel lane accumulator left int32")
        if not self.pending:  # slice finished: next k, or the item's results leave
            self.k += 1
            if self.k == self.K:
                self.y[m0:m0 + real, n0:n0 + col.size] = self.acc[:real, : col.size]
                self.acc[:] = 0
                self.k = 0
                self.items.pop(0)
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
        passes = list(range(0, M, self.rows))
        items = [(n0, m0) for n0 in range(0, N, L) for m0 in passes]  # block-major, as the unit deals them
        per_group: list[list[tuple[int, int]]] = [[] for _ in range(G)]
        for i, it in enumerate(items):
            per_group[i % G].append(it)
        grp = [_Group(x, w, outlier_mask, self.rows, L, its, y) for its in per_group if its]
        t = 0
        last_issue = -1
        while not all(g.done for g in grp):
            for g in grp:
                if g.cycle(counts):
                    last_issue = t
            t += 1
        cycles = last_issue + 1 + self.pipeline  # the last accumulator write lands pipeline cycles later
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
