"""GOBO tile: the per-cycle stepper and the closed form agree exactly; the stepper computes X @ W."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.compute.gobo.stepper import GoboBlock, GoboTileStepper, reconstruct_weights
from sim.compute.gobo.timing import (
    GoboTileParams,
    gobo_block_timing,
    gobo_blocks_timing,
    gobo_comparator_stall_cycles,
    gobo_peak_macs_per_cycle,
    gobo_post_cycles,
)
from sim.hw.timing import TileTiming, merge_actions

DENSITIES = (0.0, 0.002, 0.05, 0.3, 0.8, 1.0)


def _block(rng: np.random.Generator, R: int, K: int, P: int, bits: int, density: float) -> GoboBlock:
    x = rng.integers(-128, 128, (R, K))
    idx = rng.integers(0, 1 << bits, (K, P))
    if density >= 1.0:
        pos = np.argwhere(np.ones((K, P), dtype=bool))  # all-outlier block
    else:
        pos = np.argwhere(rng.random((K, P)) < density)
    pos = pos[rng.permutation(len(pos))]  # the stepper must not rely on the caller's order
    vals = rng.integers(-(2**15), 2**15, len(pos))
    return GoboBlock(x, idx, pos, vals)


def _random_params(rng: np.random.Generator, double_buffered: bool | None = None) -> GoboTileParams:
    return GoboTileParams(
        pes=int(rng.integers(1, 9)),
        rows_per_pe=4,
        bits=int(rng.integers(1, 5)),
        decode_latency_cycles=int(rng.integers(0, 3)),
        add_latency_cycles=int(rng.integers(1, 3)),
        outlier_macs_per_cycle=int(rng.integers(1, 7)),
        outlier_positions_per_cycle=int(rng.integers(1, 10)),
        outlier_port_bytes=int(rng.integers(1, 9)),
        multipliers_per_pe=int(rng.choice([1, 2, 3, 8, 20])),
        double_buffered_bins=bool(rng.integers(0, 2)) if double_buffered is None else double_buffered,
        dict_load_cycles=None if rng.random() < 0.7 else int(rng.integers(1, 20)),
        bin_bits=int(rng.integers(8, 33)),
    )


def _columns(blk: GoboBlock) -> np.ndarray:
    """Outliers per index-stream column k of a block."""
    pos = np.asarray(blk.outlier_pos, dtype=np.int64).reshape(-1, 2)
    return np.bincount(pos[:, 0], minlength=blk.shape[1])


def _stalls(params: GoboTileParams, blocks: list[GoboBlock]) -> np.ndarray:
    return np.array([int(gobo_comparator_stall_cycles(params, _columns(b))) for b in blocks])


def _check(params: GoboTileParams, blocks: list[GoboBlock], cent: np.ndarray, load: bool) -> TileTiming:
    res = GoboTileStepper(params).run_blocks(blocks, cent, load_dictionary=load)
    R, K, P = blocks[0].shape
    closed = gobo_blocks_timing(params, R, K, P, np.array([len(b.outlier_pos) for b in blocks]), load_dictionary=load,
                                comparator_stall_cycles=_stalls(params, blocks))
    assert res.cycles == closed.cycles
    assert dict(res.actions) == dict(closed.actions)
    assert res.timing == closed
    assert res.output.dtype == np.int64
    for i, blk in enumerate(blocks):
        w = reconstruct_weights(blk.idx, cent, blk.outlier_pos, blk.outlier_vals)
        np.testing.assert_array_equal(res.output[i], blk.x.astype(np.int64) @ w)
    return closed


def test_single_blocks_random_stepper_equals_closed_form() -> None:
    rng = np.random.default_rng(1234)
    for trial in range(120):
        params = _random_params(rng)
        R = int(rng.integers(1, 5))
        K = int(rng.integers(1, 41))
        P = int(rng.integers(1, params.pes + 1))
        blk = _block(rng, R, K, P, params.bits, DENSITIES[trial % len(DENSITIES)])
        cent = rng.integers(-128, 128, params.centroids)
        load = bool(rng.integers(0, 2))
        res = GoboTileStepper(params).run_block(
            blk.x, blk.idx, cent, blk.outlier_pos, blk.outlier_vals, load_dictionary=load
        )
        closed = gobo_block_timing(params, R, K, P, len(blk.outlier_pos), load_dictionary=load,
                                   comparator_stall_cycles=int(_stalls(params, [blk])[0]))
        assert res.timing == closed, (params, R, K, P)
        w = reconstruct_weights(blk.idx, cent, blk.outlier_pos, blk.outlier_vals)
        np.testing.assert_array_equal(res.output, blk.x.astype(np.int64) @ w)


@pytest.mark.parametrize("double_buffered", [False, True])
def test_sequences_random_stepper_equals_closed_form(double_buffered: bool) -> None:
    rng = np.random.default_rng(99 + double_buffered)
    for _ in range(40):
        params = _random_params(rng, double_buffered)
        R = int(rng.integers(1, 5))
        K = int(rng.integers(1, 30))
        P = int(rng.integers(1, params.pes + 1))
        n = int(rng.integers(1, 5))
        blocks = [_block(rng, R, K, P, params.bits, float(rng.choice(DENSITIES))) for _ in range(n)]
        cent = rng.integers(-128, 128, params.centroids)
        _check(params, blocks, cent, bool(rng.integers(0, 2)))


@settings(max_examples=40, deadline=None, database=None)
@given(
    R=st.integers(1, 4),
    K=st.integers(1, 40),
    P=st.integers(1, 8),
    bits=st.integers(1, 4),
    rate=st.integers(1, 8),
    positions=st.integers(1, 9),
    port=st.integers(1, 8),
    mults=st.integers(1, 16),
    double_buffered=st.booleans(),
    density=st.sampled_from(DENSITIES),
    n_blocks=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_property_stepper_equals_closed_form(
    R: int, K: int, P: int, bits: int, rate: int, positions: int, port: int, mults: int, double_buffered: bool,
    density: float, n_blocks: int, seed: int,
) -> None:
    params = GoboTileParams(
        pes=8, rows_per_pe=4, bits=bits, outlier_macs_per_cycle=rate, outlier_positions_per_cycle=positions,
        outlier_port_bytes=port, multipliers_per_pe=mults, double_buffered_bins=double_buffered,
    )
    rng = np.random.default_rng(seed)
    blocks = [_block(rng, R, K, P, bits, density) for _ in range(n_blocks)]
    _check(params, blocks, rng.integers(-128, 128, params.centroids), load=seed % 2 == 0)


def test_hand_computed_default_block() -> None:
    # pes 16, R<=4, 3 bits, decode 1, add 1, 4 outlier MACs/cycle, 1 multiplier, one comparator lane
    p = GoboTileParams(outlier_positions_per_cycle=1)
    # G = 10 + 1 + 1 = 12; B = max(ceil(4*8/1), 4) + 3 + 1 = 36; no outliers -> 48.
    t = gobo_block_timing(p, 4, 10, 4, 0, comparator_stall_cycles=0)
    assert t.cycles == 48
    assert t.action("bin_add") == 4 * 10 * 4 and t.action("bin_write_bits") == 32 * 4 * 10 * 4
    assert t.action("add_int32") == 4 * 4 * 8  # (tree 7 + merge 1) per output
    assert t.action("mul_int8x32") == 4 * 4 * 8 == t.action("dict_read")
    assert t.action("index_read_bits") == 3 * 10 * 4
    assert t.action("mac_int8x16") == 0 == t.action("outlier_act_bytes")
    assert t.action("outlier_compare") == 10  # one compare ends each column
    # Dictionary: ceil(8 / 4) = 2 cycles, 16 PEs x 8 entries.
    td = gobo_block_timing(p, 4, 10, 4, 0, load_dictionary=True, comparator_stall_cycles=0)
    assert td.cycles == 50 and td.action("dict_write") == 128
    # 3 outliers in 3 columns: 12 MACs / 4 per cycle = 3 cycles < G -> hidden.
    assert gobo_block_timing(p, 4, 10, 4, 3, comparator_stall_cycles=0).cycles == 48
    # All 40 weights outliers, 4 per column: one comparator lane holds each column 3 more cycles, S = 30, so
    # the Gaussian pass (12 + 30 = 42) outlasts the 160 MACs / 4 = 40 cycles of the outlier unit.
    full = gobo_block_timing(p, 4, 10, 4, 40, comparator_stall_cycles=30)
    assert full.cycles == 42 + 36
    assert full.action("add_int32") == 4 * 4 * 8 and full.action("bin_add") == 0
    assert full.action("outlier_compare") == 40 + 10 and full.action("outlier_act_bytes") == 160
    # Four comparator lanes: no stall, the outlier unit binds (40); a 2-byte port halves its rate (80).
    p4 = GoboTileParams(outlier_positions_per_cycle=4)
    assert gobo_block_timing(p4, 4, 10, 4, 40, comparator_stall_cycles=0).cycles == 40 + 36
    p4_port2 = GoboTileParams(outlier_positions_per_cycle=4, outlier_port_bytes=2)
    assert gobo_block_timing(p4_port2, 4, 10, 4, 40, comparator_stall_cycles=0).cycles == 80 + 36


def test_post_reduction_bottlenecks() -> None:
    # Multipliers bound: ceil(R*C/M); tree bound (many multipliers): one row per cycle.
    assert gobo_post_cycles(GoboTileParams(multipliers_per_pe=3), 2) == 6 + 4
    assert gobo_post_cycles(GoboTileParams(multipliers_per_pe=64), 4) == 4 + 4
    assert gobo_post_cycles(GoboTileParams(bits=1, multipliers_per_pe=1), 3) == 6 + 2


def test_double_buffering_hides_post_reduction() -> None:
    p1 = GoboTileParams(outlier_positions_per_cycle=16)
    p2 = GoboTileParams(double_buffered_bins=True, outlier_positions_per_cycle=16)
    counts = np.array([0, 5, 200, 0])  # block 2: 800 MACs / 4 = 200 cycles > G
    single = gobo_blocks_timing(p1, 4, 100, 16, counts)
    double = gobo_blocks_timing(p2, 4, 100, 16, counts)
    F = np.array([102, 102, 200, 102])
    B = 36
    assert single.cycles == F.sum() + 4 * B
    assert double.cycles == F[0] + np.maximum(F[1:], B).sum() + B
    assert dict(single.actions) == dict(double.actions)
    # Single-buffered sequence = sum of its blocks.
    total = sum((gobo_block_timing(p1, 4, 100, 16, int(n)) for n in counts), TileTiming(0))
    assert total == single
    # Post-reduction longer than the front phase: the back stage paces the sequence.
    pb = GoboTileParams(double_buffered_bins=True, bits=4, outlier_positions_per_cycle=2)  # B = 64 + 5 = 69 > G = 7
    assert gobo_blocks_timing(pb, 4, 5, 2, np.zeros(3, int)).cycles == 7 + 69 + 69 + 69


def test_empty_sequence_and_block_equals_sequence_of_one() -> None:
    p = GoboTileParams(double_buffered_bins=True, outlier_positions_per_cycle=3)
    assert gobo_blocks_timing(p, 2, 8, 3, np.zeros(0, int)).cycles == 0
    assert gobo_blocks_timing(p, 2, 8, 3, np.zeros(0, int), load_dictionary=True).cycles == 2
    assert gobo_blocks_timing(p, 2, 8, 3, [7]) == gobo_block_timing(p, 2, 8, 3, 7)


def test_peak_macs() -> None:
    assert gobo_peak_macs_per_cycle(GoboTileParams(pes=16, rows_per_pe=4), 8) == 512


def test_overflow_detected() -> None:
    p = GoboTileParams(pes=1, rows_per_pe=1, outlier_macs_per_cycle=64)
    K = 512  # 512 x (-128 * -32768) = 2**31 > int32 max
    x = np.full((1, K), -128)
    pos = np.stack([np.arange(K), np.zeros(K, int)], axis=1)
    with pytest.raises(OverflowError):
        GoboTileStepper(p).run_block(x, np.zeros((K, 1), int), np.zeros(8, int), pos, np.full(K, -(2**15)))


def test_invalid_inputs() -> None:
    p = GoboTileParams(pes=4, rows_per_pe=2)
    with pytest.raises(ValueError):
        gobo_block_timing(p, 3, 8, 4, 0)  # R > rows_per_pe
    with pytest.raises(ValueError):
        gobo_block_timing(p, 2, 8, 5, 0)  # P > pes
    with pytest.raises(ValueError):
        gobo_block_timing(p, 2, 8, 4, 33)  # more outliers than weights
    with pytest.raises(ValueError):
        GoboTileParams(add_latency_cycles=0)
    with pytest.raises(ValueError):
        GoboTileStepper(p).run_block(
            np.zeros((2, 3), int), np.zeros((3, 2), int), np.zeros(8, int),
            np.array([[0, 0], [0, 0]]), np.array([1, 2]),
        )  # duplicate outlier position


def test_tile_timing_composition() -> None:
    a = TileTiming(3, {"add_int32": 2, "mul_int8": 0})
    b = TileTiming(4, {"add_int32": 1, "dict_read": 5})
    assert (a + b) == TileTiming(7, {"add_int32": 3, "dict_read": 5})
    assert a == TileTiming(3, {"add_int32": 2})  # zero counts dropped
    assert hash(a) == hash(TileTiming(3, {"add_int32": 2}))
    assert pickle.loads(pickle.dumps(a + b)) == a + b
    assert merge_actions({"x": 1}, {"x": 2, "y": 3}) == {"x": 3, "y": 3}
    with pytest.raises(ValueError):
        TileTiming(-1, {})


def test_parallel_timing_equals_per_tile_sequences():
    """gobo_parallel_timing (vectorised over tiles) == max/sum of gobo_blocks_timing per tile."""
    from sim.compute.gobo.timing import gobo_parallel_timing
    from sim.hw.timing import merge_actions

    rng = np.random.default_rng(7)
    for _ in range(60):
        params = GoboTileParams(pes=int(rng.integers(1, 9)), rows_per_pe=int(rng.integers(1, 5)),
                                outlier_macs_per_cycle=int(rng.integers(1, 5)),
                                outlier_port_bytes=int(rng.integers(1, 5)),
                                double_buffered_bins=bool(rng.integers(0, 2)))
        K = int(rng.integers(1, 40))
        tiles = int(rng.integers(1, 6))
        n = int(rng.integers(1, 30))
        counts = rng.integers(0, K * params.pes // int(rng.integers(1, 6)) + 1, n)
        stalls = rng.integers(0, np.maximum(counts, 1))  # any S in 0..max(0, n - 1)
        load = bool(rng.integers(0, 2))
        got = gobo_parallel_timing(params, params.rows_per_pe, K, params.pes, counts, tiles, load_dictionary=load,
                                   comparator_stall_cycles=stalls)
        per = [gobo_blocks_timing(params, params.rows_per_pe, K, params.pes, counts[t::tiles], load_dictionary=load,
                                  comparator_stall_cycles=stalls[t::tiles])
               for t in range(min(tiles, n))]
        assert got.cycles == max(p.cycles for p in per)
        assert dict(got.actions) == merge_actions(*[p.actions for p in per])
