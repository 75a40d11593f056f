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

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.compute.base import SUB_TILES, MatrixUnit, WeightTile
from sim.config.hardware import HardwareConfig
from sim.errors import SimInputError
from sim.hw.timing import TileTiming
from sim.hw.vector import KernelCost, VectorParams
from sim.mapping.memo import TimingMemo
from sim.mapping.weights import EMBEDDING_TYPES
from sim.quant.packed import OUTLIER_BYTES as OUTLIER_STORED_BYTES
from sim.workload.graph import Operator, OperatorGraph

FUSABLE = {"gelu", "add", "tanh"}  # element-wise consumers fused into a producing matmul's epilogue
_UNSET: Any = object()  # a memo's "not computed yet" (None is a value)
MAX_STEPS = 100_000  # steps per run beyond which a mapping is refused, so a simulation stays within ~20 s


def _dict_init(cls: type) -> type:
    """Give a frozen dataclass an ``__init__`` that fills the new instance's ``__dict__`` in one update instead of
    one ``object.__setattr__`` per field (the mapper builds thousands of steps, transfers and works per run): the
    same parameters, defaults and default factories as the generated one (read from ``dataclasses.fields``), the
    class otherwise untouched (frozen, equality, hashing, repr)."""
    missing = object()
    ns: dict[str, Any] = {"_missing": missing}
    params, body, names = [], [], []
    for f in dataclasses.fields(cls):
        names.append(f.name)
        if f.default is not dataclasses.MISSING:
            ns[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            ns[f"_factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}=_missing")
            body.append(f"    if {f.name} is _missing:\n        {f.name} = _factory_{f.name}()\n")
        else:
            params.append(f.name)
    src = (f"def __init__(self, {', '.join(params)}):\n{''.join(body)}"
           f"    self.__dict__.update({', '.join(f'{n}={n}' for n in names)})\n")
    exec(src, ns)  # noqa: S102 -- generated from the class's own field list, as dataclasses does
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[misc]
    return cls


@_dict_init
@dataclass(frozen=True)
class Transfer:
    """One DRAM transfer: ``nbytes`` read or written, as a stream or as scattered chunks."""

    nbytes: int
    write: bool
    what: str  # weights, outliers, activations, embeddings, ids, outputs
    pattern: str = "stream"
    chunk_bytes: int | None = None
    decode_weights: int = 0  # weights the on-chip GOBO decompressor produces from this transfer
    convert_values: int = 0  # fp32 dictionary entries and outliers converted to integers on the way in
    tensor: str = ""  # the operator whose data this is (a store's producer, a spilled load's source)


@_dict_init
@dataclass(frozen=True)
class Work:
    """What a step's compute (or epilogue) part is, for the whole-run reference and the traces.

    ``kind``: ``weight-gemm`` (``m x k`` activations times a ``k x n`` weight ``tile``; ``first``: the
    tensor's first step, which loads its dictionary), ``matmul`` (both operands dense on chip) or ``vector``
    (``kernel`` over ``rows x row_len`` elements)."""

    kind: str
    m: int = 0
    k: int = 0
    n: int = 0
    tile: WeightTile | None = None
    first: bool = False
    kernel: KernelCost | None = None
    rows: int = 0
    row_len: int = 0
    k_accumulate: bool = False  # a later K chunk: the partial sums are added in the output buffer


@_dict_init
@dataclass(frozen=True)
class Step:
    """One unit of work the engine schedules (see ``docs/hw/engine.md`` for the semantics)."""

    op: str  # operator name (report row)
    unit: str  # "matrix" or "vector": the unit the compute part occupies
    compute: TileTiming
    macs: int = 0
    loads: tuple[Transfer, ...] = ()
    stores: tuple[Transfer, ...] = ()
    weight_take: int = 0  # weight-buffer bytes the loader takes before this step's loads
    weight_free: int = 0  # weight-buffer bytes given back after this step's compute
    stage_take: int = 0  # activation-staging bytes the loader takes before this step's loads
    stage_free: int = 0  # activation-staging bytes given back after this step's compute
    after: tuple[str, ...] = ()  # operators whose DRAM writes must be complete before this step's loads start
    epilogue: TileTiming | None = None  # vector work on this step's output tile
    sram: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # buffer -> action -> count (energy)
    ports: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # buffer -> (read, write) bytes the
    # compute part moves through the buffer's ports (timing; DMA fills and drains use a separate port)
    epilogue_ops: tuple[str, ...] = ()  # fused operators whose work `epilogue` includes
    work: Work | None = None
    epilogue_work: Work | None = None


@dataclass
class OpPlan:
    """The steps of one operator and the mapping it chose (reported per operator)."""

    op: Operator
    steps: list[Step]
    mapping: dict[str, object]
    fused_into: str | None = None
    groups: list[list[Step]] | None = None  # per (batch, head) for attention operators (interleaved by order)
    gemm_cycles: int | None = None  # the unit's closed form of the operator's whole GEMM(s) (MatrixUnit.gemm_cycles)


@dataclass(frozen=True)
class WeightSource:
    """Off-chip and on-chip sizes of one weight tensor, per chunk, and (packed formats) its outlier layout."""

    offchip_bytes: Callable[[int, int], np.ndarray]  # (Nc, Kc) -> bytes per [n-chunk, k-chunk]
    onchip_bytes: Callable[[int, int], np.ndarray]  # same, in the on-chip format
    dictionary_bytes: int = 0
    outlier_counts: Callable[[int, int], np.ndarray] | None = None  # (P, Kc) -> outliers per [n-block, k-chunk]
    outlier_bytes: Callable[[int, int], np.ndarray] | None = None  # (Nc, Kc) -> outlier bytes per chunk
    packed_format: str | None = None  # the packed weight format off chip ("gobo"); None: dense
    layout: Any = None  # a packed format's own layout object for its native unit (OLAccel: the packed tensor)


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


@functools.lru_cache(maxsize=4096)
def _elem_grid(N: int, K: int, Nc: int, Kc: int, elem_bytes: float) -> np.ndarray:
    """Bytes per [n-chunk, k-chunk] of a dense N x K weight cut into Nc x Kc chunks: ``ceil(n * k * elem_bytes)``
    of each chunk's n x k elements (every chunk is whole but the last row and column of the grid). A pure
    function of its arguments, remembered per process (the layers of a model, and the designs of a sweep, cut
    the same shapes; the chunk search probes the same widths): the array is read-only."""
    nN, nK = _ceil(N, Nc), _ceil(K, Kc)
    n_last, k_last = N - (nN - 1) * Nc, K - (nK - 1) * Kc
    grid = np.full((nN, nK), math.ceil(Nc * Kc * elem_bytes), dtype=np.int64)
    grid[-1, :] = math.ceil(n_last * Kc * elem_bytes)
    grid[:, -1] = math.ceil(Nc * k_last * elem_bytes)
    grid[-1, -1] = math.ceil(n_last * k_last * elem_bytes)
    grid.setflags(write=False)
    return grid


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


def shape_format_source(N: int, K: int, fmt: str, nbytes: Callable[[int, int], int]) -> WeightSource:
    """A weight in a packed format whose bytes follow from the shape (ternary, bcq), packed on chip too:
    ``nbytes(rows, cols)`` is the format's size; a chunk of ``nc`` rows and ``kc`` columns holds
    ``nbytes(nc, kc)`` minus its per-row part, which the first K chunk carries."""

    def grid(nc: int, kc: int) -> np.ndarray:
        n_sizes = np.minimum(nc, N - np.arange(0, N, nc))
        k_sizes = np.minimum(kc, K - np.arange(0, K, kc))
        out = np.array([[nbytes(int(n), int(k)) - (nbytes(int(n), 0) if j else 0) for j, k in enumerate(k_sizes)]
                        for n in n_sizes], dtype=np.int64)
        return out

    return WeightSource(grid, grid, packed_format=fmt)


class Planner:
    """Turns an operator graph into steps for one design (see the module docstring)."""

    fusable: frozenset[str] = frozenset(FUSABLE)
    # fused element-wise kind -> its vector kernel; the kinds in `requantizing` also requantize to int8
    epilogue_kernels: Mapping[str, str] = {"gelu": "gelu", "add": "residual_add", "tanh": "tanh"}
    requantizing: frozenset[str] = frozenset({"gelu"})

    def __init__(self, graph: OperatorGraph, unit: MatrixUnit, hw: HardwareConfig,
                 weights: Mapping[str, WeightSource], kernel_costs: Mapping[str, KernelCost]):
        self.graph = graph
        self.d = unit
        self.hw = hw
        self.vector = VectorParams(hw.vector.lanes, hw.vector.divider_cycles)
        self.timing = TimingMemo(unit, self.vector)  # the closed forms of identical tiles, computed once
        self.weights = weights
        self.costs = kernel_costs
        self.consumers: dict[str, list[Operator]] = {}
        for op in graph.ops:
            for src in op.inputs:
                self.consumers.setdefault(src, []).append(op)
        self.fused: dict[str, str] = {}  # fused op -> producer
        for op in graph.ops:
            if op.kind in self.fusable and op.inputs and self._by_name(op.inputs[0]).is_matmul:
                self.fused[op.name] = op.inputs[0]
        self.spilled = self._residency()
        self._outputs = self.model_outputs
        self._chunk_cache: dict[str, tuple[int, int, np.ndarray, np.ndarray]] = {}
        self._epilogues: dict[tuple[bool, tuple[str, ...]], KernelCost | None] = {}  # see epilogue_cost

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
        # the composed kernel follows from the requantization and the fused kinds: composed once per planner
        # (the layers of a model repeat the same epilogues), the same KernelCost object for the same parts
        shape = (op.epilogue == "requant", tuple(c.kind for c in fused))
        cost = self._epilogues.get(shape, _UNSET)
        if cost is _UNSET:
            cost = self.costs["requant"] if shape[0] else None
            for kind in shape[1]:
                kernel = self.epilogue_kernels[kind]
                k = self.costs[kernel] + self.costs["requant"] if kind in self.requantizing else self.costs[kernel]
                cost = k if cost is None else cost + k
            self._epilogues[shape] = cost
        return cost, tuple(c.name for c in fused)

    # -- planning --------------------------------------------------------------------------------
    def plan(self) -> list[OpPlan]:
        """Every operator's plan, in graph order (``order`` interleaves attention per head)."""
        plans: list[OpPlan] = []
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
        return plans

    def order(self, plans: list[OpPlan]) -> list[Step]:
        """The global step order: graph order, with each layer's QK^T / softmax / AV interleaved per head."""
        steps: list[Step] = []
        i = 0
        while i < len(plans):
            p = plans[i]
            if p.op.kind == "bmm" and p.op.name.endswith(".qk") and i + 2 < len(plans):
                qk, sm, av = plans[i], plans[i + 1], plans[i + 2]
                assert qk.groups is not None and sm.groups is not None and av.groups is not None
                for a, b, c in zip(qk.groups, sm.groups, av.groups, strict=True):
                    steps += a + b + c
                i += 3
                continue
            steps += p.steps
            i += 1
        return steps

    # -- on-chip staging and data dependences -----------------------------------------------------
    @property
    def stage_capacity(self) -> int:
        """Bytes of the activation buffer that stream spilled inputs in (the half not holding resident
        tensors): every activation load must fit it, so the mapper cuts loads into row pieces."""
        return self.hw.buffers["activations"].capacity_bytes // 2

    def spilled_inputs(self, op: Operator) -> tuple[str, ...]:
        """The producers (after fusion) of the operator's inputs that were written to DRAM."""
        out = []
        for src in op.inputs:
            prod = self.fused.get(src, src)
            if prod in self.spilled and prod not in out:
                out.append(prod)
        return tuple(out)


    @property
    def model_outputs(self) -> set[str]:
        """Operators (after fusion) whose results leave the chip: the last hidden state (the graph's last
        LayerNorm) and every result no operator consumes (the pooler or classifier output)."""
        out = set()
        ops = [o for o in self.graph.ops if o.name not in self.fused]
        for o in ops:
            tail = next((c for c in self.consumers.get(o.name, []) if self.fused.get(c.name) == o.name), None)
            consumers = self.consumers.get((tail or o).name, [])
            if not consumers:
                out.add(o.name)
        norms = [o for o in ops if o.kind == "layernorm"]
        if norms:
            out.add(norms[-1].name)
        return out

    def writes_to_dram(self, op: Operator) -> bool:
        """The operator's (post-epilogue) result is written to DRAM: spilled, or a model output."""
        return op.name in self.spilled or op.name in self._outputs

    def _pieces(self, rows: int, bytes_per_row: int, cap: int, granule: int = 1, what: str = "") -> list[int]:
        """Row counts of consecutive pieces whose ``rows x bytes_per_row`` fit ``cap`` bytes (whole granules)."""
        if bytes_per_row <= 0 or rows * bytes_per_row <= cap:
            return [rows]
        fit = (cap // bytes_per_row) // granule * granule
        if fit < 1:
            fit = cap // bytes_per_row
        if fit < 1:
            raise SimInputError(f"buffers.activations.capacity_bytes={self.hw.buffers['activations'].capacity_bytes}: "
                                f"{what}: one row ({bytes_per_row} bytes) does not fit the activation staging half "
                                f"({cap} bytes)")
        return [min(fit, rows - r) for r in range(0, rows, fit)]

    def _load(self, nbytes: int, source: str, what: str = "activations") -> Transfer:
        return Transfer(int(nbytes), False, what, tensor=source)

    def _store(self, nbytes: int, op: str) -> Transfer:
        return Transfer(int(nbytes), True, "outputs", tensor=op)

    def _chunks(self, op: Operator, src: WeightSource) -> tuple[int, int, np.ndarray, np.ndarray]:
        """Choose (Nc, Kc) for a weight GEMM and return the per-chunk on/off-chip byte grids."""
        d, N, K = self.d, op.n, op.k
        wbuf = self.hw.buffers["weights"]
        budget = wbuf.capacity_bytes // 2 if wbuf.double_buffered else wbuf.capacity_bytes
        g = d.n_granule
        wave = d.chunk_wave
        # N and every multiple of the wave and of the granule, capped at N (those past N are N itself)
        widths = {N}
        widths.update(range(wave, N, wave))
        widths.update(range(g, N, g))
        candidates = sorted(widths, reverse=True)
        # K, then halvings in whole granules (made as needed: most GEMMs fit whole-K chunks)
        depths = itertools.chain((K,), (max(d.k_granule, (K // 2**i) // d.k_granule * d.k_granule)
                                        for i in range(1, 40)))
        for kc in depths:
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

    # -- weight GEMMs ------------------------------------------------------------------------------
    def plan_gemm(self, op: Operator) -> OpPlan:
        """A weight GEMM: weight chunks stream through the weight buffer; a spilled input streams through the
        activation staging in row pieces; the loop order (weights-outer or activations-outer) is the one that
        moves fewer DRAM bytes."""
        d, tm = self.d, self.timing
        assert op.weight is not None
        src = self.weights[op.weight.name]
        M, K, N = op.m * op.count, op.k, op.n
        Nc, Kc, on, off = self._chunk_cache.get(op.name) or self._chunks(op, src)
        nN, nK = on.shape
        ep_cost, ep_names = self.epilogue_cost(op)
        deps = self.spilled_inputs(op)
        from_input = op.stage == "embeddings" and op.name == "emb.patch_proj"  # the image comes from DRAM
        a_in_dram = bool(deps) or from_input
        source = deps[0] if deps else "input"
        out_buf, _ = self.output_bytes(op)
        out_elem = 4 if out_buf == "outputs" else d.act_bytes
        to_dram = self.writes_to_dram(op)
        cap = self.stage_capacity
        total_w = int(on.sum())
        w_off = int(off.sum())
        granule = d.m_granule
        # row pieces of A: for weights-outer one K chunk deep, for activations-outer the whole K
        pieces_w = self._pieces(M, Kc * d.act_bytes, cap, granule, op.name) if a_in_dram else [M]
        pieces_a = self._pieces(M, K * d.act_bytes, cap, granule, op.name) if a_in_dram else [M]
        resident = total_w <= self.hw.buffers["weights"].capacity_bytes
        a_total = M * K * d.act_bytes if a_in_dram else 0
        traffic_w_outer = w_off + a_total * nN
        traffic_a_outer = w_off * (1 if resident else len(pieces_a)) + a_total
        order = "weights-outer"
        if a_in_dram and len(pieces_a) > 1 and traffic_a_outer < traffic_w_outer:
            order = "activations-outer"
        operand = d.weight_operand(src, Nc, Kc)
        side_store = src.outlier_bytes(Nc, Kc) if src.packed_format and src.outlier_bytes else None
        bias_bytes = op.n * 4  # fp32/int32 bias, loaded with the first chunk
        steps: list[Step] = []

        def weight_loads(ni: int, ki: int, first: bool) -> list[Transfer]:
            n0, n1 = ni * Nc, min(N, (ni + 1) * Nc)
            k0, k1 = ki * Kc, min(K, (ki + 1) * Kc)
            nbytes = int(off[ni, ki]) + (src.dictionary_bytes + bias_bytes if first else 0)
            if side_store is None:
                return [Transfer(nbytes, False, "weights", tensor=op.name)]
            ob = int(side_store[ni, ki])
            decode = (n1 - n0) * (k1 - k0) if src.packed_format != d.native_format else 0
            dict_values = (src.dictionary_bytes // 4) if first else 0  # fp32 centroids
            out = [Transfer(nbytes - ob, False, "weights", decode_weights=decode, convert_values=dict_values,
                            tensor=op.name)]
            if ob:  # the side store: a separate short read in another DRAM row
                out.append(Transfer(ob, False, "outliers", "scattered", chunk_bytes=ob,
                                    convert_values=ob // OUTLIER_STORED_BYTES, tensor=op.name))
            return out

        def compute_steps(m0: int, m1: int, ni: int, ki: int, first: bool, loads: list[Transfer],
                          w_take: int, w_free: int, s_take: int, s_free: int) -> list[Step]:
            n0, n1 = ni * Nc, min(N, (ni + 1) * Nc)
            k0, k1 = ki * Kc, min(K, (ki + 1) * Kc)
            last_k = ki == nK - 1
            subs = tm.sub_tiles(m1 - m0, n1 - n0)
            out = []
            # a step is fixed by its sub-tile's shape and columns and whether it is the chunk's first or last one:
            # equal sub-tiles (the middle row blocks of a chunk) share one immutable step
            made: dict[tuple[int, int, int, bool, bool], Step] = {}
            for si, (sm0, sm1, sn0, sn1) in enumerate(subs):
                m_rows, n_cols = sm1 - sm0, sn1 - sn0
                last_sub = si == len(subs) - 1
                same = made.get((m_rows, sn0, sn1, si == 0, last_sub))
                if same is not None:
                    out.append(same)
                    continue
                tile = WeightTile(operand, n0 + sn0, n0 + sn1, k0, k1, ki)
                dict_load = first and si == 0
                timing = tm.weight_gemm_timing(m_rows, k1 - k0, n_cols, tile, first=dict_load)
                if ki > 0:  # partial sums of K chunks accumulate in the output buffer
                    timing = timing + TileTiming(0, {"add_int32": m_rows * n_cols})
                epi = epi_work = None
                if ep_cost is not None and last_k:
                    epi = tm.vector_timing(ep_cost, m_rows, n_cols)
                    epi_work = Work("vector", kernel=ep_cost, rows=m_rows, row_len=n_cols)
                stores = (self._store(m_rows * n_cols * out_elem, op.name),) if to_dram and last_k else ()
                w_chunk = int(on[ni, ki]) * n_cols // (n1 - n0)
                w_reads, a_reads = tm.gemm_sram_reads(w_chunk, m_rows, k1 - k0, n_cols, tile)
                o_write = m_rows * n_cols * (out_elem if last_k else 4)
                o_read = m_rows * n_cols * 4 if ki > 0 else 0
                sram = {"sram.weights": {"write_bytes": w_take if si == 0 else 0, "read_bytes": w_reads},
                        "sram.activations": {"read_bytes": a_reads,
                                             "write_bytes": sum(t.nbytes for t in loads if t.what == "activations")
                                             if si == 0 else 0},
                        "sram.outputs": {"write_bytes": o_write, "read_bytes": o_read
                                         + sum(t.nbytes for t in stores)}}
                ports = {"weights": (w_reads, 0), "activations": (a_reads, 0), "outputs": (o_read, o_write)}
                out.append(Step(
                    op.name, "matrix", timing, macs=m_rows * (k1 - k0) * n_cols,
                    loads=tuple(loads) if si == 0 else (), stores=stores,
                    weight_take=w_take if si == 0 else 0, weight_free=w_free if last_sub else 0,
                    stage_take=s_take if si == 0 else 0, stage_free=s_free if last_sub else 0,
                    after=deps if si == 0 and loads and any(t.what == "activations" for t in loads) else (),
                    epilogue=epi, sram=sram, ports=ports, epilogue_ops=ep_names if epi else (),
                    work=Work("weight-gemm", m_rows, k1 - k0, n_cols, tile=tile, first=dict_load, k_accumulate=ki > 0),
                    epilogue_work=epi_work))
                made[(m_rows, sn0, sn1, si == 0, last_sub)] = out[-1]
            return out

        first = True
        if order == "weights-outer":
            row_starts = [sum(pieces_w[:i]) for i in range(len(pieces_w))]
            for ni in range(nN):
                for ki in range(nK):
                    k0, k1 = ki * Kc, min(K, (ki + 1) * Kc)
                    chunk = int(on[ni, ki])
                    for pi, (r0, rows) in enumerate(zip(row_starts, pieces_w, strict=True)):
                        loads = weight_loads(ni, ki, first) if pi == 0 else []
                        a_load = rows * (k1 - k0) * d.act_bytes if a_in_dram else 0
                        if a_load:
                            loads.append(self._load(a_load, source))
                        steps += compute_steps(r0, r0 + rows, ni, ki, first and pi == 0, loads,
                                               chunk if pi == 0 else 0, chunk if pi == len(pieces_w) - 1 else 0,
                                               a_load, a_load)
                    first = False
        else:  # activations-outer: each row piece of A (whole K) once; weights re-read unless resident
            row_starts = [sum(pieces_a[:i]) for i in range(len(pieces_a))]
            for pi, (r0, rows) in enumerate(zip(row_starts, pieces_a, strict=True)):
                a_load = rows * K * d.act_bytes
                for ni in range(nN):
                    for ki in range(nK):
                        fetch = pi == 0 or not resident
                        chunk = int(on[ni, ki])
                        loads = weight_loads(ni, ki, first) if fetch else []
                        if ni == 0 and ki == 0:
                            loads.append(self._load(a_load, source))
                        last_piece = pi == len(pieces_a) - 1
                        w_free = chunk if (not resident or last_piece) else 0
                        steps += compute_steps(r0, r0 + rows, ni, ki, first, loads, chunk if fetch else 0, w_free,
                                               a_load if ni == 0 and ki == 0 else 0,
                                               a_load if ni == nN - 1 and ki == nK - 1 else 0)
                        first = False
        pieces = pieces_w if order == "weights-outer" else pieces_a
        mapping = {"weight_chunk_n": Nc, "weight_chunk_k": Kc, "chunks": nN * nK, "loop_order": order,
                   "sub_tiles_per_chunk": len(tm.sub_tiles(pieces[0], min(N, Nc))),
                   "activation_chunks": len(pieces), "weights_resident": resident and order == "activations-outer",
                   "input_from_dram": bool(a_in_dram), "output_to_dram": to_dram,
                   "fused_epilogue": list(ep_names) + (["requant"] if op.epilogue else []),
                   "weight_chunk_bytes_max": int(on.max())}
        return OpPlan(op, steps, mapping, gemm_cycles=d.gemm_cycles(M, K, N))

    # -- attention matmuls -------------------------------------------------------------------------
    def plan_bmm(self, op: Operator) -> OpPlan:
        """Attention matmul: per (batch, head) one step; when an operand comes back from DRAM or the result goes
        to DRAM and does not fit the staging, tiles of rows (and, when one head's second operand alone does
        not fit half the staging, of columns too); both operands are activations."""
        d, tm = self.d, self.timing
        ep_cost, ep_names = self.epilogue_cost(op)
        deps = self.spilled_inputs(op)
        to_dram = self.writes_to_dram(op)
        out_buf, _ = self.output_bytes(op)
        out_elem = 4 if out_buf == "outputs" else d.act_bytes
        cap = self.stage_capacity
        act = d.act_bytes
        cols = [op.n]
        if deps and op.k * op.n * act > cap // 2:  # column tiles of the second operand
            cols = self._pieces(op.n, op.k * act, cap // 2, d.n_granule, op.name)
        b_max = op.k * max(cols) * act if deps else 0
        per_row = max(op.k * act if deps else 0, max(cols) * out_elem if to_dram else 0)
        rows = self._pieces(op.m, per_row, cap - b_max, d.m_granule, op.name)
        groups: list[list[Step]] = []
        dst = "sram.outputs" if out_buf == "outputs" else "sram.activations"
        # every (batch, head) runs the same steps: built once, the immutable steps shared by the heads' groups
        group = []
        for nc in cols:
            for ri, mr in enumerate(rows):
                take = 0
                loads: tuple[Transfer, ...] = ()
                if deps:
                    b_part = op.k * nc * act if ri == 0 else 0
                    take = mr * op.k * act + b_part
                    loads = (self._load(take, deps[0]),)
                timing = tm.dense_timing(mr, op.k, nc)
                epi = tm.vector_timing(ep_cost, mr, nc) if ep_cost is not None else None
                stores = (self._store(mr * nc * out_elem, op.name),) if to_dram else ()
                a_read = tm.dense_sram_reads(mr, op.k, nc)
                out_write = mr * nc * out_elem
                sram: dict[str, dict[str, int]] = {"sram.activations": {"read_bytes": a_read, "write_bytes": take}}
                sram.setdefault(dst, {})["write_bytes"] = sram.get(dst, {}).get("write_bytes", 0) + out_write
                if stores:
                    sram[dst]["read_bytes"] = sram[dst].get("read_bytes", 0) + stores[0].nbytes
                ports = {"activations": (a_read, 0 if dst == "sram.outputs" else out_write)}
                if dst == "sram.outputs":
                    ports["outputs"] = (0, out_write)
                free = 0
                if deps:
                    free = mr * op.k * act + (op.k * nc * act if ri == len(rows) - 1 else 0)
                group.append(Step(op.name, "matrix", timing, macs=mr * op.k * nc, loads=loads, stores=stores,
                                  stage_take=take, stage_free=free, after=deps if deps else (),
                                  epilogue=epi, sram=sram, ports=ports, epilogue_ops=ep_names if epi else (),
                                  work=Work("matmul", mr, op.k, nc),
                                  epilogue_work=Work("vector", kernel=ep_cost, rows=mr, row_len=nc)
                                  if ep_cost is not None else None))
        groups += [list(group) for _ in range(op.count)]
        mapping: dict[str, object] = {
                   "per_head_steps": len(rows) * len(cols), "heads": op.count, "input_from_dram": bool(deps),
                   "output_to_dram": to_dram,
                   "interleaved_with": "softmax per head" if op.name.endswith(".qk") else None,
                   "fused_epilogue": list(ep_names) + (["requant"] if op.epilogue else []),
                   "unit": d.matmul_unit}
        per_head = d.gemm_cycles(op.m, op.k, op.n)
        return OpPlan(op, [s for g in groups for s in g], mapping, groups=groups,
                      gemm_cycles=per_head * op.count if per_head is not None else None)

    # -- vector operators ----------------------------------------------------------------------------
    def plan_vector(self, op: Operator) -> OpPlan:
        """A row-wise or standalone element-wise operator on the vector unit (per head for softmax), in row
        pieces when a spilled input or a result written to DRAM does not fit the staging."""
        d = self.d
        w = self.graph.workload
        kernel = {"softmax": "softmax", "layernorm": "layernorm", "add": "residual_add", "gather": "gather",
                  "gelu": "gelu", "tanh": "tanh"}[op.kind]
        cost = self.costs[kernel]
        if op.kind in ("softmax", "layernorm", "gelu"):
            cost = cost + self.costs["requant"] if op.kind != "softmax" else cost
        heads = w.batch * w.heads if op.kind == "softmax" else 1
        per = op.rows // heads
        in_elem = 4 if op.in_dtype == "int32" else d.act_bytes
        out_elem = 4 if op.out_dtype == "int32" else d.act_bytes
        deps = self.spilled_inputs(op)
        to_dram = self.writes_to_dram(op)
        cap = self.stage_capacity
        if op.kind == "gather":
            bytes_per_row = sum(t.nbytes for t in self._gather_loads(1)) // 1
            pieces = self._pieces(w.tokens, bytes_per_row, cap, 1, op.name)
        else:
            per_row = max(op.row_len * in_elem if deps else 0, op.row_len * out_elem if to_dram else 0)
            pieces = self._pieces(per, per_row, cap, 1, op.name)
        src_buf = "sram.outputs" if in_elem == 4 else "sram.activations"
        dst_buf = "sram.outputs" if out_elem == 4 else "sram.activations"
        groups: list[list[Step]] = []
        tables = max(1, op.rows // max(1, w.tokens)) if op.kind == "gather" else 1
        # every head runs the same steps: built once, shared by the heads' groups
        group = []
        for rows in pieces:
            elems_rows = rows * tables if op.kind == "gather" else rows
            timing = self.timing.vector_timing(cost, elems_rows, op.row_len)
            loads: list[Transfer] = []
            if op.kind == "gather":
                loads += self._gather_loads(rows)
            elif deps:
                loads.append(self._load(rows * op.row_len * in_elem, deps[0]))
            take = sum(t.nbytes for t in loads)
            stores = (self._store(elems_rows * op.row_len * out_elem if op.kind != "gather"
                                  else rows * op.row_len * out_elem, op.name),) if to_dram else ()
            read = elems_rows * op.row_len * in_elem
            write = elems_rows * op.row_len * out_elem
            sram: dict[str, dict[str, int]] = {src_buf: {"read_bytes": read}}
            sram.setdefault(dst_buf, {})["write_bytes"] = write
            if take:
                sram.setdefault("sram.activations", {})["write_bytes"] = \
                    sram.get("sram.activations", {}).get("write_bytes", 0) + take
            if stores:
                sram[dst_buf]["read_bytes"] = sram[dst_buf].get("read_bytes", 0) + stores[0].nbytes
            ports: dict[str, tuple[int, int]] = {src_buf[5:]: (read, 0)}
            r0, w0 = ports.get(dst_buf[5:], (0, 0))
            ports[dst_buf[5:]] = (r0, w0 + write)
            group.append(Step(op.name, "vector", timing, loads=tuple(loads), stores=stores, stage_take=take,
                              stage_free=take, after=deps if deps and loads else (), sram=sram, ports=ports,
                              work=Work("vector", kernel=cost, rows=elems_rows, row_len=op.row_len)))
        groups += [list(group) for _ in range(heads)]
        return OpPlan(op, [s for g in groups for s in g], {
            "unit": "vector", "steps": heads * len(pieces), "kernel": cost.name,
            "input_from_dram": bool(deps) or op.kind == "gather", "output_to_dram": to_dram}, groups=groups)

    def _gather_loads(self, tokens: int) -> list[Transfer]:
        """Embedding rows of ``tokens`` tokens: word rows are scattered (one chunk per token), positions a stream;
        the int32 token ids come first."""
        w = self.graph.workload
        seq_share = min(w.seq_len, tokens)
        loads = [Transfer(tokens * 4, False, "ids", tensor="input")]  # int32 token ids
        for t in self.graph.tensors:
            if t.tensor_type not in EMBEDDING_TYPES:
                continue
            row_bytes = max(1, math.ceil(self.weights[t.name].offchip_bytes(1, t.shape[1]).sum() / t.shape[0])) \
                if t.name in self.weights else t.shape[1] * 4
            if t.tensor_type == "word_emb":
                loads.append(Transfer(row_bytes * tokens, False, "embeddings", "scattered", chunk_bytes=row_bytes,
                                      tensor=t.name))
            elif t.tensor_type == "pos_emb":
                loads.append(Transfer(row_bytes * seq_share, False, "embeddings", tensor=t.name))
            else:
                loads.append(Transfer(row_bytes, False, "embeddings", tensor=t.name))
        return loads
