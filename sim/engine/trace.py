"""The engine's timeline as a Chrome trace-event file (``sim run --trace OUT.json``; opens in Perfetto and
chrome://tracing).

Format: a JSON object ``{"traceEvents": [...], "displayTimeUnit": "ns", "otherData": {...}}`` with

- ``"M"`` metadata events naming the one process (the design on the workload) and its threads (tracks);
- ``"X"`` complete events, one per span: ``name`` the operator, ``cat`` what it is, ``ts``/``dur`` its start
  and length, ``args`` with ``start_cycle``, ``cycles`` and ``step`` (the mapper's step index in program
  order) plus what the engine recorded (``bytes``, ``tensor``, ``what`` and ``pattern`` of a DRAM transfer;
  ``ops`` of an epilogue: the fused operators; ``read_bytes``/``write_bytes`` of an SRAM port span);
- ``"C"`` counter events: bytes in use in the weight buffer (``weights buffer``) and in the staging half of
  the activation buffer (``activations staging``), a value each time the engine takes or gives back space.

Time: ``ts`` and ``dur`` are microseconds of simulated time (the trace-event format's unit), i.e. core clock
cycles divided by the clock frequency (at 1 GHz one cycle is 0.001 us); the exact integers are in
``args.start_cycle`` and ``args.cycles``, and ``otherData.clock_hz`` gives the clock.

Tracks (threads), in display order:

- ``executor``: what the compute side does every cycle: ``compute`` (the unit's own cycles) or a stall
  (``dram_read``, ``buffer_full``, ``vector_busy``, ``dram_write``, ``sram_port``). Its spans of one operator
  add up to that operator's ``cycles`` in the run report, and the stall spans per category to its
  ``stall_breakdown_cycles``.
- ``compute``: the matrix unit's busy spans (``compute``).
- ``vector``: the vector unit's busy spans: operator steps (``compute``) and fused epilogues (``epilogue``).
- ``dram.chN``, one per channel: every transfer (``load`` or ``store``) is interleaved over all channels
  (consecutive bursts go to consecutive channels, see :mod:`sim.hw.dram`), and the DRAM model times a
  transfer as a whole (its time is that of the busiest channel), so the same span appears on every channel
  track; ``args.bytes`` is the whole transfer's size and, for a stream transfer, ``args.channel_bursts`` the
  bursts of it this channel carries under the address mapping. The channels are not timed one by one.
- ``sram.<buffer>``: the cycles each buffer's ports are busy for a step's compute-side accesses (``port``),
  from the step's start; where a buffer's ports take longer than the unit, the executor shows ``sram_port``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.engine.des import EngineResult
from sim.hw.dram import DramSpec

__all__ = ["COUNTER_NAMES", "chrome_trace"]

COUNTER_NAMES = {"weights": "weights buffer", "activations": "activations staging"}
_FIXED_TRACKS = ("executor", "compute", "vector")


def _channel_bursts(nbytes: int, channel: int, spec: DramSpec) -> int:
    """Bursts of a stream of ``nbytes`` from address 0 that land on ``channel`` (burst ``k`` on ``k % channels``)."""
    bursts = -(-nbytes // spec.burst_bytes)
    return max(0, -(-(bursts - channel) // spec.channels))


def chrome_trace(res: EngineResult, *, clock_hz: float, dram: DramSpec, title: str,
                 meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Chrome trace-event document of an engine run made with ``trace=True`` (see the module docstring)."""
    us_per_cycle = 1e6 / clock_hz
    pid = 1
    buffers = sorted({s.track for s in res.spans if s.track.startswith("sram.")})
    tracks = [*_FIXED_TRACKS, *(f"dram.ch{c}" for c in range(dram.channels)), *buffers]
    tid = {name: i + 1 for i, name in enumerate(tracks)}
    events: list[dict[str, Any]] = [
        {"ph": "M", "pid": pid, "tid": 0, "name": "process_name", "args": {"name": title}},
    ]
    for name in tracks:
        events.append({"ph": "M", "pid": pid, "tid": tid[name], "name": "thread_name", "args": {"name": name}})
        events.append({"ph": "M", "pid": pid, "tid": tid[name], "name": "thread_sort_index",
                       "args": {"sort_index": tid[name]}})

    def complete(track: str, name: str, cat: str, start: int, end: int, args: dict[str, Any]) -> None:
        events.append({"ph": "X", "pid": pid, "tid": tid[track], "name": name, "cat": cat,
                       "ts": start * us_per_cycle, "dur": (end - start) * us_per_cycle,
                       "args": {"start_cycle": start, "cycles": end - start, **args}})

    for s in res.spans:
        args = {k: v for k, v in s.args.items() if v != ""}
        if s.track == "dram":
            for c in range(dram.channels):
                extra = {"channels": dram.channels}
                if s.args.get("pattern") == "stream":
                    extra["channel_bursts"] = _channel_bursts(int(s.args["bytes"]), c, dram)
                complete(f"dram.ch{c}", s.name, s.cat, s.start, s.end, {**args, **extra})
        else:
            complete(s.track, s.name, s.cat, s.start, s.end, args)
    for buffer in COUNTER_NAMES:  # both buffers start empty
        events.append({"ph": "C", "pid": pid, "tid": 0, "name": COUNTER_NAMES[buffer], "ts": 0.0,
                       "args": {"bytes": 0}})
    for buffer, cycle, in_use in res.counters:
        events.append({"ph": "C", "pid": pid, "tid": 0, "name": COUNTER_NAMES.get(buffer, buffer),
                       "ts": cycle * us_per_cycle, "args": {"bytes": in_use}})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"clock_hz": clock_hz, "time_unit": "us of simulated time (cycles / clock_hz)",
                          "cycles": res.cycles, **(meta or {})}}
