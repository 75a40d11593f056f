"""The discrete-event engine: runs the mapper's steps on simpy resources, per tile and per transfer.

Components (simpy processes and resources; time is in core clock cycles and advances per step or per
transfer, never per cycle):

- **DRAM**: one resource for the whole channel set (a transfer is interleaved over every channel);
  each transfer's duration comes from the fast DRAM model, including the read/write turnaround when its
  direction differs from the previous transfer's, and the GOBO decompressor's rate where weights are
  decompressed on the way in (the slower of the two sets the time).
- **Weight buffer**: a container of free bytes. The loader takes a step's chunk bytes before loading it
  and the executor gives them back after the step computed: with chunks of at most half the buffer,
  the next chunk loads while this one computes (double buffering); the loader runs ahead across
  operator boundaries (prefetch).
- **Output slots**: a matmul step with a vector epilogue holds one of two output-buffer halves from its
  compute until its epilogue (and any store) is done, so the epilogue of tile i overlaps tile i+1.
- **Vector unit**: one resource shared by the epilogues and the row-wise vector operators.
- **Executor**: one process walking the steps in order. A step starts when its loads are done, it has
  an output slot, its unit is free, and (at an operator boundary) the previous operator's epilogues and
  stores are finished (data dependence). Every cycle of the executor's timeline is either compute of
  the current step or a wait with a reason, so per-operator cycles, compute cycles and the stall
  breakdown sum exactly to the total:

  - ``dram_read``: waiting for the step's loads (the DRAM was busy or slow);
  - ``buffer_full``: waiting for a step whose load had to wait for weight-buffer space (no room to
    prefetch it: the whole wait counts here);
  - ``vector_busy``: waiting for the vector unit (epilogues of earlier tiles, or the vector unit held);
  - ``dram_write``: waiting for earlier stores to drain before an output slot or a dependence frees;
  - ``compute_busy``: a vector step waiting for the matrix unit (does not occur with in-order issue).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import simpy

from sim.hw.dram import DramModel, Pattern
from sim.mapping.plan import Step, Transfer

STALL_REASONS = ("dram_read", "buffer_full", "vector_busy", "dram_write", "compute_busy")


@dataclass
class OpStats:
    """What the engine measured for one operator."""

    cycles: int = 0
    compute_cycles: int = 0
    vector_cycles: int = 0  # epilogue work on the vector unit (overlapped with compute where possible)
    stalls: dict[str, int] = field(default_factory=lambda: {r: 0 for r in STALL_REASONS})
    dram_read_bytes: int = 0
    dram_write_bytes: int = 0


@dataclass
class EngineResult:
    """Totals and per-operator statistics of one simulation."""

    cycles: int
    ops: dict[str, OpStats]
    dram_actions: dict[str, int]
    events: int  # simpy events processed (for the speed benchmark)
    busy_cycles: dict[str, int]  # unit -> busy cycles (matrix, vector, dram)


class Engine:
    """Runs a step list; ``run()`` returns an :class:`EngineResult`."""

    def __init__(self, steps: list[Step], dram: DramModel, clock_hz: float, weight_capacity_bytes: int,
                 output_slots: int = 2, decompress_per_cycle: int | None = None):
        self.steps = steps
        self.dram_model = dram
        self.clock_hz = clock_hz
        self.capacity = weight_capacity_bytes
        self.output_slots = output_slots
        self.decompress_per_cycle = decompress_per_cycle
        self.env = simpy.Environment()
        self._last_write: bool | None = None
        self._events = 0
        self.dram_actions: dict[str, int] = defaultdict(int)
        self.busy = {"matrix": 0, "vector": 0, "dram": 0}

    # -- DRAM ------------------------------------------------------------------------------------
    def transfer_cycles(self, t: Transfer) -> int:
        """Cycles of one DRAM transfer (and its counts), given the previous transfer's direction."""
        pattern: Pattern = "scattered" if t.pattern == "scattered" else "stream"
        chunk = t.chunk_bytes
        spec = self.dram_model.spec
        if pattern == "scattered" and chunk is not None and chunk > spec.channels * spec.row_bytes:
            pattern, chunk = "stream", None  # one chunk spanning whole rows: a stream from a row boundary
        res = self.dram_model.transfer(t.nbytes, write=t.write, pattern=pattern, chunk_bytes=chunk,
                                       prev_write=self._last_write)
        self._last_write = t.write
        for name in ("bursts", "activations", "read_bytes", "write_bytes"):
            self.dram_actions[name] += int(getattr(res, name))
        cycles = math.ceil(res.time_ns * self.clock_hz / 1e9 - 1e-9)
        if t.decode_weights and self.decompress_per_cycle:
            cycles = max(cycles, math.ceil(t.decode_weights / self.decompress_per_cycle))
        return cycles

    def _transfer(self, dram: simpy.Resource, t: Transfer, stats: OpStats):
        with dram.request() as req:
            yield req
            cycles = self.transfer_cycles(t)
            self.busy["dram"] += cycles
            self._events += 2
            yield self.env.timeout(cycles)
        if t.write:
            stats.dram_write_bytes += t.nbytes
        else:
            stats.dram_read_bytes += t.nbytes

    # -- the run ---------------------------------------------------------------------------------
    def run(self) -> EngineResult:
        """Simulate every step; returns the totals and per-operator statistics."""
        env = self.env
        n = len(self.steps)
        dram = simpy.Resource(env, 1)
        vector = simpy.Resource(env, 1)
        slots = simpy.Resource(env, self.output_slots)
        wbuf = simpy.Container(env, capacity=self.capacity, init=self.capacity)
        loaded = [env.event() for _ in range(n)]
        delayed = [False] * n  # the step's load had to wait for weight-buffer space
        stats: dict[str, OpStats] = defaultdict(OpStats)

        def loader():
            for i, step in enumerate(self.steps):
                if step.weight_bytes:
                    if step.weight_bytes > self.capacity:
                        raise ValueError(f"{step.op}: a {step.weight_bytes}-byte weight chunk exceeds the "
                                         f"{self.capacity}-byte weight buffer")
                    delayed[i] = wbuf.level < step.weight_bytes
                    yield wbuf.get(step.weight_bytes)
                    self._events += 1
                for t in step.loads:
                    yield from self._transfer(dram, t, stats[step.op])
                loaded[i].succeed()

        def post(step: Step, slot_req, st: OpStats):
            if step.epilogue is not None:
                with vector.request() as req:
                    yield req
                    self.busy["vector"] += step.epilogue.cycles
                    st.vector_cycles += step.epilogue.cycles
                    self._events += 2
                    yield env.timeout(step.epilogue.cycles)
            for t in step.stores:
                yield from self._transfer(dram, t, st)
            if slot_req is not None:
                slots.release(slot_req)

        def executor():
            pending: list[tuple[simpy.Process, Step]] = []
            prev_op = None
            for i, step in enumerate(self.steps):
                st = stats[step.op]
                if prev_op is not None and step.op != prev_op:
                    yield from wait_pending(pending, stats[prev_op])
                    pending = []
                prev_op = step.op
                if not loaded[i].triggered:
                    t0 = env.now
                    yield loaded[i]
                    # data late because its load could not start (no buffer space to prefetch into), or
                    # because the DRAM was busy or slow
                    st.stalls["buffer_full" if delayed[i] else "dram_read"] += env.now - t0
                slot_req = None
                if step.epilogue is not None or step.stores:
                    slot_req = slots.request()
                    t0 = env.now
                    yield slot_req
                    if env.now > t0:
                        busy_storing = any(p.is_alive and not s.epilogue for p, s in pending)
                        st.stalls["dram_write" if busy_storing else "vector_busy"] += env.now - t0
                if step.unit == "vector":
                    t0 = env.now
                    req = vector.request()
                    yield req
                    st.stalls["vector_busy"] += env.now - t0
                    self.busy["vector"] += step.compute.cycles
                    yield env.timeout(step.compute.cycles)
                    vector.release(req)
                else:
                    self.busy["matrix"] += step.compute.cycles
                    yield env.timeout(step.compute.cycles)
                st.compute_cycles += step.compute.cycles
                self._events += 2
                freed = (0 if step.hold_weights else step.weight_bytes) + step.free_weights
                if freed:
                    yield wbuf.put(freed)
                if step.epilogue is not None or step.stores:
                    pending.append((env.process(post(step, slot_req, st)), step))
            if prev_op is not None:
                yield from wait_pending(pending, stats[prev_op])

        def wait_pending(pending, st: OpStats):
            for proc, step in pending:
                if proc.is_alive:
                    t0 = env.now
                    yield proc
                    st.stalls["dram_write" if step.stores and not step.epilogue else "vector_busy"] += int(env.now - t0)

        env.process(loader())
        done = env.process(executor())
        env.run(until=done)
        for st in stats.values():
            st.cycles = st.compute_cycles + sum(st.stalls.values())
        return EngineResult(int(env.now), dict(stats), dict(self.dram_actions), self._events, dict(self.busy))
