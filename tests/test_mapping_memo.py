"""The per-point speed work gives the same numbers: memoised closed forms, shared steps, counts by multiplicity.

Each test compares the fast path with a plain one written here (no shared helpers): the closed forms called
directly for every tile, actions added step by step, the comparator stalls summed per slice, dense chunk bytes
from the element grid.
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest

from sim.compute.base import WeightTile
from sim.compute.gobo.timing import GoboTileParams, gobo_comparator_stall_cycles
from sim.compute.gobo.unit import GoboOutliers, GoboUnit
from sim.mapping import plan as plan_module
from sim.mapping.memo import TimingMemo
from sim.mapping.plan import _elem_grid
from sim.prepare import prepare
from sim.simulate import count_actions, map_steps, simulate


class _Direct:
    """What the planner asked of the memo, answered by the unit's closed forms on every call (no memo)."""

    def __init__(self, unit, vector) -> None:
        from sim.hw.vector import vector_timing

        self.unit, self.vector, self._vt = unit, vector, vector_timing

    def weight_gemm_timing(self, M, K, N, tile, *, first):
        return self.unit.weight_gemm_timing(M, K, N, tile, first=first)

    def dense_timing(self, M, K, N):
        return self.unit.dense_timing(M, K, N)

    def vector_timing(self, cost, rows, row_len):
        return self._vt(self.vector, cost, rows, row_len)

    def gemm_sram_reads(self, w, M, K, N, tile=None):
        return self.unit.gemm_sram_reads(w, M, K, N, tile)

    def dense_sram_reads(self, M, K, N):
        return self.unit.dense_sram_reads(M, K, N)

    def sub_tiles(self, M, N):
        return self.unit.sub_tiles(M, N)


def _report(hw: str, wl: str) -> str:
    return json.dumps(simulate(prepare(hw, wl)).to_dict(), sort_keys=False)


@pytest.mark.parametrize(("hw", "wl"), [("gobo", "tiny"), ("tpu", "tiny"), ("tcore", "tiny"), ("olaccel", "tiny")])
def test_memoised_plan_gives_the_report_of_direct_closed_forms(hw: str, wl: str, monkeypatch) -> None:
    memoised = _report(hw, wl)
    monkeypatch.setattr(plan_module, "TimingMemo", _Direct)
    assert _report(hw, wl) == memoised  # byte for byte, key order included


def test_memo_reuses_identical_tiles_and_answers_like_the_unit() -> None:
    prep = prepare("gobo", "tiny")
    planner, _, steps = map_steps(prep)
    memo = planner.timing
    assert isinstance(memo, TimingMemo)
    assert memo.computed < memo.calls  # sub-tiles, heads and layers repeat
    unit = prep.unit
    for st in steps:
        w = st.work
        if w is not None and w.kind == "weight-gemm":
            assert st.compute.cycles >= 0
            direct = unit.weight_gemm_timing(w.m, w.k, w.n, w.tile, first=w.first)
            if w.k_accumulate:
                assert st.compute.cycles == direct.cycles
                assert st.compute.actions["add_int32"] == direct.action("add_int32") + w.m * w.n
            else:
                assert st.compute == direct
        elif w is not None and w.kind == "matmul":
            assert st.compute == unit.dense_timing(w.m, w.k, w.n)


def test_memo_does_not_confuse_operands_with_equal_fields() -> None:
    params = GoboTileParams(pes=4, rows_per_pe=2, outlier_positions_per_cycle=4)
    unit = GoboUnit(params, tiles=2)
    from sim.hw.vector import VectorParams

    memo = TimingMemo(unit, VectorParams(8, 4))
    a = GoboOutliers(np.array([[0], [1]], dtype=np.int64), None)
    b = GoboOutliers(np.array([[5], [7]], dtype=np.int64), None)
    ta, tb = WeightTile(a, 0, 8, 0, 16, 0), WeightTile(b, 0, 8, 0, 16, 0)
    assert memo.weight_gemm_timing(4, 16, 8, ta, first=False) == unit.weight_gemm_timing(4, 16, 8, ta, first=False)
    assert memo.weight_gemm_timing(4, 16, 8, tb, first=False) == unit.weight_gemm_timing(4, 16, 8, tb, first=False)
    assert memo.weight_gemm_timing(4, 16, 8, ta, first=False) != memo.weight_gemm_timing(4, 16, 8, tb, first=False)


