"""Regression tests for the engine defects a review found (each fails on the engine before the rework):
spilled tensors read before their producer wrote them, activation prefetch beyond the staging capacity,
final outputs never written, stall attribution lumping a whole wait under one reason."""

from __future__ import annotations

import math

from sim import api
from sim.engine.des import Engine
from sim.hw.dram import DramModel, dram_spec
from sim.hw.timing import TileTiming
from sim.mapping.plan import Step, Transfer
from sim.prepare import prepare
from sim.simulate import engine_for, map_steps

DRAM = dram_spec("ddr4-3200", channels=2)


def _cycles(nbytes, write=False, prev_write=None):
    return math.ceil(DramModel(DRAM).transfer(nbytes, write=write, prev_write=prev_write).time_ns - 1e-9)


def _run(steps, **kw):
    kw.setdefault("stage_capacity_bytes", 1 << 20)
    return Engine(steps, DramModel(DRAM), 1e9, kw.pop("capacity", 1 << 20), trace=True, **kw).run()


def test_spilled_read_waits_for_the_producers_write():
    # producer "a" computes 10 cycles and writes 4 KiB; consumer "b" reads it back. Without the dependence the
    # loader would prefetch b's input at cycle 0, long before a's store ended.
    a = Step("a", "matrix", TileTiming(10, {}), stores=(Transfer(4096, True, "outputs", tensor="a"),),
             epilogue=None)
    b = Step("b", "matrix", TileTiming(10, {}), loads=(Transfer(4096, False, "activations", tensor="a"),),
             stage_take=4096, stage_free=4096, after=("a",))
    res = _run([a, b])
    store = next(s for s in res.spans if s.track == "dram" and s.cat == "store")
    load = next(s for s in res.spans if s.track == "dram" and s.cat == "load")
    assert load.start >= store.end
    w, r = _cycles(4096, write=True), _cycles(4096, prev_write=True)
    assert res.cycles == 10 + w + r + 10
    assert res.ops["a"].stalls["dram_write"] == w  # a's store, waited for at the operator boundary
    assert res.ops["b"].stalls["dram_read"] == r


def test_activation_prefetch_is_bounded_by_the_staging():
    # three steps each staging 600 of 1000 bytes: the second load can start only once the first step freed its
    # bytes, so loads do not all run ahead of compute
    steps = [Step("op", "matrix", TileTiming(1000, {}), loads=(Transfer(600, False, "activations"),),
                  stage_take=600, stage_free=600) for _ in range(3)]
    res = _run(steps, stage_capacity_bytes=1000)
    loads = sorted((s for s in res.spans if s.track == "dram"), key=lambda s: s.start)
    computes = sorted((s for s in res.spans if s.track == "compute"), key=lambda s: s.start)
    for i in (1, 2):
        assert loads[i].start >= computes[i - 1].end
    assert max(v for name, _, v in res.counters if name == "activations") <= 1000


def test_whole_run_staging_never_exceeds_capacity_and_loads_fit():
    sets = ("buffers.activations.capacity_bytes=2048", "buffers.outputs.capacity_bytes=2048")
    prep = prepare("gobo", "tiny", sets=sets)
    _, _, steps = map_steps(prep)
    cap = 2048 // 2
    assert any(t.what == "activations" for s in steps for t in s.loads)
    assert all(s.stage_take <= cap for s in steps)
    res = engine_for(prep, steps, trace=True).run()
    assert max(v for name, _, v in res.counters if name == "activations") <= cap


def test_final_outputs_are_written():
    r = api.run("gobo", "tiny", functional=False)
    w = r.config["workload"]
    last_norm = [o for o in r.ops if o.kind == "layernorm"][-1]
    assert last_norm.dram_write_bytes == w["seq_len"] * w["batch"] * w["hidden"]  # int8 hidden states
    pooler = [o for o in r.ops if o.name.endswith("pool.dense") or o.stage == "pooler"]
    assert r.dram_write_bytes >= last_norm.dram_write_bytes + (w["batch"] * w["hidden"] if pooler else 0)


def test_buffer_wait_then_transfer_is_dram_read_not_buffer_full():
    # step 1's weights wait for step 0 to free the buffer, then load: the executor, done with step 0, waits
    # for the transfer only, which is a DRAM read (not a full buffer)
    steps = [Step("op", "matrix", TileTiming(1000, {}), loads=(Transfer(65536, False, "weights"),),
                  weight_take=65536, weight_free=65536) for _ in range(2)]
    res = _run(steps, capacity=65536)
    load = _cycles(65536)
    st = res.ops["op"].stalls
    assert st["dram_read"] == 2 * load and st["buffer_full"] == 0
    assert res.cycles == 2 * load + 2000


def test_epilogue_then_store_splits_vector_busy_and_dram_write():
    a = Step("a", "matrix", TileTiming(10, {}), epilogue=TileTiming(500, {}),
             stores=(Transfer(8192, True, "outputs", tensor="a"),))
    b = Step("b", "matrix", TileTiming(10, {}))
    res = _run([a, b])
    st = res.ops["a"].stalls
    assert st["vector_busy"] == 500
    assert st["dram_write"] == _cycles(8192, write=True)
    assert res.cycles == 10 + 500 + _cycles(8192, write=True) + 10
