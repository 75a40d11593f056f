"""Tests written to kill mutants of sim/mapping that survived the suite (bench/mutation.py).

Every expected value comes from the operator shapes and the stored formats (bytes per element, bias and
dictionary sizes), counted here independently of the mapper's own arithmetic; the rest are invariants any
correct mapping must hold (buffer takes equal frees, loads fit the staging, every spilled byte written is
read back after its writer).
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from sim.errors import SimInputError
from sim.mapping.weights import nominal_gobo_bytes, stored_bytes, tensor_bits, tensor_format
from sim.prepare import prepare
from sim.simulate import map_steps
from sim.workload import WorkloadSpec


def _wl(seq=16, hidden=64, inter=256, layers=1, heads=4):
    return WorkloadSpec(version=1, name="m", family="bert", layers=layers, hidden=hidden, heads=heads,
                        intermediate=inter, seq_len=seq, vocab=1000, max_positions=512)


def _map(hw, wl, sets=()):
    prep = prepare(hw, wl, sets=list(sets))
    planner, plans, steps = map_steps(prep)
    return prep, planner, plans, steps


def _by_op(steps):
    out = defaultdict(list)
    for s in steps:
        out[s.op].append(s)
    return out


def _gemms(plans):
    return [p for p in plans if p.op.kind == "gemm" and p.fused_into is None]


def _check_common(prep, planner, plans, steps):
    """Invariants of every mapping."""
    cap = prep.hw.buffers["activations"].capacity_bytes // 2
    assert planner.stage_capacity == cap
    by = _by_op(steps)
    for name, ss in by.items():
        assert sum(s.weight_take for s in ss) == sum(s.weight_free for s in ss), name
        assert sum(s.stage_take for s in ss) == sum(s.stage_free for s in ss), name
        for s in ss:
            assert s.stage_take <= cap
            assert s.weight_take <= prep.hw.buffers["weights"].capacity_bytes
    # MACs per operator: m*k*n*count
    for p in plans:
        if p.op.is_matmul and p.fused_into is None:
            assert sum(s.macs for s in by[p.op.name]) == p.op.m * p.op.k * p.op.n * p.op.count, p.op.name
    # transfers: loads read, stores write (booleans), and every transfer names its tensor
    for s in steps:
        assert all(t.write is False for t in s.loads) and all(t.write is True for t in s.stores)
        assert all(t.tensor for t in s.loads + s.stores)
        for t in s.loads:
            if t.what in ("weights", "outliers"):
                assert t.tensor == s.op
        for t in s.stores:
            assert t.tensor == s.op
    # the work records describe the step: m x k x n = its MACs, the epilogue covers the output tile
    for s in steps:
        if s.work is not None and s.work.kind in ("weight-gemm", "matmul"):
            assert s.work.m * s.work.k * s.work.n == s.macs
            if s.epilogue_work is not None:
                assert (s.epilogue_work.rows, s.epilogue_work.row_len) == (s.work.m, s.work.n)
    # every load of a spilled tensor waits for its writer, and what is written is read back in full
    written = defaultdict(int)
    for s in steps:
        for t in s.stores:
            written[t.tensor] += t.nbytes
    for s in steps:
        for t in s.loads:
            if t.what == "activations" and t.tensor != "input":
                assert t.tensor in s.after
                assert written[t.tensor] > 0
    return by


@pytest.mark.parametrize("hw,elem", [("tcore", 2), ("tpu", 1)])
def test_dense_weights_are_read_once_with_bias(hw, elem):
    prep, planner, plans, steps = _map(hw, "tiny")
    by = _check_common(prep, planner, plans, steps)
    for p in _gemms(plans):
        op = p.op
        w = sum(t.nbytes for s in by[op.name] for t in s.loads if t.what == "weights")
        assert w == op.k * op.n * elem + op.n * 4, op.name  # elements + an int32/fp32 bias per column
        # the weight buffer is taken once for the whole matrix: K x N stored elements
        assert sum(s.weight_take for s in by[op.name]) == op.k * op.n * elem


@pytest.mark.parametrize("hw", ["tcore", "tpu", "gobo"])
def test_model_outputs_are_written_to_dram_and_nothing_else(hw):
    prep, planner, plans, steps = _map(hw, "tiny")
    _check_common(prep, planner, plans, steps)
    assert planner.spilled == set()
    outs = planner.model_outputs
    norms = [p.op.name for p in plans if p.fused_into is None and p.op.kind == "layernorm"]
    assert norms[-1] in outs and "pooler.dense" in outs and len(outs) == 2
    act = prep.unit.act_bytes
    by = _by_op(steps)
    for p in plans:
        stores = sum(t.nbytes for s in by.get(p.op.name, []) for t in s.stores)
        if p.op.name in outs:
            # the post-epilogue result, in the activation format
            assert stores == p.op.out_elems * act, p.op.name
            assert p.mapping["output_to_dram"] is True
        else:
            assert stores == 0, p.op.name
    assert all(t.write for s in steps for t in s.stores)
    assert not any(t.write for s in steps for t in s.loads)


def test_epilogues_fuse_the_elementwise_consumers():
    prep, planner, plans, steps = _map("tcore", "tiny")
    by = _by_op(steps)
    fused = {p.op.name: p.fused_into for p in plans if p.fused_into}
    assert fused["L0.attn_residual"] == "L0.out_proj"
    assert fused["L0.ffn_residual"] == "L0.ffn2"
    assert any(v == "L0.ffn1" for v in fused.values())  # the GELU
    for p in plans:
        if p.fused_into:
            assert p.op.name not in by and p.mapping == {"fused_into": p.fused_into}
    # the residual add is the out_proj's epilogue on every output tile, and only there
    outp = by["L0.out_proj"]
    assert all(s.epilogue is not None and s.epilogue_ops == ("L0.attn_residual",) for s in outp)
    # the fused GELU's epilogue costs more vector cycles than the requantization alone of the same tile
    f1 = by["L0.ffn1"][0]
    q = by["L0.q_proj"][0]
    assert f1.epilogue.cycles > q.epilogue.cycles > 0
    assert [s.epilogue for s in by["L0.ln_attn"]] == [None] * len(by["L0.ln_attn"])
    planner_costs = planner.epilogue_cost(prep.graph.ops[[o.name for o in prep.graph.ops].index("L0.q_proj")])
    assert planner_costs[1] == () and planner_costs[0] is not None and planner_costs[0].name == "requant"


def test_weight_chunks_fit_half_the_buffer_and_are_as_wide_as_fit():
    # 4 KiB weight buffer, double-buffered: chunks of at most 2 KiB fp16 = 1024 weights; K = 64: 16 columns
    prep, planner, plans, steps = _map("tcore", _wl(), ["buffers.weights.capacity_bytes=4096"])
    assert prep.hw.buffers["weights"].double_buffered
    by = _check_common(prep, planner, plans, steps)
    q = next(p for p in plans if p.op.name == "L0.q_proj")
    assert q.mapping["weight_chunk_k"] == 64 and q.mapping["weight_chunk_n"] == 16
    assert q.mapping["chunks"] == 4 and q.mapping["weight_chunk_bytes_max"] == 2048
    w = sum(t.nbytes for s in by["L0.q_proj"] for t in s.loads if t.what == "weights")
    assert w == 64 * 64 * 2 + 64 * 4
    # ffn2: K = 256, 4 columns (the granule) of 256 = 2 KiB: still one K chunk; 16 chunks
    f2 = next(p for p in plans if p.op.name == "L0.ffn2")
    assert (f2.mapping["weight_chunk_k"], f2.mapping["weight_chunk_n"]) == (256, 4)
    assert f2.mapping["chunks"] == 16


def test_single_buffered_weights_use_the_whole_buffer():
    prep, planner, plans, steps = _map("tcore", _wl(), ["buffers.weights.capacity_bytes=4096",
                                                       "buffers.weights.double_buffered=false"])
    q = next(p for p in plans if p.op.name == "L0.q_proj")
    assert q.mapping["weight_chunk_n"] == 32 and q.mapping["chunks"] == 2


def test_k_split_accumulates_partial_sums():
    # 2 KiB double-buffered: 1 KiB chunks; ffn2 (K = 256): 4 columns x 256 x 2 B = 2 KiB do not fit -> K/2
    prep, planner, plans, steps = _map("tcore", _wl(), ["buffers.weights.capacity_bytes=2048"])
    by = _check_common(prep, planner, plans, steps)
    f2 = next(p for p in plans if p.op.name == "L0.ffn2")
    assert f2.mapping["weight_chunk_k"] == 128 and f2.mapping["weight_chunk_n"] == 4
    assert f2.mapping["chunks"] == 2 * (64 // 4)
    ss = by["L0.ffn2"]
    m, n = f2.op.m, f2.op.n
    # the second K chunk adds its m x n partial sums to the first's
    assert sum(s.compute.actions.get("add_int32", 0) for s in ss) == m * n
    # epilogues (requant + residual) and outputs only after the last K chunk
    assert sum(1 for s in ss if s.epilogue is not None) == sum(1 for s in ss if s.work.k_accumulate)
    assert all(s.work.k_accumulate for s in ss if s.epilogue is not None)
    w = sum(t.nbytes for s in ss for t in s.loads if t.what == "weights")
    assert w == 256 * 64 * 2 + 64 * 4


def test_spilled_activations_go_through_dram_and_come_back():
    # a 4 KiB activation buffer cannot hold seq x hidden int8 plus the layer input: everything spills
    wl = _wl(seq=32, hidden=64)
    prep, planner, plans, steps = _map("tpu", wl, ["buffers.activations.capacity_bytes=4096",
                                                   "buffers.outputs.capacity_bytes=4096"])
    by = _check_common(prep, planner, plans, steps)
    assert "L0.q_proj" in planner.spilled and "L0.ffn1" in planner.spilled
    # the Q projection's result (int8 after requantization) is written once, 32 x 64 bytes
    q_st = sum(t.nbytes for s in by["L0.q_proj"] for t in s.stores)
    assert q_st == 32 * 64
    # ffn2 reads ffn1's GELU output (32 x 256 int8) back, in row pieces that fit the 2 KiB staging
    f2 = next(p for p in plans if p.op.name == "L0.ffn2")
    assert f2.mapping["input_from_dram"] is True
    a_loads = [t for s in by["L0.ffn2"] for t in s.loads if t.what == "activations"]
    assert all(t.tensor == "L0.ffn1" for t in a_loads)
    assert sum(t.nbytes for t in a_loads) >= 32 * 256
    assert all(t.nbytes <= 2048 for t in a_loads)
    assert f2.mapping["activation_chunks"] == 32 * 256 // 2048  # 256 B rows, 8 rows per piece
    # the same run with room for everything spills nothing
    _, p2, _, _ = _map("tpu", wl)
    assert p2.spilled == set()


def test_residency_counts_the_live_layer_input():
    # seq 16 x hidden 64 int8 = 1 KiB per tensor. Q, K, V are live together (3 KiB) beside the layer input
    # (1 KiB): 4 KiB fits exactly, one byte less does not
    wl = _wl(seq=16, hidden=64, inter=64)
    _, fits, _, _ = _map("tpu", wl, ["buffers.activations.capacity_bytes=4096"])
    assert "L0.q_proj" not in fits.spilled
    _, spills, _, _ = _map("tpu", wl, ["buffers.activations.capacity_bytes=4095"])
    assert {"L0.q_proj", "L0.k_proj", "L0.v_proj"} <= spills.spilled
    assert "L0.ffn1" not in spills.spilled  # 1 KiB + 1 KiB fits 4095


def test_int32_scores_live_in_the_output_buffer_per_head():
    # one head's int32 score matrix: 16 x 16 x 4 = 1 KiB
    wl = _wl(seq=16, hidden=64)
    _, ok, plans, _ = _map("tpu", wl, ["buffers.outputs.capacity_bytes=1024"])
    assert "L0.qk" not in ok.spilled
    _, sp, _, _ = _map("tpu", wl, ["buffers.outputs.capacity_bytes=1023"])
    assert "L0.qk" in sp.spilled
    qk = next(p for p in plans if p.op.name == "L0.qk")
    assert ok.output_bytes(qk.op) == ("outputs", 16 * 16 * 4)


def test_row_pieces():
    _, planner, _, _ = _map("tpu", "tiny")
    assert planner._pieces(10, 100, 1000) == [10]
    assert planner._pieces(10, 0, 1) == [10]
    assert planner._pieces(10, 100, 350) == [3, 3, 3, 1]
    assert planner._pieces(10, 100, 350, granule=2) == [2, 2, 2, 2, 2]
    assert planner._pieces(10, 100, 350, granule=4) == [3, 3, 3, 1]  # less than a granule fits: whole rows
    assert planner._pieces(7, 100, 699) == [6, 1]
    with pytest.raises(SimInputError, match="does not fit"):
        planner._pieces(10, 100, 99, what="x")


def test_gobo_native_weights_are_not_decoded_and_compressed_ones_are():
    wl = _wl()
    for hw, decoded in (("gobo", False), ("gobo-compress-tcore", True)):
        prep, planner, plans, steps = _map(hw, wl)
        by = _check_common(prep, planner, plans, steps)
        for p in _gemms(plans):
            ss = by[p.op.name]
            dec = sum(t.decode_weights for s in ss for t in s.loads)
            assert dec == (p.op.k * p.op.n if decoded else 0), (hw, p.op.name)
            # the fp32 dictionary is converted once, with the first chunk; every outlier once
            src = prep.weight_sources[p.op.weight.name]
            conv_w = sum(t.convert_values for s in ss for t in s.loads if t.what == "weights")
            assert conv_w == src.dictionary_bytes // 4
            outl = [t for s in ss for t in s.loads if t.what == "outliers"]
            assert all(t.pattern == "scattered" and t.chunk_bytes == t.nbytes for t in outl)
            total = sum(t.nbytes for s in ss for t in s.loads if t.what in ("weights", "outliers"))
            assert total == int(src.offchip_bytes(p.op.n, p.op.k).sum()) + src.dictionary_bytes + p.op.n * 4


def test_stored_formats():
    prep = prepare("tpu", "tiny")
    by_type = {t.tensor_type: t for t in prep.graph.tensors}
    assert tensor_format(by_type["query"], prep.hw) == "int8"
    assert tensor_format(by_type["word_emb"], prep.hw) == "int8"
    assert tensor_format(by_type["bias"], prep.hw) == "int32"
    sb = stored_bytes(prep.graph, prep.hw)
    q = by_type["query"]
    assert sb[q.name] == q.elems + 4
    g = prepare("gobo", "tiny")
    gt = {t.tensor_type: t for t in g.graph.tensors}
    assert tensor_format(gt["query"], g.hw) == "gobo"
    assert tensor_format(gt["bias"], g.hw) == "fp32"
    assert tensor_bits(gt["query"], g.hw) == g.hw.weights.bits
    assert tensor_bits(gt["word_emb"], g.hw) == g.hw.weights.embedding_bits
    assert nominal_gobo_bytes(gt["query"], 3) == -(-gt["query"].elems * 3 // 8) + 8 * 4
    nominal = stored_bytes(g.graph, g.hw)
    assert nominal[gt["query"].name] == nominal_gobo_bytes(gt["query"], g.hw.weights.bits)
    assert stored_bytes(g.graph, g.hw, {gt["query"].name: 123})[gt["query"].name] == 123
    t = prepare("tcore", "tiny")
    tt = {x.tensor_type: x for x in t.graph.tensors}
    assert stored_bytes(t.graph, t.hw)[tt["ffn1"].name] == tt["ffn1"].elems * 2
    assert tensor_format(tt["ln_gamma"] if "ln_gamma" in tt else tt["bias"], t.hw) == "fp32"


def _op(prep, name):
    return next(o for o in prep.graph.ops if o.name == name)


def test_output_bytes_by_format():
    prep, planner, _, _ = _map("tcore", _wl(seq=16, hidden=64, inter=256))
    # requantized / fused results are activations (2 B on tcore); LayerNorm too; the scores int32
    assert planner.output_bytes(_op(prep, "L0.q_proj")) == ("activations", 16 * 64 * 2)
    assert planner.output_bytes(_op(prep, "L0.ffn1")) == ("activations", 16 * 256 * 2)
    assert planner.output_bytes(_op(prep, "L0.ln_attn")) == ("activations", 16 * 64 * 2)
    assert planner.output_bytes(_op(prep, "L0.qk")) == ("outputs", 16 * 16 * 4)


def test_gelu_epilogue_is_gelu_plus_requantization():
    from sim.mapping.costs import kernel_costs

    prep, planner, _, _ = _map("tcore", _wl())
    costs = kernel_costs(prep.hw.vector.kernels)
    f1 = _op(prep, "L0.ffn1")
    cost, names = planner.epilogue_cost(f1)
    expect = costs["gelu"] + costs["requant"]
    if f1.epilogue == "requant":
        expect = costs["requant"] + expect
    assert names == ("L0.gelu",)
    assert dict(cost.per_element) == dict(expect.per_element) and dict(cost.per_row) == dict(expect.per_row)
    out_cost, out_names = planner.epilogue_cost(_op(prep, "L0.out_proj"))
    res = costs["residual_add"] if _op(prep, "L0.out_proj").epilogue != "requant" else \
        costs["requant"] + costs["residual_add"]
    assert out_names == ("L0.attn_residual",) and dict(out_cost.per_element) == dict(res.per_element)


def test_systolic_sram_reads_weights_once_and_activations_per_column_fold():
    prep, planner, plans, steps = _map("tpu", "tiny")
    by = _by_op(steps)
    cols = prep.unit.params.cols
    for p in _gemms(plans):
        ss, op = by[p.op.name], p.op
        assert sum(s.sram["sram.weights"]["read_bytes"] for s in ss) == op.k * op.n
        assert sum(s.sram["sram.activations"]["read_bytes"] for s in ss) == \
            op.m * op.count * op.k * -(-op.n // cols)
        assert all(s.ports["weights"] == (s.sram["sram.weights"]["read_bytes"], 0) for s in ss)


def test_vector_operators_sram_traffic_and_ports():
    prep, planner, plans, steps = _map("tcore", "tiny")  # 2-byte activations, int32 results in the outputs
    by = _by_op(steps)
    seen = set()
    for p in plans:
        op = p.op
        if p.fused_into or op.is_matmul or op.kind == "gather":
            continue
        ss = by[op.name]
        n = op.rows * op.row_len
        src, ie = ("outputs", 4) if op.in_dtype == "int32" else ("activations", 2)
        dst, oe = ("outputs", 4) if op.out_dtype == "int32" else ("activations", 2)
        seen.add((src, dst))
        assert sum(s.sram[f"sram.{src}"]["read_bytes"] for s in ss) == n * ie, op.name
        assert sum(s.sram[f"sram.{dst}"]["write_bytes"] for s in ss) == n * oe, op.name
        reads = sum(s.ports[src][0] for s in ss)
        writes = sum(s.ports[dst][1] for s in ss)
        assert (reads, writes) == (n * ie, n * oe), op.name
        if src != dst:
            assert all(s.ports[src][1] == 0 and s.ports[dst][0] == 0 for s in ss), op.name
        if op.kind == "softmax":
            assert len(ss) == prep.workload.heads  # one step per head
    assert ("outputs", "activations") in seen and ("activations", "outputs") in seen


def test_attention_outputs_land_in_the_activation_buffer():
    prep, planner, plans, steps = _map("tcore", "tiny")
    by = _by_op(steps)
    for s in by["L0.av"]:  # the AV result is requantized: activations, never the output buffer
        assert "sram.outputs" not in s.sram and set(s.ports) == {"activations"}
        assert s.ports["activations"][1] == s.work.m * s.work.n * 2
    for s in by["L0.qk"]:
        assert s.sram["sram.outputs"]["write_bytes"] == s.work.m * s.work.n * 4
        assert s.ports["outputs"] == (0, s.work.m * s.work.n * 4)


def test_attention_with_spilled_operands_in_row_pieces():
    # Q and K spill (4 KiB activation buffer); one head's scores (64 x 64 x 4) do not fit 4 KiB of outputs:
    # QK^T runs in row pieces whose loads and results fit the 2 KiB staging beside the K operand
    wl = _wl(seq=64, hidden=64, inter=64)
    prep, planner, plans, steps = _map("tpu", wl, ["buffers.activations.capacity_bytes=4096",
                                                   "buffers.outputs.capacity_bytes=4096"])
    by = _check_common(prep, planner, plans, steps)
    qk = next(p for p in plans if p.op.name == "L0.qk")
    assert qk.mapping["input_from_dram"] and qk.mapping["output_to_dram"]
    assert qk.mapping["per_head_steps"] > 1
    ss = by["L0.qk"]
    heads = qk.op.count
    m, k, n = qk.op.m, qk.op.k, qk.op.n
    loads = sum(t.nbytes for s in ss for t in s.loads)
    assert loads == heads * (m * k + k * n)  # each head's Q rows once and its K once (int8)
    assert sum(t.nbytes for s in ss for t in s.stores) == heads * m * n * 4


def test_embeddings_stay_fp32_when_not_quantized():
    g = prepare("gobo", "tiny", sets=["weights.quantize_embeddings=false"])
    gt = {t.tensor_type: t for t in g.graph.tensors}
    assert tensor_format(gt["word_emb"], g.hw) == "fp32"
    assert tensor_format(gt["query"], g.hw) == "gobo"
