"""GOBO's outlier path end to end: the mapping hook's timing of real packed tensors equals the per-cycle stepper
run over the very blocks those tensors hold, and where the outliers fall changes cycles exactly when the outlier
path (comparator, activation port, MAC unit) binds."""

from __future__ import annotations

import numpy as np
import pytest

from sim import api
from sim.compute.base import WeightTile
from sim.compute.gobo.stepper import GoboBlock, GoboTileStepper
from sim.compute.gobo.timing import GoboTileParams, gobo_gaussian_cycles
from sim.compute.gobo.unit import GoboOutliers, GoboUnit
from sim.config import load_hardware
from sim.hw.timing import TileTiming, merge_actions
from sim.quant.packed import PackedTensor, pack


class _Source:
    """The part of a GOBO weight source the matrix unit reads: the packed outlier layout."""

    packed_format = "gobo"

    def __init__(self, packed: PackedTensor) -> None:
        self.packed = packed

    def outlier_counts(self, row_block: int, col_block: int) -> np.ndarray:
        return self.packed.outlier_counts(row_block, col_block)


def _skewed_weights(rng: np.random.Generator, N: int, K: int) -> np.ndarray:
    """N(0, 1) weights with heavy rows and columns, so outliers bunch in some blocks, chunks and index columns."""
    w = rng.normal(0.0, 1.0, (N, K))
    w[rng.choice(N, max(1, N // 6), replace=False)] *= 3.0
    w[:, rng.choice(K, max(1, K // 5), replace=False)] *= 2.5
    return w.astype(np.float32)


def _reference(params: GoboTileParams, tiles: int, packed: PackedTensor, M: int, n0: int, n1: int, k0: int, k1: int,
               first: bool, rng: np.random.Generator) -> tuple[TileTiming, list[int]]:
    """Cycles and actions of the step from the stepper: every (column block, row block) of the tensor's
    ``[n0, n1) x [k0, k1)`` part as a block with the outliers that really sit there, dealt in column-major order
    round-robin to the tiles. Also returns every block's outlier count (to check the case is not vacuous)."""
    P, R, K = params.pes, params.rows_per_pe, k1 - k0
    rows, cols = packed.outlier_rows, packed.outlier_cols
    blocks, counts = [], []
    for nb in range(n0 // P, -(-n1 // P)):
        inside = (rows >= nb * P) & (rows < (nb + 1) * P) & (cols >= k0) & (cols < k1)
        pos = np.stack([cols[inside] - k0, rows[inside] - nb * P], axis=1)
        idx = rng.integers(0, params.centroids, (K, P))
        for _ in range(-(-M // R)):
            x = rng.integers(-128, 128, (R, K))
            blocks.append(GoboBlock(x, idx, pos, rng.integers(-(2**15), 2**15, len(pos))))
            counts.append(len(pos))
    cent = rng.integers(-128, 128, params.centroids)
    runs = [GoboTileStepper(params).run_blocks(blocks[t::tiles], cent, load_dictionary=first)
            for t in range(min(tiles, len(blocks)))]
    return TileTiming(max(r.cycles for r in runs), merge_actions(*[r.actions for r in runs])), counts


# (pes, rows_per_pe, MAC lanes, port bytes, comparator lanes, what binds): MAC-bound, port-bound,
# comparator-bound, and a comparator that matches whole columns (cp >= pes: the hook needs no per-column counts).
CASES = [
    (8, 4, 1, 4, 1, "outlier unit"),
    (8, 2, 4, 1, 2, "outlier unit"),
    (4, 4, 8, 8, 1, "comparator"),
    (4, 3, 1, 3, 4, "outlier unit"),
]


@pytest.mark.parametrize("case", CASES)
def test_unit_timing_of_packed_tensor_equals_stepper(case: tuple[int, int, int, int, int, str]) -> None:
    pes, rows, rate, port, lanes, binds = case
    rng = np.random.default_rng(pes + 10 * rows + 100 * rate + 1000 * port + 10000 * lanes)
    N, K, Kc = 3 * pes + 1, 40, 16  # a partial last column block; K chunks of 16, 16 and 8
    packed = pack(_skewed_weights(rng, N, K), 3, outlier_threshold=-2.5)
    counts = packed.outlier_counts(pes, Kc)
    assert len(set(counts.sum(axis=0).tolist())) > 1, "the K chunks must differ in outliers"
    for double in (False, True):
        params = GoboTileParams(pes=pes, rows_per_pe=rows, outlier_macs_per_cycle=rate, outlier_port_bytes=port,
                                outlier_positions_per_cycle=lanes, double_buffered_bins=double)
        tiles = 2
        unit = GoboUnit(params, tiles)
        operand = unit.weight_operand(_Source(packed), pes * tiles, Kc)
        assert isinstance(operand, GoboOutliers) and (operand.columns is None) == (lanes >= pes)
        bound = 0
        for ki, (k0, k1) in enumerate([(0, 16), (16, 32), (32, 40)]):
            for n0, n1, M in [(0, N, 5), (pes, 3 * pes, 3)]:
                tile = WeightTile(operand, n0, n1, k0, k1, ki)
                first = ki == 0 and n0 == 0
                got = unit.weight_gemm_timing(M, k1 - k0, n1 - n0, tile, first=first)
                want, block_counts = _reference(params, tiles, packed, M, n0, n1, k0, k1, first, rng)
                assert got == want, (case, double, ki, n0, n1)
                G = gobo_gaussian_cycles(params, k1 - k0)
                bound += sum(-(-n * rows // min(rate, port)) > G for n in block_counts)
        if binds == "outlier unit":
            assert bound > 0, "some block's outlier MACs must outlast its Gaussian pass"
        else:
            assert operand.columns is not None and operand.columns.max() > lanes, "some column must stall"


def _permuted(w: np.ndarray, packed: PackedTensor, P: int) -> np.ndarray:
    """The same multiset of values with every outlier moved into the first column blocks, P to an index column
    (same Gaussian fit, same outliers, same total count; a different per-block and per-column distribution)."""
    N, K = w.shape
    flat = w.reshape(-1)
    is_out = np.zeros(flat.size, dtype=bool)
    is_out[packed.outlier_positions.reshape(-1)] = True
    # stored positions n * K + k, column block by column block, index column by index column
    slots = np.array([n * K + k for nb in range(-(-N // P)) for k in range(K) for n in range(nb * P, min(N, nb * P + P))])
    out = np.empty_like(flat)
    out[slots] = np.concatenate([flat[is_out], flat[~is_out]])
    return out.reshape(w.shape)


def test_outlier_placement_changes_cycles_only_when_the_outlier_path_binds() -> None:
    rng = np.random.default_rng(5)
    P, N, K, Kc = 8, 32, 64, 32
    w = rng.normal(0.0, 1.0, (N, K)).astype(np.float32)
    spread = pack(w, 3, outlier_threshold=-3.0)
    bunched = pack(_permuted(w, spread, P), 3, outlier_threshold=-3.0)
    assert spread.n_outliers == bunched.n_outliers > 0
    assert bunched.outlier_counts(P, Kc).max() > spread.outlier_counts(P, Kc).max()

    def run(packed: PackedTensor, params: GoboTileParams) -> TileTiming:
        unit = GoboUnit(params, 2)
        op = unit.weight_operand(_Source(packed), 2 * P, Kc)
        return sum((unit.weight_gemm_timing(16, Kc, N, WeightTile(op, 0, N, ki * Kc, (ki + 1) * Kc, ki),
                                            first=ki == 0) for ki in range(K // Kc)), TileTiming(0))

    binds = GoboTileParams(pes=P, outlier_macs_per_cycle=1, outlier_port_bytes=1, outlier_positions_per_cycle=1)
    free = GoboTileParams(pes=P, outlier_macs_per_cycle=64, outlier_port_bytes=64, outlier_positions_per_cycle=P)
    a, b = run(spread, binds), run(bunched, binds)
    assert b.cycles > a.cycles
    assert dict(a.actions) == dict(b.actions)  # the work is the same; only its placement moved
    assert run(spread, free) == run(bunched, free)
    # each resource on its own: the MAC lanes, the port, the comparator
    for params in (GoboTileParams(pes=P, outlier_macs_per_cycle=1, outlier_port_bytes=64,
                                  outlier_positions_per_cycle=P),
                   GoboTileParams(pes=P, outlier_macs_per_cycle=64, outlier_port_bytes=1,
                                  outlier_positions_per_cycle=P),
                   GoboTileParams(pes=P, outlier_macs_per_cycle=64, outlier_port_bytes=64,
                                  outlier_positions_per_cycle=1)):
        assert run(bunched, params).cycles > run(spread, params).cycles >= run(spread, free).cycles


def test_outlier_bound_design_is_slower_end_to_end() -> None:
    """A whole run: a one-lane outlier path over the same weights does the same outlier work in more cycles."""
    fast = api.run(load_hardware("gobo", ["compute.outlier_positions_per_cycle=64"]), "tiny", functional=False)
    slow = api.run(load_hardware("gobo", ["compute.outlier_macs_per_cycle=1", "compute.outlier_port_bytes=1",
                                          "compute.outlier_positions_per_cycle=1"]), "tiny", functional=False)
    assert slow.actions["gobo"]["mac_int8x16"] == fast.actions["gobo"]["mac_int8x16"] > 0
    assert slow.actions["gobo"]["outlier_act_bytes"] == slow.actions["gobo"]["mac_int8x16"]
    assert slow.cycles > fast.cycles
