"""Tests written to kill mutants of sim/engine that survived the suite (bench/mutation.py).

Each expected value is derived by hand from the engine's stated semantics (the module docstring of
``sim.engine.des``) and the DRAM fast model's per-transfer times, never read back from the engine.
"""

from __future__ import annotations

import math
from collections import defaultdict

import pytest

from sim.engine.des import BufferPorts, Engine, _Intervals, sram_cycles
from sim.hw.dram import DramModel, dram_spec
from sim.hw.timing import TileTiming
from sim.mapping.plan import Step, Transfer

KIB64 = 65536


def _dram(channels=2):
    return DramModel(dram_spec("ddr4-3200", channels=channels))


def _cyc(dram, nbytes, write=False, prev_write=None, clock_hz=1e9, **kw):
    t = dram.transfer(nbytes, write=write, prev_write=prev_write, **kw)
    return math.ceil(t.time_ns * clock_hz / 1e9 - 1e-9)


def _mm(cycles, **kw):
    return Step(kw.pop("op", "op"), "matrix", TileTiming(cycles, {}), **kw)


# -- transfer_cycles: decompressor, converter, turnaround, patterns, clock ---------------------------------

def test_decompressor_and_converter_bound_a_transfer():
    dram = _dram()
    eng = Engine([], dram, 1e9, 1 << 20, decompress_per_cycle=4, convert_per_cycle=3)
    base = _cyc(dram, 64)
    assert base < 1000
    # 10^6 + 1 weights at 4 per cycle: ceil -> 250001 cycles, far above the DRAM time of 64 bytes
    assert eng.transfer_cycles(Transfer(64, False, "weights", decode_weights=10**6 + 1)) == 250_001
    assert eng.transfer_cycles(Transfer(64, False, "weights", convert_values=3000 + 1)) == 1001
    # both limits: the slower one
    assert eng.transfer_cycles(Transfer(64, False, "w", decode_weights=8000, convert_values=3000)) == 2000
    # a small job: the DRAM time stands
    assert eng.transfer_cycles(Transfer(64, False, "weights", decode_weights=4, convert_values=3)) == base


def test_no_decompressor_limit_when_unset():
    dram = _dram()
    eng = Engine([], dram, 1e9, 1 << 20)
    assert eng.transfer_cycles(Transfer(64, False, "w", decode_weights=10**6, convert_values=10**6)) == _cyc(dram, 64)


def test_turnaround_follows_the_previous_transfer_direction():
    # with the presets' timings a transfer's first row miss (tRP + tRCD) hides the turnaround; long
    # turnarounds make it visible, so the test can see whether the engine passes the previous direction
    dram = DramModel(dram_spec("ddr4-3200", channels=2, tWTR_S=80, tWTR_L=80, tRTW=120))
    eng = Engine([], dram, 1e9, 1 << 20)
    r0 = eng.transfer_cycles(Transfer(4096, False, "a"))
    w1 = eng.transfer_cycles(Transfer(4096, True, "o"))
    w2 = eng.transfer_cycles(Transfer(4096, True, "o"))
    r3 = eng.transfer_cycles(Transfer(4096, False, "a"))
    assert r0 == _cyc(dram, 4096, False, None)
    assert w1 == _cyc(dram, 4096, True, False)
    assert w2 == _cyc(dram, 4096, True, True)
    assert r3 == _cyc(dram, 4096, False, True)
    # the turnarounds cost time: read-after-write slower than after an idle bus, write-after-read too
    assert r3 > r0 and w1 > w2
    # counts: bursts of 64 B, bytes by direction
    acts = eng.dram_actions
    assert acts["read_bytes"] == 8192 and acts["write_bytes"] == 8192
    assert acts["bursts"] == 4 * 4096 // dram.spec.burst_bytes
    expect_act = sum(int(dram.transfer(4096, write=w).activations) for w in (False, True, True, False))
    assert acts["activations"] == expect_act > 0


