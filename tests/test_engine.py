"""The discrete-event engine and the simulated run: hand-checked schedules and invariants on every design."""

from __future__ import annotations

import math

import pytest

from sim import api
from sim.config import load_hardware
from sim.engine.des import Engine
from sim.hw.dram import DramModel, dram_spec
from sim.hw.timing import TileTiming
from sim.mapping.plan import Step, Transfer
from sim.workload import WorkloadSpec, encoder_macs_closed_form, load_workload, lower

DESIGNS = ["gobo", "tpu", "tcore", "gobo-compress-tcore", "gobo-compress-tpu"]


def _engine(steps, capacity=1 << 20, slots=2):
    dram = DramModel(dram_spec("ddr4-3200", channels=2))
    return Engine(steps, dram, 1e9, capacity, output_slots=slots), dram


def _load_cycles(dram, nbytes, prev_write=None):
    t = dram.transfer(nbytes, write=False, prev_write=prev_write)
    return math.ceil(t.time_ns - 1e-9)


def test_double_buffering_overlaps_load_with_compute():
    # two steps, each loads 64 KiB of weights (half the buffer) then computes 100k cycles:
    # the second load runs under the first compute, so total = load + 2 x compute
    steps = [Step("op", "matrix", TileTiming(100_000, {}), loads=(Transfer(65536, False, "weights"),),
                  weight_take=65536, weight_free=65536) for _ in range(2)]
    eng, dram = _engine(steps, capacity=131072)
    res = eng.run()
    load = _load_cycles(dram, 65536)
    assert res.cycles == load + 200_000
    st = res.ops["op"]
    assert st.stalls["dram_read"] == load and st.compute_cycles == 200_000
    assert st.cycles == res.cycles


def test_full_buffer_serialises_loads():
    # each chunk fills the whole buffer: the second load waits for the first compute to free it
    steps = [Step("op", "matrix", TileTiming(1000, {}), loads=(Transfer(65536, False, "weights"),),
                  weight_take=65536, weight_free=65536) for _ in range(2)]
    eng, dram = _engine(steps, capacity=65536)
    res = eng.run()
    load = _load_cycles(dram, 65536)
    assert res.cycles == 2 * load + 2000
    # the executor waits for the second transfer, which starts as soon as the first compute frees the
    # buffer: DRAM time (the loader was not waiting for space while the executor waited)
    assert res.ops["op"].stalls["dram_read"] == 2 * load and res.ops["op"].stalls["buffer_full"] == 0


def test_epilogue_overlaps_next_tile_and_tail_is_vector_busy():
    epi = TileTiming(300, {"vec_add": 1})
    steps = [Step("a", "matrix", TileTiming(1000, {}), epilogue=epi) for _ in range(3)]
    steps.append(Step("b", "vector", TileTiming(50, {})))
    res, _ = _engine(steps)[0].run(), None
    # three computes back to back, the last epilogue's 300 cycles exposed at the op boundary
    assert res.ops["a"].cycles == 3000 + 300
    assert res.ops["a"].stalls["vector_busy"] == 300
    assert res.ops["b"].cycles == 50
    assert res.cycles == 3350


def test_vector_bound_epilogue_stalls_compute():
    epi = TileTiming(2000, {})
    steps = [Step("a", "matrix", TileTiming(500, {}), epilogue=epi) for _ in range(4)]
    res = _engine(steps, slots=2)[0].run()
    # the vector unit is the bottleneck: 4 epilogues of 2000 after the first 500-cycle compute
    assert res.cycles == 500 + 4 * 2000
    assert res.ops["a"].compute_cycles == 2000


@pytest.fixture(scope="module")
def runs():
    """Simulated runs of the tiny workload on every design, and a bigger one that splits chunks."""
    out = {}
    for hw in DESIGNS:
        out[hw] = api.run(hw, "tiny", functional=False)
    return out


@pytest.mark.parametrize("hw", DESIGNS)
def test_invariants_tiny(runs, hw):
    r = runs[hw]
    _check_invariants(r, load_workload("tiny"), load_hardware(hw))


def _check_invariants(r, wl, hw_cfg):
    graph = lower(wl)
    # MACs equal the closed form
    assert sum(o.macs for o in r.ops if o.stage == "encoder") == encoder_macs_closed_form(wl)
    # breakdowns sum to totals
    assert r.cycles == sum(o.cycles for o in r.ops)
    for o in r.ops:
        assert o.cycles == o.compute_cycles + o.mapping_overhead_cycles + o.stall_cycles >= 0
        assert o.stall_cycles == sum(o.stall_breakdown_cycles.values())
    assert sum(r.stall_breakdown_cycles.values()) == sum(o.stall_cycles for o in r.ops)
    assert r.dram_read_bytes == sum(o.dram_read_bytes for o in r.ops) == r.actions["dram"]["read_bytes"]
    # cycles >= the roofline bound of the whole run
    bound = api.run_bound(hw_cfg, wl)
    peak = hw_cfg.peak_macs_per_cycle
    assert r.cycles >= math.ceil(graph.total_macs() / peak)
    assert r.cycles >= math.ceil(bound.dram_read_bytes / r.dram_bytes_per_cycle) * 0.999
    # every weight GEMM's weights are read at least once, in their stored (packed) format
    gemm_weight_bytes = sum(o.dram_read_bytes for o in bound.ops if o.kind == "gemm")
    assert r.dram_read_bytes >= gemm_weight_bytes
    assert 0 < r.utilization <= 1


