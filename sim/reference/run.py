"""The whole-run reference: the mapper's steps executed cycle by cycle, for checking the fast engine.

:func:`reference_run` runs the same step list as :class:`sim.engine.des.Engine` under the same rules
(``docs/hw/engine.md``), but shares none of the engine's code or of the closed forms the steps carry:

- every compute part is re-measured by the compute kind's **per-cycle stepper** on random operands of the
  step's shape and weight layout (``MatrixUnit.reference_dense`` / ``reference_weight_gemm``: the systolic
  array and tensor-core units register by register, GOBO tiles block by block with as many outliers in each
  block as the packed tensor has there); vector work by the **vector-unit stepper**; the step's
  ``TileTiming`` (the closed form) is never read;
- every DRAM transfer by the **burst-level DRAM reference** (:class:`sim.hw.dram.DramReference`) on the
  transfer's canonical request list, from the same start state (banks precharged; the bus turned around when
  the previous transfer went the other way), with the decompressor and the fp32-to-integer converter counting
  down their per-cycle rates beside it;
- SRAM ports serve their accesses cycle by cycle: each buffer has ``banks`` banks, one access of
  ``port_bytes`` per bank per cycle, consecutive words in consecutive banks, a step's reads then its writes
  in one address sequence;
- time advances one cycle at a time: in every cycle all actors (the loader, the executor, the post
  processes) move as far as they can; then the free shared units (DRAM, vector unit) go to the oldest
  waiting request (program order; a step's epilogue before a later step's vector work, write-backs before
  later prefetches), and the actors move again, until nothing changes; then the cycle ends and every
  running activity counts down one cycle;
- every executor cycle is labelled: ``compute``, or the stall reason read off what the unit it waits for
  does in that very cycle.

Slow (a Python loop per cycle and per stepper cycle): small workloads only. The SRAM access counts are the
mapper's (they are data placement, not timing); everything else is counted here.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from sim.compute.base import MatrixUnit
from sim.hw.dram import DramReference, DramSpec, Pattern, dram_spec, requests_for, to_cycles
from sim.hw.timing import TileTiming
from sim.hw.vector import VectorParams
from sim.hw.vector_stepper import step_vector
from sim.mapping.plan import Step, Transfer, Work
from sim.prepare import PreparedRun

REASONS = ("dram_read", "buffer_full", "vector_busy", "dram_write", "sram_port")


@dataclass
class RefOp:
    """What the reference measured for one operator."""

    cycles: int = 0
    compute_cycles: int = 0
    vector_cycles: int = 0
    stalls: dict[str, int] = field(default_factory=lambda: {r: 0 for r in REASONS})
    dram_read_bytes: int = 0
    dram_write_bytes: int = 0


@dataclass
class RefResult:
    """Totals, per-operator statistics and counted actions (component -> action -> count) of a run."""

    cycles: int
    ops: dict[str, RefOp]
    actions: dict[str, dict[str, int]]


@dataclass(frozen=True)
class RefMachine:
    """The design as the reference sees it (everything the steps do not say)."""

    unit: MatrixUnit
    vector: VectorParams
    dram: DramSpec
    clock_hz: float
    weight_capacity_bytes: int
    stage_capacity_bytes: int
    output_slots: int
    ports: Mapping[str, tuple[int, int]]  # buffer -> (banks, port_bytes)
    decompress_per_cycle: int | None = None
    convert_per_cycle: int | None = None


class _Activity:
    """Something that takes cycles: counters that all count down each cycle; done when all reach zero."""

    __slots__ = ("left",)

    def __init__(self, *left: tuple[int, int]) -> None:
        self.left = [[amount, rate] for amount, rate in left]  # (amount left, amount per cycle)

    @property
    def done(self) -> bool:
        return all(a <= 0 for a, _ in self.left)

    def tick(self) -> None:
        for c in self.left:
            c[0] -= c[1]


class _Unit:
    """A shared unit (the DRAM, the vector unit): free or held; waiting requests by key."""

    def __init__(self) -> None:
        self.holder: object | None = None
        self.queue: list[tuple[tuple[int, int], int, object]] = []
        self.seq = 0
        self.granted: set[int] = set()

    def request(self, key: tuple[int, int], who: object) -> None:
        heapq.heappush(self.queue, (key, self.seq, who))
        self.seq += 1

    def arbitrate(self) -> bool:
        if self.holder is None and self.queue:
            _, _, who = heapq.heappop(self.queue)
            self.holder = who
            return True
        return False


class _Run:
    """One reference run's state; :meth:`go` returns the :class:`RefResult`."""

    def __init__(self, steps: list[Step], m: RefMachine, seed: int) -> None:
        self.steps, self.m = steps, m
        self.rng = np.random.default_rng(seed)
        self.now = 0
        self.dram, self.vec = _Unit(), _Unit()
        self.wbuf = m.weight_capacity_bytes
        self.stage = m.stage_capacity_bytes
        self.slots = m.output_slots
        self.ops: dict[str, RefOp] = defaultdict(RefOp)
        self.actions: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.prev_write: bool | None = None
        self.loaded = [False] * len(steps)
        self.stored = [not s.stores for s in steps]
        self.store_waits: dict[int, list[int]] = {}
        earlier: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(steps):
            self.store_waits[i] = [k for dep in s.after for k in earlier.get(dep, ())]
            if s.stores:
                earlier[s.op].append(i)
        # the loader
        self.li, self.l_state, self.l_load = 0, "take", 0
        self.l_act: _Activity | None = None
        self.l_labels: list[str] = []
        # the executor
        self.ei, self.e_state, self.e_unit = 0, "boundary", 0
        self.e_act: _Activity | None = None
        self.e_wait_start = 0
        self.e_prev_op: str | None = None
        self.posts_wait: int | None = None
        self.pending: list[_Post] = []
        self.posts: list[_Post] = []  # the post processes still running
        self.recent: list[_Post] = []  # those that finished in this cycle
        self.finished = False

    # -- measured quantities -------------------------------------------------------------------------
    def count(self, op: str, comp: str, acts: Mapping[str, int]) -> None:
        bucket = self.actions[comp]
        for k, v in acts.items():
            bucket[k] += int(v)
        del op

    def work_timing(self, w: Work) -> TileTiming:
        if w.kind == "vector":
            assert w.kernel is not None
            return step_vector(self.m.vector, w.kernel, w.rows, w.row_len)
        if w.kind == "matmul":
            return self.m.unit.reference_dense(w.m, w.k, w.n, self.rng)
        assert w.tile is not None
        t = self.m.unit.reference_weight_gemm(w.m, w.k, w.n, w.tile, first=w.first, rng=self.rng)
        if w.k_accumulate:  # partial sums of a later K chunk added in the output buffer
            t = t + TileTiming(0, {"add_int32": w.m * w.n})
        return t

    def transfer(self, t: Transfer, op: str) -> _Activity:
        spec = self.m.dram
        pattern: Pattern = "scattered" if t.pattern == "scattered" else "stream"
        chunk = t.chunk_bytes if pattern == "scattered" else None
        if pattern == "scattered" and chunk is not None and chunk > spec.channels * spec.row_bytes:
            pattern, chunk = "stream", None  # a chunk of whole rows is a stream from a row boundary
        res = DramReference(spec).run(requests_for(spec, t.nbytes, write=t.write, pattern=pattern,
                                                   chunk_bytes=chunk), prev_write=self.prev_write)
        self.prev_write = t.write
        for name in ("bursts", "activations", "read_bytes", "write_bytes"):
            self.actions["dram"][name] += int(getattr(res, name))
        st = self.ops[op]
        if t.write:
            st.dram_write_bytes += t.nbytes
        else:
            st.dram_read_bytes += t.nbytes
        counters = [(to_cycles(res.time_ns, self.m.clock_hz), 1)]
        if t.decode_weights:
            self.count(op, "decompressor", {"dict_read": t.decode_weights, "weights_out": t.decode_weights})
            if self.m.decompress_per_cycle:
                counters.append((t.decode_weights, self.m.decompress_per_cycle))
        if t.convert_values:
            self.count(op, "converter", {"fp32_to_int": t.convert_values})
            if self.m.convert_per_cycle:
                counters.append((t.convert_values, self.m.convert_per_cycle))
        return _Activity(*counters)

    def port_counters(self, step: Step) -> list[tuple[int, int]]:
        out = []
        for name, (read, write) in step.ports.items():
            if name not in self.m.ports or read + write == 0:
                continue
            banks, width = self.m.ports[name]
            words = -(-read // width) + -(-write // width)
            out.append((words, banks))
        return out

    # -- the loader ----------------------------------------------------------------------------------
    def loader(self) -> bool:
        moved = False
        while self.li < len(self.steps):
            s = self.steps[self.li]
            if self.l_state == "take":
                if s.weight_take > self.m.weight_capacity_bytes:
                    raise ValueError(f"{s.op}: weight chunk larger than the weight buffer")
                if s.stage_take > self.m.stage_capacity_bytes:
                    raise ValueError(f"{s.op}: activation load larger than the staging")
                if self.wbuf < s.weight_take:
                    return moved
                self.wbuf -= s.weight_take
                self.l_state = "take_stage"
                moved = True
            if self.l_state == "take_stage":
                if self.stage < s.stage_take:
                    return moved
                self.stage -= s.stage_take
                self.l_state, moved = "deps", True
            if self.l_state == "deps":
                if not all(self.stored[k] for k in self.store_waits[self.li]):
                    return moved
                self.l_state, self.l_load, moved = "load", 0, True
            if self.l_state == "load":
                if self.l_load == len(s.loads):
                    self.loaded[self.li] = True
                    self.li, self.l_state, moved = self.li + 1, "take", True
                    continue
                self.dram.request((self.li, 0), self)
                self.l_state, moved = "load_wait", True
            if self.l_state == "load_wait":
                if self.dram.holder is not self:
                    return moved
                self.l_act = self.transfer(s.loads[self.l_load], s.op)
                self.l_state, moved = "load_run", True
            if self.l_state == "load_run":
                assert self.l_act is not None
                if not self.l_act.done:
                    return moved
                self.dram.holder = None
                self.l_load += 1
                self.l_state, moved = "load", True
        return moved

    def loader_label(self) -> str:
        return {"take": "buffer_full", "take_stage": "buffer_full", "deps": "dram_write"}.get(self.l_state,
                                                                                             "dram_read")

    # -- the executor --------------------------------------------------------------------------------
    def executor(self) -> bool:
        moved = False
        while not self.finished:
            if self.ei == len(self.steps):
                if not self._posts_done():
                    return moved
                self._end_wait_posts()
                self.finished = True
                return True
            s = self.steps[self.ei]
            st = self.ops[s.op]
            if self.e_state == "boundary":
                if self.e_prev_op is not None and s.op != self.e_prev_op:
                    if not self._posts_done():
                        return moved
                    self._end_wait_posts()
                    self.pending = []
                self.e_prev_op = s.op
                self.e_state, self.e_wait_start, moved = "loaded", self.now, True
            if self.e_state == "loaded":
                if not self.loaded[self.ei]:
                    return moved
                self._attribute(s.op, [self._loader_labels(c) for c in range(self.e_wait_start, self.now)])
                self.e_state, self.e_wait_start, moved = "slot", self.now, True
            if self.e_state == "slot":
                if s.epilogue_work is not None or s.stores:
                    if self.slots == 0:
                        return moved
                    self.slots -= 1
                    if self.now > self.e_wait_start:
                        rel = min((p for p in self.recent if p.end == self.now), key=lambda p: p.i)
                        self._attribute(s.op, [rel.label(c) for c in range(self.e_wait_start, self.now)])
                self.e_state, self.e_wait_start, moved = "vector", self.now, True
                if s.unit == "vector":
                    self.vec.request((self.ei, 1), self)
            if self.e_state == "vector":
                if s.unit == "vector":
                    if self.vec.holder is not self:
                        return moved
                    self._attribute(s.op, ["vector_busy"] * (self.now - self.e_wait_start))
                assert s.work is not None
                t = self.work_timing(s.work)
                self.count(s.op, "vector" if s.unit == "vector" else self.m.unit.kind, t.actions)
                for comp, acts in s.sram.items():
                    self.count(s.op, comp, acts)
                self.e_unit = t.cycles
                self.e_act = _Activity((t.cycles, 1), *self.port_counters(s))
                self.e_state, self.e_wait_start, moved = "compute", self.now, True
            if self.e_state == "compute":
                assert self.e_act is not None
                if not self.e_act.done:
                    return moved
                spent = self.now - self.e_wait_start
                st.compute_cycles += self.e_unit
                st.stalls["sram_port"] += spent - self.e_unit
                if s.unit == "vector":
                    self.vec.holder = None
                self.wbuf += s.weight_free
                self.stage += s.stage_free
                if s.epilogue_work is not None or s.stores:
                    p = _Post(self, self.ei, s)
                    self.posts.append(p)
                    self.pending.append(p)
                    p.advance()
                self.ei += 1
                self.e_state, moved = "boundary", True
        return moved

    def _posts_done(self) -> bool:
        """True when every post process of the operator just finished is done (else the wait starts)."""
        if all(p.end is not None for p in self.pending):
            return True
        if self.posts_wait is None:
            self.posts_wait = self.now
        return False

    def _end_wait_posts(self) -> None:
        """Charge the wait for the operator's post processes to the one that finished last (the oldest of
        those that finished together), cycle by cycle by what it was doing."""
        t0, self.posts_wait = self.posts_wait, None
        if t0 is not None and self.now > t0:
            last = max(p.end for p in self.pending if p.end is not None)
            crit = min((p for p in self.pending if p.end == last), key=lambda p: p.i)
            assert self.e_prev_op is not None
            self._attribute(self.e_prev_op, [crit.label(c) for c in range(t0, self.now)])

    def _loader_labels(self, cycle: int) -> str:
        return self.l_labels[cycle]

    def _attribute(self, op: str, labels: list[str]) -> None:
        st = self.ops[op]
        for lab in labels:
            st.stalls[lab] += 1

    # -- the cycle loop ------------------------------------------------------------------------------
    def go(self) -> RefResult:
        idle = 0
        while not self.finished:
            while True:
                moved = self.executor()
                moved |= self.loader()
                for p in list(self.posts):
                    moved |= p.advance()
                moved |= self.executor()
                if moved:
                    continue
                granted = self.dram.arbitrate() | self.vec.arbitrate()
                if not granted:
                    break
            if self.finished:
                break
            self.l_labels.append(self.loader_label())
            self.posts = [p for p in self.posts if p.end is None]
            self.recent = []
            for p in self.posts:
                p.record()
            candidates: list[_Activity | None] = [self.l_act if self.l_state == "load_run" else None,
                                                  self.e_act if self.e_state == "compute" else None]
            running = [a for a in candidates if a is not None]
            running += [p.act for p in self.posts if p.act is not None and p.end is None]
            for a in running:
                a.tick()
            idle = 0 if running else idle + 1
            if idle > 1000:
                raise RuntimeError(f"reference: no progress at cycle {self.now}")
            self.now += 1
        for st in self.ops.values():
            st.cycles = st.compute_cycles + sum(st.stalls.values())
        return RefResult(self.now, dict(self.ops),
                         {c: {k: v for k, v in a.items() if v} for c, a in self.actions.items()})


class _Post:
    """A step's epilogue on the vector unit, then its stores on the DRAM; holds an output slot throughout."""

    def __init__(self, run: _Run, i: int, step: Step) -> None:
        self.run, self.i, self.step = run, i, step
        self.state = "epi" if step.epilogue_work is not None else "store"
        self.store = 0
        self.act: _Activity | None = None
        self.start = run.now
        self.labels: list[str] = []
        self.end: int | None = None

    def label(self, cycle: int) -> str:
        return self.labels[cycle - self.start]

    def record(self) -> None:
        if self.end is None:
            self.labels.append("vector_busy" if self.state.startswith("epi") else "dram_write")

    def advance(self) -> bool:
        r, s, moved = self.run, self.step, False
        while self.end is None:
            if self.state == "epi":
                r.vec.request((self.i, 0), self)
                self.state, moved = "epi_wait", True
            if self.state == "epi_wait":
                if r.vec.holder is not self:
                    return moved
                assert s.epilogue_work is not None
                t = r.work_timing(s.epilogue_work)
                r.count(s.op, "vector", t.actions)
                r.ops[s.op].vector_cycles += t.cycles
                self.act = _Activity((t.cycles, 1))
                self.state, moved = "epi_run", True
            if self.state == "epi_run":
                assert self.act is not None
                if not self.act.done:
                    return moved
                r.vec.holder = None
                self.act, self.state, moved = None, "store", True
            if self.state == "store":
                if self.store == len(s.stores):
                    r.stored[self.i] = True
                    self.end = r.now
                    r.slots += 1
                    r.recent.append(self)
                    return True
                r.dram.request((self.i, 1), self)
                self.state, moved = "store_wait", True
            if self.state == "store_wait":
                if r.dram.holder is not self:
                    return moved
                self.act = r.transfer(s.stores[self.store], s.op)
                self.state, moved = "store_run", True
            if self.state == "store_run":
                assert self.act is not None
                if not self.act.done:
                    return moved
                r.dram.holder = None
                self.store += 1
                self.act, self.state, moved = None, "store", True
        return moved


def machine_for(prep: PreparedRun) -> RefMachine:
    """The reference machine of a prepared run's design (read from its hardware configuration)."""
    hw = prep.hw
    return RefMachine(
        unit=prep.unit, vector=VectorParams(hw.vector.lanes, hw.vector.divider_cycles),
        dram=dram_spec(hw.dram.kind, channels=hw.dram.channels, mapping=hw.dram.mapping), clock_hz=hw.clock_hz,
        weight_capacity_bytes=hw.buffers["weights"].capacity_bytes,
        stage_capacity_bytes=hw.buffers["activations"].capacity_bytes // 2,
        output_slots=2 if hw.buffers["outputs"].double_buffered else 1,
        ports={name: (b.banks, b.port_bytes) for name, b in hw.buffers.items()},
        decompress_per_cycle=hw.weights.decompress_per_cycle,
        convert_per_cycle=hw.weights.convert_per_cycle if hw.weights.format == "gobo" else None)


def reference_run(steps: list[Step], machine: RefMachine, *, seed: int = 0) -> RefResult:
    """Execute ``steps`` cycle by cycle on ``machine`` (see the module docstring); ``seed`` seeds the random
    operands the unit steppers compute on (their timing does not depend on the values)."""
    return _Run(steps, machine, seed).go()
