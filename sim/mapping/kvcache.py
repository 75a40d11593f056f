"""Mapping a decoder phase: the KV cache, and the element-wise kernels of GPT-2, OPT and Llama.

:class:`DecoderPlanner` is the :class:`~sim.mapping.plan.Planner` of a decoder graph
(:mod:`sim.workload.decoder`); it adds, on top of the encoder's mapping:

- **KV-cache placement** (:func:`kv_placement`), decided once for the whole run from the final context
  (prompt + generated tokens): the caches of layers ``0 .. r-1`` stay in the activation buffer's resident half
  (the half the staging does not use) as long as they fit beside a decode step's live activations; the
  others live in DRAM. A resident cache costs no DRAM traffic; its SRAM reads are the attention matmuls'
  operand reads, as for any on-chip operand.
- **KV writes**: a DRAM-cached layer's K and V projections write their int8 (fp16 on an fp16 design) results to
  the cache as they leave the unit (a store on each output tile), in prefill for every prompt token and in
  a decode step for the new token.
- **KV reads** (decode): the attention over ``L`` tokens reads the ``L - 1`` earlier tokens' keys and values of
  a DRAM-cached layer from DRAM (the new token's are on chip). Grouped-query attention reads a KV head's cache
  once per group of query heads: the loader takes it with the group's first head and the executor frees it
  after the group's last, so it stays in the staging meanwhile; a group's K and V must fit the staging
  together, else the run is refused with the key to change.
- **Epilogue kernels** of the decoder families (costs assumed, from the integer operations they need):
  ReLU (one compare, then the requantization), SiLU (charged as an i-GELU: a second-order polynomial, a
  product, a requantization; the same operation mix), the SwiGLU product (one multiply and a requantization),
  rotary embedding (two multiplies and an add per element, a requantization), fused into the producing GEMM.
- **Model outputs**: only the LM head's logits leave the chip.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from sim.compute.base import MatrixUnit
from sim.config.hardware import HardwareConfig
from sim.errors import SimInputError
from sim.hw.vector import KernelCost
from sim.mapping.plan import FUSABLE, OpPlan, Planner, Transfer, WeightSource
from sim.workload.ops import Operator, OperatorGraph
from sim.workload.spec import WorkloadSpec

KV = "kv_cache"  # Transfer.what of KV-cache reads and writes


def decoder_kernel_costs(costs: Mapping[str, KernelCost]) -> dict[str, KernelCost]:
    """The encoder kernel costs plus the decoder families' element-wise kernels (see the module docstring)."""
    out = dict(costs)
    out["relu"] = KernelCost("relu", {"cmp": 1})
    out["silu"] = KernelCost("silu (as ibert.int_gelu)", dict(costs["gelu"].per_element))
    out["gate_mul"] = KernelCost("gate_mul", {"mul": 1})
    out["rope"] = KernelCost("rope", {"mul": 2, "add": 1})
    return out


@dataclass(frozen=True)
class KvPlacement:
    """Where each layer's KV cache lives for a whole run (decided at the final context)."""

    layers: int
    resident_layers: int  # layers 0 .. resident_layers-1 keep their cache on chip
    bytes_per_layer: int  # one layer's cache at the final context, every sequence of the batch
    budget_bytes: int  # what the activation buffer's resident half leaves for the cache
    final_context: int

    def in_dram(self, layer: int) -> bool:
        """True when ``layer``'s cache lives in DRAM."""
        return layer >= self.resident_layers

    @property
    def location(self) -> str:
        """buffer, dram or split."""
        if self.resident_layers == self.layers:
            return "buffer"
        return "dram" if self.resident_layers == 0 else "split"