def _naive_counts(steps, unit: str):
    totals: dict = defaultdict(lambda: defaultdict(int))
    per_op: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for st in steps:
        parts = [(unit if st.unit == "matrix" else "vector", st.compute.actions)]
        if st.epilogue is not None:
            parts.append(("vector", st.epilogue.actions))
        parts += list(st.sram.items())
        dec = sum(t.decode_weights for t in st.loads)
        conv = sum(t.convert_values for t in st.loads)
        if dec:
            parts.append(("decompressor", {"dict_read": dec, "weights_out": dec}))
        if conv:
            parts.append(("converter", {"fp32_to_int": conv}))
        for comp, acts in parts:
            for k, v in acts.items():
                totals[comp][k] += v
                per_op[st.op][comp][k] += v
    clean = lambda d: {k: v for k, v in d.items() if v}  # noqa: E731
    return ({c: clean(a) for c, a in totals.items()},
            {o: {c: clean(a) for c, a in comps.items()} for o, comps in per_op.items()})


@pytest.mark.parametrize("hw", ["gobo", "gobo-compress-tcore", "tpu"])
def test_counts_by_multiplicity_equal_step_by_step_sums_in_key_order(hw: str) -> None:
    prep = prepare(hw, "tiny")
    _, _, steps = map_steps(prep)
    assert len({id(s) for s in steps}) < len(steps)  # shared steps are what the multiplicity counts
    got = count_actions(steps, prep.unit.kind)
    want = _naive_counts(steps, prep.unit.kind)
    assert json.dumps(got) == json.dumps(want)  # the same values and the same key order


def test_stall_running_sums_equal_the_stalls_of_each_slice() -> None:
    rng = np.random.default_rng(3)
    for _ in range(40):
        pes = int(rng.integers(2, 9))
        params = GoboTileParams(pes=pes, rows_per_pe=int(rng.integers(1, 4)),
                                outlier_positions_per_cycle=int(rng.integers(1, pes)))
        unit = GoboUnit(params, tiles=int(rng.integers(1, 4)))
        blocks, K = int(rng.integers(1, 6)), int(rng.integers(1, 30))
        columns = rng.integers(0, pes + 1, size=(blocks, K)).astype(np.int64)
        counts = columns.sum(axis=1, keepdims=True)

        class Source:
            packed_format = "gobo"

            def __init__(self, counts, columns) -> None:
                self.counts, self.columns = counts, columns

            def outlier_counts(self, p, kc):
                return self.counts if kc != 1 else self.columns

        fast = unit.weight_operand(Source(counts, columns), pes * blocks, K)
        assert fast is not None and fast.stall_prefix is not None
        for _ in range(5):
            k0 = int(rng.integers(0, K))
            k1 = int(rng.integers(k0 + 1, K + 1))
            nb0 = int(rng.integers(0, blocks))
            nb1 = int(rng.integers(nb0 + 1, blocks + 1))
            assert np.array_equal(fast.stall_prefix[nb0:nb1, k1] - fast.stall_prefix[nb0:nb1, k0],
                                  gobo_comparator_stall_cycles(params, columns[nb0:nb1, k0:k1]))
            chunk = columns[:, k0:k1].sum(axis=1, keepdims=True)  # the step's K chunk [k0, k1) as chunk 0
            tile_f = WeightTile(GoboOutliers(chunk, columns, fast.stall_prefix), nb0 * pes, nb1 * pes, k0, k1, 0)
            tile_s = WeightTile(GoboOutliers(chunk, columns, None), nb0 * pes, nb1 * pes, k0, k1, 0)
            m = int(rng.integers(1, 3 * params.rows_per_pe))
            assert unit.weight_gemm_timing(m, k1 - k0, (nb1 - nb0) * pes, tile_f, first=False) == \
                unit.weight_gemm_timing(m, k1 - k0, (nb1 - nb0) * pes, tile_s, first=False)


