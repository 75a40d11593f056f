"""Off-chip DRAM: presets, address mapping, a burst-level reference model and a fast per-transfer model.

Units: DRAM timings are integers in DRAM clock cycles (``tCK``; data moves on both clock edges, so a
burst of ``burst_length`` beats occupies ``burst_length / 2`` cycles of the data bus); times returned to
callers are nanoseconds; sizes are bytes. Nothing here knows energies ("counts, then prices"): results
carry bursts, row activations and bytes, which ``cost/`` prices.

Address mapping (RoBaCoCh, one for both models): a byte address ``a`` lies in global burst
``k = a // burst_bytes``. Consecutive bursts interleave across channels (``channel = k % channels``);
within a channel, local burst ``j = k // channels`` walks the columns of one row
(``column = j % bursts_per_row``), then moves to the next bank (``bank = (j // bursts_per_row) % banks``),
then to the next row (``row = j // (bursts_per_row * banks)``).

Controller model (the burst-level reference, :class:`DramReference`). One controller per channel, open
page, requests served in order, split into bursts. The channel's command queue holds the whole request
list, so the row commands of a burst (PRE, ACT) are issued as early as the bank's own timing and the
channel's activation-rate limits allow (bank-level parallelism: the next rows are opened while earlier
bursts still transfer); column commands (RD/WR) are issued in order. Per burst:

- row hit (bank holds the row): ``CAS >= ACT + tRCD`` of that row;
- row miss: ``PRE = max(ACT_prev + tRAS, last RD + tRTP, last WR data end + tWR)`` of that bank,
  ``ACT = max(PRE + tRP, previous ACT + tRRD, fourth-previous ACT + tFAW)``, ``CAS >= ACT + tRCD``;
- ``CAS >= previous CAS + tCCD``; data occupies ``[CAS + lat, CAS + lat + burst_length/2)`` with
  ``lat = tCL`` (read) or ``tCWL`` (write), after the previous burst's data (one data bus per channel);
- turnaround: a write's data starts ``>= tRTW`` cycles after the previous read data ended; a read's
  CAS is ``>= tWTR`` cycles after the previous write data ended.

Start state (both models): at cycle 0 every bank holds some other row open and may be precharged at
once; the data bus is idle, or (``prev_write`` given) carried data in that direction until cycle 0. So
the first access of a transfer is a row miss (``tRP + tRCD + tCL``), as after unrelated earlier traffic.

Not modelled (stated): bank groups (we use ``tCCD_S``/``tRRD_S``, i.e. assume the controller alternates
bank groups), command-bus conflicts, ranks, per-bank refresh, power-down. Refresh is a uniform time
derating: every time is multiplied by ``tREFI / (tREFI - tRFC)`` (the long-run share of time a channel
is refreshing), in both models, instead of blocking the channel at fixed instants.

Transfers (fast model, :class:`DramModel`), both from the start state above:

- ``stream``: one contiguous range starting at a row boundary (address 0); channel 0 carries the most
  bursts, ``m0 = ceil(ceil(nbytes / burst_bytes) / channels)``, in rows of ``bursts_per_row``.
- ``scattered``: ``nbytes`` made of chunks of ``chunk_bytes`` (the last may be shorter), each chunk
  starting on a burst boundary in a row no other chunk uses (a row miss, and a partial last burst).
  Layout: a chunk of ``b = ceil(chunk_bytes / burst_bytes)`` bursts gets a footprint of ``b'`` bursts,
  ``b'`` = the smallest divisor of ``channels`` that is ``>= b`` (``b <= channels``; then
  ``G = channels / b'`` chunks share one channel stripe, side by side) or ``channels * ceil(b /
  channels)`` (``b > channels``, ``G = 1``); chunk ``i`` starts at channel ``(i % G) * b'`` in row slot
  ``n = i // G`` (bank ``n % banks``, row ``n // banks``). :func:`scattered_requests` builds exactly
  these addresses. A chunk may not exceed one row on every channel (``channels * row_bytes``).

Closed form (exact for the reference's schedule of those request lists, see ``tests/test_hw_dram.py``):
on channel 0 the transfer is ``N`` row pieces (rows of a stream, or chunk pieces), piece ``n`` of
``Q`` bursts (the last of ``Q_last``), ``T0 = (N-1) Q + Q_last`` bursts; with ``P = max(burst_length/2,
tCCD)``, ``F = max(tFAW, 4 tRRD)``, the activations follow ``a_n = tRP + floor(n/4) F + (n % 4) tRRD``
and the last data beat ends at

    max( X0 + (T0-1) P,  max_n [a_n + tRCD + lat + (T0 - 1 - n Q) P] ) + burst_length/2

where ``X0`` is the turnaround bound on the first data beat (``tWTR + tCL`` for a read after writes,
``tRTW`` for a write after reads, else 0). The inner maximum is taken over at most 8 candidate ``n``
(the bracket is linear in ``floor(n/4)`` for fixed ``n % 4``), so a call is O(1). Channel 0 carries the
most bursts per piece, so it finishes last. The formula assumes that no activation waits for its bank
(the bank's previous row is done with tRAS, tRTP/tWR and tRP by then); :func:`bank_wait_free` is an
O(1) sufficient test of that, and it holds for every transfer shape of the three presets (tested). When
it fails (few banks, tiny rows, long tRAS) the model steps the same schedule per row piece instead
(exact, O(pieces)), so the fast model equals the reference in every case; the tests find no difference.
With the start state above the turnaround ``X0`` is hidden behind the first row miss for the presets
(``tWTR < tRP + tRCD``); it shows in the reference on row hits (mixed request lists) and in the fast
model only for timings where it exceeds the miss latency.

Public API: :class:`DramSpec`, :data:`DRAM_PRESETS`, :func:`dram_spec`, :func:`map_address`,
:class:`DramReference` (``run(requests, prev_write=None) -> DramReferenceResult``), :class:`DramModel`
(``transfer(...) -> DramTransfer``, ``streaming_bytes_per_s()``, ``cycles(time_ns, clock_hz)``),
:func:`to_cycles`, the canonical layouts :func:`stream_requests`, :func:`scattered_requests`,
:func:`requests_for`, and :func:`bank_wait_free`, :func:`channel_finish_cycles`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Literal, NamedTuple

Pattern = Literal["stream", "scattered"]


@dataclass(frozen=True)
class DramSpec:
    """One DRAM system: ``channels`` independent channels of one device kind.

    Timings are integers in DRAM clock cycles (``tck_s``). Build one with :func:`dram_spec`.
    """

    kind: str
    """Preset name, e.g. ``ddr4-3200``."""
    channels: int
    """Independent channels (each its own data bus, banks and controller queue)."""
    bus_bits: int
    """Data bus width of one channel in bits."""
    data_rate_mts: float
    """Data rate in mega-transfers per second per pin (twice the clock: double data rate)."""
    burst_length: int
    """Beats per burst (BL); one burst moves ``bus_bits / 8 * burst_length`` bytes in ``BL / 2`` cycles."""
    banks: int
    """Banks per channel (all bank groups together)."""
    row_bytes: int
    """Row-buffer (page) size of one channel in bytes: the bytes one activation opens."""
    tCL: int
    """Read latency: RD command to first data beat, cycles."""
    tCWL: int
    """Write latency: WR command to first data beat, cycles."""
    tRCD: int
    """ACT to RD/WR of the same bank, cycles."""
    tRP: int
    """PRE to ACT of the same bank, cycles."""
    tRAS: int
    """ACT to PRE of the same bank (minimum row-open time), cycles."""
    tRRD: int
    """ACT to ACT of different banks of one channel, cycles (tRRD_S)."""
    tFAW: int
    """Window that may hold at most four ACTs of one channel, cycles."""
    tWTR: int
    """End of write data to the next RD command, cycles (write-to-read turnaround)."""
    tRTW: int
    """Idle data-bus cycles between the end of read data and the start of write data (read-to-write turnaround)."""
    tCCD: int
    """RD to RD (WR to WR) command spacing, cycles (tCCD_S)."""
    tRTP: int
    """RD to PRE of the same bank, cycles."""
    tWR: int
    """End of write data to PRE of the same bank (write recovery), cycles."""
    tRFC: int
    """All-bank refresh duration, cycles (used only as the refresh derating)."""
    tREFI: int
    """Refresh interval, cycles (0: no refresh derating)."""

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not self.kind:
            raise ValueError(f"DramSpec.kind must be a non-empty string, got {self.kind!r}")
        _check_int(self.channels, "channels", 1)
        _check_int(self.bus_bits, "bus_bits", 8)
        if self.bus_bits % 8:
            raise ValueError(f"DramSpec.bus_bits must be a multiple of 8, got {self.bus_bits}")
        if not isinstance(self.data_rate_mts, (int, float)) or isinstance(self.data_rate_mts, bool) \
                or not math.isfinite(self.data_rate_mts) or self.data_rate_mts <= 0:
            raise ValueError(f"DramSpec.data_rate_mts must be a positive number, got {self.data_rate_mts!r}")
        _check_int(self.burst_length, "burst_length", 2)
        if self.burst_length % 2:
            raise ValueError(f"DramSpec.burst_length must be even (double data rate), got {self.burst_length}")
        _check_int(self.banks, "banks", 1)
        _check_int(self.row_bytes, "row_bytes", 1)
        if self.row_bytes % self.burst_bytes:
            raise ValueError(f"DramSpec.row_bytes ({self.row_bytes}) must be a multiple of the burst size "
                             f"({self.burst_bytes} B = bus_bits/8 * burst_length)")
        for name in _TIMINGS:
            _check_int(getattr(self, name), name, 1 if name in ("tCL", "tCWL", "tCCD") else 0)
        if self.tREFI and self.tRFC >= self.tREFI:
            raise ValueError(f"DramSpec.tRFC ({self.tRFC}) must be smaller than tREFI ({self.tREFI})")

    @property
    def tck_s(self) -> float:
        """DRAM clock period in seconds (two data beats per clock)."""
        return 2.0 / (self.data_rate_mts * 1e6)

    @property
    def tck_ns(self) -> float:
        """DRAM clock period in nanoseconds."""
        return 2e3 / self.data_rate_mts

    @property
    def burst_bytes(self) -> int:
        """Bytes one burst moves on one channel."""
        return self.bus_bits // 8 * self.burst_length

    @property
    def burst_cycles(self) -> int:
        """Data-bus cycles one burst occupies (``burst_length / 2``)."""
        return self.burst_length // 2

    @property
    def bursts_per_row(self) -> int:
        """Bursts in one row of one channel."""
        return self.row_bytes // self.burst_bytes

    @property
    def peak_bytes_per_s(self) -> float:
        """Peak bandwidth of all channels in bytes per second: ``channels * bus_bits/8 * data_rate``."""
        return self.channels * self.bus_bits / 8 * self.data_rate_mts * 1e6

    @property
    def ns_per_cycle(self) -> float:
        """Nanoseconds per DRAM cycle including the refresh derating: ``tck_ns * refresh_factor``."""
        return self.tck_ns * self.refresh_factor

    @property
    def refresh_factor(self) -> float:
        """Time derating for refresh, ``tREFI / (tREFI - tRFC)`` (1.0 without refresh); dimensionless."""
        return self.tREFI / (self.tREFI - self.tRFC) if self.tREFI else 1.0


_TIMINGS = ("tCL", "tCWL", "tRCD", "tRP", "tRAS", "tRRD", "tFAW", "tWTR", "tRTW", "tCCD", "tRTP", "tWR",
            "tRFC", "tREFI")


def _check_int(value: object, name: str, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"DramSpec.{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"DramSpec.{name} must be >= {low}, got {value}")


# Presets. Timings in DRAM clock cycles; each value's source is beside it.
#   [R2-DDR4]   Ramulator2 src/dram/impl/DDR4.cpp, timing preset "DDR4_3200AA", org "DDR4_8Gb_x8"
#   [D3-DDR4]   DRAMsim3 configs/DDR4_8Gb_x8_3200.ini
#   [R1-LP4]    Ramulator src/LPDDR4.h, speed "LPDDR4_3200", org "LPDDR4_8Gb_x16" (JESD209-4 core timings)
#   [D3-HBM2]   DRAMsim3 configs/HBM2_8Gb_x128.ini and src/configuration.cc (HBM column = 2x prefetch)
#   [PG313]     AMD PG313 "HBM Topology": 8 x 128-bit channels per stack, each two 64-bit pseudo-channels, BL4
DRAM_PRESETS: dict[str, dict] = {
    "ddr4-3200": dict(  # JEDEC JESD79-4 DDR4-3200AA (22-22-22), 64-bit channel of eight x8 8 Gb devices
        channels=1,            # assumed default: one 64-bit channel (DIMM); 25.6 GB/s
        bus_bits=64,           # one DIMM channel, 8 devices x 8 DQ [D3-DDR4 bus_width=64]
        data_rate_mts=3200,    # [R2-DDR4 rate 3200, tCK_ps 625]
        burst_length=8,        # BL8 [D3-DDR4 BL=8; R2-DDR4 nBL=4 cycles]
        banks=16,              # 4 bank groups x 4 banks [R2-DDR4 org DDR4_8Gb_x8; D3-DDR4]
        row_bytes=8192,        # 1024 columns x 8 bit = 1 KiB per device x 8 devices [R2-DDR4 org; D3-DDR4]
        tCL=22,                # [R2-DDR4 nCL; D3-DDR4 CL]
        tCWL=16,               # [R2-DDR4 nCWL; D3-DDR4 CWL]
        tRCD=22,               # [R2-DDR4 nRCD; D3-DDR4 tRCD]
        tRP=22,                # [R2-DDR4 nRP; D3-DDR4 tRP]
        tRAS=52,               # [R2-DDR4 nRAS; D3-DDR4 tRAS]
        tRRD=4,                # tRRD_S, x8 at 3200 [R2-DDR4 nRRDS table (JESD79-4C tables 169-170); D3-DDR4]
        tFAW=34,               # x8 at 3200 [R2-DDR4 nFAW table; D3-DDR4 tFAW]
        tWTR=12,               # tWTR_L (same bank group; conservative, bank groups not modelled) [R2-DDR4; D3-DDR4]
        tRTW=2,                # RD->WR = CL + BL/2 + 2 - CWL [R2-DDR4]; tRPRE + tRTRS = 1 + 1 [D3-DDR4]
        tCCD=4,                # tCCD_S [R2-DDR4 nCCDS; D3-DDR4]
        tRTP=12,               # [R2-DDR4 nRTP; D3-DDR4]
        tWR=24,                # [R2-DDR4 nWR; D3-DDR4]
        tRFC=560,              # tRFC1 = 350 ns for 8 Gb [D3-DDR4 tRFC]
        tREFI=12480,           # 7.8 us [D3-DDR4 tREFI]
    ),
    "lpddr4-3200": dict(  # JEDEC JESD209-4 LPDDR4-3200, x16 channels
        channels=4,            # assumed default: four x16 channels (a x64 package); 25.6 GB/s
        bus_bits=16,           # one LPDDR4 channel is x16 [R1-LP4 org dq=16]
        data_rate_mts=3200,    # [R1-LP4 rate 3200, tCK 0.625 ns]
        burst_length=16,       # BL16 (16n prefetch) [R1-LP4 nBL=8 cycles, prefetch_size=16]
        banks=8,               # [R1-LP4 org: 8 banks]
        row_bytes=2048,        # 1024 columns x 16 bit [R1-LP4 org LPDDR4_8Gb_x16]
        tCL=35,                # nCL 32 (29+3) + nDQSCK 3: RD to first data [R1-LP4 read_latency - nBL]
        tCWL=18,               # nCWL 15+3 [R1-LP4]
        tRCD=29,               # [R1-LP4 nRCD]
        tRP=27,                # tRPpb 29-2 [R1-LP4 nRPpb]
        tRAS=68,               # [R1-LP4 nRAS]
        tRRD=16,               # [R1-LP4 nRRD]
        tFAW=64,               # [R1-LP4 nFAW]
        tWTR=16,               # [R1-LP4 nWTR]
        tRTW=1,                # RD->WR = CL + BL + DQSCK + 1 - CWL, i.e. 1 idle cycle after read data [R1-LP4]
        tCCD=8,                # [R1-LP4 nCCD]
        tRTP=14,               # 12+2 [R1-LP4 nRTP]
        tWR=28,                # 29-1 [R1-LP4 nWR]
        tRFC=288,              # tRFCab for 8 Gb at 3200 [R1-LP4 RFCAB_TABLE]
        tREFI=6247,            # 3.9 us, 1x refresh at 3200 [R1-LP4 REFI_TABLE]
    ),
    "hbm2": dict(  # JEDEC JESD235 HBM2, 2 Gb/s/pin, pseudo-channel mode; one stack = 16 pseudo-channels
        channels=16,           # one stack: 8 channels x 2 pseudo-channels [PG313]; 256 GB/s
        bus_bits=64,           # a pseudo-channel is 64 bit [PG313]
        data_rate_mts=2000,    # tCK = 1 ns, DDR [D3-HBM2 tCK=1]
        burst_length=4,        # BL4 in pseudo-channel mode [PG313; D3-HBM2 BL=4]
        banks=16,              # 4 bank groups x 4 banks [D3-HBM2; Ramulator2 HBM2.cpp org HBM2_8Gb per pseudo-channel]
        row_bytes=1024,        # [derived] half the 2 KiB legacy-mode page of a 128-bit channel
        #                        [D3-HBM2: 64 columns x 2 (prefetch) x 128 bit] per 64-bit pseudo-channel
        tCL=14,                # [D3-HBM2 CL]
        tCWL=4,                # [D3-HBM2 CWL]
        tRCD=14,               # tRCDRD = tRCDWR [D3-HBM2]
        tRP=14,                # [D3-HBM2]
        tRAS=34,               # [D3-HBM2]
        tRRD=4,                # tRRD_S [D3-HBM2]
        tFAW=30,               # [D3-HBM2]
        tWTR=8,                # tWTR_L (conservative) [D3-HBM2]
        tRTW=3,                # tRPRE 1 + tRTRS 2 (DRAMsim3 default) [D3-HBM2 timing]; Ramulator2 HBM2 nRTW=3
        tCCD=1,                # tCCD_S; the 2-cycle burst dominates [D3-HBM2]
        tRTP=6,                # tRTP_L (conservative) [D3-HBM2]
        tWR=16,                # [D3-HBM2]
        tRFC=260,              # [D3-HBM2 tRFC]
        tREFI=3900,            # 3.9 us [D3-HBM2 tREFI]
    ),
}


DRAM_KINDS: tuple[str, ...] = tuple(DRAM_PRESETS)
"""The DRAM presets' names (``dram.kind``)."""


