"""GOBO tile in MAC mode: activation x activation products (attention QK^T and AV) on the PEs' multipliers.

The GOBO PE is built to add activations into centroid bins; its only multipliers are the
``multipliers_per_pe`` int8 x int32 units of the post-reduction. Attention's batched matmuls have no
weights (both operands are activations), so the bin mechanism does not apply. This model assumes
(the GOBO paper's treatment of attention is not verified, reference/gobo-paper.md sec. 3) that the tile
runs them as plain MACs on those multipliers, reusing the bin-0 register as the int32 accumulator:

- block ``Y[R, P] = X[R, K] @ B[K, P]`` on one tile, one output column per PE, as in the Gaussian pass;
  each PE must perform ``R * K`` MACs with ``M = multipliers_per_pe`` multipliers;
- per cycle the tile broadcasts the activations a step needs and each PE fetches the operands of its
  next ``M`` MACs in (k, row) order (one fetch cycle); a group fetched in cycle ``c`` passes
  ``add_latency_cycles`` = A multiply-accumulate stages and is in the accumulator at the end of cycle
  ``c + A``. With ``G = ceil(R * K / M)`` groups, the last is fetched in cycle ``G - 1``:

      cycles = ceil(R * K / M) + add_latency_cycles

The peak rate in this mode is ``pes * M`` MACs per cycle per tile, against ``pes * R`` weight products
per cycle in GOBO mode, so attention is relatively slower on an add-mostly array: a real consequence
of the design, visible in the per-operator report.

Actions: ``mac_int8`` = R*K*P; ``reg_bits`` = 8 per operand latched (2 per MAC) + 32 per accumulate.
:class:`GoboMacStepper` issues the MACs cycle by cycle and checks the closed form and the product.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from sim.hw.gobo_tile import GoboTileParams
from sim.hw.timing import StepperResult, TileTiming


def gobo_mac_block_timing(params: GoboTileParams, R: int, K: int, P: int) -> TileTiming:
    """Cycles and actions of one MAC-mode block (R rows x K x P columns) on one tile."""
    if min(R, K, P) < 1 or params.rows_per_pe < R or params.pes < P:
        raise ValueError(f"bad MAC block R={R} K={K} P={P} for {params.rows_per_pe} rows x {params.pes} PEs")
    macs = R * K * P
    cycles = math.ceil(R * K / params.multipliers_per_pe) + params.add_latency_cycles
    return TileTiming(cycles, {"mac_int8": macs, "reg_bits": macs * (16 + 32)})


def gobo_mac_blocks_timing(params: GoboTileParams, R: int, K: int, P: int, blocks: int) -> TileTiming:
    """``blocks`` MAC-mode blocks back to back on one tile (each pays its own fill)."""
    one = gobo_mac_block_timing(params, R, K, P)
    return TileTiming(one.cycles * blocks, {k: v * blocks for k, v in one.actions.items()})


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
