"""DRAM model: presets, mapping, burst-level reference vs fast per-transfer model, bandwidth sanity."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.hw.dram import (
    DRAM_PRESETS,
    DramModel,
    DramReference,
    DramRequest,
    DramSpec,
    _closed_form_cycles,
    _piece_level_cycles,
    _Shape,
    bank_wait_free,
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


def test_mapping_interleaves_channels_then_columns_then_banks_then_rows():
    spec = dram_spec("hbm2", channels=4)  # 32 B bursts, 32 bursts per row, 16 banks
    bb, nb = spec.burst_bytes, spec.bursts_per_row
    assert [map_address(spec, k * bb).channel for k in range(6)] == [0, 1, 2, 3, 0, 1]
    assert map_address(spec, 4 * bb + 5) == (0, 0, 0, 1)  # channel, bank, row, column
    assert map_address(spec, 4 * nb * bb) == (0, 1, 0, 0)  # a full row on every channel later: next bank
    assert map_address(spec, 4 * nb * spec.banks * bb) == (0, 0, 1, 0)  # all banks later: next row


def test_scattered_layout_gives_each_chunk_rows_of_its_own():
    spec = dram_spec("hbm2", channels=8)
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
    """Cycle counts derived by hand from the rules in the module docstring (DDR4-3200AA, tCK 0.625 ns)."""
    spec = dram_spec("ddr4-3200")
    ref = DramReference(spec)
    # PRE at 0, ACT at tRP=22, RD at 44, data 66..70
    assert ref.run([(0, 64, False)]).cycles == 22 + 22 + 22 + 4
    assert ref.run([(0, 128, False)]).cycles == 74  # row hit: back to back
    assert ref.run([(0, 64, False), (64, 64, True)]).cycles == 70 + 2 + 4  # read -> write: tRTW = 2 idle cycles
    # write: data 60..64; read CAS >= 64 + tWTR = 76, data 98..102
    assert ref.run([(0, 64, True), (64, 64, False)]).cycles == 76 + 22 + 4
    # same bank, other row: PRE >= max(ACT 22 + tRAS 52, RD 44 + tRTP 12) = 74, ACT 96, RD 118, end 144
    other_row_same_bank = spec.row_bytes * spec.banks
    r = ref.run([(0, 64, False), (other_row_same_bank, 64, False)])
    assert (r.cycles, r.activations, r.row_hits, r.bursts) == (144, 2, 0, 2)
    # other bank: ACT at 22 + tRRD = 26, data 70..74 right behind the first burst
    assert ref.run([(0, 64, False), (spec.row_bytes, 64, False)]).cycles == 74
    # five activations in five banks: the fifth waits for tFAW after the first (22 + 34 = 56)
    five = ref.run([(i * spec.row_bytes, 64, False) for i in range(5)])
    assert five.cycles == 56 + 22 + 22 + 4 and five.activations == 5
    assert ref.run([(0, 64, False)], prev_write=True).cycles == 70  # turnaround hidden by the row miss
    assert ref.run([]).cycles == 0 and ref.run([(0, 0, True)]).bursts == 0
    assert r.time_ns == pytest.approx(144 * 0.625 * spec.refresh_factor)


def test_turnaround_shows_when_it_exceeds_the_miss_latency():
    spec = dram_spec("ddr4-3200", tWTR=100, tRTW=90)
    m = DramModel(spec)
    assert m.transfer(64, write=False, prev_write=True).time_ns == pytest.approx(
        (100 + 22 + 4) * spec.ns_per_cycle)
    assert m.transfer(64, write=True, prev_write=False).time_ns == pytest.approx((90 + 4) * spec.ns_per_cycle)
    assert m.transfer(64, write=True, prev_write=True).time_ns == pytest.approx((22 + 22 + 16 + 4) * spec.ns_per_cycle)
    for write, prev in ((False, True), (True, False), (True, True), (False, None)):
        _agree(spec, 4000, write=write, prev_write=prev)


# ---------------------------------------------------------------------------- fast model == reference

SIZES = [1, 31, 32, 33, 63, 64, 65, 100, 1000, 1024, 2047, 4096, 8191, 8192, 8193, 12345, 65536]
CHUNKS = [1, 24, 32, 64, 100, 256, 2048]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("channels", [1, 2, 4])
def test_fast_equals_reference_small_stream_grid(kind, channels):
    spec = dram_spec(kind, channels=channels)
    for nbytes in SIZES:
        for write in (False, True):
            for prev in (None, not write):
                _agree(spec, nbytes, write=write, prev_write=prev)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("channels", [1, 3, 8])
def test_fast_equals_reference_small_scattered_grid(kind, channels):
    spec = dram_spec(kind, channels=channels)
    for chunk in (min(c, channels * spec.row_bytes) for c in CHUNKS):
        for nbytes in (1, chunk, 5 * chunk + 3, 20000):
            for write in (False, True):
                _agree(spec, nbytes, write=write, pattern="scattered", chunk_bytes=chunk,
                       prev_write=None if write else True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), channels=st.sampled_from([1, 2, 3, 4, 8, 16]),
       nbytes=st.integers(0, 64 * KiB), write=st.booleans(), prev=st.sampled_from([None, False, True]),
       scattered=st.booleans(), chunk=st.integers(1, 4096))
def test_fast_equals_reference_random_presets(kind, channels, nbytes, write, prev, scattered, chunk):
    spec = dram_spec(kind, channels=channels)
    if scattered:
        _agree(spec, nbytes, write=write, pattern="scattered", chunk_bytes=min(chunk, channels * spec.row_bytes),
               prev_write=prev)
    else:
        _agree(spec, nbytes, write=write, prev_write=prev)


@st.composite
def _odd_specs(draw):
    """Presets with random banks, row sizes and timings: includes bank-bound cases (the fallback path)."""
    kind = draw(st.sampled_from(KINDS))
    base = DRAM_PRESETS[kind]
    over = {"banks": draw(st.sampled_from([1, 2, 3, 4, 8, 16])), "channels": draw(st.sampled_from([1, 2, 3, 4])),
            "row_bytes": base["bus_bits"] // 8 * base["burst_length"] * draw(st.sampled_from([1, 2, 3, 8, 64]))}
    for name in ("tCL", "tCWL", "tRCD", "tRP", "tRAS", "tRRD", "tFAW", "tWTR", "tRTW", "tCCD", "tRTP", "tWR"):
        if draw(st.booleans()):
            over[name] = draw(st.integers(1 if name in ("tCL", "tCWL", "tCCD") else 0, 2 * base[name] + 3))
    return dram_spec(kind, **over)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=_odd_specs(), nbytes=st.integers(1, 16 * KiB), write=st.booleans(),
       prev=st.sampled_from([None, False, True]), scattered=st.booleans(), chunk=st.integers(1, 512))
def test_fast_equals_reference_random_specs(spec, nbytes, write, prev, scattered, chunk):
    if scattered:
        _agree(spec, nbytes, write=write, pattern="scattered", chunk_bytes=min(chunk, spec.channels * spec.row_bytes),
               prev_write=prev)
    else:
        _agree(spec, nbytes, write=write, prev_write=prev)


@settings(max_examples=200, deadline=None)
@given(spec=_odd_specs(), n=st.integers(1, 300), q=st.integers(1, 130), q_last_frac=st.floats(0, 1),
       write=st.booleans(), prev=st.sampled_from([None, False, True]))
def test_bank_wait_free_is_sufficient(spec, n, q, q_last_frac, write, prev):
    """When the O(1) test vouches for the closed form, it equals the exact piece-level schedule;
    the closed form is never above it (it is a relaxation)."""
    shape = _Shape(n, q, 1 + int(q_last_frac * (q - 1)))
    exact = _piece_level_cycles(spec, shape, write, prev)
    closed = _closed_form_cycles(spec, shape, write, prev)
    assert closed <= exact
    if bank_wait_free(spec, n, q, write=write, prev_write=prev):
        assert closed == exact


@pytest.mark.parametrize("kind", KINDS)
def test_presets_always_take_the_o1_closed_form(kind):
    spec = dram_spec(kind)
    for q in range(1, spec.bursts_per_row + 1):
        for write in (False, True):
            for prev in (None, False, True):
                assert bank_wait_free(spec, 10**9, q, write=write, prev_write=prev)
    m = DramModel(spec)
    assert m.closed_form_applies(2**40, write=False)  # a TiB stream: one O(1) call
    assert m.transfer(2**40, write=False).bursts == 2**40 // spec.burst_bytes


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


@pytest.mark.parametrize("kind, min_eff", [("ddr4-3200", 0.85), ("lpddr4-3200", 0.85), ("hbm2", 0.85)])
def test_sustained_streaming_bandwidth_below_peak_and_close_to_it(kind, min_eff):
    spec = dram_spec(kind)
    nbytes = 4 * MiB
    ref = DramReference(spec).run(stream_requests(spec, nbytes, write=False))
    m = DramModel(spec)
    assert m.transfer(nbytes, write=False) == ref.transfer()
    bw = nbytes / (ref.time_ns * 1e-9)
    assert bw <= spec.peak_bytes_per_s
    assert bw >= min_eff * spec.peak_bytes_per_s
    assert ref.activations == nbytes // spec.row_bytes
    sustained = m.streaming_bytes_per_s()
    assert bw <= sustained <= spec.peak_bytes_per_s
    assert bw == pytest.approx(sustained, rel=5e-3)  # 4 MiB is long enough to amortise the first miss


@pytest.mark.parametrize("kind", KINDS)
def test_scattered_64b_is_much_less_efficient(kind):
    spec = dram_spec(kind)
    m = DramModel(spec)
    nbytes = 1 * MiB
    stream = m.transfer(nbytes, write=False)
    scattered = m.transfer(nbytes, write=False, pattern="scattered", chunk_bytes=64)
    ref = DramReference(spec).run(scattered_requests(spec, nbytes, 64, write=False))
    assert scattered == ref.transfer()
    assert scattered.activations == nbytes // 64 * min(-(-64 // spec.burst_bytes), spec.channels)
    assert scattered.time_ns >= 1.8 * stream.time_ns
    assert nbytes / (scattered.time_ns * 1e-9) <= 0.5 * spec.peak_bytes_per_s


@settings(max_examples=100, deadline=None)
@given(spec=_odd_specs(), rows=st.integers(1, 200))
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