def test_scattered_chunks_larger_than_a_row_stripe_are_streams():
    dram = _dram()
    spec = dram.spec
    stripe = spec.channels * spec.row_bytes
    eng = Engine([], dram, 1e9, 1 << 22)
    big = Transfer(4 * stripe, False, "a", pattern="scattered", chunk_bytes=stripe + 64)
    assert eng.transfer_cycles(big) == _cyc(dram, 4 * stripe)
    eng2 = Engine([], dram, 1e9, 1 << 22)
    small = Transfer(4 * stripe, False, "a", pattern="scattered", chunk_bytes=256)
    scat = _cyc(dram, 4 * stripe, pattern="scattered", chunk_bytes=256)
    assert eng2.transfer_cycles(small) == scat
    assert scat != _cyc(dram, 4 * stripe)  # the two patterns differ, so the test can tell them apart
    # exactly one stripe is still scattered
    eng3 = Engine([], dram, 1e9, 1 << 22)
    edge = Transfer(4 * stripe, False, "a", pattern="scattered", chunk_bytes=stripe)
    assert eng3.transfer_cycles(edge) == _cyc(dram, 4 * stripe, pattern="scattered", chunk_bytes=stripe)


def test_transfer_cycles_scale_with_the_clock():
    dram = _dram()
    ns = dram.transfer(KIB64, write=False).time_ns
    for hz in (1e9, 2e9, 0.7e9):
        assert Engine([], dram, hz, 1 << 20).transfer_cycles(Transfer(KIB64, False, "w")) == \
            math.ceil(ns * hz / 1e9 - 1e-9)


# -- SRAM ports --------------------------------------------------------------------------------------------

def test_sram_cycles_formula():
    ports = {"a": BufferPorts(banks=4, port_bytes=8), "b": BufferPorts(banks=1, port_bytes=16)}
    # a: ceil(100/8) + ceil(30/8) = 13 + 4 = 17 accesses over 4 banks -> 5; b: ceil(40/16)+0 = 3 -> 3
    s = _mm(1, ports={"a": (100, 30), "b": (40, 0)})
    assert sram_cycles(s, ports) == 5
    s = _mm(1, ports={"a": (8, 0), "b": (33, 16)})  # a: 1 -> 1; b: 3 + 1 = 4 -> 4
    assert sram_cycles(s, ports) == 4
    # unknown buffers and idle ports cost nothing
    assert sram_cycles(_mm(1, ports={"zz": (10**6, 0), "a": (0, 0)}), ports) == 0
    assert sram_cycles(_mm(1), ports) == 0


def test_port_time_lengthens_a_step_and_is_a_stall():
    ports = {"a": BufferPorts(banks=2, port_bytes=4)}
    # 4000 + 0 bytes -> 1000 accesses over 2 banks -> 500 cycles, unit 200 cycles
    steps = [_mm(200, ports={"a": (4000, 0)}), _mm(700, ports={"a": (4000, 0)})]
    res = Engine(steps, _dram(), 1e9, 1 << 20, ports=ports).run()
    st = res.ops["op"]
    assert res.cycles == 500 + 700
    assert st.compute_cycles == 900 and st.stalls["sram_port"] == 300
    assert res.busy_cycles["matrix"] == 900


# -- output slots, epilogues, stores, RAW dependence -------------------------------------------------------

@pytest.mark.parametrize("slots,total,stall", [(1, 3 * 1300, 900), (2, 3300, 300), (3, 3300, 300)])
def test_output_slots_bound_overlap(slots, total, stall):
    # compute 1000 then a 300-cycle epilogue per step; one slot: the next tile waits for the epilogue
    epi = TileTiming(300, {})
    steps = [_mm(1000, epilogue=epi) for _ in range(3)]
    res = Engine(steps, _dram(), 1e9, 1 << 20, output_slots=slots).run()
    assert res.cycles == total
    assert res.ops["op"].stalls["vector_busy"] == stall
    assert res.ops["op"].vector_cycles == 900 and res.busy_cycles["vector"] == 900


