"""Mapping: each operator -> a sequence of steps (DRAM loads, one compute tile, a vector epilogue, stores).

The mapper makes every data-placement decision statically; the engine (``sim.engine``) then times the
steps with the hardware models. Decisions, in order:

1. **Fusion.** Element-wise consumers of a matmul run on the vector unit as the matmul's *epilogue*, tile
   by tile, while the next tile computes: int32 -> int8 requantization (Q/K/V projections, AV), GELU +
   requantization (FFN1), the residual add (output projection, FFN2), tanh (pooler), the position add
   (ViT patch projection). A fused operator keeps its row in the report with 0 cycles and
   ``fused_into`` naming its producer; its vector work is counted on the producer. Row-wise operators
   (softmax, LayerNorm) need whole rows and run as their own vector steps.
2. **Attention per head.** QK^T, softmax and AV are interleaved head by head, so one head's int32
   score matrix (seq x seq x 4 bytes) is all the output buffer must hold.
3. **Residency.** An activation stays on chip when it fits its buffer beside what is live with it
   (int8/fp16 activations: the activation buffer holds the layer input for the residual plus the
   tensor; int32 results: the output buffer). Otherwise its producer writes it to DRAM and its
   consumer reads it back (both counted).
4. **Weight chunks.** A weight GEMM is split into chunks of K_c x N_c weights (N_c a multiple of the
   compute unit's column granule, K_c = K unless even one granule of columns does not fit) that fit
   the weight buffer (half of it when double-buffered, so the next chunk loads while this one
   computes). GOBO keeps weights packed on chip, so a chunk's size is its packed size (indices +
   outliers): about 10x the weights of an fp32 buffer, 5x of fp16 ("amplified capacity"). K-split
   chunks accumulate partial sums in the output buffer.
5. **Loop order** when the activation input does not fit on chip: weights-outer (re-read activations
   per weight chunk) or activations-outer (re-read weights per activation chunk unless the whole
   weight matrix fits the buffer), whichever moves fewer DRAM bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from sim.compute.base import SUB_TILES, MatrixUnit, WeightTile
from sim.config.hardware import HardwareConfig
from sim.errors import SimInputError
from sim.hw.timing import TileTiming
from sim.hw.vector import KernelCost, VectorParams, vector_timing
from sim.mapping.weights import EMBEDDING_TYPES
from sim.workload.graph import Operator, OperatorGraph

FUSABLE = {"gelu", "add", "tanh"}  # element-wise consumers fused into a producing matmul's epilogue
MAX_STEPS = 100_000  # steps per run beyond which a mapping is refused, so a simulation stays within ~20 s


@dataclass(frozen=True)
class Transfer:
    """One DRAM transfer: ``nbytes`` read or written, as a stream or as scattered chunks."""

    nbytes: int
    write: bool
    what: str  # weights, outliers, activations, embeddings
    pattern: str = "stream"
    chunk_bytes: int | None = None
    decode_weights: int = 0  # weights the on-chip GOBO decompressor produces from this transfer


@dataclass(frozen=True)
class Step:
    """One unit of work the engine schedules."""

    op: str  # operator name (report row)
    unit: str  # "matrix" or "vector": the unit the compute part occupies
    compute: TileTiming
    macs: int = 0
    loads: tuple[Transfer, ...] = ()
    stores: tuple[Transfer, ...] = ()
    weight_bytes: int = 0  # weight-buffer bytes the loads fill (taken at load, freed after compute)
    hold_weights: bool = False  # keep the bytes after compute (a resident chunk reused by later steps)
    free_weights: int = 0  # extra weight-buffer bytes freed after this step's compute (resident chunks)
    epilogue: TileTiming | None = None  # vector work on this step's output tile
    sram: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # buffer -> action -> count
    epilogue_ops: tuple[str, ...] = ()  # fused operators whose work `epilogue` includes


@dataclass
class OpPlan:
    """The steps of one operator and the mapping it chose (reported per operator)."""

    op: Operator
    steps: list[Step]
    mapping: dict[str, object]
    fused_into: str | None = None


@dataclass(frozen=True)
class WeightSource:
    """Off-chip and on-chip sizes of one weight tensor, per chunk, and (packed formats) its outlier layout."""

    offchip_bytes: Callable[[int, int], np.ndarray]  # (Nc, Kc) -> bytes per [n-chunk, k-chunk]
    onchip_bytes: Callable[[int, int], np.ndarray]  # same, in the on-chip format
    dictionary_bytes: int = 0
    outlier_counts: Callable[[int, int], np.ndarray] | None = None  # (P, Kc) -> outliers per [n-block, k-chunk]
    outlier_bytes: Callable[[int, int], np.ndarray] | None = None  # (Nc, Kc) -> outlier bytes per chunk
    packed_format: str | None = None  # the packed weight format off chip ("gobo"); None: dense


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _elem_grid(N: int, K: int, Nc: int, Kc: int, elem_bytes: float) -> np.ndarray:
    n_sizes = np.minimum(Nc, N - np.arange(0, N, Nc))
    k_sizes = np.minimum(Kc, K - np.arange(0, K, Kc))
    return np.ceil(np.outer(n_sizes, k_sizes) * elem_bytes).astype(np.int64)


def dense_source(N: int, K: int, offchip_elem_bytes: float, onchip_elem_bytes: float) -> WeightSource:
    """A dense weight (int8/fp16/fp32 off chip) of N x K elements."""
    return WeightSource(lambda nc, kc: _elem_grid(N, K, nc, kc, offchip_elem_bytes),
                        lambda nc, kc: _elem_grid(N, K, nc, kc, onchip_elem_bytes))


def gobo_source(packed, onchip_elem_bytes: float | None) -> WeightSource:
    """A GOBO-packed weight; on chip packed too (``onchip_elem_bytes`` None) or decompressed to that width."""
    N, K = packed.rows, packed.cols

    def off(nc: int, kc: int) -> np.ndarray:
        return packed.block_bytes(nc, kc).total

    def on(nc: int, kc: int) -> np.ndarray:
        return off(nc, kc) if onchip_elem_bytes is None else _elem_grid(N, K, nc, kc, onchip_elem_bytes)

    return WeightSource(off, on, packed.dictionary_bytes,
                        outlier_counts=lambda p, kc: packed.outlier_counts(p, kc),
                        outlier_bytes=lambda nc, kc: packed.block_bytes(nc, kc).outliers, packed_format="gobo")


class Planner:
    """Turns an operator graph into steps for one design (see the module docstring)."""

    def __init__(self, graph: OperatorGraph, unit: MatrixUnit, hw: HardwareConfig,
                 weights: Mapping[str, WeightSource], kernel_costs: Mapping[str, KernelCost]):
        self.graph = graph
        self.d = unit
        self.hw = hw
        self.vector = VectorParams(hw.vector.lanes, hw.vector.divider_cycles)
        self.weights = weights
        self.costs = kernel_costs
        self.consumers: dict[str, list[Operator]] = {}
        for op in graph.ops:
            for src in op.inputs:
                self.consumers.setdefault(src, []).append(op)
        self.fused: dict[str, str] = {}  # fused op -> producer
        for op in graph.ops:
            if op.kind in FUSABLE and op.inputs and self._by_name(op.inputs[0]).is_matmul:
                self.fused[op.name] = op.inputs[0]
        self.spilled = self._residency()
        self._chunk_cache: dict[str, tuple[int, int, np.ndarray, np.ndarray]] = {}

    def _by_name(self, name: str) -> Operator:
        return next(o for o in self.graph.ops if o.name == name)

    # -- residency -------------------------------------------------------------------------------
    def output_bytes(self, op: Operator) -> tuple[str, int]:
        """(buffer, bytes) an operator's result occupies on chip after its fused epilogue."""
        tail = next((c for c in self.consumers.get(op.name, []) if self.fused.get(c.name) == op.name), None)
        last = tail or op
        elems = op.out_elems
        if op.kind == "bmm" and op.out_dtype == "int32":  # per-head scores, interleaved with softmax
            return "outputs", op.m * op.n * 4
        if last.out_dtype == "int32":
            return "outputs", elems * 4
        return "activations", elems * self.d.act_bytes

    def _residency(self) -> set[str]:
        """Operators whose (post-epilogue) output does not fit on chip and goes through DRAM."""
        w = self.graph.workload
        live_residual = w.tokens * w.hidden * self.d.act_bytes  # the layer input kept for the residual
        spilled = set()
        for op in self.graph.ops:
            if op.name in self.fused:
                continue
            buf, nbytes = self.output_bytes(op)
            cap = self.hw.buffers[buf].capacity_bytes
            if buf == "activations":
                extra = live_residual
                if op.name.endswith(("q_proj", "k_proj", "v_proj")):
                    nbytes *= 3  # Q, K and V are live together until the last head's AV
                if nbytes + extra > cap:
                    spilled.add(op.name)
            elif nbytes > cap:
                spilled.add(op.name)
        return spilled

    def input_spilled(self, op: Operator) -> bool:
        """True when the operator's first input was written to DRAM by its producer."""
        src = op.inputs[0] if op.inputs else None
        if src is None:
            return False
        src = self.fused.get(src, src)
        return src in self.spilled

    # -- epilogues -------------------------------------------------------------------------------
    def epilogue_cost(self, op: Operator) -> tuple[KernelCost | None, tuple[str, ...]]:
        """The vector work fused after a matmul and the fused operators it stands for."""
        fused = [c for c in self.consumers.get(op.name, []) if self.fused.get(c.name) == op.name]
        cost = self.costs["requant"] if op.epilogue == "requant" else None
        names = []
        for c in fused:
            kernel = {"gelu": "gelu", "add": "residual_add", "tanh": "tanh"}[c.kind]
            k = self.costs[kernel] + self.costs["requant"] if c.kind == "gelu" else self.costs[kernel]
            cost = k if cost is None else cost + k
            names.append(c.name)
        return cost, tuple(names)

    # -- planning --------------------------------------------------------------------------------
    def plan(self) -> list[OpPlan]:
        """Every operator's plan, in execution order (attention interleaved per head)."""
        plans: list[OpPlan] = []
        by_name: dict[str, OpPlan] = {}
        # chunk every weight GEMM first (cheap), so an oversized mapping is refused before any is built
        total = 0
        w = self.graph.workload
        for op in self.graph.ops:
            if op.kind in ("bmm", "softmax"):  # one step per (batch, head)
                total += w.batch * w.heads
                if total > MAX_STEPS:
                    raise SimInputError(
                        f"batch={w.batch} x heads={w.heads}: the mapping needs over {MAX_STEPS:,} steps (one per head "
                        f"of each attention operator); refused to keep the simulation short: use a smaller batch")
            if op.kind == "gemm" and op.name not in self.fused:
                assert op.weight is not None
                self._chunk_cache[op.name] = chunks = self._chunks(op, self.weights[op.weight.name])
                total += chunks[2].size * SUB_TILES
                if total > MAX_STEPS:
                    wbytes = self.hw.buffers["weights"].capacity_bytes
                    raise SimInputError(
                        f"buffers.weights.capacity_bytes={wbytes}: the mapping needs over {MAX_STEPS:,} steps "
                        f"({op.name} alone: {chunks[2].size:,} weight chunks of {chunks[0]} x {chunks[1]}); "
                        "refused to keep the simulation short: use a larger weight buffer")
        for op in self.graph.ops:
            if op.name in self.fused:
                p = OpPlan(op, [], {"fused_into": self.fused[op.name]}, fused_into=self.fused[op.name])
            elif op.kind == "gemm":
                p = self.plan_gemm(op)
            elif op.kind == "bmm":
                p = self.plan_bmm(op)
            else:
                p = self.plan_vector(op)
            plans.append(p)
            by_name[op.name] = p
        return plans

    def order(self, plans: list[OpPlan]) -> list[Step]:
        """The global step order: graph order, with each layer's QK^T / softmax / AV interleaved per head."""
        steps: list[Step] = []
        i = 0
        while i < len(plans):
            p = plans[i]
            if p.op.kind == "bmm" and p.op.name.endswith(".qk") and i + 2 < len(plans):
                qk, sm, av = plans[i], plans[i + 1], plans[i + 2]
                for a, b, c in zip(qk.steps, sm.steps, av.steps):
                    steps += [a, b, c]
                i += 3
                continue
            steps += p.steps
            i += 1
        return steps

    def _activation_load(self, nbytes: int) -> Transfer:
        return Transfer(int(nbytes), False, "activations")

    def _activation_store(self, nbytes: int) -> Transfer:
        return Transfer(int(nbytes), True, "activations")

    def _chunks(self, op: Operator, src: WeightSource) -> tuple[int, int, np.ndarray, np.ndarray]:
        """Choose (Nc, Kc) for a weight GEMM and return the per-chunk on/off-chip byte grids."""
        d, N, K = self.d, op.n, op.k
        wbuf = self.hw.buffers["weights"]
        budget = wbuf.capacity_bytes // 2 if wbuf.double_buffered else wbuf.capacity_bytes
        g = d.n_granule
        wave = d.chunk_wave
        widths = [N] + [wave * j for j in range(1, _ceil(N, wave) + 1)] + [g * j for j in range(1, _ceil(N, g) + 1)]
        candidates = sorted({min(N, x) for x in widths}, reverse=True)
        for kc in [K] + [max(d.k_granule, (K // 2**i) // d.k_granule * d.k_granule) for i in range(1, 40)]:
            # the largest chunk width that fits (bytes grow with the width: bisect the candidates)
            lo, hi = 0, len(candidates)  # candidates[lo:] are the ones not yet ruled out
            while lo < hi:
                mid = (lo + hi) // 2
                if int(src.onchip_bytes(candidates[mid], kc).max()) <= budget:
                    hi = mid
                else:
                    lo = mid + 1
            if lo < len(candidates):
                nc = candidates[lo]
                return nc, kc, src.onchip_bytes(nc, kc), src.offchip_bytes(nc, kc)
            if kc <= d.k_granule:
                break
        raise SimInputError(
            f"{op.name}: even one {g}-column x {d.k_granule}-deep weight chunk does not fit "
            f"buffers.weights.capacity_bytes={wbuf.capacity_bytes}")

    def plan_gemm(self, op: Operator) -> OpPlan:
        """A weight GEMM: weight chunks stream through the weight buffer; activations as resident."""
        d = self.d
        assert op.weight is not None
        src = self.weights[op.weight.name]
        M, K, N = op.m * op.count, op.k, op.n
        Nc, Kc, on, off = self._chunk_cache.get(op.name) or self._chunks(op, src)
        nN, nK = on.shape
        ep_cost, ep_names = self.epilogue_cost(op)
        a_bytes = M * K * d.act_bytes
        a_in_dram = self.input_spilled(op) or op.stage == "embeddings" and op.name == "emb.patch_proj"
        out_buf, _ = self.output_bytes(op)
        out_elem = 4 if out_buf == "outputs" else d.act_bytes
        spill_out = op.name in self.spilled
        abuf = self.hw.buffers["activations"].capacity_bytes // 2
        # loop order when A is in DRAM: weights-outer re-reads A per weight-column chunk
        m_chunks = 1
        if a_in_dram and a_bytes > abuf:
            rows_fit = max(1, abuf // (K * d.act_bytes))
            m_chunks = _ceil(M, rows_fit)
        total_w = int(on.sum())
        resident = m_chunks > 1 and total_w <= self.hw.buffers["weights"].capacity_bytes
        w_traffic_outer_a = int(off.sum()) * (1 if resident else m_chunks)
        a_traffic_outer_w = a_bytes * nN if a_in_dram else 0
        order = "weights-outer"
        if a_in_dram and m_chunks > 1 and w_traffic_outer_a + a_bytes < int(off.sum()) + a_traffic_outer_w:
            order = "activations-outer"
        else:
            m_chunks = 1
        operand = d.weight_operand(src, Nc, Kc)
        side_store = src.outlier_bytes(Nc, Kc) if src.packed_format and src.outlier_bytes else None
        bias_bytes = op.n * 4  # fp32/int32 bias, loaded with the first chunk
        steps: list[Step] = []
        rows = [M] if m_chunks == 1 else [min(_ceil(M, m_chunks), M - i * _ceil(M, m_chunks)) for i in range(m_chunks)]
        first = True
        for mi, Mm in enumerate(rows):
            for ni in range(nN):
                n0, n1 = ni * Nc, min(N, (ni + 1) * Nc)
                for ki in range(nK):
                    k0, k1 = ki * Kc, min(K, (ki + 1) * Kc)
                    last_k = ki == nK - 1
                    loads: list[Transfer] = []
                    weight_load = (mi == 0) or not resident
                    if weight_load:
                        nbytes = int(off[ni, ki]) + (src.dictionary_bytes + bias_bytes if first else 0)
                        if side_store is not None:
                            ob = int(side_store[ni, ki])
                            decode = (n1 - n0) * (k1 - k0) if src.packed_format != d.native_format else 0
                            loads.append(Transfer(nbytes - ob, False, "weights", decode_weights=decode))
                            if ob:  # the side store: a separate short read in another DRAM row
                                loads.append(Transfer(ob, False, "outliers", "scattered", chunk_bytes=ob))
                        else:
                            loads.append(Transfer(nbytes, False, "weights"))
                    if a_in_dram and (order == "weights-outer" or ni == 0 and ki == 0):
                        loads.append(self._activation_load(Mm * (k1 - k0) * d.act_bytes))
                    chunk_bytes = int(on[ni, ki]) if weight_load else 0
                    subs = d.sub_tiles(Mm, n1 - n0)
                    for si, (sm0, sm1, sn0, sn1) in enumerate(subs):
                        m_rows, n_cols = sm1 - sm0, sn1 - sn0
                        tile = WeightTile(operand, n0 + sn0, n0 + sn1, k0, k1, ki)
                        timing = d.weight_gemm_timing(m_rows, k1 - k0, n_cols, tile, first=first and si == 0)
                        if ki > 0:  # partial sums of K chunks accumulate in the output buffer
                            timing = timing + TileTiming(0, {"add_int32": m_rows * n_cols})
                        out_tile = m_rows * n_cols
                        epi = None
                        if ep_cost is not None and last_k:
                            epi = vector_timing(self.vector, ep_cost, m_rows, n_cols)
                        stores = (self._activation_store(out_tile * out_elem),) if spill_out and last_k else ()
                        sram = self._gemm_sram(chunk_bytes if si == 0 else 0, int(on[ni, ki]) * n_cols // (n1 - n0),
                                               m_rows, k1 - k0, n_cols, ki, out_elem if last_k else 4)
                        last_sub = si == len(subs) - 1
                        frees = 0
                        if last_sub and not resident:
                            frees = chunk_bytes
                        elif resident and last_sub and mi == len(rows) - 1 and ni == nN - 1 and last_k:
                            frees = total_w
                        steps.append(Step(op.name, "matrix", timing, macs=m_rows * (k1 - k0) * n_cols,
                                          loads=tuple(loads) if si == 0 else (), stores=stores,
                                          weight_bytes=chunk_bytes if si == 0 else 0, hold_weights=True,
                                          free_weights=frees, epilogue=epi, sram=sram,
                                          epilogue_ops=ep_names if epi else ()))
                    first = False
        mapping = {"weight_chunk_n": Nc, "weight_chunk_k": Kc, "chunks": nN * nK, "loop_order": order,
                   "sub_tiles_per_chunk": len(d.sub_tiles(rows[0], min(N, Nc))),
                   "activation_chunks": m_chunks, "weights_resident": resident,
                   "input_from_dram": bool(a_in_dram), "output_to_dram": spill_out,
                   "fused_epilogue": list(ep_names) + (["requant"] if op.epilogue else []),
                   "weight_chunk_bytes_max": int(on.max())}
        return OpPlan(op, steps, mapping)

    def _gemm_sram(self, w_written: int, w_chunk: int, M: int, K: int, N: int, ki: int,
                   out_elem: int) -> dict[str, dict[str, int]]:
        """Buffer accesses of one weight-GEMM step (bytes), by the compute unit's reuse pattern."""
        w_reads, a_reads = self.d.gemm_sram_reads(w_chunk, M, K, N)
        out = {"sram.weights": {"write_bytes": w_written, "read_bytes": w_reads},
               "sram.activations": {"read_bytes": a_reads},
               "sram.outputs": {"write_bytes": M * N * out_elem}}
        if ki > 0:
            out["sram.outputs"]["read_bytes"] = M * N * 4
        return out

    def plan_bmm(self, op: Operator) -> OpPlan:
        """Attention matmul: one step per (batch, head); both operands are activations on chip."""
        d = self.d
        timing = d.dense_timing(op.m, op.k, op.n)
        ep_cost, ep_names = self.epilogue_cost(op)
        in_dram = self.input_spilled(op)
        spill_out = op.name in self.spilled
        out_buf, out_bytes = self.output_bytes(op)
        steps = []
        for _ in range(op.count):
            loads: tuple[Transfer, ...] = ()
            if in_dram:
                loads = (self._activation_load((op.m * op.k + op.k * op.n) * d.act_bytes),)
            epi = vector_timing(self.vector, ep_cost, op.m, op.n) if ep_cost is not None else None
            out_elem = 4 if out_buf == "outputs" else d.act_bytes
            stores = (self._activation_store(op.m * op.n * out_elem),) if spill_out else ()
            sram = {"sram.activations": {"read_bytes": (op.m * op.k + op.k * op.n) * d.act_bytes},
                    "sram.outputs" if out_buf == "outputs" else "sram.activations":
                        {"write_bytes": op.m * op.n * out_elem}}
            steps.append(Step(op.name, "matrix", timing, macs=op.m * op.k * op.n, loads=loads, stores=stores,
                              epilogue=epi, sram=sram, epilogue_ops=ep_names if epi else ()))
        mapping: dict[str, object] = {
                   "per_head_steps": op.count, "input_from_dram": in_dram, "output_to_dram": spill_out,
                   "interleaved_with": "softmax per head" if op.name.endswith(".qk") else None,
                   "fused_epilogue": list(ep_names) + (["requant"] if op.epilogue else []),
                   "unit": d.matmul_unit}
        return OpPlan(op, steps, mapping)

    def plan_vector(self, op: Operator) -> OpPlan:
        """A row-wise or standalone element-wise operator on the vector unit."""
        d = self.d
        w = self.graph.workload
        kernel = {"softmax": "softmax", "layernorm": "layernorm", "add": "residual_add", "gather": "gather",
                  "gelu": "gelu", "tanh": "tanh"}[op.kind]
        cost = self.costs[kernel]
        if op.kind in ("softmax", "layernorm", "gelu"):
            cost = cost + self.costs["requant"] if op.kind != "softmax" else cost
        per = op.rows // (w.batch * w.heads) if op.kind == "softmax" else op.rows
        n_steps = w.batch * w.heads if op.kind == "softmax" else 1
        in_elem = 4 if op.in_dtype == "int32" else d.act_bytes
        steps = []
        for _ in range(n_steps):
            timing = vector_timing(self.vector, cost, per, op.row_len)
            loads: list[Transfer] = []
            if op.kind == "gather":
                loads += self._gather_loads()
            elif self.input_spilled(op):
                loads.append(self._activation_load(per * op.row_len * in_elem))
            stores: tuple[Transfer, ...] = ()
            if op.name in self.spilled:
                _, nbytes = self.output_bytes(op)
                stores = (self._activation_store(nbytes // n_steps),)
            out_elem = 4 if op.out_dtype == "int32" else d.act_bytes
            src_buf = "sram.outputs" if in_elem == 4 else "sram.activations"
            dst_buf = "sram.outputs" if out_elem == 4 else "sram.activations"
            sram: dict[str, dict[str, int]] = {src_buf: {"read_bytes": per * op.row_len * in_elem}}
            sram.setdefault(dst_buf, {})["write_bytes"] = per * op.row_len * out_elem
            steps.append(Step(op.name, "vector", timing, loads=tuple(loads), stores=stores, sram=sram))
        return OpPlan(op, steps, {"unit": "vector", "steps": n_steps, "kernel": cost.name,
                                  "input_from_dram": self.input_spilled(op) or op.kind == "gather",
                                  "output_to_dram": op.name in self.spilled})

    def _gather_loads(self) -> list[Transfer]:
        """Embedding rows: word rows are scattered (one chunk per token), positions a stream."""
        w = self.graph.workload
        loads = [Transfer(w.tokens * 4, False, "activations")]  # int32 token ids
        for t in self.graph.tensors:
            if t.tensor_type not in EMBEDDING_TYPES:
                continue
            row_bytes = max(1, math.ceil(self.weights[t.name].offchip_bytes(1, t.shape[1]).sum() / t.shape[0])) \
                if t.name in self.weights else t.shape[1] * 4
            if t.tensor_type == "word_emb":
                loads.append(Transfer(row_bytes * w.tokens, False, "embeddings", "scattered", chunk_bytes=row_bytes))
            elif t.tensor_type == "pos_emb":
                loads.append(Transfer(row_bytes * w.seq_len, False, "embeddings"))
            else:
                loads.append(Transfer(row_bytes, False, "embeddings"))
        return loads