def _small(seq=64, layers=2, hidden=256, inter=1024):
    return WorkloadSpec(version=1, name="small", family="bert", layers=layers, hidden=hidden, heads=4,
                        intermediate=inter, seq_len=seq, vocab=1000, max_positions=512)


@pytest.mark.parametrize("hw", ["gobo", "tpu", "tcore"])
def test_shrinking_weight_buffer_never_lowers_traffic(hw):
    wl = _small()
    traffic = []
    for cap in (1 << 21, 1 << 17, 1 << 15, 1 << 14):
        cfg = load_hardware(hw, [f"buffers.weights.capacity_bytes={cap}"])
        traffic.append(api.run(cfg, wl, functional=False).dram_read_bytes)
    assert traffic == sorted(traffic)


@pytest.mark.parametrize("hw", ["gobo", "tpu", "tcore", "gobo-compress-tcore"])
def test_doubling_dram_bandwidth_never_slows(hw):
    wl = _small(seq=128)
    slow = api.run(load_hardware(hw, ["dram.channels=1"]), wl, functional=False)
    fast = api.run(load_hardware(hw, ["dram.channels=2"]), wl, functional=False)
    faster = api.run(load_hardware(hw, ["dram.channels=4"]), wl, functional=False)
    assert slow.cycles >= fast.cycles >= faster.cycles


def test_long_sequence_spills_activations():
    wl = _small(seq=512, hidden=512, inter=2048)
    cfg = load_hardware("gobo", ["buffers.activations.capacity_bytes=262144", "buffers.outputs.capacity_bytes=131072"])
    r = api.run(cfg, wl, functional=False)
    assert r.dram_write_bytes > 0
    _check_invariants(r, wl, cfg)


def test_amplified_capacity_changes_traffic():
    """A weight buffer that holds a layer's weights only in 3-bit form: GOBO reads each weight once while the
    fp16 design must re-read weights for every activation chunk."""
    wl = _small(seq=512, hidden=512, inter=2048)
    sets = ["buffers.weights.capacity_bytes=786432", "buffers.activations.capacity_bytes=262144",
            "buffers.outputs.capacity_bytes=131072"]
    gobo = api.run(load_hardware("gobo", sets), wl, functional=False)
    ffn = [o for o in gobo.ops if o.name.endswith("ffn2")]
    assert all(o.mapping["weights_resident"] or not o.mapping["input_from_dram"] for o in ffn)
    tcore = api.run(load_hardware("gobo-compress-tcore", sets), wl, functional=False)
    ffn_t = [o for o in tcore.ops if o.name.endswith("ffn2")]
    # the same compressed bytes come from DRAM, but decompressed fp16 does not fit: re-read per chunk
    assert sum(o.dram_read_bytes for o in ffn_t) > sum(o.dram_read_bytes for o in ffn)


def test_gobo_timing_depends_on_outliers():
    wl = _small()
    base = api.run("gobo", wl, functional=False)
    many = api.run(load_hardware("gobo", ["weights.outlier_threshold=-1.0"]), wl, functional=False)
    assert many.actions["gobo"]["mac_int8x16"] > 5 * base.actions["gobo"]["mac_int8x16"]
    assert many.cycles > base.cycles


def test_ivit_kernels_change_vector_cycles():
    wl = _small()
    ib = api.run("gobo", wl, functional=False)
    iv = api.run(load_hardware("gobo", ["vector.kernels=ivit"]), wl, functional=False)
    assert ib.actions["vector"]["vec_mul"] > iv.actions["vector"]["vec_mul"]
    sm_ib = sum(o.compute_cycles for o in ib.ops if o.kind == "softmax")
    sm_iv = sum(o.compute_cycles for o in iv.ops if o.kind == "softmax")
    assert sm_ib != sm_iv


def test_after_an_operator_without_stores_waits_for_nothing():
    # `after` names an operator that stored nothing before: the loads start at once
    steps = [Step("a", "matrix", TileTiming(100, {})),
             Step("b", "matrix", TileTiming(100, {}), loads=(Transfer(4096, False, "activations"),), stage_take=4096,
                  stage_free=4096, after=("a", "never-stored"))]
    eng, dram = _engine(steps)
    res = eng.run()
    assert res.cycles == max(100, _load_cycles(dram, 4096)) + 100  # the load started at once, beside a's compute
    assert res.ops["b"].stalls["dram_write"] == 0