def test_store_is_timed_and_exposed_at_the_op_boundary():
    dram = _dram()
    steps = [_mm(1000, stores=(Transfer(KIB64, True, "outputs"),)), _mm(10, op="next")]
    res = Engine(steps, dram, 1e9, 1 << 20).run()
    w = _cyc(dram, KIB64, True, None)
    assert w > 100
    assert res.ops["op"].cycles == 1000 + w
    assert res.ops["op"].stalls["dram_write"] == w
    assert res.ops["op"].dram_write_bytes == KIB64 and res.ops["op"].dram_read_bytes == 0
    assert res.cycles == 1000 + w + 10
    assert res.busy_cycles["dram"] == w
    assert res.dram_actions["write_bytes"] == KIB64
    assert set(res.ops) == {"op", "next"}


def test_epilogue_then_store_hold_the_slot():
    dram = _dram()
    epi = TileTiming(500, {})
    steps = [_mm(1000, epilogue=epi, stores=(Transfer(KIB64, True, "outputs"),)) for _ in range(2)]
    res = Engine(steps, dram, 1e9, 1 << 20, output_slots=1).run()
    w1 = _cyc(dram, KIB64, True, None)
    w2 = _cyc(dram, KIB64, True, True)
    # step 2 waits for step 1's epilogue and store (one slot); then its own epilogue and store
    assert res.cycles == 2 * (1000 + 500) + w1 + w2
    st = res.ops["op"]
    assert st.stalls["vector_busy"] == 1000 and st.stalls["dram_write"] == w1 + w2


def test_spilled_tensor_is_read_after_its_producer_wrote_it():
    dram = _dram()
    store = Transfer(KIB64, True, "outputs", tensor="p")
    load = Transfer(KIB64, False, "activations", tensor="p")
    w = _cyc(dram, KIB64, True, None)
    r_after_w = _cyc(dram, KIB64, False, True)
    dep = [_mm(1000, op="p", stores=(store,)), _mm(100, op="c", loads=(load,), after=("p",))]
    res = Engine(dep, dram, 1e9, 1 << 20).run()
    assert res.cycles == 1000 + w + r_after_w + 100
    assert res.ops["c"].stalls["dram_read"] == r_after_w
    assert res.ops["p"].stalls["dram_write"] == w
    # without the dependence the loader prefetches the read at cycle 0, under the producer's compute
    r0 = _cyc(dram, KIB64, False, None)
    w_after_r = _cyc(dram, KIB64, True, False)
    free = [_mm(5000, op="p", stores=(store,)), _mm(100, op="c", loads=(load,))]
    res2 = Engine(free, dram, 1e9, 1 << 20).run()
    assert r0 < 5000
    assert res2.cycles == 5000 + w_after_r + 100


def test_loader_waits_for_a_producer_store_is_dram_write():
    # the consumer is in the same op as a second producer step, so it is the loader (not the op boundary)
    # that waits for the store: stall reason dram_write on the consumer's wait
    dram = _dram()
    store = Transfer(KIB64, True, "outputs", tensor="p")
    load = Transfer(1024, False, "activations", tensor="p")
    steps = [_mm(100, op="p", stores=(store,)), _mm(50, op="p"), _mm(10, op="c", loads=(load,), after=("p",))]
    res = Engine(steps, dram, 1e9, 1 << 20).run()
    w = _cyc(dram, KIB64, True, None)
    r = _cyc(dram, 1024, False, True)
    assert res.cycles == 100 + w + r + 10
    assert res.ops["p"].cycles == 100 + w  # its two computes (150) and the store's tail
    assert res.ops["p"].stalls["dram_write"] == w - 50


