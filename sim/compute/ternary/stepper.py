"""The ternary tile stepped cycle by cycle (slow; :mod:`.timing`'s closed form is tested against it).

One tile: a fetch stage and ``latency - 1`` pipeline registers in front of the add stage, ``rows x pes`` int32
accumulators, a shadow bank that drains one row per cycle. Each cycle, in order: the shadow writes one row out;
the pipeline advances unless the accumulators still hold a finished block (a stall), fetching the next operand
column/row into the first stage; the add stage updates the lanes; at the end of the cycle a finished
accumulator bank moves into an empty shadow. It shares no formula with the closed form: only the parameter
record and the register widths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.compute.ternary.timing import ACC_BITS, ACT_BITS, WEIGHT_BITS, TernaryParams
from sim.hw.timing import StepperResult, TileTiming


@dataclass
class _Item:
    block: int
    x: np.ndarray  # (R,) activations of one reduction index (zero-padded rows)
    w: np.ndarray  # (P,) lane operations: -1, 0, +1 (zero-padded columns)
    double: bool  # the accumulator doubles before this add (bit-serial plane boundary)
    last: bool  # the block's last item
    weight_bits: int


class TernaryTileStepper:
    """One tile of ``pes`` PEs x ``rows`` lanes; :meth:`run` a list of blocks, :meth:`run_serial` bit-serial."""

    def __init__(self, params: TernaryParams) -> None:
        self.p = params

    def _items(self, blocks: list[tuple[np.ndarray, np.ndarray]], serial: bool) -> list[list[_Item]]:
        R, P = self.p.rows, self.p.pes
        out = []
        for bi, (x, w) in enumerate(blocks):
            xr = np.zeros((R, x.shape[1]), dtype=np.int64)
            xr[: x.shape[0]] = x
            K = x.shape[1]
            seq: list[_Item] = []
            if not serial:
                for k in range(K):
                    wk = np.zeros(P, dtype=np.int64)
                    wk[: w.shape[1]] = w[k]
                    seq.append(_Item(bi, xr[:, k], wk, False, False, WEIGHT_BITS))
            else:
                wu = w.astype(np.int64) & 0xFF  # two's-complement bytes
                for plane in range(7, -1, -1):
                    sign = -1 if plane == 7 else 1
                    for k in range(K):
                        wk = np.zeros(P, dtype=np.int64)
                        wk[: w.shape[1]] = sign * ((wu[k] >> plane) & 1)
                        seq.append(_Item(bi, xr[:, k], wk, plane < 7 and k == 0, False, 1))
            seq[-1].last = True
            out.append(seq)
        return out

    def _step(self, blocks: list[tuple[np.ndarray, np.ndarray]], serial: bool) -> StepperResult:
        R, P, L = self.p.rows, self.p.pes, self.p.latency
        valid = [(x.shape[0], w.shape[1]) for x, w in blocks]
        stream = [it for seq in self._items(blocks, serial) for it in seq]
        results = [np.zeros((R, P), dtype=np.int64) for _ in blocks]
        stages: list[_Item | None] = [None] * L
        acc = np.zeros((R, P), dtype=np.int64)
        acc_block: int | None = None
        acc_done = False
        shadow: tuple[int, np.ndarray] | None = None
        shadow_rows = 0
        nxt = 0
        drained = 0
        counts = {"addsub_int32": 0, "reg_bits": 0}
        cycle = 0
        while drained < len(blocks):
            cycle += 1
            if shadow is not None:  # drain one row
                blk, vals = shadow
                results[blk][R - shadow_rows] = vals[R - shadow_rows]
                shadow_rows -= 1
                if shadow_rows == 0:
                    shadow = None
                    drained += 1
            if not acc_done:  # the pipeline advances (it stalls while a finished bank waits for the shadow)
                fetched = stream[nxt] if nxt < len(stream) else None
                if fetched is not None:
                    nxt += 1
                    rows, cols = valid[fetched.block]
                    counts["reg_bits"] += fetched.weight_bits * cols + ACT_BITS * rows
                stages = [fetched] + stages[:-1]
                it = stages[L - 1]
                if it is not None:  # the add stage
                    if acc_block != it.block:
                        acc_block, acc = it.block, np.zeros((R, P), dtype=np.int64)
                    if it.double:
                        acc = acc * 2
                    acc = acc + it.x[:, None] * it.w[None, :]
                    if acc.size and (acc.max() > 2**31 - 1 or acc.min() < -(2**31)):
                        raise OverflowError("int32 overflow in a ternary accumulator")
                    rows, cols = valid[it.block]
                    counts["addsub_int32"] += rows * cols
                    counts["reg_bits"] += ACC_BITS * rows * cols
                    stages[L - 1] = None
                    acc_done = it.last
            if acc_done and shadow is None:  # end of cycle: the finished bank moves to the shadow
                assert acc_block is not None
                shadow, shadow_rows = (acc_block, acc.copy()), R
                rows, cols = valid[acc_block]
                counts["reg_bits"] += ACC_BITS * rows * cols
                acc_done, acc_block = False, None
        outs = [results[i][:r, :c] for i, (r, c) in enumerate(valid)]
        return StepperResult(outs, cycle, TileTiming(cycle, counts).actions)  # type: ignore[arg-type]

    def run(self, blocks: list[tuple[np.ndarray, np.ndarray]]) -> StepperResult:
        """Blocks ``(x [rows<=R, K] int8, w [K, cols<=P] in {-1,0,1})`` in order; output: ``x @ w`` per block."""
        return self._step(blocks, serial=False)

    def run_serial(self, blocks: list[tuple[np.ndarray, np.ndarray]]) -> StepperResult:
        """Bit-serial blocks ``(a [rows<=R, K], b [K, cols<=P] int8)``; output: ``a @ b`` per block."""
        return self._step(blocks, serial=True)
