"""The discrete-event engine: runs the mapper's steps on simpy resources, per step and per transfer.

The semantics are written down in ``docs/hw/engine.md``; the whole-run reference (:mod:`sim.reference.run`)
implements the same rules cycle by cycle, and the tests require both to agree exactly. In short (time in
core clock cycles; it advances per step or per transfer, never per cycle):

- **Loader** (one process, steps in program order): takes the step's weight-buffer bytes and activation-
  staging bytes (waiting while the buffers are full), waits until the DRAM writes of every operator the step's
  loads read back (``Step.after``: a spilled tensor is read only after its producer wrote all of it), then
  issues the step's loads one after another on the DRAM. It runs ahead of the executor across operators
  (prefetch), bounded by the two buffers' capacities.
- **Executor** (one process, steps in program order): at an operator boundary it waits for the previous
  operator's epilogues and stores (data dependence); then for the step's loads, an output slot (when the step
  has an epilogue or stores), and the vector unit (vector steps); it computes for
  ``max(unit cycles, SRAM port cycles)``; then gives back the step's buffer bytes and hands the epilogue and
  the stores to a post process, which holds the output slot until both are done.
- **Shared units** (the DRAM, the vector unit) are granted at the end of a cycle, once everything else that
  happens in that cycle has happened, to the waiting request of the oldest step (program order; a step's
  epilogue before a later step's vector work, write-backs before prefetches of later steps).
- **Stalls**: every executor cycle is compute or a wait attributed to what the unit it waits for is doing in
  that cycle: the loader's phase (``buffer_full`` while waiting for buffer space, ``dram_write`` while waiting
  for a producer's writes, ``dram_read`` while its transfers queue or run), the slot-holding post process's
  phase (``vector_busy`` for its epilogue, ``dram_write`` for its stores), ``vector_busy`` for the vector
  unit, ``sram_port`` for the part of a step the buffers' ports (banks x port width per cycle) make longer
  than the unit's own cycles.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict, deque
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import simpy
from simpy.events import EventPriority

from sim.hw.dram import DramModel, Pattern
from sim.mapping.plan import Step, Transfer

STALL_REASONS = ("dram_read", "buffer_full", "vector_busy", "dram_write", "sram_port")
_DRAM_COUNTS = ("bursts", "activations", "read_bytes", "write_bytes")  # the DRAM actions counted per transfer


@dataclass
class OpStats:
    """What the engine measured for one operator."""

    cycles: int = 0
    compute_cycles: int = 0
    vector_cycles: int = 0  # epilogue work on the vector unit (overlapped with compute where possible)
    stalls: dict[str, int] = field(default_factory=lambda: {r: 0 for r in STALL_REASONS})
    dram_read_bytes: int = 0
    dram_write_bytes: int = 0


@dataclass(frozen=True)
class Span:
    """One interval of the timeline: ``track`` (a unit), ``name`` (the operator), ``cat`` (what it is)."""

    track: str
    name: str
    cat: str
    start: int
    end: int
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class EngineResult:
    """Totals and per-operator statistics of one simulation."""

    cycles: int
    ops: dict[str, OpStats]
    dram_actions: dict[str, int]
    events: int  # simpy events processed (for the speed benchmark)
    busy_cycles: dict[str, int]  # unit -> busy cycles (matrix, vector, dram)
    spans: list[Span] = field(default_factory=list)  # the timeline (with ``trace=True``)
    counters: list[tuple[str, int, int]] = field(default_factory=list)  # (buffer, cycle, bytes in use)


@dataclass(frozen=True)
class BufferPorts:
    """A buffer's port organisation: ``banks`` banks, each one access of ``port_bytes`` per cycle."""

    banks: int
    port_bytes: int