def test_writebacks_go_before_later_prefetches():
    # both want the DRAM in the same cycle: step 0's store (program order 0) beats step 1's load
    dram = _dram()
    load = Transfer(KIB64, False, "weights")
    steps = [_mm(1000, op="a", loads=(load,), weight_take=KIB64, weight_free=KIB64,
                 stores=(Transfer(KIB64, True, "outputs"),)),
             _mm(1000, op="b", loads=(load,), weight_take=KIB64, weight_free=KIB64)]
    res = Engine(steps, dram, 1e9, KIB64).run()
    r0 = _cyc(dram, KIB64, False, None)
    w = _cyc(dram, KIB64, True, False)
    r1 = _cyc(dram, KIB64, False, True)
    assert res.ops["a"].cycles == r0 + 1000 + w
    assert res.cycles == r0 + 1000 + w + r1 + 1000
    assert res.ops["b"].stalls["dram_read"] == r1


# -- buffers -----------------------------------------------------------------------------------------------

def test_chunk_larger_than_the_buffer_is_refused():
    with pytest.raises(ValueError, match="weight buffer"):
        Engine([_mm(1, weight_take=100)], _dram(), 1e9, 99).run()
    with pytest.raises(ValueError, match="staging"):
        Engine([_mm(1, stage_take=100)], _dram(), 1e9, 1 << 20, stage_capacity_bytes=99).run()
    # exactly full is fine
    Engine([_mm(1, weight_take=99, weight_free=99)], _dram(), 1e9, 99).run()
    Engine([_mm(1, stage_take=99, stage_free=99)], _dram(), 1e9, 1 << 20, stage_capacity_bytes=99).run()


def test_staging_capacity_serialises_activation_loads():
    dram = _dram()
    load = Transfer(KIB64, False, "activations")
    steps = [_mm(1000, loads=(load,), stage_take=KIB64, stage_free=KIB64) for _ in range(2)]
    r = _cyc(dram, KIB64)
    assert r > 1000
    # one piece of staging: the second load waits for the first compute to give its bytes back
    one = Engine(steps, dram, 1e9, 1 << 20, stage_capacity_bytes=KIB64).run()
    assert one.cycles == 2 * r + 2000
    assert one.ops["op"].stalls["dram_read"] == 2 * r
    # two: the loads run back to back, the first compute under the second load
    two = Engine(steps, dram, 1e9, 1 << 20, stage_capacity_bytes=2 * KIB64).run()
    assert two.cycles == 2 * r + 1000
    # unset: the largest single take, so the same as one step's worth
    dflt = Engine(steps, dram, 1e9, 1 << 20).run()
    assert dflt.cycles == 2 * r + 2000


def test_buffer_full_is_the_loaders_wait_for_space():
    # three chunks, two fit: the third load waits for the first compute to free space, then takes r cycles;
    # the compute of step 2 covers part of it
    dram = _dram()
    load = Transfer(KIB64, False, "weights")
    steps = [_mm(c, loads=(load,), weight_take=KIB64, weight_free=KIB64) for c in (100, 100, 100)]
    res = Engine(steps, dram, 1e9, 2 * KIB64).run()
    r = _cyc(dram, KIB64)
    assert r > 100
    # loads back to back: 0..r, r..2r; compute 1 at r..r+100 frees; load 3 (r+100 waits for load 2 to end)
    # at 2r..3r; compute 2 at 2r..2r+100; compute 3 at 3r..3r+100
    assert res.cycles == 3 * r + 100
    st = res.ops["op"]
    assert st.compute_cycles == 300
    assert st.stalls["dram_read"] + st.stalls["buffer_full"] == 3 * r - 200
    assert st.stalls["buffer_full"] == 0


def test_vector_step_uses_the_vector_unit():
    steps = [Step("v", "vector", TileTiming(400, {})), _mm(100, op="m")]
    res = Engine(steps, _dram(), 1e9, 1 << 20).run()
    assert res.busy_cycles == {"matrix": 100, "vector": 400, "dram": 0}
    assert res.ops["v"].compute_cycles == 400 and res.cycles == 500