def kv_placement(w: WorkloadSpec, hw: HardwareConfig, act_bytes: int) -> KvPlacement:
    """The KV-cache placement of decoder workload ``w`` on design ``hw`` (see the module docstring)."""
    final = w.seq_len + w.gen_tokens
    per_layer = 2 * w.batch * final * w.kv_dim * act_bytes
    # a decode step's live activations: the residual stream, Q/K/V and the FFN's inner activations
    live = w.batch * (4 * w.hidden + 2 * w.intermediate) * act_bytes
    budget = max(0, hw.buffers["activations"].capacity_bytes // 2 - live)
    resident = min(w.layers, budget // per_layer) if per_layer else w.layers
    return KvPlacement(w.layers, int(resident), per_layer, budget, final)


def weights_fit_on_chip(graph: OperatorGraph, hw: HardwareConfig, weights: Mapping[str, WeightSource]) -> bool:
    """True when every weight GEMM's tensor, in its on-chip format, fits the weight buffer at once (so a
    decoder keeps them there across decode steps)."""
    names = {op.weight.name for op in graph.ops if op.kind == "gemm" and op.weight is not None}
    total = 0
    for name in names:
        t = graph.tensor(name)
        total += int(weights[name].onchip_bytes(t.shape[0], t.shape[1] if len(t.shape) > 1 else 1).sum())
    return total <= hw.buffers["weights"].capacity_bytes


class DecoderPlanner(Planner):
    """The planner of a decoder phase (see the module docstring)."""

    fusable = frozenset(FUSABLE) | {"relu", "silu", "mul", "rope"}
    epilogue_kernels = {"gelu": "gelu", "add": "residual_add", "tanh": "tanh", "relu": "relu", "silu": "silu",
                        "mul": "gate_mul", "rope": "rope"}
    requantizing = frozenset({"gelu", "relu", "silu", "mul", "rope"})

    def __init__(self, graph: OperatorGraph, unit: MatrixUnit, hw: HardwareConfig,
                 weights: Mapping[str, WeightSource], kernel_costs: Mapping[str, KernelCost], *,
                 run_workload: WorkloadSpec | None = None):
        """``run_workload``: the whole run's workload (prompt length and generated tokens), which fixes the KV
        placement; default the graph's (right for the prefill graph, whose workload is the run's)."""
        if not graph.phase:
            raise ValueError("DecoderPlanner needs a decoder graph (sim.workload.decoder.lower_decoder)")
        super().__init__(graph, unit, hw, weights, decoder_kernel_costs(kernel_costs))
        self.kv = kv_placement(run_workload or graph.workload, hw, unit.act_bytes)
        self.weights_on_chip = weights_fit_on_chip(graph, hw, weights)

    def plan(self) -> list[OpPlan]:
        """Every operator's plan; in a decode step of a model whose weights all fit the weight buffer (kept
        there from the prefill on), no weight is read from DRAM."""
        plans = super().plan()
        if self.graph.phase == "decode" and self.weights_on_chip:
            for p in plans:
                if p.op.kind == "gemm" and p.steps:
                    p.steps[:] = [dataclasses.replace(s, loads=tuple(t for t in s.loads
                                                                     if t.what not in ("weights", "outliers")))
                                  for s in p.steps]
                    p.mapping["weights_on_chip"] = True
                    if p.groups is not None:
                        raise AssertionError("weight GEMMs have no groups")
        return plans

    @property
    def model_outputs(self) -> set[str]:
        """Only the LM head's logits leave the chip."""
        return {"head.lm_head"}

    def plan_gemm(self, op: Operator) -> OpPlan:
        """A weight GEMM; the K and V projections of a DRAM-cached layer also write their results to the cache."""
        plan = super().plan_gemm(op)
        if not (op.name.endswith((".k_proj", ".v_proj")) and self.kv.in_dram(op.layer)):
            return plan
        act = self.d.act_bytes
        steps = []
        written = 0
        for st in plan.steps:
            if st.epilogue is not None and st.work is not None:  # the last K chunk: the tile leaves the unit
                nbytes = st.work.m * st.work.n * act
                written += nbytes
                sram = {k: dict(v) for k, v in st.sram.items()}
                acts = sram.setdefault("sram.activations", {})
                acts["read_bytes"] = acts.get("read_bytes", 0) + nbytes
                st = dataclasses.replace(st, stores=(*st.stores, Transfer(nbytes, True, KV, tensor=op.name)),
                                         sram=sram)
            steps.append(st)
        if written != op.m * op.n * act:
            raise AssertionError(f"{op.name}: KV writes {written} != {op.m * op.n * act} bytes")
        plan.steps[:] = steps
        plan.mapping["kv_cache_write_bytes"] = written
        return plan

    def plan_bmm(self, op: Operator) -> OpPlan:
        """Attention matmul per (batch, head); in a decode step a DRAM-cached layer's QK^T reads the cached
        keys and AV the cached values, once per KV head (grouped-query heads share them)."""
        plan = super().plan_bmm(op)
        if self.graph.phase != "decode" or not self.kv.in_dram(op.layer):
            return plan
        w = self.graph.workload
        assert plan.groups is not None
        past = self.graph.context - 1  # earlier tokens; the new token's key and value are on chip
        nbytes = past * w.head_dim * self.d.act_bytes
        if 2 * nbytes > self.stage_capacity:
            raise SimInputError(
                f"buffers.activations.capacity_bytes={self.hw.buffers['activations'].capacity_bytes}: a KV head's "
                f"cached keys and values at context {self.graph.context} ({2 * nbytes} bytes) do not fit the "
                f"activation staging half ({self.stage_capacity} bytes); use a larger activation buffer or a "
                "shorter context")
        group = w.heads // w.kv_head_count
        what = "keys" if op.name.endswith(".qk") else "values"
        new_groups = []
        for i, steps in enumerate(plan.groups):
            head = i % w.heads
            first, last = head % group == 0, head % group == group - 1
            steps = list(steps)
            if first and nbytes:
                s0 = steps[0]
                sram = {k: dict(v) for k, v in s0.sram.items()}
                acts = sram.setdefault("sram.activations", {})
                acts["write_bytes"] = acts.get("write_bytes", 0) + nbytes
                steps[0] = dataclasses.replace(
                    s0, loads=(*s0.loads, Transfer(nbytes, False, KV, tensor=f"{op.name}.{what}")),
                    stage_take=s0.stage_take + nbytes, sram=sram)
            if last and nbytes:
                steps[-1] = dataclasses.replace(steps[-1], stage_free=steps[-1].stage_free + nbytes)
            new_groups.append(steps)
        plan.groups = new_groups
        plan.steps[:] = [s for g in new_groups for s in g]
        plan.mapping["kv_cache_read_bytes"] = nbytes * w.batch * w.kv_head_count
        return plan