def sram_cycles(step: Step, ports: Mapping[str, BufferPorts]) -> int:
    """Cycles the buffers' ports need for the step's compute-side accesses: per buffer, ``ceil(read/port) +
    ceil(write/port)`` accesses spread over its banks (addresses interleaved across banks), the slowest buffer."""
    worst = 0
    for name, (read, write) in step.ports.items():
        p = ports.get(name)
        if p is not None:
            worst = max(worst, port_cycles(read, write, p))
    return worst


def port_cycles(read: int, write: int, p: BufferPorts) -> int:
    """Cycles one buffer's ports need for ``read`` + ``write`` bytes: ``ceil(ceil(read/port) +
    ceil(write/port)) / banks)``."""
    accesses = -(-read // p.port_bytes) + -(-write // p.port_bytes)
    return -(-accesses // p.banks)


class _Intervals:
    """The phases of one actor (the loader, a post process) as consecutive labelled intervals."""

    __slots__ = ("end", "items", "pos")

    def __init__(self) -> None:
        self.items: list[tuple[int, int, str]] = []
        self.pos = 0
        self.end = -1  # when the actor finished (post processes)

    def add(self, start: int, end: int, label: str) -> None:
        if end > start:
            self.items.append((start, end, label))

    def attribute(self, start: int, end: int, into: dict[str, int],
                  forward: bool = False) -> list[tuple[int, int, str]]:
        """Add the overlap of ``[start, end)`` with each interval to ``into[label]``; returns the overlapping
        pieces. ``forward``: the queries come in increasing time (the loader's), so intervals before ``start``
        are skipped for good."""
        items = self.items
        i = self.pos if forward else 0
        while i < len(items) and items[i][1] <= start:
            i += 1
        if forward:
            self.pos = i
        covered = 0
        pieces = []
        while i < len(items) and items[i][0] < end:
            s, e, label = items[i]
            a, b = max(s, start), min(e, end)
            if b > a:
                into[label] += b - a
                covered += b - a
                pieces.append((a, b, label))
            i += 1
        if covered != end - start:
            raise RuntimeError(f"engine: a wait of {end - start} cycles at {start} is covered only {covered} cycles")
        return pieces


class _Arbiter:
    """End-of-cycle arbitration of the shared units: a request waits until everything else scheduled in the
    current cycle has run, then the free unit goes to the request with the smallest key (program order)."""

    def __init__(self, env: simpy.Environment, names: tuple[str, ...]) -> None:
        self.env = env
        self.free = {n: True for n in names}
        self.queue: dict[str, list[tuple[tuple[int, int], int, simpy.Event]]] = {n: [] for n in names}
        self._seq = 0
        self._wake = env.event()
        env.process(self._loop())

    def request(self, name: str, key: tuple[int, int]) -> simpy.Event:
        ev = self.env.event()
        heapq.heappush(self.queue[name], (key, self._seq, ev))
        self._seq += 1
        self._poke()
        return ev

    def release(self, name: str) -> None:
        self.free[name] = True
        self._poke()

    def _poke(self) -> None:
        if not self._wake.triggered:
            self._wake.succeed()

    def _loop(self) -> Generator[simpy.Event, Any, Any]:
        env = self.env
        peek, timeout, event = env.peek, env.timeout, env.event
        free, queues = self.free, tuple(self.queue.items())
        heappop = heapq.heappop
        while True:
            yield self._wake
            self._wake = event()
            while peek() == env._now:  # let everything else of this cycle happen first
                yield timeout(0)
            for name, q in queues:
                if q and free[name]:
                    ev = heappop(q)[2]
                    free[name] = False
                    ev.succeed()


class _Env(simpy.Environment):
    """simpy's environment with integer time (every delay the engine schedules is a whole number of cycles, from
    time 0) and :meth:`run_until`, ``run(until=done)`` with simpy's own step inlined."""

    _now: int  # the engine's actors read the clock directly (thousands of times per run)

    @property
    def now(self) -> int:
        return self._now

    def run_until(self, done: simpy.Event) -> None:
        """``run(until=done)`` (thousands of events per run): pop the next event, advance the clock, run its
        callbacks; a failed event nobody handled raises a copy of its exception (``done`` failing raises its
        own), and an empty schedule before ``done`` is processed raises simpy's RuntimeError. When it stops,
        ``run`` puts ``done`` back in the schedule (its ``StopSimulation`` path, so that a later ``run`` could go
        on): the same here, so the events scheduled, their order and their count (``EngineResult.events``) are
        :meth:`simpy.Environment.run`'s."""
        queue = self._queue
        pop = heapq.heappop
        while done.callbacks is not None:
            if not queue:
                raise RuntimeError(f'No scheduled events left but "until" event was not triggered: {done}')
            self._now, _, _, event = pop(queue)  # type: ignore[assignment]
            callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                if event is done:
                    raise event._value
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
        self.schedule(done, EventPriority(-1))


class _Pool:
    """A byte pool (the weight buffer, the activation staging) with :class:`simpy.Container`'s rules and its
    very events, in the same order: a get or put succeeds at once when the level allows (a queue is served
    from its head while requests succeed), a processed get serves waiting puts and a processed put waiting
    gets, before the waiting process resumes. Plain :class:`simpy.Event` objects instead of the container's
    request classes (the engine takes and gives back bytes hundreds of times per run)."""

    __slots__ = ("_env", "capacity", "level", "_gets", "_puts")

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self._env = env
        self.capacity = capacity
        self.level = capacity
        self._gets: deque[tuple[simpy.Event, int]] = deque()
        self._puts: deque[tuple[simpy.Event, int]] = deque()

    def get(self, amount: int) -> simpy.Event:
        ev = simpy.Event(self._env)
        ev.callbacks.append(self._serve_puts)
        self._gets.append((ev, amount))
        self._serve_gets(None)
        return ev

    def put(self, amount: int) -> simpy.Event:
        ev = simpy.Event(self._env)
        ev.callbacks.append(self._serve_gets)
        self._puts.append((ev, amount))
        self._serve_puts(None)
        return ev

    def _serve_gets(self, _: simpy.Event | None) -> None:
        gets = self._gets
        while gets and gets[0][1] <= self.level:
            ev, amount = gets.popleft()
            self.level -= amount
            ev.succeed()

    def _serve_puts(self, _: simpy.Event | None) -> None:
        puts = self._puts
        while puts and puts[0][1] <= self.capacity - self.level:
            ev, amount = puts.popleft()
            self.level += amount
            ev.succeed()


class _Slots:
    """The output slots with :class:`simpy.Resource`'s rules and its very events, in the same order: a request
    is granted at once while a slot is free, else when a release is processed (one request per release); a
    release is an event of its own that succeeds at once (nobody waits for it)."""

    __slots__ = ("_env", "capacity", "users", "_queue")

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self._env = env
        self.capacity = capacity
        self.users: list[simpy.Event] = []
        self._queue: deque[simpy.Event] = deque()

    def request(self) -> simpy.Event:
        ev = simpy.Event(self._env)
        self._queue.append(ev)
        self._grant(None)
        return ev

    def release(self, request: simpy.Event) -> None:
        rel = simpy.Event(self._env)
        rel.callbacks.append(self._grant)
        self.users.remove(request)
        rel.succeed()

    def _grant(self, _: simpy.Event | None) -> None:
        if self._queue and len(self.users) < self.capacity:
            ev = self._queue.popleft()
            self.users.append(ev)
            ev.succeed()


class Engine:
    """Runs a step list; ``run()`` returns an :class:`EngineResult` (see the module docstring)."""

    def __init__(self, steps: list[Step], dram: DramModel, clock_hz: float, weight_capacity_bytes: int, *,
                 stage_capacity_bytes: int | None = None, output_slots: int = 2,
                 decompress_per_cycle: int | None = None, convert_per_cycle: int | None = None,
                 ports: Mapping[str, BufferPorts] | None = None, trace: bool = False):
        self.steps = steps
        self.dram_model = dram
        self.clock_hz = clock_hz
        self.capacity = weight_capacity_bytes
        self.stage_capacity = stage_capacity_bytes
        self.output_slots = output_slots
        self.decompress_per_cycle = decompress_per_cycle
        self.convert_per_cycle = convert_per_cycle
        self.ports = dict(ports or {})
        self.trace = trace
        self.env = _Env()
        self._last_write: bool | None = None
        self.dram_actions: dict[str, int] = defaultdict(int)
        self.busy = {"matrix": 0, "vector": 0, "dram": 0}
        self.spans: list[Span] = []
        self.counters: list[tuple[str, int, int]] = []
        self._transfers: dict[tuple[Any, ...], tuple[int, tuple[int, ...]]] = {}

    # -- DRAM ------------------------------------------------------------------------------------
    def transfer_cycles(self, t: Transfer) -> int:
        """Cycles of one DRAM transfer (and its counts), given the previous transfer's direction; the on-chip
        decompressor and the fp32-to-integer converter on the way in may set a longer time."""
        key = (t.nbytes, t.write, t.pattern, t.chunk_bytes, self._last_write)
        known = self._transfers.get(key)  # the same transfer after the same direction: the same outcome
        if known is None:
            pattern: Pattern = "scattered" if t.pattern == "scattered" else "stream"
            chunk = t.chunk_bytes
            spec = self.dram_model.spec
            if pattern == "scattered" and chunk is not None and chunk > spec.channels * spec.row_bytes:
                pattern, chunk = "stream", None  # one chunk spanning whole rows: a stream from a row boundary
            res = self.dram_model.transfer(t.nbytes, write=t.write, pattern=pattern, chunk_bytes=chunk,
                                           prev_write=self._last_write)
            known = self._transfers[key] = (math.ceil(res.time_ns * self.clock_hz / 1e9 - 1e-9),
                                            tuple(int(getattr(res, name)) for name in _DRAM_COUNTS))
        self._last_write = t.write
        cycles, counts = known
        actions = self.dram_actions
        for name, value in zip(_DRAM_COUNTS, counts, strict=True):
            actions[name] += value
        if t.decode_weights and self.decompress_per_cycle:
            cycles = max(cycles, -(-t.decode_weights // self.decompress_per_cycle))
        if t.convert_values and self.convert_per_cycle:
            cycles = max(cycles, -(-t.convert_values // self.convert_per_cycle))
        return cycles

    def _span(self, track: str, name: str, cat: str, start: int, end: int, **args: Any) -> None:
        if self.trace and end > start:
            self.spans.append(Span(track, name, cat, start, end, args))

    # -- the run ---------------------------------------------------------------------------------
    def run(self) -> EngineResult:
        """Simulate every step; returns the totals and per-operator statistics."""
        env = self.env
        steps = self.steps
        n = len(steps)
        arb = _Arbiter(env, ("dram", "vector"))
        slots = _Slots(env, self.output_slots)
        wbuf = _Pool(env, self.capacity)
        stage_cap = self.stage_capacity if self.stage_capacity is not None else max(
            [s.stage_take for s in steps] + [1])
        stage = _Pool(env, stage_cap)
        loaded = [env.event() for _ in range(n)]
        stats: dict[str, OpStats] = defaultdict(OpStats)
        loader_phases = _Intervals()
        # a spilled tensor is read back only after every store of it issued by earlier steps has completed
        stored = {i: env.event() for i, s in enumerate(steps) if s.stores}
        last_store: dict[str, list[int]] = defaultdict(list)
        waits: dict[int, list[int]] = {}
        for i, s in enumerate(steps):
            if s.after:
                waits[i] = [k for dep in s.after for k in last_store.get(dep, ())]
            if s.stores:
                last_store[s.op].append(i)
        released: list[tuple[int, _Intervals]] = []  # (step, phases) of post processes that released a slot
        trace = self.trace
        ports = self.ports
        # per step, what the executor reads of it (op, matrix unit?, vector unit?, post process?, unit cycles,
        # duration: compute or SRAM-port bound, weight and staging bytes given back), once per distinct step: the
        # mapper shares equal steps
        known: dict[int, tuple[str, bool, bool, bool, int, int, int, int]] = {}
        plan = []
        for s in steps:
            info = known.get(id(s))
            if info is None:
                unit_cycles = s.compute.cycles
                info = known[id(s)] = (s.op, s.unit == "matrix", s.unit == "vector",
                                       s.epilogue is not None or bool(s.stores), unit_cycles,
                                       max(unit_cycles, sram_cycles(s, ports)), s.weight_free, s.stage_free)
            plan.append(info)
        busy = self.busy
        timeout = env.timeout
        request = arb.request
        # (times are integers: every delay is an integer number of cycles, from time 0)

        def level(name: str, container: _Pool, cap: int) -> None:
            if trace:
                self.counters.append((name, int(env.now), int(cap - container.level)))

        def transfer(t: Transfer, key: tuple[int, int], op: str) -> Generator[simpy.Event, Any, Any]:
            yield request("dram", key)
            cycles = self.transfer_cycles(t)
            busy["dram"] += cycles
            start = env._now
            yield timeout(cycles)
            arb.release("dram")
            if trace:
                self._span("dram", op, "store" if t.write else "load", start, env._now, what=t.what,
                           bytes=t.nbytes, tensor=t.tensor, step=key[0], pattern=t.pattern)
            st = stats[op]
            if t.write:
                st.dram_write_bytes += t.nbytes
            else:
                st.dram_read_bytes += t.nbytes

        def loader() -> Generator[simpy.Event, Any, Any]:
            capacity = self.capacity
            add = loader_phases.add
            for i, step in enumerate(steps):
                t0 = env._now
                take = step.weight_take
                if take:
                    if take > capacity:
                        raise ValueError(f"{step.op}: a {take}-byte weight chunk exceeds the "
                                         f"{capacity}-byte weight buffer")
                    yield wbuf.get(take)
                    if trace:
                        level("weights", wbuf, capacity)
                take = step.stage_take
                if take:
                    if take > stage_cap:
                        raise ValueError(f"{step.op}: a {take}-byte activation load exceeds the "
                                         f"{stage_cap}-byte staging half of the activation buffer")
                    yield stage.get(take)
                    if trace:
                        level("activations", stage, stage_cap)
                add(t0, env._now, "buffer_full")
                if i in waits:
                    for k in waits[i]:
                        if not stored[k].triggered:
                            t1 = env._now
                            yield stored[k]
                            add(t1, env._now, "dram_write")
                for t in step.loads:
                    t1 = env._now
                    yield from transfer(t, (i, 0), step.op)
                    add(t1, env._now, "dram_read")
                loaded[i].succeed()

        def post(i: int, step: Step, slot_req: Any, phases: _Intervals) -> Generator[simpy.Event, Any, Any]:
            st = stats[step.op]
            epilogue = step.epilogue
            if epilogue is not None:
                t0 = env._now
                yield request("vector", (i, 0))
                start = env._now
                cycles = epilogue.cycles
                busy["vector"] += cycles
                st.vector_cycles += cycles
                yield timeout(cycles)
                arb.release("vector")
                phases.add(t0, env._now, "vector_busy")
                if trace:
                    self._span("vector", step.op, "epilogue", start, env._now, ops=",".join(step.epilogue_ops),
                               step=i)
            stores = step.stores
            if stores:
                for t in stores:
                    t0 = env._now
                    yield from transfer(t, (i, 1), step.op)
                    phases.add(t0, env._now, "dram_write")
                stored[i].succeed()
            phases.end = env._now
            if slot_req is not None:
                released.append((i, phases))
                slots.release(slot_req)

        def wait_posts(pending: list[tuple[simpy.Process, _Intervals]], st: OpStats,
                       op: str, step_index: int) -> Generator[Any, Any, Any]:
            alive = [(p, ph) for p, ph in pending if p.is_alive]
            if not alive:
                return
            t0 = env._now
            for proc, _ in alive:
                if proc.is_alive:
                    yield proc
            if env._now > t0:
                last = max((ph for _, ph in alive), key=lambda ph: ph.end)  # the critical path
                self._stalls(op, last.attribute(t0, env._now, st.stalls), step_index)

        def executor() -> Generator[Any, Any, Any]:
            pending: list[tuple[simpy.Process, _Intervals]] = []
            prev_op = ""
            process = env.process
            for i, step in enumerate(steps):
                op, on_matrix, on_vector, has_post, unit_cycles, duration, weight_free, stage_free = plan[i]
                st = stats[op]
                if pending and op != prev_op:  # an operator boundary (nothing to wait for without posts)
                    yield from wait_posts(pending, stats[prev_op], prev_op, i - 1)
                    pending = []
                prev_op = op
                ready = loaded[i]
                if not ready.triggered:
                    t0 = env._now
                    yield ready
                    self._stalls(op, loader_phases.attribute(t0, env._now, st.stalls, forward=True), i)
                slot_req = None
                if has_post:
                    slot_req = slots.request()
                    t0 = env._now
                    yield slot_req
                    now = env._now
                    if now > t0:  # charged to the post that freed the slot (the oldest, on a tie)
                        rel = min((r for r in released if r[1].end == now), key=lambda r: r[0])[1]
                        self._stalls(op, rel.attribute(t0, now, st.stalls), i)
                    released.clear()
                if on_vector:
                    t0 = env._now
                    yield request("vector", (i, 1))
                    st.stalls["vector_busy"] += env._now - t0
                    if trace:
                        self._stalls(op, [(t0, env._now, "vector_busy")], i)
                start = env._now
                busy["matrix" if on_matrix else "vector"] += unit_cycles
                yield timeout(duration)
                if on_vector:
                    arb.release("vector")
                st.compute_cycles += unit_cycles
                st.stalls["sram_port"] += duration - unit_cycles
                if trace:
                    track = "compute" if on_matrix else "vector"
                    self._span(track, op, "compute", start, start + unit_cycles, step=i)
                    self._span("executor", op, "compute", start, start + unit_cycles, step=i)
                    if duration > unit_cycles:
                        self._span("executor", op, "sram_port", start + unit_cycles, start + duration, step=i)
                    # each buffer's ports are busy for their own share of the step (from its start)
                    for name, (r, w) in step.ports.items():
                        p = self.ports.get(name)
                        port_busy = port_cycles(r, w, p) if p is not None else 0
                        self._span(f"sram.{name}", op, "port", start, start + port_busy, read_bytes=r,
                                   write_bytes=w, step=i)
                if weight_free:
                    yield wbuf.put(weight_free)
                    if trace:
                        level("weights", wbuf, self.capacity)
                if stage_free:
                    yield stage.put(stage_free)
                    if trace:
                        level("activations", stage, stage_cap)
                if has_post:
                    phases = _Intervals()
                    pending.append((process(post(i, step, slot_req, phases)), phases))
            if pending:
                yield from wait_posts(pending, stats[prev_op], prev_op, n - 1)

        env.process(loader())
        done = env.process(executor())
        env.run_until(done)
        for st in stats.values():
            st.cycles = st.compute_cycles + sum(st.stalls.values())
        events = next(env._eid)  # simpy's event counter: events scheduled so far
        return EngineResult(int(env.now), dict(stats), dict(self.dram_actions), int(events), dict(self.busy),
                            self.spans, self.counters)

    def _stalls(self, op: str, pieces: list[tuple[int, int, str]], step: int) -> None:
        """Record the executor's waiting intervals, each with its reason (trace only); ``step``: the index of
        the step the executor waits to start (at an operator boundary: the operator's last step)."""
        if not self.trace:
            return
        for a, b, label in pieces:
            self._span("executor", op, label, a, b, step=step)