def test_intervals_attribute_overlaps():
    iv = _Intervals()
    iv.add(0, 10, "a")
    iv.add(10, 10, "empty")  # empty intervals are dropped
    iv.add(10, 25, "b")
    into = {"a": 0, "b": 0}
    pieces = iv.attribute(5, 20, into)
    assert pieces == [(5, 10, "a"), (10, 20, "b")] and into == {"a": 5, "b": 10}
    assert len(iv.items) == 2
    with pytest.raises(RuntimeError, match="covered only"):
        iv.attribute(20, 30, {"a": 0, "b": 0})
    fwd = _Intervals()
    fwd.add(0, 4, "a")
    fwd.add(4, 8, "b")
    into = {"a": 0, "b": 0}
    fwd.attribute(5, 6, into, forward=True)
    assert fwd.pos == 1 and into == {"a": 0, "b": 1}


def test_sram_cycles_skip_unknown_buffers_and_count_equal_reads_and_writes():
    ports = {"a": BufferPorts(banks=4, port_bytes=8), "b": BufferPorts(banks=1, port_bytes=16)}
    # an unknown buffer first must not end the scan; read == write is not idle: 1 + 1 accesses
    assert sram_cycles(_mm(1, ports={"zz": (10, 0), "a": (100, 30)}), ports) == 5
    assert sram_cycles(_mm(1, ports={"b": (16, 16)}), ports) == 2


def test_first_transfer_starts_from_an_idle_bus():
    dram = DramModel(dram_spec("ddr4-3200", channels=2, tWTR_S=80, tWTR_L=80, tRTW=120))
    eng = Engine([], dram, 1e9, 1 << 20)
    idle, after_read = _cyc(dram, 4096, True, None), _cyc(dram, 4096, True, False)
    assert idle < after_read
    assert eng.transfer_cycles(Transfer(4096, True, "o")) == idle


def test_no_trace_unless_asked_and_only_the_ops_run():
    steps = [_mm(100, epilogue=TileTiming(50, {}), ports={"a": (64, 0)}),
             _mm(100, op="b", loads=(Transfer(64, False, "w"),), weight_take=64, weight_free=64)]
    res = Engine(steps, _dram(), 1e9, 1 << 20, ports={"a": BufferPorts(1, 1)}).run()
    assert res.spans == [] and res.counters == []
    assert set(res.ops) == {"op", "b"}


def test_vector_step_waits_for_an_earlier_epilogue_on_the_vector_unit():
    # op a: a matrix tile (500) with a 2000-cycle epilogue, then a vector step (300) of the same op: the
    # vector unit is busy with the epilogue until 2500 (the older step wins the unit)
    steps = [_mm(500, op="a", epilogue=TileTiming(2000, {})), Step("a", "vector", TileTiming(300, {}))]
    res = Engine(steps, _dram(), 1e9, 1 << 20).run()
    assert res.cycles == 2800
    st = res.ops["a"]
    assert st.compute_cycles == 800 and st.stalls["vector_busy"] == 2000
    assert res.busy_cycles == {"matrix": 500, "vector": 2300, "dram": 0}


def test_dram_busy_sums_every_transfer():
    dram = _dram()
    load = Transfer(KIB64, False, "weights")
    steps = [_mm(1000, op="a", loads=(load,), weight_take=KIB64, weight_free=KIB64,
                 stores=(Transfer(KIB64, True, "outputs"),)),
             _mm(1000, op="b", loads=(load,), weight_take=KIB64, weight_free=KIB64)]
    res = Engine(steps, dram, 1e9, KIB64).run()
    expect = _cyc(dram, KIB64, False, None) + _cyc(dram, KIB64, True, False) + _cyc(dram, KIB64, False, True)
    assert res.busy_cycles["dram"] == expect


# -- roofline ----------------------------------------------------------------------------------------------

