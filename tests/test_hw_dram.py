"""DRAM model: presets, mapping, bank groups, controller queues, burst-level reference (cycle-stepped) vs the fast
event-driven model, bandwidth sanity."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.hw.dram import (
    DRAM_MAPPINGS,
    DRAM_PRESETS,
    DramModel,
    DramReference,
    DramRequest,
    DramSpec,
    dram_spec,
    map_address,
    requests_for,
    scattered_requests,
    stream_requests,
    to_cycles,
)

KINDS = sorted(DRAM_PRESETS)
KiB, MiB = 1024, 1024 * 1024


def _agree(spec: DramSpec, nbytes: int, *, write: bool, pattern: str = "stream", chunk_bytes: int | None = None,
           prev_write: bool | None = None) -> None:
    """The fast model equals the reference on the canonical request list, field by field (time exactly)."""
    ref = DramReference(spec).run(requests_for(spec, nbytes, write=write, pattern=pattern, chunk_bytes=chunk_bytes),
                                  prev_write=prev_write)
    fast = DramModel(spec).transfer(nbytes, write=write, pattern=pattern, chunk_bytes=chunk_bytes,
                                    prev_write=prev_write)
    assert fast == ref.transfer(), (spec.kind, spec.channels, nbytes, write, pattern, chunk_bytes, prev_write)


# ------------------------------------------------------------------------------------------- presets


@pytest.mark.parametrize("kind, channels, peak", [
    ("ddr4-3200", 1, 25.6e9),    # 64 bit x 3200 MT/s
    ("ddr4-3200", 2, 51.2e9),
    ("lpddr4-3200", 1, 6.4e9),   # one x16 channel
    ("lpddr4-3200", 4, 25.6e9),  # the preset default: a x64 package
    ("hbm2", 16, 256e9),         # one stack = 8 channels x 2 pseudo-channels x 64 bit x 2000 MT/s
])
def test_preset_peaks(kind, channels, peak):
    spec = dram_spec(kind, channels=channels)
    assert spec.peak_bytes_per_s == pytest.approx(peak, rel=1e-12)


def test_preset_defaults_and_derived():
    ddr4, lp4, hbm2 = (dram_spec(k) for k in ("ddr4-3200", "lpddr4-3200", "hbm2"))
    assert (ddr4.channels, lp4.channels, hbm2.channels) == (1, 4, 16)
    assert hbm2.peak_bytes_per_s == pytest.approx(256e9)
    assert ddr4.tck_s == pytest.approx(0.625e-9) and lp4.tck_s == pytest.approx(0.625e-9)
    assert hbm2.tck_s == pytest.approx(1e-9)
    assert (ddr4.burst_bytes, lp4.burst_bytes, hbm2.burst_bytes) == (64, 32, 32)
    assert (ddr4.bursts_per_row, lp4.bursts_per_row, hbm2.bursts_per_row) == (128, 64, 32)
    for spec in (ddr4, lp4, hbm2):
        assert 1.0 < spec.refresh_factor < 1.1
        assert spec.tRAS >= spec.tRCD
        assert dataclasses.is_dataclass(spec)
        with pytest.raises(dataclasses.FrozenInstanceError):
            spec.channels = 3  # type: ignore[misc]


def test_every_spec_field_has_a_preset_value_and_overrides_work():
    names = {f.name for f in dataclasses.fields(DramSpec)} - {"kind"}
    for kind in KINDS:
        assert set(DRAM_PRESETS[kind]) == names
    spec = dram_spec("DDR4-3200", channels=2, tCL=24, banks=8)
    assert (spec.kind, spec.channels, spec.tCL, spec.banks) == ("ddr4-3200", 2, 24, 8)


# -------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("call, match", [
    (lambda: dram_spec("ddr5"), "unknown DRAM kind 'ddr5'; valid kinds: ddr4-3200, hbm2, lpddr4-3200"),
    (lambda: dram_spec("hbm2", channels=0), "channels must be >= 1, got 0"),
    (lambda: dram_spec("hbm2", channels=-2), "channels must be >= 1"),
    (lambda: dram_spec("hbm2", tCLL=3), "unknown DramSpec field"),
    (lambda: dram_spec("hbm2", tRCD=-1), "tRCD must be >= 0"),
    (lambda: dram_spec("hbm2", tCL=2.5), "tCL must be an integer"),
    (lambda: dram_spec("hbm2", row_bytes=100), "multiple of the burst size"),
    (lambda: dram_spec("hbm2", burst_length=3), "burst_length must be even"),
    (lambda: dram_spec("hbm2", data_rate_mts=0), "data_rate_mts must be a positive number"),
    (lambda: dram_spec("hbm2", tRFC=5000), "tRFC .* must be smaller than tREFI"),
    (lambda: dram_spec("hbm2", bank_groups=3), r"bank_groups \(3\) must divide banks \(16\)"),
    (lambda: dram_spec("hbm2", mapping="rocobabgch"), "mapping must be one of robabgcoch"),
    (lambda: dram_spec("hbm2", transaction_queue=0), "transaction_queue must be >= 1"),
    (lambda: dram_spec("hbm2", bank_queue=0), "bank_queue must be >= 1"),
    (lambda: dram_spec("hbm2", tCCD_L=0), "tCCD_L must be >= 1"),
    (lambda: DramModel(dram_spec("hbm2")).transfer(-1, write=False), "nbytes must be >= 0, got -1"),
    (lambda: DramModel(dram_spec("hbm2")).transfer(1.5, write=False), "nbytes must be an integer"),
    (lambda: DramModel(dram_spec("hbm2")).transfer(64, write=False, pattern="random"), "unknown pattern 'random'"),
    (lambda: DramModel(dram_spec("hbm2")).transfer(64, write=False, pattern="scattered"),
     "chunk_bytes must be a positive integer"),
    (lambda: DramModel(dram_spec("hbm2")).transfer(64, write=False, pattern="scattered", chunk_bytes=0),
     "chunk_bytes must be a positive integer"),
    (lambda: DramModel(dram_spec("ddr4-3200")).transfer(64, write=False, pattern="scattered", chunk_bytes=8193),
     "exceeds one row on every channel"),
    (lambda: DramModel(dram_spec("hbm2")).transfer(64, write=False, chunk_bytes=8), "only to pattern='scattered'"),
    (lambda: DramReference(dram_spec("hbm2")).run([(0, -5, False)]), "nbytes must be >= 0"),
    (lambda: DramReference(dram_spec("hbm2")).run([(-64, 5, False)]), "address must be >= 0"),
    (lambda: to_cycles(-1.0, 1e9), "time_ns must be"),
    (lambda: to_cycles(1.0, 0), "clock_hz must be"),
])
def test_bad_input_raises_one_line_value_error(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------------------------ address mapping


def test_mapping_interleaves_channels_then_columns_then_bank_groups_then_banks_then_rows():
    spec = dram_spec("hbm2", channels=4)  # 32 B bursts, 32 bursts per row, 4 bank groups x 4 banks
    bb, nb = spec.burst_bytes, spec.bursts_per_row
    assert spec.mapping == "robabgcoch"
    assert [map_address(spec, k * bb).channel for k in range(6)] == [0, 1, 2, 3, 0, 1]
    assert map_address(spec, 4 * bb + 5) == (0, 0, 0, 1, 0)  # channel, bank, row, column, bank group
    assert map_address(spec, 4 * nb * bb) == (0, 1, 0, 0, 1)  # a full row on every channel later: next group
    assert map_address(spec, 4 * nb * 4 * bb) == (0, 4, 0, 0, 0)  # every group later: next bank of group 0
    assert map_address(spec, 4 * nb * spec.banks * bb) == (0, 0, 1, 0, 0)  # all banks later: next row


@pytest.mark.parametrize("mapping", DRAM_MAPPINGS)
def test_mappings_are_bit_fields_as_dramsim3_reads_them(mapping):
    """With power-of-two sizes each field is a bit range, in the order of the string (DRAMsim3's convention:
    MSB to LSB above the burst offset); the decode is a bijection."""
    spec = dram_spec("ddr4-3200", channels=2, mapping=mapping)
    width = {"co": 7, "ch": 1, "bg": 2, "ba": 2}
    seen = set()
    for k in range(0, 1 << 16, 37):
        a = map_address(spec, k * spec.burst_bytes)
        pos, value = 0, {}
        for f in reversed([mapping[i:i + 2] for i in range(0, 10, 2)]):
            w = width.get(f, 20)
            value[f] = (k >> pos) & ((1 << w) - 1)
            pos += w
        assert (a.channel, a.bank_group, a.bank // 4, a.row, a.column) == (
            value["ch"], value["bg"], value["ba"], value["ro"], value["co"])
        assert a.bank % spec.bank_groups == a.bank_group
        seen.add(a)
    assert len(seen) == len(range(0, 1 << 16, 37))


@pytest.mark.parametrize("mapping", DRAM_MAPPINGS)
def test_scattered_layout_gives_each_chunk_rows_of_its_own(mapping):
    spec = dram_spec("hbm2", channels=8, mapping=mapping)
    for chunk in (8, 32, 64, 96, 300, 2048, 8192):
        reqs = scattered_requests(spec, 40 * chunk + 7, chunk, write=False)
        owner: dict[tuple[int, int, int], int] = {}
        for i, (addr, n, _) in enumerate(reqs):
            assert addr % spec.burst_bytes == 0
            for k in range(addr // spec.burst_bytes, (addr + n - 1) // spec.burst_bytes + 1):
                a = map_address(spec, k * spec.burst_bytes)
                assert owner.setdefault((a.channel, a.bank, a.row), i) == i  # no row is shared by two chunks
        assert sum(n for _, n, _ in reqs) == 40 * chunk + 7


# ---------------------------------------------------------------------------- reference, by hand (DDR4)


def test_reference_hand_computed_ddr4_cases():
    """Cycle counts derived by hand from the rules in the module docstring (DDR4-3200AA, tCK 0.625 ns).

    A burst moves to its bank queue in cycle 0 and is seen from cycle 1: PRE at 1, ACT at 1 + tRP = 23,
    RD at 23 + tRCD = 45, data 67..71."""
    spec = dram_spec("ddr4-3200")
    ref = DramReference(spec)
    assert ref.run([(0, 64, False)]).cycles == 1 + 22 + 22 + 22 + 4
    # same row, same bank group: the second RD waits tCCD_L = 8 (not tCCD_S = 4)
    assert ref.run([(0, 128, False)]).cycles == 71 + 8
    assert ref.run([(0, 64, False), (64, 64, True)]).cycles == 71 + 2 + 4  # read -> write: tRTW = 2 idle cycles
    # write: data 61..65; read CAS >= 65 + tWTR_L = 77 (same bank group), data 99..103
    assert ref.run([(0, 64, True), (64, 64, False)]).cycles == 77 + 22 + 4
    # same bank, other row: PRE >= max(ACT 23 + tRAS 52, RD 45 + tRTP 12) = 75, ACT 97, RD 119, end 145
    other_row_same_bank = spec.row_bytes * spec.banks
    r = ref.run([(0, 64, False), (other_row_same_bank, 64, False)])
    assert (r.cycles, r.activations, r.row_hits, r.bursts) == (145, 2, 0, 2)
    # next bank group (one row later under robabgcoch): its burst is seen at 2, PRE 2, ACT >= max(24, 23 + tRRD_S)
    # = 27, RD 49 >= 45 + tCCD_S; data 71..75 right behind the first burst
    assert ref.run([(0, 64, False), (spec.row_bytes, 64, False)]).cycles == 75
    # same bank group, other bank (four rows later): ACT >= 23 + tRRD_L = 31, RD 53, data 75..79
    assert ref.run([(0, 64, False), (4 * spec.row_bytes, 64, False)]).cycles == 79
    # five activations (bank groups 0,1,2,3,0): the fifth waits for tFAW after the first (23 + 34 = 57)
    five = ref.run([(i * spec.row_bytes, 64, False) for i in range(5)])
    assert five.cycles == 57 + 22 + 22 + 4 and five.activations == 5
    # write -> read in another bank group: tWTR_S = 4 instead of tWTR_L = 12
    r2 = ref.run([(0, 64, True), (spec.row_bytes, 64, False)])  # write data 61..65, read CAS >= 69 (ACT 27 + 22)
    assert r2.cycles == 69 + 22 + 4
    assert ref.run([(0, 64, False)], prev_write=True).cycles == 71  # turnaround hidden by the row miss
    assert ref.run([]).cycles == 0 and ref.run([(0, 0, True)]).bursts == 0
    assert r.time_ns == pytest.approx(145 * 0.625 * spec.refresh_factor)


def test_reference_hand_computed_queues():
    """The queues bound how far the controller looks ahead; the scan serves another bank in between."""
    reqs = [(0, 192, False), (8192, 64, False)]  # b0, b1, b2 in bank 0 (group 0), then b3 in bank 1 (group 1)
    # DRAMsim3's queues (32 + 8): the bursts move at 0..3; b3 is seen at 4: PRE 4, ACT 27 (23 + tRRD_S), RD 49,
    # ahead of b1 (45 + tCCD_L = 53): data b0 67..71, b3 71..75, b1 75..79, b2 83..87
    wide = dram_spec("ddr4-3200")
    assert DramReference(wide).run(reqs).cycles == 87
    # one transaction-queue entry and two per bank: b2 moves only when b0's RD (45) frees a slot, b3 at 46,
    # seen at 47: PRE 47, ACT 69, RD 91, data 113..117
    narrow = dram_spec("ddr4-3200", bank_queue=2, transaction_queue=1)
    assert DramReference(narrow).run(reqs).cycles == 117
    for spec in (wide, narrow):
        ref = DramReference(spec).run(reqs)
        fast = DramModel(spec)
        assert (ref.bursts, ref.activations) == (4, 2)
        assert fast.transfer(256, write=False).bursts == 4


def test_bank_groups_set_the_stream_rate():
    """A row of one bank is one bank group: tCCD_L spaces its bursts; without bank groups (tCCD_L = tCCD_S) the
    same stream runs near the bus peak."""
    ddr4 = dram_spec("ddr4-3200")
    flat = dram_spec("ddr4-3200", bank_groups=1, tCCD_L=4, tRRD_L=4, tWTR_L=4)
    nbytes = 256 * KiB
    eff = {}
    for name, spec in (("ddr4", ddr4), ("flat", flat)):
        t = DramModel(spec).transfer(nbytes, write=False)
        assert t == DramReference(spec).run(stream_requests(spec, nbytes, write=False)).transfer()
        eff[name] = nbytes / (t.time_ns * 1e-9 / spec.refresh_factor) / spec.peak_bytes_per_s
    assert 0.55 < eff["ddr4"] < 0.70  # half the rate inside a row, the row tails overlap the next row
    assert eff["flat"] > 0.95


# ---------------------------------------------------------------------------- fast model == reference

SIZES = [1, 65, 1000, 8193, 20000]
CHUNKS = [24, 64, 100, 2048]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mapping", DRAM_MAPPINGS)
@pytest.mark.parametrize("channels", [1, 2])
def test_fast_equals_reference_small_stream_grid(kind, mapping, channels):
    spec = dram_spec(kind, channels=channels, mapping=mapping)
    for nbytes in SIZES:
        for write in (False, True):
            for prev in (None, not write):
                _agree(spec, nbytes, write=write, prev_write=prev)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mapping", DRAM_MAPPINGS)
@pytest.mark.parametrize("channels", [1, 3])
def test_fast_equals_reference_small_scattered_grid(kind, mapping, channels):
    spec = dram_spec(kind, channels=channels, mapping=mapping)
    for chunk in (min(c, channels * spec.row_bytes) for c in CHUNKS):
        for nbytes in (1, 5 * chunk + 3, 2000):
            for write in (False, True):
                _agree(spec, nbytes, write=write, pattern="scattered", chunk_bytes=chunk,
                       prev_write=None if write else True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), channels=st.sampled_from([1, 2, 3, 4, 8, 16]),
       mapping=st.sampled_from(DRAM_MAPPINGS), nbytes=st.integers(0, 16 * KiB), write=st.booleans(),
       prev=st.sampled_from([None, False, True]), scattered=st.booleans(), chunk=st.integers(1, 4096))
def test_fast_equals_reference_random_presets(kind, channels, mapping, nbytes, write, prev, scattered, chunk):
    spec = dram_spec(kind, channels=channels, mapping=mapping)
    if scattered:
        _agree(spec, nbytes, write=write, pattern="scattered", chunk_bytes=min(chunk, channels * spec.row_bytes),
               prev_write=prev)
    else:
        _agree(spec, nbytes, write=write, prev_write=prev)


@st.composite
def _odd_specs(draw):
    """Presets with random banks, bank groups, row sizes, queues, mappings and timings (bank-bound, queue-bound
    and activation-bound cases)."""
    kind = draw(st.sampled_from(KINDS))
    base = DRAM_PRESETS[kind]
    banks = draw(st.sampled_from([1, 2, 3, 4, 8, 16]))
    over = {"banks": banks, "channels": draw(st.sampled_from([1, 2, 3, 4])),
            "bank_groups": draw(st.sampled_from([g for g in (1, 2, 3, 4) if banks % g == 0])),
            "row_bytes": base["bus_bits"] // 8 * base["burst_length"] * draw(st.sampled_from([1, 2, 3, 8, 64])),
            "transaction_queue": draw(st.integers(1, 40)), "bank_queue": draw(st.integers(1, 10)),
            "mapping": draw(st.sampled_from(DRAM_MAPPINGS))}
    for name in ("tCL", "tCWL", "tRCD", "tRP", "tRAS", "tRRD_S", "tRRD_L", "tFAW", "tWTR_S", "tWTR_L", "tRTW",
                 "tCCD_S", "tCCD_L", "tRTP", "tWR"):
        if draw(st.booleans()):
            low = 1 if name in ("tCL", "tCWL", "tCCD_S", "tCCD_L", "tRRD_S", "tRRD_L") else 0
            over[name] = draw(st.integers(low, 2 * base[name] + 3))
    return dram_spec(kind, **over)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=_odd_specs(), nbytes=st.integers(1, 6 * KiB), write=st.booleans(),
       prev=st.sampled_from([None, False, True]), scattered=st.booleans(), chunk=st.integers(1, 512))
def test_fast_equals_reference_random_specs(spec, nbytes, write, prev, scattered, chunk):
    if scattered:
        _agree(spec, nbytes, write=write, pattern="scattered", chunk_bytes=min(chunk, spec.channels * spec.row_bytes),
               prev_write=prev)
    else:
        _agree(spec, nbytes, write=write, prev_write=prev)


def test_fast_model_remembers_transfers_by_all_their_arguments():
    spec = dram_spec("ddr4-3200", channels=2, tRTW=90)
    m = DramModel(spec)
    first = m.transfer(5000, write=True, prev_write=False)
    assert m.transfer(5000, write=True, prev_write=False) is first
    idle = m.transfer(5000, write=True, prev_write=None)
    assert idle.time_ns < first.time_ns  # a different key: the read-to-write turnaround shows
    assert idle == DramReference(spec).run(stream_requests(spec, 5000, write=True)).transfer()


# --------------------------------------------------------------------------------- counts and bandwidth


def test_counts_stream_and_scattered():
    spec = dram_spec("hbm2", channels=8)  # 32 B bursts, 1 KiB rows
    m = DramModel(spec)
    t = m.transfer(10 * KiB + 1, write=False)
    assert (t.bursts, t.read_bytes, t.write_bytes) == (321, 10 * KiB + 1, 0)
    assert t.activations == 8 * 2  # 321 bursts -> 41 on channel 0 (two rows of 32), 40 on the others
    s = m.transfer(1000, write=True, pattern="scattered", chunk_bytes=40)  # 25 chunks of 2 bursts each
    assert (s.bursts, s.activations, s.read_bytes, s.write_bytes) == (50, 50, 0, 1000)
    assert s.bursts * spec.burst_bytes >= 1000
    assert m.transfer(0, write=True) == m.transfer(0, write=True, pattern="scattered", chunk_bytes=8)
    assert m.transfer(0, write=True).time_ns == 0.0


@pytest.mark.parametrize("kind, low, high", [("ddr4-3200", 0.60, 0.68), ("lpddr4-3200", 0.90, 0.97),
                                             ("hbm2", 0.85, 0.95)])
def test_sustained_streaming_bandwidth_below_peak(kind, low, high):
    """DDR4 streams at about two thirds of peak (tCCD_L inside a row; DRAMsim3 agrees, tests/data/dram)."""
    spec = dram_spec(kind)
    nbytes = 256 * KiB
    ref = DramReference(spec).run(stream_requests(spec, nbytes, write=False))
    m = DramModel(spec)
    assert m.transfer(nbytes, write=False) == ref.transfer()
    assert ref.activations == nbytes // spec.row_bytes
    bw = nbytes / (ref.time_ns * 1e-9)
    sustained = m.streaming_bytes_per_s()
    assert bw <= sustained <= spec.peak_bytes_per_s
    assert low * spec.peak_bytes_per_s <= sustained <= high * spec.peak_bytes_per_s
    long = 4 * MiB / (m.transfer(4 * MiB, write=False).time_ns * 1e-9)
    assert long == pytest.approx(sustained, rel=1e-2)  # 4 MiB amortises the first miss


@pytest.mark.parametrize("kind", KINDS)
def test_scattered_64b_is_much_less_efficient(kind):
    spec = dram_spec(kind)
    m = DramModel(spec)
    nbytes = 64 * KiB
    stream = m.transfer(nbytes, write=False)
    scattered = m.transfer(nbytes, write=False, pattern="scattered", chunk_bytes=64)
    ref = DramReference(spec).run(scattered_requests(spec, nbytes, 64, write=False))
    assert scattered == ref.transfer()
    assert scattered.activations == nbytes // 64 * min(-(-64 // spec.burst_bytes), spec.channels)
    assert scattered.time_ns >= 1.3 * stream.time_ns  # DDR4 streams are bank-group bound: the least gap
    assert nbytes / (scattered.time_ns * 1e-9) <= 0.5 * spec.peak_bytes_per_s


@settings(max_examples=25, deadline=None)
@given(spec=_odd_specs(), rows=st.integers(1, 60))
def test_streaming_bandwidth_never_exceeds_peak(spec, rows):
    m = DramModel(spec)
    assert 0 < m.streaming_bytes_per_s() <= spec.peak_bytes_per_s
    nbytes = rows * spec.row_bytes * spec.channels
    assert nbytes / (m.transfer(nbytes, write=False).time_ns * 1e-9) <= spec.peak_bytes_per_s


# ------------------------------------------------------------------------------------------- cycles


def test_cycles_rounds_up_to_the_accelerator_clock():
    assert to_cycles(10.0, 1e9) == 10
    assert to_cycles(10.0001, 1e9) == 11
    assert to_cycles(0.0, 1e9) == 0
    assert DramModel.cycles(0.1 + 0.2, 1e10) == 3  # 3.0000000000000004 counts as 3
    m = DramModel(dram_spec("ddr4-3200"))
    t = m.transfer(4096, write=False)
    assert m.cycles(t.time_ns, 700e6) == math.ceil(t.time_ns * 0.7 - 1e-9)


def test_reference_accepts_request_tuples_and_counts_bytes():
    spec = dram_spec("lpddr4-3200")
    r = DramReference(spec).run([DramRequest(0, 100, False), (4096, 50, True), (100, 28, False)])
    assert (r.read_bytes, r.write_bytes) == (128, 50)
    assert r.bursts == 4 + 2 + 1 and r.row_hits == r.bursts - r.activations


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=_odd_specs(), data=st.data())
def test_event_channel_equals_reference_channel_with_reads_and_writes_mixed(spec, data):
    """One channel's controller with reads and writes interleaved (a transfer is one direction, so the
    read-to-write turnaround and the write-to-read delays bind only here): the event-driven channel equals the
    cycle-stepped one, finish cycle and activations."""
    from sim.hw.dram import _EventChannel, _reference_channel

    n = data.draw(st.integers(1, 60))
    bursts = [(data.draw(st.integers(0, spec.banks - 1)), data.draw(st.integers(0, 3)), data.draw(st.booleans()))
              for _ in range(n)]
    seq = [(b, b % spec.bank_groups, row, w) for b, row, w in bursts]
    prev = data.draw(st.sampled_from([None, False, True]))
    fast = _EventChannel(spec, [s[0] for s in seq], [s[1] for s in seq], [s[2] for s in seq],
                         [s[3] for s in seq], prev).run()
    assert fast == _reference_channel(spec, seq, prev)
