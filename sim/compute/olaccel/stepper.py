"""OLAccel lane groups: the per-cycle reference (slow; :mod:`.timing`'s closed form is tested against it).

Every group is a small state machine stepped one cycle at a time: the pass of output rows and the reduction
index it is on, the outliers of the current slice still waiting for the outlier MACs, its ``rows x lanes`` int32
accumulators, and a delay line of accumulator writes (a write issued at cycle t lands at t + pipeline_cycles). Each
group is handed its work items (column block, pass of rows) as the unit deals them (item i to group i mod
groups) and works through them one after the other; all groups step together and the step ends on the cycle
the last write lands. Products are computed on the real integers and
the result is returned, so the reference is checked for the right product too.

With 4-bit activations every group also has an outlier-activation unit: when the lanes read a slice, each of
its outlier activations becomes a job (the activation and the lanes whose weights it must multiply) at the
back of the unit's queue; every cycle the unit takes the job at the front and multiplies up to ``macs`` of
its lanes, adding each product straight into the output's partial sum. A group is done when its lanes have
finished their items and its queue is empty.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from sim.hw.timing import StepperResult

__all__ = ["OlaccelStepper"]

_I32 = (-(1 << 31), (1 << 31) - 1)


class _Group:
    """One lane group working through its items ``(block columns n0, pass rows m0)`` one cycle at a time."""

    def __init__(self, x: np.ndarray, w: np.ndarray, outl: np.ndarray, act_out: np.ndarray, rows: int,
                 lanes: int, items: list[tuple[int, int]], y: np.ndarray, act_bits: int, oa_macs: int,
                 oa_wbits: int) -> None:
        self.x, self.w, self.outl, self.act_out, self.R, self.L = x, w, outl, act_out, rows, lanes
        self.K = x.shape[1]
        self.items = list(items)
        self.y = y
        self.act_bits, self.oa_macs, self.oa_wbits = act_bits, oa_macs, oa_wbits
        self.lane_name = "mac_w4a4" if act_bits == 4 else "mac_w4a8"
        self.k = 0
        self.pending: list[int] = []  # lanes whose outlier products still wait in this slice
        self.rows_on_outlier_mac: np.ndarray | None = None  # the slice's rows the outlier-weight MAC serves
        self.acc = np.zeros((rows, lanes), dtype=np.int64)
        self.queue: deque[tuple[int, int, int, list[int]]] = deque()  # (row m, k, n0, lanes left)

    @property
    def done(self) -> bool:
        return not self.items and not self.queue

    def _lanes_cycle(self, counts: dict[str, int]) -> bool:
        if not self.items:
            return False
        n0, m0 = self.items[0]
        a = self.x[m0:m0 + self.R, self.k]  # this pass's activations at k
        real = a.size
        col = self.w[n0:n0 + self.L, self.k]
        if not self.pending:  # a new slice: every lane row's dense lanes now, the first outlier per row
            outl = self.outl[n0:n0 + self.L, self.k]
            dense = ~outl
            n_dense = col.size - int(np.count_nonzero(outl))
            big = self.act_out[m0:m0 + self.R, self.k]
            bigs = np.flatnonzero(big)
            block = self.acc[:real, : col.size]
            if bigs.size:  # outlier activations: their rows stay idle in the lanes
                small_rows = ~big
                block[np.ix_(small_rows, dense)] += np.outer(a[small_rows], col[dense])
            else:
                small_rows = None
                block += np.outer(a, np.where(dense, col, 0) if n_dense < col.size else col)
            n_small = real - bigs.size
            counts[self.lane_name] += n_small * n_dense
            counts["reg_bits"] += self.act_bits * n_small + 8 * bigs.size + 36 * n_small * n_dense
            self.pending = list(np.flatnonzero(outl)) if n_dense < col.size else []
            self.rows_on_outlier_mac = small_rows if self.oa_wbits == 8 else None  # None: every row
            for r in bigs:  # a job each for the outlier-activation unit
                todo = list(range(col.size)) if self.oa_wbits == 8 else [int(v) for v in np.flatnonzero(dense)]
                if todo:
                    self.queue.append((m0 + int(r), self.k, n0, todo))
            if self.pending or n_dense:
                self._check(block)
        if self.pending:  # each row's outlier MAC takes the same outlier lane this cycle
            lane = self.pending.pop(0)
            sel = self.rows_on_outlier_mac
            if sel is None:
                self.acc[:real, lane] += a * int(col[lane])
                served = real
            else:
                self.acc[:real, lane][sel] += a[sel] * int(col[lane])
                served = int(np.count_nonzero(sel))
            counts["mac_outlier"] += served
            counts["reg_bits"] += 40 * served
            self._check(self.acc[:real, lane])
        if not self.pending:  # slice finished: next k, or the item's results leave
            self.k += 1
            if self.k == self.K:
                self.y[m0:m0 + real, n0:n0 + col.size] += self.acc[:real, : col.size]
                self.acc[:] = 0
                self.k = 0
                self.items.pop(0)
        return True

    @staticmethod
    def _check(acc: np.ndarray) -> None:
        if acc.size and (acc.min() < _I32[0] or acc.max() > _I32[1]):
            raise OverflowError("OLAccel lane accumulator left int32")

    def _outlier_unit_cycle(self, counts: dict[str, int]) -> bool:
        if not self.queue:
            return False
        m, k, n0, todo = self.queue[0]
        take, rest = todo[:self.oa_macs], todo[self.oa_macs:]
        xv = int(self.x[m, k])
        for lane in take:
            self.y[m, n0 + lane] += xv * int(self.w[n0 + lane, k])
        counts["mac_act_outlier"] += len(take)
        counts["merge_act_outlier"] += len(take)
        counts["reg_bits"] += (self.oa_wbits + 32) * len(take)
        if rest:
            self.queue[0] = (m, k, n0, rest)
        else:
            self.queue.popleft()
        return True

    def cycle(self, counts: dict[str, int]) -> bool:
        """One cycle (the lanes first: a slice read this cycle can feed the outlier-activation unit in the same
        cycle); returns True when either unit issued work."""
        lanes = self._lanes_cycle(counts)
        unit = self._outlier_unit_cycle(counts)
        return lanes or unit


class OlaccelStepper:
    """Per-cycle reference of ``groups`` lane groups of ``rows x lanes`` lanes (``act_bits`` 8: 4-bit x int8
    lanes; 4: 4-bit x 4-bit lanes and an outlier-activation unit of ``act_outlier_macs`` MACs per group)."""

    def __init__(self, groups: int, lanes: int, rows: int, pipeline_cycles: int, *, act_bits: int = 8,
                 act_outlier_macs: int = 1, act_outlier_weight_bits: int = 8) -> None:
        self.groups, self.lanes, self.rows, self.pipeline = int(groups), int(lanes), int(rows), int(pipeline_cycles)
        self.act_bits, self.oa_macs, self.oa_wbits = int(act_bits), int(act_outlier_macs), int(act_outlier_weight_bits)

    def run_gemm(self, x: np.ndarray, w_nk: np.ndarray, outlier_mask: np.ndarray, *, act_mask: np.ndarray | None = None,
                 continues: bool = False) -> StepperResult:
        """``x [M, K] @ w_nk^T`` with the outliers at ``outlier_mask`` (``[N, K]``) on the outlier MACs and, with
        4-bit activations, the outlier activations at ``act_mask`` (``[M, K]``) on the outlier-activation unit."""
        x = np.asarray(x, dtype=np.int64)
        w = np.asarray(w_nk, dtype=np.int64)
        M = x.shape[0]
        N = w.shape[0]
        if act_mask is None or self.act_bits == 8:
            act_mask = np.zeros(x.shape, dtype=bool)
        L, G = self.lanes, self.groups
        counts = {"mac_w4a8": 0, "mac_w4a4": 0, "mac_outlier": 0, "mac_act_outlier": 0, "merge_act_outlier": 0,
                  "add_int32": 0, "reg_bits": 0}
        y = np.zeros((M, N), dtype=np.int64)
        passes = list(range(0, M, self.rows))
        items = [(n0, m0) for n0 in range(0, N, L) for m0 in passes]  # block-major, as the unit deals them
        per_group: list[list[tuple[int, int]]] = [[] for _ in range(G)]
        for i, it in enumerate(items):
            per_group[i % G].append(it)
        grp = [_Group(x, w, outlier_mask, np.asarray(act_mask, dtype=bool), self.rows, L, its, y, self.act_bits,
                      self.oa_macs, self.oa_wbits) for its in per_group if its]
        t = 0
        last_issue = -1
        while not all(g.done for g in grp):
            for g in grp:
                if g.cycle(counts):
                    last_issue = t
            t += 1
        if y.size and (y.min() < _I32[0] or y.max() > _I32[1]):
            raise OverflowError("OLAccel partial sum left int32")
        cycles = last_issue + 1 + self.pipeline  # the last accumulator write lands pipeline cycles later
        if continues:
            counts["add_int32"] += M * N
        return StepperResult(y, cycles, {k: v for k, v in counts.items() if v})

    def run_dense(self, a: np.ndarray, b: np.ndarray) -> StepperResult:
        """``a @ b`` of int8 operands: ``b`` in two nibble passes (no outliers), merged per output; with 4-bit
        lanes ``a`` in two nibbles too (four passes, three merges per output)."""
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        none = np.zeros((b.shape[1], b.shape[0]), dtype=bool)
        b_parts = [(1, b & 0xF), (16, b >> 4)]
        a_parts = [(1, a & 0xF), (16, a >> 4)] if self.act_bits == 4 else [(1, a)]
        out = np.zeros((a.shape[0], b.shape[1]), dtype=np.int64)
        cycles = 0
        acts: dict[str, int] = {}
        for sa, pa in a_parts:
            for sb, pb in b_parts:
                r = self.run_gemm(pa, pb.T, none)
                out += sa * sb * r.output
                cycles += r.cycles
                for k, v in r.actions.items():
                    acts[k] = acts.get(k, 0) + v
        acts["add_int32"] = acts.get("add_int32", 0) + (len(a_parts) * len(b_parts) - 1) * int(out.size)
        return StepperResult(out, cycles, acts)