def test_roofline_bound_of_one_operator():
    from sim.engine.roofline import operator_bound
    from sim.prepare import prepare

    g = prepare("tpu", "tiny").graph
    q = next(o for o in g.ops if o.name == "L0.q_proj")
    b = operator_bound(q, peak_macs_per_cycle=100, vector_lanes=8, dram_bytes_per_cycle=3.0,
                       read_bytes=1000, write_bytes=2)
    assert b.compute_cycles == -(-16 * 64 * 64 // 100) and b.memory_cycles == 334 and b.cycles == 656
    assert (b.dram_read_bytes, b.dram_write_bytes) == (1000, 2)
    z = operator_bound(q, peak_macs_per_cycle=100, vector_lanes=8, dram_bytes_per_cycle=3.0,
                       read_bytes=0, write_bytes=0)
    assert z.memory_cycles == 0
    ln = next(o for o in g.ops if o.kind == "layernorm")
    assert operator_bound(ln, peak_macs_per_cycle=100, vector_lanes=8, dram_bytes_per_cycle=1.0, read_bytes=0,
                          write_bytes=0).compute_cycles == -(-ln.elements // 8)


def test_compulsory_traffic_counts_weights_biases_gathers_and_the_output():
    from sim.engine.roofline import compulsory_traffic
    from sim.prepare import prepare

    prep = prepare("tpu", "tiny")  # int8: 1 byte per weight + a 4-byte scale; int32 biases
    g, wl = prep.graph, prep.workload
    tr = compulsory_traffic(g, prep.hw)
    by_name = {t.name: t for t in g.tensors}
    last = g.ops[-1]
    for op in g.ops:
        write = last.out_bytes if op is last else 0
        if op.weight is not None:
            bias = by_name.get(op.weight.name.replace(".weight", ".bias"))
            bias_bytes = bias.elems * 4 if bias is not None else 0
            assert tr[op.name] == (op.weight.elems + 4 + bias_bytes, write), op.name
        elif op.kind != "gather":
            assert tr[op.name] == (0, write), op.name
    # the gather: one row of each table per token (type table: one row per sequence) + int32 ids
    rows = 0
    for t in g.tensors:
        if t.tensor_type in ("word_emb", "pos_emb"):
            rows += -(-(t.elems + 4) * wl.tokens // t.shape[0])
        elif t.tensor_type == "type_emb":
            rows += -(-(t.elems + 4) * wl.batch // t.shape[0])
    gather = next(o for o in g.ops if o.kind == "gather")
    assert tr[gather.name] == (rows + wl.tokens * 4, 0)
    assert tr[last.name][1] == last.out_bytes > 0
    assert sum(w for _, w in tr.values()) == last.out_bytes


def test_trace_executor_timeline_is_compute_plus_the_stalls():
    # the executor's spans tile [0, cycles) and add up, per category, to the op statistics; the units'
    # tracks hold what they did; the buffer counters stay within the buffers
    dram = _dram()
    load = Transfer(KIB64, False, "weights")
    ports = {"a": BufferPorts(banks=1, port_bytes=1)}
    steps = [_mm(1000, op="a", loads=(load,), weight_take=KIB64, weight_free=KIB64, ports={"a": (1500, 0)},
                 epilogue=TileTiming(700, {}), epilogue_ops=("f",), stores=(Transfer(4096, True, "outputs"),)),
             _mm(300, op="a", epilogue=TileTiming(700, {}), stage_take=100, stage_free=100),
             Step("b", "vector", TileTiming(200, {}), loads=(Transfer(64, False, "activations"),))]
    res = Engine(steps, dram, 1e9, KIB64, ports=ports, output_slots=1, stage_capacity_bytes=1000,
                 trace=True).run()
    ex = sorted((s.start, s.end, s.cat, s.name) for s in res.spans if s.track == "executor")
    assert ex[0][0] == 0 and ex[-1][1] == res.cycles
    assert all(a[1] == b[0] for a, b in zip(ex, ex[1:]))  # no gap, no overlap
    for op, st in res.ops.items():
        per = defaultdict(int)
        for s, e, cat, name in ex:
            if name == op:
                per[cat] += e - s
        assert per.pop("compute") == st.compute_cycles
        assert dict(per) == {k: v for k, v in st.stalls.items() if v}
    tracks = defaultdict(int)
    for s in res.spans:
        if s.track != "executor":
            tracks[(s.track, s.cat)] += s.end - s.start
    assert tracks[("compute", "compute")] == 1300 and tracks[("vector", "compute")] == 200
    assert tracks[("vector", "epilogue")] == 1400 and tracks[("sram.a", "port")] == 1500
    assert tracks[("dram", "load")] + tracks[("dram", "store")] == res.busy_cycles["dram"]
    assert tracks[("dram", "store")] == _cyc(dram, 4096, True, False)
    epis = [s for s in res.spans if s.cat == "epilogue"]
    assert [s.args["ops"] for s in epis] == ["f", ""]
    loads = [s for s in res.spans if s.track == "dram" and s.cat == "load"]
    assert {k: loads[0].args[k] for k in ("what", "bytes", "tensor")} == {"what": "weights", "bytes": KIB64,
                                                                          "tensor": ""}
    assert {name for name, _, _ in res.counters} == {"weights", "activations"}
    w = [(c, b) for name, c, b in res.counters if name == "weights"]
    a = [(c, b) for name, c, b in res.counters if name == "activations"]
    assert w == [(0, KIB64), (_cyc(dram, KIB64) + 1500, 0)]  # taken at 0, given back after the 1500-cycle step
    assert a[0][1] == 100 and a[-1][1] == 0


def test_dram_grants_in_program_order_not_request_order():
    # cycle 100: step 0's 256 KiB store and step 2's load both ask for the DRAM; the store (older) goes first.
    # Step 1's store asks at 200, after the load asked, but is older: it goes before the load.
    dram = _dram()
    steps = [_mm(100, op="a", weight_take=KIB64, weight_free=KIB64, stores=(Transfer(4 * KIB64, True, "outputs"),)),
             _mm(100, op="a", stores=(Transfer(KIB64, True, "outputs"),)),
             _mm(10, op="b", weight_take=KIB64, weight_free=KIB64, loads=(Transfer(KIB64, False, "weights"),))]
    res = Engine(steps, dram, 1e9, KIB64).run()
    w0 = _cyc(dram, 4 * KIB64, True, None)
    w1 = _cyc(dram, KIB64, True, True)
    r = _cyc(dram, KIB64, False, True)
    assert res.ops["a"].cycles == 100 + w0 + w1
    assert res.cycles == 100 + w0 + w1 + r + 10
    assert res.ops["b"].stalls["dram_read"] == r


def test_loader_wait_for_a_store_inside_one_op_is_dram_write():
    # a step that reads back what an earlier step of the same op stored: no op boundary in between, so the
    # executor waits on the loader, which waits for the store (dram_write), then reads (dram_read)
    dram = _dram()
    st = Transfer(KIB64, True, "outputs", tensor="p")
    ld = Transfer(KIB64, False, "activations", tensor="p")
    steps = [_mm(100, op="p", stores=(st,)), _mm(10, op="p", loads=(ld,), after=("p",))]
    res = Engine(steps, dram, 1e9, 1 << 20).run()
    w, r = _cyc(dram, KIB64, True, None), _cyc(dram, KIB64, False, True)
    assert res.cycles == 100 + w + r + 10
    assert res.ops["p"].stalls["dram_write"] == w and res.ops["p"].stalls["dram_read"] == r


def test_trace_of_a_vector_wait_and_dram_spans_name_their_op():
    steps = [_mm(500, op="a", epilogue=TileTiming(2000, {}), stores=(Transfer(64, True, "outputs"),)),
             Step("a", "vector", TileTiming(300, {}))]
    res = Engine(steps, _dram(), 1e9, 1 << 20, trace=True).run()
    waits = [s for s in res.spans if s.track == "executor" and s.cat == "vector_busy"]
    assert [(s.name, s.start, s.end) for s in waits] == [("a", 500, 2500)]
    assert [s.name for s in res.spans if s.track == "dram"] == ["a"]