def test_dense_chunk_bytes_equal_the_element_grid() -> None:
    rng = np.random.default_rng(11)
    for _ in range(300):
        N, K = int(rng.integers(1, 3000)), int(rng.integers(1, 3000))
        Nc, Kc = int(rng.integers(1, N + 20)), int(rng.integers(1, K + 20))
        if -(-N // Nc) * -(-K // Kc) > 4000:
            continue
        eb = float(rng.choice([1, 2, 4, 0.5, 1.0625, 0.1875]))
        n_sizes = [min(Nc, N - n0) for n0 in range(0, N, Nc)]
        k_sizes = [min(Kc, K - k0) for k0 in range(0, K, Kc)]
        want = np.ceil(np.outer(n_sizes, k_sizes) * eb).astype(np.int64)
        got = _elem_grid(N, K, Nc, Kc, eb)
        assert got.dtype == np.int64 and np.array_equal(got, want)


@pytest.mark.parametrize("hw", ["gobo", "tpu", "olive"])  # row sub-tiles (gobo), column sub-tiles (tpu ws, olive)
def test_shared_steps_still_cover_each_gemm_once_and_free_what_they_take(hw: str) -> None:
    prep = prepare(hw, "tiny")
    planner, plans, steps = map_steps(prep)
    for p in plans:
        if p.op.kind != "gemm" or not p.steps:
            continue
        M, K, N = p.op.m * p.op.count, p.op.k, p.op.n
        cover = np.zeros((K, N), dtype=np.int64)  # rows of A computed per (reduction index, output column)
        for st in p.steps:
            w = st.work
            assert w is not None and w.tile is not None
            cover[w.tile.k0:w.tile.k1, w.tile.n0:w.tile.n1] += w.m
        assert (cover == M).all(), p.op.name
        assert sum(s.weight_take for s in p.steps) == sum(s.weight_free for s in p.steps), p.op.name
        assert sum(s.stage_take for s in p.steps) == sum(s.stage_free for s in p.steps), p.op.name
    assert any(len(p.steps) > len({id(s) for s in p.steps}) for p in plans)  # some steps are shared


@pytest.mark.parametrize("hw", ["gobo", "tpu"])
def test_engine_step_durations_are_each_steps_own(hw: str) -> None:
    from sim.simulate import engine_for

    prep = prepare(hw, "tiny")
    _, plans, steps = map_steps(prep)
    res = engine_for(prep, steps).run()
    want: dict = defaultdict(int)
    for st in steps:  # the step lasts max(unit cycles, the slowest buffer's port cycles)
        port = 0
        for name, (r, w) in st.ports.items():
            b = prep.hw.buffers[name]
            port = max(port, -(-(-(-r // b.port_bytes) + -(-w // b.port_bytes)) // b.banks))
        want[st.op] += max(st.compute.cycles, port)
    for op, total in want.items():
        got = res.ops[op].compute_cycles + res.ops[op].stalls["sram_port"]
        assert got == total, op


def test_transfer_outcomes_are_remembered_per_chunk_size_and_direction() -> None:
    from sim.engine.des import Engine
    from sim.hw.dram import DramModel, dram_spec
    from sim.mapping.plan import Transfer

    spec = dram_spec("ddr4-3200", channels=2)
    engine = Engine([], DramModel(spec), 1e9, 1 << 20)
    for t in (Transfer(4096, False, "embeddings", "scattered", chunk_bytes=64),
              Transfer(4096, False, "embeddings", "scattered", chunk_bytes=512),
              Transfer(4096, False, "embeddings", "scattered", chunk_bytes=64),
              Transfer(4096, True, "outputs"), Transfer(4096, False, "weights"), Transfer(4096, False, "weights")):
        fresh = Engine([], DramModel(spec), 1e9, 1 << 20)
        fresh._last_write = engine._last_write  # the same bus direction before it
        before = dict(engine.dram_actions)
        assert engine.transfer_cycles(t) == fresh.transfer_cycles(t)
        assert {k: v - before.get(k, 0) for k, v in engine.dram_actions.items()} == dict(fresh.dram_actions)


def test_gobo_first_steps_load_the_dictionary_as_the_stepper_does() -> None:
    prep = prepare("gobo", "tiny")
    _, _, steps = map_steps(prep)
    firsts = [s.work for s in steps if s.work is not None and s.work.kind == "weight-gemm" and s.work.first]
    assert firsts
    rng = np.random.default_rng(0)
    for w in firsts[:3]:
        ref = prep.unit.reference_weight_gemm(w.m, w.k, w.n, w.tile, first=True, rng=rng)
        assert prep.unit.weight_gemm_timing(w.m, w.k, w.n, w.tile, first=True).cycles == ref.cycles
        assert prep.unit.weight_gemm_timing(w.m, w.k, w.n, w.tile, first=False).cycles < ref.cycles


def test_dense_chunk_grids_are_remembered_read_only_and_keyed_by_every_argument() -> None:
    grid = plan_module._elem_grid
    raw = grid.__wrapped__  # the closed form itself
    a = grid(768, 3072, 256, 1000, 1.0)
    assert grid(768, 3072, 256, 1000, 1.0) is a  # served
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a[0, 0] = 1
    assert np.array_equal(a, raw(768, 3072, 256, 1000, 1.0))
    assert a.shape == (3, 4) and int(a.sum()) == 768 * 3072  # whole chunks and the short last row and column
    for args in [(768, 3072, 256, 1000, 2.0), (768, 3072, 256, 1000, 0.375), (768, 3000, 256, 1000, 1.0),
                 (700, 3072, 256, 1000, 1.0), (768, 3072, 128, 1000, 1.0), (768, 3072, 256, 512, 1.0)]:
        assert np.array_equal(grid(*args), raw(*args)), args  # each argument is part of the key
    assert int(grid(768, 3072, 256, 1000, 0.375).sum()) >= 768 * 3072 * 0.375
