"""GOBO tile: the per-cycle reference stepper (slow; the closed forms of :mod:`.timing` are tested against it).

It moves data register by register as ``docs/hw/gobo.md`` describes: per-PE index FIFOs, the activation
broadcast register and its pipeline copies, per-PE index/mask pipeline registers, ``R x C`` int32 bins per
PE (one or two sets), the position comparator (its lanes match positions against the index stream, and a
column is fetched only once all its positions are matched), the outlier work queue feeding the tile's
shared outlier MAC unit through the outlier activation read port (both with per-cycle budgets), the per-PE
centroid multipliers, the pipelined adder tree and the merge stage, and counts every action as it happens.
It shares no formula with the closed form: only the parameter record :class:`~.timing.GoboTileParams`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.compute.gobo.timing import GoboTileParams
from sim.hw.timing import StepperResult

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True, eq=False)
class GoboBlock:
    """Operands of one block for the stepper.

    ``x``: int8-valued [R, K]; ``idx``: [K, P] in 0..2**bits-1; ``outlier_pos``: [n, 2] int
    (k, p) pairs, distinct; ``outlier_vals``: [n] int16-valued.
    """

    x: np.ndarray
    idx: np.ndarray
    outlier_pos: np.ndarray
    outlier_vals: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        """(R, K, P)."""
        return int(self.x.shape[0]), int(self.x.shape[1]), int(self.idx.shape[1])


def reconstruct_weights(
    idx: np.ndarray, centroids: np.ndarray, outlier_pos: np.ndarray, outlier_vals: np.ndarray
) -> np.ndarray:
    """Dense int64 W[K, P]: centroids[idx], with outlier positions replaced by their values."""
    w = np.asarray(centroids, dtype=np.int64)[np.asarray(idx, dtype=np.int64)]
    pos = np.asarray(outlier_pos, dtype=np.int64).reshape(-1, 2)
    if pos.size:
        w[pos[:, 0], pos[:, 1]] = np.asarray(outlier_vals, dtype=np.int64)
    return w


def _validate_block(params: GoboTileParams, blk: GoboBlock) -> None:
    x, idx = np.asarray(blk.x), np.asarray(blk.idx)
    if x.ndim != 2 or idx.ndim != 2 or x.shape[1] != idx.shape[0]:
        raise ValueError(f"need x [R, K] and idx [K, P], got {x.shape} and {idx.shape}")
    R, K, P = blk.shape
    if min(R, K, P) < 1 or params.rows_per_pe < R or params.pes < P:
        raise ValueError(f"block R={R} K={K} P={P} does not fit {params.rows_per_pe} rows x {params.pes} PEs")
    if x.min() < -128 or x.max() > 127:
        raise ValueError("x must hold int8 values")
    if idx.min() < 0 or idx.max() >= params.centroids:
        raise ValueError(f"idx must lie in 0..{params.centroids - 1}")
    pos = np.asarray(blk.outlier_pos).reshape(-1, 2)
    vals = np.asarray(blk.outlier_vals).reshape(-1)
    if pos.shape[0] != vals.shape[0]:
        raise ValueError("outlier_pos and outlier_vals must have the same length")
    if pos.size:
        if pos[:, 0].min() < 0 or pos[:, 0].max() >= K or pos[:, 1].min() < 0 or pos[:, 1].max() >= P:
            raise ValueError("outlier positions out of the block")
        if len({(int(k), int(p)) for k, p in pos}) != pos.shape[0]:
            raise ValueError("outlier positions must be distinct")
        if vals.min() < -(2**15) or vals.max() > 2**15 - 1:
            raise ValueError("outlier values must hold int16 values")


def _i32(value: np.ndarray | int, what: str) -> None:
    arr = np.asarray(value)
    if arr.size and (arr.min() < _INT32_MIN or arr.max() > _INT32_MAX):
        raise OverflowError(f"int32 overflow in {what}")


# --------------------------------------------------------------------------- stepper


class _Front:
    """Front engine state for one block: Gaussian pipeline + outlier unit."""

    def __init__(self, blk_id: int, buf: int, blk: GoboBlock, stages: int) -> None:
        self.blk_id = blk_id
        self.buf = buf
        self.x = np.asarray(blk.x, dtype=np.int64)
        R, K, P = blk.shape
        self.K = K
        self.next_k = 0
        idx = np.asarray(blk.idx, dtype=np.int64)
        self.fifos = [deque(int(v) for v in idx[:, p]) for p in range(P)]
        pos = np.asarray(blk.outlier_pos, dtype=np.int64).reshape(-1, 2)
        vals = np.asarray(blk.outlier_vals, dtype=np.int64).reshape(-1)
        order = np.lexsort((pos[:, 1], pos[:, 0])) if pos.size else np.zeros(0, dtype=np.int64)
        # The tile's sorted position stream for the mask comparator.
        self.pos_stream = deque((int(pos[i, 0]), int(pos[i, 1])) for i in order)
        # Work items of the shared outlier MAC unit: (k, p, value, row).
        self.outlier_queue = deque(
            (int(pos[i, 0]), int(pos[i, 1]), int(vals[i]), r) for i in order for r in range(R)
        )
        self.pipe: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = [None] * stages
        # Mask bits of the column being matched, built up over as many cycles as the comparator needs.
        self.mask = np.zeros(P, dtype=bool)

    def done(self) -> bool:
        return self.next_k == self.K and not self.outlier_queue and all(e is None for e in self.pipe)


class _Back:
    """Back engine state for one block: multipliers, pipelined adder tree, merge stage."""

    def __init__(self, blk_id: int, buf: int, R: int, P: int, levels: int, C: int) -> None:
        self.blk_id = blk_id
        self.buf = buf
        self.R = R
        self.mult_pos = 0
        self.products = np.zeros((P, R, C), dtype=np.int64)
        self.next_row = 0
        # tree[l] holds the outputs of level l+1 as (row, values[P, C >> (l+1)]).
        self.tree: list[tuple[int, np.ndarray] | None] = [None] * levels
        self.y = np.zeros((R, P), dtype=np.int64)
        self.rows_out = 0

    def done(self) -> bool:
        return self.rows_out == self.R


class GoboTileStepper:
    """Per-cycle reference model of one GOBO tile (slow; for tests).

    Moves data register by register: per-PE index FIFOs, the activation broadcast register and
    its pipeline copies, per-PE index/mask pipeline registers, R x C bin registers per PE (bin_bits wide)
    (one or two sets), the outlier work queue feeding the shared outlier MAC unit and its
    per-(PE, row) accumulators, the per-PE multipliers and product registers, the pipelined
    adder tree and the merge/output stage. Counts every action as it happens.
    """

    def __init__(self, params: GoboTileParams) -> None:
        """Args: params: the tile parameters the closed form uses too."""
        self.params = params

    def run_block(
        self,
        x: np.ndarray,
        idx: np.ndarray,
        centroids: np.ndarray,
        outlier_pos: np.ndarray,
        outlier_vals: np.ndarray,
        *,
        load_dictionary: bool = False,
    ) -> StepperResult:
        """Run one block cycle by cycle.

        Args:
            x: [R, K] int8 activations. idx: [K, P] indices. centroids: [2**bits] int8.
            outlier_pos: [n, 2] (k, p). outlier_vals: [n] int16.
            load_dictionary: load the dictionary over the broadcast bus first.

        Returns:
            ``StepperResult(output=Y [R, P] int64, cycles, actions)``.
        """
        blk = GoboBlock(np.asarray(x), np.asarray(idx), np.asarray(outlier_pos), np.asarray(outlier_vals))
        res = self.run_blocks([blk], centroids, load_dictionary=load_dictionary)
        return StepperResult(res.output[0], res.cycles, res.actions)

    def run_blocks(
        self, blocks: Sequence[GoboBlock], centroids: np.ndarray, *, load_dictionary: bool = False
    ) -> StepperResult:
        """Run a sequence of equally-shaped blocks of one tensor cycle by cycle.

        Returns:
            ``StepperResult(output=Y [N, R, P] int64, cycles, actions)``.
        """
        p = self.params
        C, b = p.centroids, p.bits
        cent = np.asarray(centroids, dtype=np.int64).reshape(-1)
        if cent.shape[0] != C or cent.min() < -128 or cent.max() > 127:
            raise ValueError(f"centroids must be {C} int8 values")
        if not blocks:
            raise ValueError("need at least one block")
        shape = blocks[0].shape
        for blk in blocks:
            _validate_block(p, blk)
            if blk.shape != shape:
                raise ValueError("all blocks of a sequence must have the same (R, K, P)")
        R, K, P = shape
        n_blocks = len(blocks)
        stages = p.decode_latency_cycles + p.add_latency_cycles
        n_sets = 2 if p.double_buffered_bins else 1
        M = p.multipliers_per_pe
        act_reg_bits = 8 * R + (b + 1) * P  # one pipeline register slot: activations + idx/mask

        counts: dict[str, int] = {}

        def count(name: str, n: int) -> None:
            if n:
                counts[name] = counts.get(name, 0) + int(n)

        # Dictionary registers of every PE of the tile.
        dict_regs = np.zeros((p.pes, C), dtype=np.int64)
        if not load_dictionary:
            dict_regs[:] = cent  # resident from an earlier load, not counted here
        bins = [np.zeros((P, R, C), dtype=np.int64) for _ in range(n_sets)]
        oacc = [np.zeros((P, R), dtype=np.int64) for _ in range(n_sets)]
        free_sets = list(range(n_sets))
        ys = np.zeros((n_blocks, R, P), dtype=np.int64)

        front: _Front | None = None
        back: _Back | None = None
        filled: deque[tuple[int, int]] = deque()  # (block, set) whose front phase is done
        next_block = 0
        finished = 0
        cycle = 0

        # Dictionary load over the broadcast bus: rows_per_pe int8 entries per cycle until all C are in,
        # or, with an explicit dict_load_cycles Ld, the bus paced so the load takes exactly Ld cycles.
        if p.dict_load_cycles is None:
            per_cycle = p.rows_per_pe
        else:
            per_cycle = 1
            while per_cycle * p.dict_load_cycles < C:
                per_cycle += 1
        loaded = 0
        loading = load_dictionary

        while finished < n_blocks:
            if loading:
                # Broadcast the next entries; every PE latches them.
                n_now = min(per_cycle, C - loaded)
                if n_now > 0:
                    dict_regs[:, loaded : loaded + n_now] = cent[loaded : loaded + n_now]
                    count("dict_write", p.pes * n_now)
                    count("reg_bits", 8 * p.pes * n_now)
                    loaded += n_now
                cycle += 1
                loading = loaded < C or (p.dict_load_cycles is not None and cycle < p.dict_load_cycles)
                continue

            # ---- controller: start engines at the beginning of the cycle
            if back is None and filled:
                blk_id, buf = filled.popleft()
                back = _Back(blk_id, buf, R, P, b, C)
            if front is None and next_block < n_blocks and free_sets:
                buf = free_sets.pop(0)
                bins[buf][:] = 0
                oacc[buf][:] = 0
                front = _Front(next_block, buf, blocks[next_block], stages)
                next_block += 1

            # ---- front engine: Gaussian pipeline (last stage first) and outlier unit
            if front is not None:
                f = front
                last = f.pipe[-1]
                if last is not None:
                    act, sel, mask = last
                    for pe in range(P):
                        if mask[pe]:
                            continue
                        new = bins[f.buf][pe, :, sel[pe]] + act
                        _i32(new, "bin accumulate")
                        bins[f.buf][pe, :, sel[pe]] = new
                        count("bin_add", R)
                        count("bin_write_bits", p.bin_bits * R)
                for s in range(stages - 1, 0, -1):
                    f.pipe[s] = f.pipe[s - 1]
                    if f.pipe[s] is not None:
                        count("reg_bits", act_reg_bits)
                f.pipe[0] = None
                if f.next_k < f.K:
                    k = f.next_k
                    # Position comparator: each lane matches one head position of the current column.
                    lanes = p.outlier_positions_per_cycle
                    while lanes and f.pos_stream and f.pos_stream[0][0] == k:
                        f.mask[f.pos_stream.popleft()[1]] = True
                        count("outlier_compare", 1)
                        lanes -= 1
                    if not (f.pos_stream and f.pos_stream[0][0] == k):
                        # The column is fully matched (one more compare saw the head leave it): fetch it.
                        count("outlier_compare", 1)
                        sel = np.array([fifo.popleft() for fifo in f.fifos], dtype=np.int64)
                        count("index_read_bits", b * P)
                        f.pipe[0] = (f.x[:, k].copy(), sel, f.mask)
                        f.mask = np.zeros(P, dtype=bool)
                        count("reg_bits", act_reg_bits)
                        f.next_k += 1
                    # else: the comparator needs another cycle for this column; a bubble enters the pipeline.
                # Outlier unit: each MAC takes one lane and one byte of the activation port this cycle.
                mac_lanes, port_bytes = p.outlier_macs_per_cycle, p.outlier_port_bytes
                while mac_lanes and port_bytes and f.outlier_queue:
                    k, pe, val, r = f.outlier_queue.popleft()
                    operand = int(f.x[r, k])  # read through the outlier port
                    port_bytes -= 1
                    count("outlier_act_bytes", 1)
                    mac_lanes -= 1
                    new = int(oacc[f.buf][pe, r]) + operand * val
                    _i32(new, "outlier accumulate")
                    oacc[f.buf][pe, r] = new
                    count("mac_int8x16", 1)
                    count("reg_bits", 56)

            # ---- back engine: merge, tree levels (last first), then multipliers
            if back is not None:
                bk = back
                ready = bk.mult_pos  # products written in earlier cycles
                top = bk.tree[-1]
                if top is not None:
                    row, vals = top
                    out = vals[:, 0] + oacc[bk.buf][:, row]
                    _i32(out, "outlier merge")
                    bk.y[row] = out
                    bk.rows_out += 1
                    count("add_int32", P)
                    count("reg_bits", 32 * P)
                    bk.tree[-1] = None
                for lvl in range(b - 1, 0, -1):
                    src = bk.tree[lvl - 1]
                    if src is not None:
                        row, vals = src
                        nxt = vals[:, 0::2] + vals[:, 1::2]
                        _i32(nxt, "adder tree")
                        bk.tree[lvl] = (row, nxt)
                        count("add_int32", nxt.size)
                        count("reg_bits", 32 * nxt.size)
                        bk.tree[lvl - 1] = None
                if bk.next_row < R and ready >= (bk.next_row + 1) * C:
                    vals = bk.products[:, bk.next_row, :]
                    nxt = vals[:, 0::2] + vals[:, 1::2]
                    _i32(nxt, "adder tree")
                    bk.tree[0] = (bk.next_row, nxt)
                    count("add_int32", nxt.size)
                    count("reg_bits", 32 * nxt.size)
                    bk.next_row += 1
                for _ in range(min(M, R * C - bk.mult_pos)):
                    r, c = divmod(bk.mult_pos, C)
                    prod = bins[bk.buf][:, r, c] * dict_regs[:P, c]
                    _i32(prod, "centroid multiply")
                    bk.products[:, r, c] = prod
                    count("mul_int8x32", P)
                    count("dict_read", P)
                    count("reg_bits", 32 * P)
                    bk.mult_pos += 1

            # ---- end of cycle: retire finished engines
            if front is not None and front.done():
                filled.append((front.blk_id, front.buf))
                front = None
            if back is not None and back.done():
                ys[back.blk_id] = back.y
                free_sets.append(back.buf)
                free_sets.sort()
                finished += 1
                back = None
            cycle += 1

        return StepperResult(ys, cycle, counts)


class GoboMacStepper:
    """Per-cycle reference of the MAC mode: each PE issues up to M MACs per cycle through the pipeline."""

    def __init__(self, params: GoboTileParams) -> None:
        self.params = params

    def run(self, x: np.ndarray, b: np.ndarray) -> StepperResult:
        """Compute ``x @ b`` (int8 x int8 -> int32) cycle by cycle; returns the product, cycles and actions."""
        R, K = x.shape
        if b.shape[0] != K:
            raise ValueError(f"inner dimensions differ: {x.shape} @ {b.shape}")
        P = b.shape[1]
        m = self.params.multipliers_per_pe
        stages = self.params.add_latency_cycles
        work = [(k, r) for k in range(K) for r in range(R)]  # the issue order of every PE
        groups = [work[i:i + m] for i in range(0, len(work), m)]
        acc = np.zeros((R, P), dtype=np.int64)
        inflight: deque[tuple[int, list[tuple[int, int]]]] = deque()  # (cycle it completes in, MACs)
        cycle = issued = macs = 0
        while issued < len(groups) or inflight:
            if issued < len(groups):  # fetch stage: operands of the next group enter the pipeline
                inflight.append((cycle + stages, groups[issued]))
                issued += 1
            while inflight and inflight[0][0] == cycle:  # last stage: accumulate
                for k, r in inflight.popleft()[1]:
                    acc[r, :] += int(x[r, k]) * b[k, :].astype(np.int64)
                    macs += P
            cycle += 1
        if int(np.abs(acc).max(initial=0)) >= 2**31:
            raise OverflowError("GOBO MAC mode: accumulator exceeds int32")
        return StepperResult(acc, cycle, {"mac_int8": macs, "reg_bits": macs * 48})
