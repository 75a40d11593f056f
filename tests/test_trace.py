"""Timeline traces (``sim run --trace``): the executor track accounts for every cycle, spilled tensors are read
back only after they were written, the file is valid trace-event JSON, and tracing changes nothing."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from sim.engine.des import STALL_REASONS
from sim.prepare import prepare
from sim.simulate import simulate, simulate_with_engine, trace_document
from tests.conftest import run_cli

SPILL = ("buffers.activations.capacity_bytes=2048", "buffers.outputs.capacity_bytes=2048")
CONFIGS = {
    "gobo": ("gobo", ()),
    "gobo-spill": ("gobo", SPILL),
    # small weight buffer (waits for space) and narrow ports (SRAM-port stalls)
    "gobo-tight": ("gobo", (*SPILL, "buffers.weights.capacity_bytes=8192", "buffers.activations.port_bytes=1",
                            "buffers.outputs.port_bytes=1")),
    "tpu-spill": ("tpu", SPILL),
}


@pytest.fixture(scope="module")
def traced():
    out = {}
    for key, (hw, sets) in CONFIGS.items():
        prep = prepare(hw, "tiny", sets=sets)
        result, res = simulate_with_engine(prep, trace=True)
        out[key] = (prep, result, res, trace_document(prep, result, res))
    return out


def _events(doc, ph):
    return [e for e in doc["traceEvents"] if e["ph"] == ph]


@pytest.mark.parametrize("key", list(CONFIGS))
def test_executor_spans_add_up_to_each_operator(traced, key):
    _, result, _, doc = traced[key]
    tids = {e["args"]["name"]: e["tid"] for e in _events(doc, "M") if e["name"] == "thread_name"}
    total: dict[str, int] = defaultdict(int)
    by_cat: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in _events(doc, "X"):
        if e["tid"] == tids["executor"]:
            total[e["name"]] += e["args"]["cycles"]
            by_cat[e["name"]][e["cat"]] += e["args"]["cycles"]
    assert sum(total.values()) > 0
    for op in result.ops:
        assert total.get(op.name, 0) == op.cycles, op.name
        stalls = {c: v for c, v in by_cat[op.name].items() if c != "compute"}
        assert set(stalls) <= set(STALL_REASONS)
        assert stalls == op.stall_breakdown_cycles, op.name
        # the unit's time of the operator's steps: the GEMM's closed form plus what the mapping's pieces add
        assert by_cat[op.name].get("compute", 0) == op.compute_cycles + op.mapping_overhead_cycles, op.name
    # the executor's spans tile the run without overlap
    spans = sorted((e["args"]["start_cycle"], e["args"]["cycles"]) for e in _events(doc, "X")
                   if e["tid"] == tids["executor"])
    for (s0, d0), (s1, _) in zip(spans, spans[1:]):
        assert s0 + d0 <= s1


def test_the_configs_exercise_the_stall_reasons(traced):
    """The tests above cover the stall reasons whole runs produce (else they prove less than they seem).
    ``buffer_full`` is not among them: the executor waits for a step's loads only once every earlier step has
    computed and given its buffer space back, so the loader cannot be short of space then (the mapper never
    keeps a chunk past the step that needs the next one); the engine tests build it directly."""
    seen = {r for _, result, _, _ in traced.values() for r, v in result.stall_breakdown_cycles.items() if v}
    assert seen == set(STALL_REASONS) - {"buffer_full"}


@pytest.mark.parametrize("key", ["gobo-spill", "gobo-tight", "tpu-spill"])
def test_spilled_reads_start_after_their_writes(traced, key):
    _, result, res, _ = traced[key]
    spilled = {o.name for o in result.ops if o.mapping.get("input_from_dram") and o.kind != "gather"}
    assert spilled, "the config must spill activations"
    stores: dict[str, list[tuple[int, int]]] = defaultdict(list)  # tensor -> (step, end)
    for s in res.spans:
        if s.track == "dram" and s.cat == "store":
            stores[s.args["tensor"]].append((s.args["step"], s.end))
    checked = 0
    for s in res.spans:
        # activation loads read a spilled tensor (weight loads name the operator whose weights they are)
        if s.track == "dram" and s.cat == "load" and s.args["what"] == "activations":
            earlier = [end for step, end in stores[s.args["tensor"]] if step < s.args["step"]]
            assert earlier, f"{s.name} reads {s.args['tensor']} before any store of it"
            assert s.start >= max(earlier), (s.name, s.args)
            checked += 1
    assert checked >= len(spilled)


@pytest.mark.parametrize("key", list(CONFIGS))
def test_trace_document_is_valid(traced, key):
    prep, result, res, doc = traced[key]
    text = json.dumps(doc, allow_nan=False)
    doc = json.loads(text)
    assert set(doc) >= {"traceEvents", "displayTimeUnit", "otherData"}
    names = {}
    for e in doc["traceEvents"]:
        assert {"ph", "pid", "tid", "name"} <= set(e), e
        if e["ph"] == "X":
            assert {"ts", "dur", "cat", "args"} <= set(e), e
            assert e["dur"] > 0 and e["ts"] >= 0
            a = e["args"]
            assert isinstance(a["step"], int) and a["step"] >= 0
            assert e["ts"] == pytest.approx(a["start_cycle"] * 1e6 / prep.hw.clock_hz)
            assert e["dur"] == pytest.approx(a["cycles"] * 1e6 / prep.hw.clock_hz)
            assert a["start_cycle"] + a["cycles"] <= result.cycles
            if e["cat"] in ("load", "store"):
                assert a["bytes"] > 0
        elif e["ph"] == "C":
            assert "ts" in e and e["args"]["bytes"] >= 0
        elif e["ph"] == "M":
            if e["name"] == "thread_name":
                names[e["tid"]] = e["args"]["name"]
        else:
            raise AssertionError(f"unexpected phase {e['ph']}")
    channels = prep.hw.dram.channels or 1
    tracks = set(names.values())
    assert {"executor", "compute", "vector"} <= tracks
    assert {f"dram.ch{c}" for c in range(channels)} <= tracks
    assert {"sram.weights", "sram.activations", "sram.outputs"} <= tracks
    # every DRAM transfer is shown once per channel, and the loads and stores add up to the report's bytes
    xs = _events(doc, "X")
    for cat, total in (("load", result.dram_read_bytes), ("store", result.dram_write_bytes)):
        per_track: dict[str, int] = defaultdict(int)
        for e in xs:
            if e["cat"] == cat:
                per_track[names[e["tid"]]] += e["args"]["bytes"]
        assert set(per_track) == {f"dram.ch{c}" for c in range(channels)} or total == 0
        assert all(v == total for v in per_track.values())
    # stream transfers: the channels' bursts add up to the transfer's bursts
    bursts: dict[tuple, int] = defaultdict(int)
    for e in xs:
        if "channel_bursts" in e["args"]:
            bursts[(e["args"]["start_cycle"], e["args"]["bytes"])] += e["args"]["channel_bursts"]
    assert bursts
    # counters: both buffers, never above their capacity
    caps = {"weights buffer": prep.hw.buffers["weights"].capacity_bytes,
            "activations staging": prep.hw.buffers["activations"].capacity_bytes // 2}
    counters = _events(doc, "C")
    assert {e["name"] for e in counters} == set(caps)
    assert all(e["args"]["bytes"] <= caps[e["name"]] for e in counters)
    assert max(e["args"]["bytes"] for e in counters if e["name"] == "weights buffer") > 0


@pytest.mark.parametrize("key", ["gobo", "gobo-tight"])
def test_tracing_changes_nothing(traced, key):
    hw, sets = CONFIGS[key]
    _, traced_result, _, _ = traced[key]
    plain = simulate(prepare(hw, "tiny", sets=sets))
    assert plain.to_dict() == traced_result.to_dict()
    assert plain.cycles == traced_result.cycles
    assert plain.stall_breakdown_cycles == traced_result.stall_breakdown_cycles


def test_cli_trace_writes_the_file_and_the_same_report(tmp_path):
    trace, with_trace, without = tmp_path / "t.json", tmp_path / "a.json", tmp_path / "b.json"
    r = run_cli("run", "--hw", "gobo", "--workload", "tiny", "--no-functional", "--trace", str(trace),
                "--json", str(with_trace))
    assert r.returncode == 0, r.stderr
    assert f"wrote {trace}" in r.stdout
    doc = json.loads(trace.read_text())
    assert any(e["ph"] == "X" for e in doc["traceEvents"])
    r = run_cli("run", "--hw", "gobo", "--workload", "tiny", "--no-functional", "--json", str(without))
    assert r.returncode == 0, r.stderr
    a, b = json.loads(with_trace.read_text()), json.loads(without.read_text())
    assert a == b


@pytest.mark.parametrize("where", ["missing-dir/sub/", "dir"])
def test_cli_trace_unwritable_path_exits_2(tmp_path, where):
    if where == "dir":
        target = tmp_path / "adir"
        target.mkdir()
    else:
        blocker = tmp_path / "file"
        blocker.write_text("x")
        target = blocker / "t.json"  # a path under a regular file
    r = run_cli("run", "--hw", "gobo", "--workload", "tiny", "--no-functional", "--trace", str(target))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--trace" in lines[0] and "Traceback" not in r.stderr
    assert r.stdout == ""


def test_api_trace_checks_the_path_before_work(tmp_path):
    import sim
    from sim.errors import SimInputError

    (tmp_path / "adir").mkdir()
    with pytest.raises(SimInputError, match="trace"):
        sim.run("gobo", "tiny", functional=False, trace=tmp_path / "adir")
    out = tmp_path / "t.json"
    sim.run("gobo", "tiny", functional=False, trace=out)
    assert json.loads(out.read_text())["otherData"]["workload"] == "tiny"


@pytest.mark.parametrize("key", ["gobo-spill", "gobo-tight"])
def test_spans_name_their_step(key):
    from sim.simulate import simulate_steps

    hw, sets = CONFIGS[key]
    _, res, steps = simulate_steps(prepare(hw, "tiny", sets=sets), trace=True)
    tracks = set()
    for s in res.spans:
        step = steps[s.args["step"]]  # every span says which step it belongs to
        assert step.op == s.name, s
        tracks.add(s.track)
        if s.track == "dram":
            sent = step.stores if s.cat == "store" else step.loads
            assert any(t.nbytes == s.args["bytes"] and t.tensor == s.args["tensor"] for t in sent), s
        elif s.cat == "compute":
            assert s.end - s.start == step.compute.cycles, s
        elif s.cat == "port":
            assert (s.args["read_bytes"], s.args["write_bytes"]) == step.ports[s.track.removeprefix("sram.")], s
    assert {"dram", "compute", "executor"} <= tracks and any(t.startswith("sram.") for t in tracks)