def dram_spec(kind: str, channels: int | None = None, **overrides: object) -> DramSpec:
    """Build a :class:`DramSpec` from a preset.

    Args:
        kind: preset name (a key of :data:`DRAM_PRESETS`, case-insensitive).
        channels: number of channels (``None``: the preset's default).
        **overrides: any other :class:`DramSpec` field (timings in cycles, sizes in bytes).

    Raises:
        ValueError: unknown kind or field, or an invalid value (one-line message).
    """
    key = kind.lower() if isinstance(kind, str) else kind
    if key not in DRAM_PRESETS:
        raise ValueError(f"unknown DRAM kind {kind!r}; valid kinds: {', '.join(sorted(DRAM_PRESETS))}")
    valid = {f.name for f in fields(DramSpec)} - {"kind", "channels"}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(f"unknown DramSpec field(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
    params = dict(DRAM_PRESETS[key])
    params.update(overrides)
    if channels is not None:
        params["channels"] = channels
    return DramSpec(kind=key, **params)


class DramAddress(NamedTuple):
    """Where one byte address lives (RoBaCoCh mapping, see the module docstring)."""

    channel: int
    bank: int
    row: int
    column: int  # in bursts within the row


def map_address(spec: DramSpec, address: int) -> DramAddress:
    """Channel, bank, row and column (in bursts) of a byte ``address`` (RoBaCoCh)."""
    k = address // spec.burst_bytes
    j, channel = divmod(k, spec.channels)
    slot, column = divmod(j, spec.bursts_per_row)
    row, bank = divmod(slot, spec.banks)
    return DramAddress(channel, bank, row, column)


class DramRequest(NamedTuple):
    """One request for the reference model: ``nbytes`` bytes from byte ``address``; ``write`` or read."""

    address: int
    nbytes: int
    write: bool


@dataclass(frozen=True)
class DramTransfer:
    """What one transfer costs: its time and the counts ``cost/`` prices.

    Bytes moved on the data bus are ``bursts * spec.burst_bytes`` (>= the useful bytes).
    """

    time_ns: float
    """Time from the start of the transfer to its last data beat, ns (refresh-derated)."""
    bursts: int
    """Bursts on the data buses (all channels)."""
    activations: int
    """Row activations (ACT; each paired with a PRE), all channels."""
    read_bytes: int
    """Useful bytes read."""
    write_bytes: int
    """Useful bytes written."""


@dataclass(frozen=True)
class DramReferenceResult:
    """Outcome of :meth:`DramReference.run`."""

    cycles: int
    """DRAM cycles from 0 to the end of the last data beat (before refresh derating)."""
    time_ns: float
    """``cycles * tCK * refresh_factor``, ns."""
    bursts: int
    """Bursts on the data buses."""
    activations: int
    """Row activations."""
    row_hits: int
    """Bursts that found their row open (``bursts - activations``)."""
    read_bytes: int
    """Useful bytes read."""
    write_bytes: int
    """Useful bytes written."""

    def transfer(self) -> DramTransfer:
        """The same outcome as a :class:`DramTransfer` (to compare with :class:`DramModel`)."""
        return DramTransfer(self.time_ns, self.bursts, self.activations, self.read_bytes, self.write_bytes)


def _check_bytes(nbytes: object, name: str = "nbytes") -> int:
    if not isinstance(nbytes, int) or isinstance(nbytes, bool):
        raise ValueError(f"{name} must be an integer number of bytes, got {nbytes!r}")
    if nbytes < 0:
        raise ValueError(f"{name} must be >= 0, got {nbytes}")
    return nbytes


# ---------------------------------------------------------------------------------------------------
# Canonical layouts (the request lists the fast model's closed form describes)
# ---------------------------------------------------------------------------------------------------


def stream_requests(spec: DramSpec, nbytes: int, *, write: bool) -> list[DramRequest]:
    """The request list of a ``stream`` transfer: one range of ``nbytes`` from address 0 (a row boundary)."""
    _check_bytes(nbytes)
    return [DramRequest(0, nbytes, write)] if nbytes else []


def _footprint(spec: DramSpec, b: int) -> tuple[int, int]:
    """(footprint b' in bursts, chunks per row slot G) of a scattered chunk of ``b`` bursts."""
    c = spec.channels
    if b > c:
        return c * -(-b // c), 1
    bp = next(d for d in range(b, c + 1) if c % d == 0)
    return bp, c // bp


def _check_chunk(spec: DramSpec, chunk_bytes: object) -> int:
    if not isinstance(chunk_bytes, int) or isinstance(chunk_bytes, bool) or chunk_bytes <= 0:
        raise ValueError(f"chunk_bytes must be a positive integer for pattern='scattered', got {chunk_bytes!r}")
    limit = spec.channels * spec.row_bytes
    if chunk_bytes > limit:
        raise ValueError(f"chunk_bytes={chunk_bytes} exceeds one row on every channel ({limit} B); "
                         "a chunk that large is a stream: use pattern='stream'")
    return chunk_bytes


def scattered_requests(spec: DramSpec, nbytes: int, chunk_bytes: int, *, write: bool) -> list[DramRequest]:
    """The request list of a ``scattered`` transfer (layout in the module docstring): one request per chunk."""
    _check_bytes(nbytes)
    _check_chunk(spec, chunk_bytes)
    bb = spec.burst_bytes
    b = -(-chunk_bytes // bb)
    bp, g = _footprint(spec, b)
    out = []
    for i, start in enumerate(range(0, nbytes, chunk_bytes)):
        slot, lane = divmod(i, g)
        address = bb * (spec.channels * slot * spec.bursts_per_row + lane * bp)
        out.append(DramRequest(address, min(chunk_bytes, nbytes - start), write))
    return out


# ---------------------------------------------------------------------------------------------------
# Burst-level reference
# ---------------------------------------------------------------------------------------------------


class _Bank:
    __slots__ = ("cas_ready", "pre_ready", "row")

    def __init__(self) -> None:
        self.row = -1  # some row no request uses: the first access is a row miss
        self.cas_ready = 0
        self.pre_ready = 0  # the start state allows PRE at cycle 0


class _Channel:
    __slots__ = ("acts", "banks", "bus_end", "last_cas", "last_write")

    def __init__(self, banks: int, prev_write: bool | None) -> None:
        self.banks = [_Bank() for _ in range(banks)]
        self.bus_end = 0
        self.last_write = prev_write
        self.last_cas: int | None = None
        self.acts: deque[int] = deque(maxlen=4)


class DramReference:
    """Burst-level reference model: simulates the controller of the module docstring burst by burst.

    Slow (a Python loop per burst) and meant for tests: the fast :class:`DramModel` must agree with it.
    """

    def __init__(self, spec: DramSpec) -> None:
        self.spec = spec

    def run(self, requests: Iterable[DramRequest | tuple[int, int, bool]], *,
            prev_write: bool | None = None) -> DramReferenceResult:
        """Serve ``requests`` in order from the start state; return the finish time and counts.

        Args:
            requests: ``(address, nbytes, write)`` triples; byte addresses and sizes.
            prev_write: direction of the data that occupied every channel's bus until cycle 0
                (``None``: idle bus, no turnaround).

        Returns:
            :class:`DramReferenceResult`: finish in DRAM cycles and ns (refresh-derated), and the counts.

        Raises:
            ValueError: a negative or non-integer address or size.
        """
        s = self.spec
        bb, nb, tbl = s.burst_bytes, s.bursts_per_row, s.burst_cycles
        chans = [_Channel(s.banks, prev_write) for _ in range(s.channels)]
        bursts = acts = hits = rd = wr = 0
        for req in requests:
            address, nbytes, write = req
            _check_bytes(address, "address")
            _check_bytes(nbytes)
            if nbytes == 0:
                continue
            write = bool(write)
            if write:
                wr += nbytes
            else:
                rd += nbytes
            lat = s.tCWL if write else s.tCL
            for k in range(address // bb, (address + nbytes - 1) // bb + 1):
                j, c = divmod(k, s.channels)
                slot = j // nb
                row, bank_i = divmod(slot, s.banks)
                ch = chans[c]
                bank = ch.banks[bank_i]
                bursts += 1
                if bank.row == row:
                    hits += 1
                else:
                    act = bank.pre_ready + s.tRP
                    if ch.acts:
                        act = max(act, ch.acts[-1] + s.tRRD)
                        if len(ch.acts) == 4:
                            act = max(act, ch.acts[0] + s.tFAW)
                    ch.acts.append(act)
                    acts += 1
                    bank.row = row
                    bank.cas_ready = act + s.tRCD
                    bank.pre_ready = act + s.tRAS
                cas = bank.cas_ready
                if ch.last_cas is not None:
                    cas = max(cas, ch.last_cas + s.tCCD)
                data_min = ch.bus_end
                if ch.last_write is not None and ch.last_write != write:
                    if write:
                        data_min += s.tRTW
                    else:
                        cas = max(cas, ch.bus_end + s.tWTR)
                cas = max(cas, data_min - lat, 0)
                end = cas + lat + tbl
                ch.bus_end, ch.last_write, ch.last_cas = end, write, cas
                bank.pre_ready = max(bank.pre_ready, end + s.tWR if write else cas + s.tRTP)
        cycles = max((ch.bus_end for ch in chans), default=0) if bursts else 0
        return DramReferenceResult(cycles, cycles * s.ns_per_cycle, bursts, acts, hits, rd, wr)


# ---------------------------------------------------------------------------------------------------
# Fast per-transfer model
# ---------------------------------------------------------------------------------------------------


def _chain(length: int, f: int, t_rrd: int) -> int:
    """W(L): the longest tRRD/tFAW chain over ``length`` activations, ``floor(L/4) F + (L % 4) tRRD`` cycles."""
    return (length // 4) * f + (length % 4) * t_rrd


def _max_piece_term(n_pieces: int, q: int, p: int, f: int, t_rrd: int) -> int:
    """``max_n [W(n) - n q p]`` over ``0 <= n < n_pieces`` (exact, from at most 8 candidates).

    For fixed ``n % 4`` the bracket is linear in ``n // 4``, so its maximum is at the first or the last
    ``n`` of that residue class.
    """
    last = n_pieces - 1
    best = 0  # n = 0
    for k in range(min(4, n_pieces)):
        for n in (k, k + 4 * ((last - k) // 4)):
            best = max(best, _chain(n, f, t_rrd) - n * q * p)
    return best


class _Shape(NamedTuple):
    """Channel 0's share of a transfer: ``n_pieces`` row pieces of ``q`` bursts, the last of ``q_last``."""

    n_pieces: int
    q: int
    q_last: int


def _turnaround_bound(spec: DramSpec, write: bool, prev_write: bool | None) -> int:
    """X0: earliest first data beat allowed by the bus turnaround, cycles."""
    if prev_write is None or prev_write == write:
        return 0
    return spec.tRTW if write else spec.tWTR + spec.tCL


def _closed_form_cycles(spec: DramSpec, shape: _Shape, write: bool, prev_write: bool | None) -> int:
    s = spec
    n, q, q_last = shape
    p = max(s.burst_cycles, s.tCCD)
    f = max(s.tFAW, 4 * s.tRRD)
    lat = s.tCWL if write else s.tCL
    t0 = (n - 1) * q + q_last
    inner = s.tRP + s.tRCD + lat + (t0 - 1) * p + _max_piece_term(n, q, p, f, s.tRRD)
    return max(_turnaround_bound(s, write, prev_write) + (t0 - 1) * p, inner) + s.burst_cycles


def bank_wait_free(spec: DramSpec, n_pieces: int, q: int, *, write: bool, prev_write: bool | None = None) -> bool:
    """Sufficient condition for the closed form to be exact: no activation waits for its bank.

    Re-opening bank ``m % banks`` for piece ``m`` needs ``Z = max(tRAS + tRP, tRP + tRCD + (q-1) P + X)``
    cycles after the bank's previous piece (``X = tRTP`` after reads, ``tCWL + BL/2 + tWR`` after
    writes). Between the closed form's first data beats of pieces ``m - banks`` and ``n >= m`` there are
    always ``>= (n - m + banks) q P`` cycles (the bus) and, in the activation-bound case ``4 q P < F``,
    ``>= W(n - m + banks) - D0`` (the activations; ``D0`` bounds how far the bus runs behind them), while
    a bank wait could propagate ``W(n - m)`` along the activation chain. So it suffices that
    ``banks * q * P >= Z`` when ``4 q P >= F``, or ``W(banks) >= Z + D0`` when ``4 q P < F``. With at
    most ``banks`` pieces no bank is reused at all.
    """
    s = spec
    if n_pieces <= s.banks:
        return True
    p = max(s.burst_cycles, s.tCCD)
    f = max(s.tFAW, 4 * s.tRRD)
    lat = s.tCWL if write else s.tCL
    x = s.tCWL + s.burst_cycles + s.tWR if write else s.tRTP
    z = max(s.tRAS + s.tRP, s.tRP + s.tRCD + (q - 1) * p + x)
    if 4 * q * p >= f:
        return s.banks * q * p >= z
    d0 = 3 * max(0, q * p - s.tRRD) + max(0, _turnaround_bound(s, write, prev_write) - s.tRP - s.tRCD - lat)
    return _chain(s.banks, f, s.tRRD) >= z + d0


def _piece_level_cycles(spec: DramSpec, shape: _Shape, write: bool, prev_write: bool | None) -> int:
    """The reference's schedule of channel 0, stepped per row piece instead of per burst (exact, O(pieces)).

    Used only when :func:`bank_wait_free` cannot vouch for the closed form.
    """
    s = spec
    n, q, q_last = shape
    p = max(s.burst_cycles, s.tCCD)
    lat = s.tCWL if write else s.tCL
    x = s.tCWL + s.burst_cycles + s.tWR if write else s.tRTP
    pre_ready = [0] * s.banks
    acts: deque[int] = deque(maxlen=4)
    data_free = _turnaround_bound(s, write, prev_write)  # earliest start of the next data beat
    end = 0
    for i in range(n):
        bank = i % s.banks
        act = pre_ready[bank] + s.tRP
        if acts:
            act = max(act, acts[-1] + s.tRRD)
            if len(acts) == 4:
                act = max(act, acts[0] + s.tFAW)
        acts.append(act)
        first = max(act + s.tRCD + lat, data_free)
        last = first + ((q if i < n - 1 else q_last) - 1) * p
        data_free = last + p
        end = last + s.burst_cycles
        pre_ready[bank] = max(act + s.tRAS, last - lat + x)
    return end


def channel_finish_cycles(spec: DramSpec, n_pieces: int, q: int, q_last: int, *, write: bool,
                          prev_write: bool | None = None) -> int:
    """Cycle at which channel 0's last data beat ends, from the start state (module docstring).

    The closed form when :func:`bank_wait_free` holds (O(1)), else the exact piece-level recurrence.

    Args:
        n_pieces: row pieces on the channel (each needs one activation), ``>= 1``.
        q: bursts in each piece but the last; ``q_last``: bursts in the last piece (``1 <= q_last <= q``).
        write: direction of the transfer; ``prev_write``: direction of the bus before cycle 0.
    """
    shape = _Shape(n_pieces, q, q_last)
    if bank_wait_free(spec, n_pieces, q, write=write, prev_write=prev_write):
        return _closed_form_cycles(spec, shape, write, prev_write)
    return _piece_level_cycles(spec, shape, write, prev_write)


class DramModel:
    """Fast per-transfer DRAM model used by the engine.

    Exact w.r.t. :class:`DramReference` on the canonical request lists (:func:`requests_for`); O(1) per
    call whenever :func:`bank_wait_free` holds (every preset transfer we tested), else O(row pieces).
    """

    def __init__(self, spec: DramSpec) -> None:
        self.spec = spec
        self._ns_per_cycle = spec.ns_per_cycle

    def _plan(self, nbytes: int, write: bool, pattern: str, chunk_bytes: int | None) -> tuple[_Shape, int, int]:
        """Validate; return (channel-0 shape, bursts, activations) for ``nbytes > 0``."""
        s = self.spec
        bb, c, nb = s.burst_bytes, s.channels, s.bursts_per_row
        if pattern == "stream":
            total = -(-nbytes // bb)
            m0 = -(-total // c)  # bursts on channel 0 (the most loaded)
            n_pieces = -(-m0 // nb)
            hi = total % c or c  # channels carrying m0 bursts; the others carry m0 - 1
            activations = hi * n_pieces + (c - hi) * -(-(m0 - 1) // nb)
            return _Shape(n_pieces, nb, m0 - (n_pieces - 1) * nb), total, activations
        assert chunk_bytes is not None
        b = -(-chunk_bytes // bb)
        n_chunks = -(-nbytes // chunk_bytes)
        b_last = -(-(nbytes - (n_chunks - 1) * chunk_bytes) // bb)
        _, g = _footprint(s, b)
        n_pieces = -(-n_chunks // g)  # channel 0 serves the first chunk of every row slot
        q = -(-b // c)
        q_last = -(-b_last // c) if (n_pieces - 1) * g == n_chunks - 1 else q
        bursts = (n_chunks - 1) * b + b_last
        activations = (n_chunks - 1) * min(b, c) + min(b_last, c)
        return _Shape(n_pieces, q, q_last), bursts, activations

    def _validate(self, nbytes: int, pattern: str, chunk_bytes: int | None) -> None:
        _check_bytes(nbytes)
        if pattern == "stream":
            if chunk_bytes is not None:
                raise ValueError("chunk_bytes applies only to pattern='scattered'")
        elif pattern == "scattered":
            _check_chunk(self.spec, chunk_bytes)
        else:
            raise ValueError(f"unknown pattern {pattern!r}; valid: 'stream', 'scattered'")

    def transfer(self, nbytes: int, *, write: bool, pattern: Pattern = "stream", chunk_bytes: int | None = None,
                 prev_write: bool | None = None) -> DramTransfer:
        """Time and counts of one transfer from the start state (module docstring).

        Args:
            nbytes: useful bytes to move (>= 0).
            write: True for a write (store), False for a read (load).
            pattern: ``"stream"`` (one contiguous range from a row boundary, over all channels) or
                ``"scattered"`` (chunks of ``chunk_bytes``, each in a row of its own).
            chunk_bytes: chunk size in bytes, for ``"scattered"`` only (``<= channels * row_bytes``).
            prev_write: direction of the data on the bus just before this transfer (``None``: idle bus).

        Returns:
            :class:`DramTransfer`: ``time_ns`` (ns, refresh-derated) and the counts.

        Raises:
            ValueError: negative or non-integer sizes, unknown pattern, missing or bad ``chunk_bytes``.
        """
        self._validate(nbytes, pattern, chunk_bytes)
        write = bool(write)
        rd, wr = (0, nbytes) if write else (nbytes, 0)
        if nbytes == 0:
            return DramTransfer(0.0, 0, 0, rd, wr)
        shape, bursts, activations = self._plan(nbytes, write, pattern, chunk_bytes)
        cycles = channel_finish_cycles(self.spec, *shape, write=write, prev_write=prev_write)
        return DramTransfer(cycles * self._ns_per_cycle, bursts, activations, rd, wr)

    def closed_form_applies(self, nbytes: int, *, write: bool, pattern: Pattern = "stream",
                            chunk_bytes: int | None = None, prev_write: bool | None = None) -> bool:
        """Whether :meth:`transfer` with these arguments takes the O(1) closed form (:func:`bank_wait_free`)."""
        self._validate(nbytes, pattern, chunk_bytes)
        if nbytes == 0:
            return True
        shape, _, _ = self._plan(nbytes, bool(write), pattern, chunk_bytes)
        return bank_wait_free(self.spec, shape.n_pieces, shape.q, write=bool(write), prev_write=prev_write)

    @staticmethod
    def cycles(time_ns: float, clock_hz: float) -> int:
        """``time_ns`` in cycles of a ``clock_hz`` Hz clock, rounded up (see :func:`to_cycles`)."""
        return to_cycles(time_ns, clock_hz)

    def streaming_bytes_per_s(self) -> float:
        """Sustained bandwidth of a long read stream in bytes per second: activations amortised, refresh
        derated; never above :attr:`DramSpec.peak_bytes_per_s`.

        Per channel a row of ``bursts_per_row`` bursts takes ``max(bursts_per_row * P, F / 4, Z / banks)``
        cycles in steady state (bus, activation rate, bank cycle; the cycle means of the schedule).
        """
        s = self.spec
        p = max(s.burst_cycles, s.tCCD)
        f = max(s.tFAW, 4 * s.tRRD)
        nb = s.bursts_per_row
        z = max(s.tRAS + s.tRP, s.tRP + s.tRCD + (nb - 1) * p + s.tRTP)
        row_cycles = max(nb * p, f / 4, z / s.banks)
        return s.channels * s.row_bytes / (row_cycles * s.tck_s * s.refresh_factor)


def to_cycles(time_ns: float, clock_hz: float) -> int:
    """``time_ns`` nanoseconds in cycles of a ``clock_hz`` Hz clock, rounded up.

    A product within 1e-9 cycle of an integer counts as that integer (so 10 ns at 1 GHz is 10, not 11).
    """
    if time_ns < 0 or not math.isfinite(time_ns):
        raise ValueError(f"time_ns must be a finite number >= 0, got {time_ns!r}")
    if clock_hz <= 0 or not math.isfinite(clock_hz):
        raise ValueError(f"clock_hz must be a positive number, got {clock_hz!r}")
    x = time_ns * clock_hz * 1e-9
    return max(0, math.ceil(x - 1e-9))


def requests_for(spec: DramSpec, nbytes: int, *, write: bool, pattern: Pattern = "stream",
                 chunk_bytes: int | None = None) -> Sequence[DramRequest]:
    """The canonical request list that :meth:`DramModel.transfer` with the same arguments describes."""
    if pattern == "stream":
        return stream_requests(spec, nbytes, write=write)
    if pattern == "scattered":
        return scattered_requests(spec, nbytes, _check_chunk(spec, chunk_bytes), write=write)
    raise ValueError(f"unknown pattern {pattern!r}; valid: 'stream', 'scattered'")
