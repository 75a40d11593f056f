"""Off-chip DRAM: presets, address mapping, a burst-level reference model and a fast per-transfer model.

Units: DRAM timings are integers in DRAM clock cycles (``tCK``; data moves on both clock edges, so a
burst of ``burst_length`` beats occupies ``burst_length / 2`` cycles of the data bus); times returned to
callers are nanoseconds; sizes are bytes. Nothing here knows energies ("counts, then prices"): results
carry bursts, row activations and bytes, which ``cost/`` prices.

Address mapping (``spec.mapping``, one of :data:`DRAM_MAPPINGS`): a byte address ``a`` lies in global burst
``k = a // burst_bytes``; ``k`` is split into the fields of the mapping string from the least significant
(mixed radix: ``co`` = bursts per row, ``ch`` = channels, ``bg`` = bank groups, ``ba`` = banks per group,
``ro`` = the rest). The default ``robabgcoch`` interleaves consecutive bursts across channels, walks the
columns of one row of a channel, then moves to the next bank group, bank, row. Bank ``ba * bank_groups + bg``.

Controller model (both models; one controller per channel, open page, no refresh blocking). The rules follow
DRAMsim3's controller (``src/controller.cc``, ``src/command_queue.cc``), which the stored reference data in
``tests/data/dram/`` compare against:

- Queues. Requests are split into bursts. A channel's bursts enter a FIFO transaction queue of
  ``transaction_queue`` entries (refilled from the request list every cycle). Each cycle, after the commands,
  one burst moves to its bank's command queue (``bank_queue`` entries): the oldest one in the transaction
  queue whose bank queue has room. A burst moved in cycle ``t`` is seen from ``t + 1``. Only the oldest burst
  of each bank queue is a candidate (a bank serves its bursts in order).
- Commands. Per cycle at most one row command (PRE or ACT) and one column command (RD or WR), each the first
  candidate that may go, scanning the bank queues round robin from the one after the last command's
  (queues numbered bank group first, as DRAMsim3 numbers them). A candidate whose row is not open needs
  ``PRE >= max(bank's PRE-ready, cycle it was first seen)``, then ``ACT >= PRE + tRP``,
  ``>= previous ACT + tRRD_S``, ``>= previous ACT of its bank group + tRRD_L``, ``>= fourth-previous ACT +
  tFAW``; ``CAS >= ACT + tRCD``. PRE-ready of a bank: ``ACT + tRAS``, ``RD + tRTP``, ``write data end + tWR``.
- Column timing: ``CAS >= previous CAS + tCCD_S``, ``>= previous CAS of its bank group + tCCD_L``; data
  occupies ``[CAS + lat, CAS + lat + burst_length/2)`` (``lat = tCL`` or ``tCWL``) after the previous burst's
  data (one data bus per channel); a write's data starts ``>= tRTW`` cycles after read data ended; a read's
  CAS is ``>= tWTR_S`` after the last write data ended and ``>= tWTR_L`` after the last write data of its
  bank group ended.
- Start state: at cycle 0 every bank holds some other row open and may be precharged at once; the data bus
  is idle, or (``prev_write`` given) carried data in that direction, in every bank group, until cycle 0.
- Refresh is a uniform time derating: every time is multiplied by ``tREFI / (tREFI - tRFC)`` (the long-run
  share of time a channel is refreshing), instead of blocking the channel at fixed instants.

Not modelled (stated): ranks, command-bus sharing between row and column commands (one of each per cycle, as
HBM's separate row and column buses; DDR4 shares one command bus, which matters little at these densities),
DRAMsim3's row-hit reordering inside one bank queue and its separate read and write queues (a request list
here is served in its own order, writes not held back), per-bank refresh, power-down.

:class:`DramReference` steps this controller one DRAM cycle at a time. :class:`DramModel` (the engine's
model) runs the same rules from command to command: between two commands nothing changes, so the next
command's cycle is the smallest earliest-allowed cycle of any candidate (each a maximum of the bounds above),
or the next cycle while bursts still move between queues; it is O(bursts) per new transfer and remembers the
transfers it has timed. The two are written apart and tested equal on randomized inputs
(``tests/test_hw_dram.py``); DRAMsim3 itself is compared in ``tests/test_dram_reference_tools.py``.

Transfers (canonical request lists, :func:`requests_for`): ``stream`` is one contiguous range from address 0
(a row boundary). ``scattered`` is ``nbytes`` made of chunks of ``chunk_bytes`` (the last may be shorter),
each chunk starting on a burst boundary in rows no other chunk uses. For mappings with the channel field
lowest, a chunk of ``b = ceil(chunk_bytes / burst_bytes)`` bursts gets a footprint of ``b'`` bursts, ``b'`` =
the smallest divisor of ``channels`` that is ``>= b`` (``b <= channels``; then ``G = channels / b'`` chunks
share one channel stripe, side by side) or ``channels * ceil(b / channels)`` (``b > channels``, ``G = 1``);
chunk ``i`` starts at channel ``(i % G) * b'`` in row slot ``i // G``. For mappings with the column field
lowest, chunk ``i`` starts at byte ``i * ceil(b / bursts_per_row) * row_bytes`` (a row piece of its own). A
chunk may not exceed one row on every channel (``channels * row_bytes``).

Public API: :class:`DramSpec`, :data:`DRAM_PRESETS`, :data:`DRAM_MAPPINGS`, :func:`dram_spec`,
:func:`map_address`, :class:`DramReference` (``run(requests, prev_write=None) -> DramReferenceResult``),
:class:`DramModel` (``transfer(...) -> DramTransfer``, ``streaming_bytes_per_s()``, ``cycles(time_ns,
clock_hz)``), :func:`to_cycles`, the canonical layouts :func:`stream_requests`, :func:`scattered_requests`,
:func:`requests_for`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Literal, NamedTuple

import numpy as np

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
    bank_groups: int
    """Bank groups per channel (divides ``banks``; 1: no bank groups). Bank ``i`` is in group ``i % bank_groups``."""
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
    tRRD_S: int
    """ACT to ACT of banks in different bank groups, cycles."""
    tRRD_L: int
    """ACT to ACT of different banks in the same bank group, cycles."""
    tFAW: int
    """Window that may hold at most four ACTs of one channel, cycles."""
    tWTR_S: int
    """End of write data to a RD command in another bank group, cycles (write-to-read turnaround)."""
    tWTR_L: int
    """End of write data to a RD command in the same bank group, cycles."""
    tRTW: int
    """Idle data-bus cycles between the end of read data and the start of write data (read-to-write turnaround)."""
    tCCD_S: int
    """RD to RD (WR to WR) command spacing between different bank groups, cycles."""
    tCCD_L: int
    """RD to RD (WR to WR) command spacing within one bank group, cycles."""
    tRTP: int
    """RD to PRE of the same bank, cycles."""
    tWR: int
    """End of write data to PRE of the same bank (write recovery), cycles."""
    tRFC: int
    """All-bank refresh duration, cycles (used only as the refresh derating)."""
    tREFI: int
    """Refresh interval, cycles (0: no refresh derating)."""
    transaction_queue: int
    """Bursts a channel's controller accepts ahead of its bank queues (a FIFO; DRAMsim3 ``trans_queue_size``)."""
    bank_queue: int
    """Bursts each bank's command queue holds; only these are schedulable (DRAMsim3 ``cmd_queue_size``)."""
    mapping: str
    """Address mapping, fields MSB to LSB above the burst offset (see :data:`DRAM_MAPPINGS`)."""

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
        _check_int(self.bank_groups, "bank_groups", 1)
        if self.banks % self.bank_groups:
            raise ValueError(f"DramSpec.bank_groups ({self.bank_groups}) must divide banks ({self.banks})")
        _check_int(self.transaction_queue, "transaction_queue", 1)
        _check_int(self.bank_queue, "bank_queue", 1)
        if self.mapping not in DRAM_MAPPINGS:
            raise ValueError(f"DramSpec.mapping must be one of {', '.join(DRAM_MAPPINGS)}, got {self.mapping!r}")
        _check_int(self.row_bytes, "row_bytes", 1)
        if self.row_bytes % self.burst_bytes:
            raise ValueError(f"DramSpec.row_bytes ({self.row_bytes}) must be a multiple of the burst size "
                             f"({self.burst_bytes} B = bus_bits/8 * burst_length)")
        for name in _TIMINGS:
            _check_int(getattr(self, name), name, 1 if name in ("tCL", "tCWL", "tCCD_S", "tCCD_L", "tRRD_S",
                                                               "tRRD_L") else 0)
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


_TIMINGS = ("tCL", "tCWL", "tRCD", "tRP", "tRAS", "tRRD_S", "tRRD_L", "tFAW", "tWTR_S", "tWTR_L", "tRTW", "tCCD_S",
            "tCCD_L", "tRTP", "tWR", "tRFC", "tREFI")

DRAM_MAPPINGS: tuple[str, ...] = ("robabgcoch", "robgbacoch", "rochbabgco", "robgbachco", "rochbgbaco")
"""Address mappings (``dram.mapping``): the fields row ``ro``, bank ``ba`` (within its group), bank group ``bg``,
column ``co`` and channel ``ch`` from the most to the least significant, above the offset of one burst (as
DRAMsim3's ``address_mapping`` strings, without its rank field: one rank per channel). ``robabgcoch`` is the
project's layout (bursts interleave across channels; a channel's row, then the next bank group); ``rochbabgco`` is
DRAMsim3's default for DDR4 and LPDDR4 (``rochrababgco``: a whole row in one channel, then the next bank group,
bank, channel); ``robgbachco`` DRAMsim3's HBM2 default (``rorabgbachco``). Every choice keeps the column field
lowest within a channel (a row is read in column order), which the scattered layout relies on."""


def _mapping_fields(mapping: str) -> list[str]:
    return [mapping[i:i + 2] for i in range(0, len(mapping), 2)]


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
#   [D3-CTRL]   DRAMsim3 src/controller.cc, src/command_queue.cc: per channel a transaction queue feeding per-bank
#               command queues one request per cycle; commands chosen round robin over the bank queues
#   [PG313]     AMD PG313 "HBM Topology": 8 x 128-bit channels per stack, each two 64-bit pseudo-channels, BL4
DRAM_PRESETS: dict[str, dict] = {
    "ddr4-3200": dict(  # JEDEC JESD79-4 DDR4-3200AA (22-22-22), 64-bit channel of eight x8 8 Gb devices
        channels=1,            # assumed default: one 64-bit channel (DIMM); 25.6 GB/s
        bus_bits=64,           # one DIMM channel, 8 devices x 8 DQ [D3-DDR4 bus_width=64]
        data_rate_mts=3200,    # [R2-DDR4 rate 3200, tCK_ps 625]
        burst_length=8,        # BL8 [D3-DDR4 BL=8; R2-DDR4 nBL=4 cycles]
        banks=16,              # 4 bank groups x 4 banks [R2-DDR4 org DDR4_8Gb_x8; D3-DDR4]
        bank_groups=4,         # [JESD79-4 x8 devices: 4 bank groups; D3-DDR4 bankgroups=4]
        row_bytes=8192,        # 1024 columns x 8 bit = 1 KiB per device x 8 devices [R2-DDR4 org; D3-DDR4]
        tCL=22,                # [R2-DDR4 nCL; D3-DDR4 CL]
        tCWL=16,               # [R2-DDR4 nCWL; D3-DDR4 CWL]
        tRCD=22,               # [R2-DDR4 nRCD; D3-DDR4 tRCD]
        tRP=22,                # [R2-DDR4 nRP; D3-DDR4 tRP]
        tRAS=52,               # [R2-DDR4 nRAS; D3-DDR4 tRAS]
        tRRD_S=4,              # x8 at 3200 [R2-DDR4 nRRDS table (JESD79-4C tables 169-170); D3-DDR4 tRRD_S]
        tRRD_L=8,              # x8 at 3200 [R2-DDR4 nRRDL table; D3-DDR4 tRRD_L]
        tFAW=34,               # x8 at 3200 [R2-DDR4 nFAW table; D3-DDR4 tFAW]
        tWTR_S=4,              # 2.5 ns [JESD79-4 tWTR_S; D3-DDR4 tWTR_S]
        tWTR_L=12,             # 7.5 ns [JESD79-4 tWTR_L; D3-DDR4 tWTR_L]
        tRTW=2,                # RD->WR = CL + BL/2 + 2 - CWL [R2-DDR4]; tRPRE + tRTRS = 1 + 1 [D3-DDR4]
        tCCD_S=4,              # [JESD79-4 tCCD_S = 4 nCK; R2-DDR4 nCCDS; D3-DDR4 tCCD_S]
        tCCD_L=8,              # 5 ns at 3200 [JESD79-4 tCCD_L; R2-DDR4 nCCDL; D3-DDR4 tCCD_L]
        tRTP=12,               # [R2-DDR4 nRTP; D3-DDR4]
        tWR=24,                # [R2-DDR4 nWR; D3-DDR4]
        tRFC=560,              # tRFC1 = 350 ns for 8 Gb [D3-DDR4 tRFC]
        tREFI=12480,           # 7.8 us [D3-DDR4 tREFI]
        transaction_queue=32,  # [D3-CTRL; D3-DDR4 trans_queue_size]
        bank_queue=8,          # [D3-CTRL; D3-DDR4 cmd_queue_size, queue_structure PER_BANK]
        mapping="robabgcoch",  # assumed default: the project's layout (channel lowest, then the row, bank group
        #                        fastest across rows); with one channel it is DRAMsim3's rochrababgco [D3-DDR4]
    ),
    "lpddr4-3200": dict(  # JEDEC JESD209-4 LPDDR4-3200, x16 channels
        channels=4,            # assumed default: four x16 channels (a x64 package); 25.6 GB/s
        bus_bits=16,           # one LPDDR4 channel is x16 [R1-LP4 org dq=16]
        data_rate_mts=3200,    # [R1-LP4 rate 3200, tCK 0.625 ns]
        burst_length=16,       # BL16 (16n prefetch) [R1-LP4 nBL=8 cycles, prefetch_size=16]
        banks=8,               # [R1-LP4 org: 8 banks]
        bank_groups=1,         # LPDDR4 has no bank groups [JESD209-4]
        row_bytes=2048,        # 1024 columns x 16 bit [R1-LP4 org LPDDR4_8Gb_x16]
        tCL=35,                # nCL 32 (29+3) + nDQSCK 3: RD to first data [R1-LP4 read_latency - nBL]
        tCWL=18,               # nCWL 15+3 [R1-LP4]
        tRCD=29,               # [R1-LP4 nRCD]
        tRP=27,                # tRPpb 29-2 [R1-LP4 nRPpb]
        tRAS=68,               # [R1-LP4 nRAS]
        tRRD_S=16,             # [R1-LP4 nRRD]
        tRRD_L=16,             # no bank groups: = tRRD [R1-LP4 nRRD]
        tFAW=64,               # [R1-LP4 nFAW]
        tWTR_S=16,             # [R1-LP4 nWTR]
        tWTR_L=16,             # no bank groups: = tWTR [R1-LP4 nWTR]
        tRTW=1,                # RD->WR = CL + BL + DQSCK + 1 - CWL, i.e. 1 idle cycle after read data [R1-LP4]
        tCCD_S=8,              # [R1-LP4 nCCD]
        tCCD_L=8,              # no bank groups: = tCCD [R1-LP4 nCCD]
        tRTP=14,               # 12+2 [R1-LP4 nRTP]
        tWR=28,                # 29-1 [R1-LP4 nWR]
        tRFC=288,              # tRFCab for 8 Gb at 3200 [R1-LP4 RFCAB_TABLE]
        tREFI=6247,            # 3.9 us, 1x refresh at 3200 [R1-LP4 REFI_TABLE]
        transaction_queue=32,  # [D3-CTRL] as DDR4 (DRAMsim3's LPDDR4 configs use the same queues)
        bank_queue=8,          # [D3-CTRL] as DDR4
        mapping="robabgcoch",  # assumed default: the project's layout (channel lowest)
    ),
    "hbm2": dict(  # JEDEC JESD235 HBM2, 2 Gb/s/pin, pseudo-channel mode; one stack = 16 pseudo-channels
        channels=16,           # one stack: 8 channels x 2 pseudo-channels [PG313]; 256 GB/s
        bus_bits=64,           # a pseudo-channel is 64 bit [PG313]
        data_rate_mts=2000,    # tCK = 1 ns, DDR [D3-HBM2 tCK=1]
        burst_length=4,        # BL4 in pseudo-channel mode [PG313; D3-HBM2 BL=4]
        banks=16,              # 4 bank groups x 4 banks [D3-HBM2; Ramulator2 HBM2.cpp org HBM2_8Gb per pseudo-channel]
        bank_groups=4,         # [D3-HBM2 bankgroups=4; JESD235 HBM2 bank groups]
        row_bytes=1024,        # [derived] half the 2 KiB legacy-mode page of a 128-bit channel
        #                        [D3-HBM2: 64 columns x 2 (prefetch) x 128 bit] per 64-bit pseudo-channel
        tCL=14,                # [D3-HBM2 CL]
        tCWL=4,                # [D3-HBM2 CWL]
        tRCD=14,               # tRCDRD = tRCDWR [D3-HBM2]
        tRP=14,                # [D3-HBM2]
        tRAS=34,               # [D3-HBM2]
        tRRD_S=4,              # [D3-HBM2 tRRD_S]
        tRRD_L=6,              # [D3-HBM2 tRRD_L]
        tFAW=30,               # [D3-HBM2]
        tWTR_S=6,              # [D3-HBM2 tWTR_S]
        tWTR_L=8,              # [D3-HBM2 tWTR_L]
        tRTW=3,                # tRPRE 1 + tRTRS 2 (DRAMsim3 default) [D3-HBM2 timing]; Ramulator2 HBM2 nRTW=3
        tCCD_S=1,              # the 2-cycle burst dominates [D3-HBM2 tCCD_S]
        tCCD_L=2,              # = the 2-cycle burst [D3-HBM2 tCCD_L]
        tRTP=6,                # tRTP_L (conservative) [D3-HBM2]
        tWR=16,                # [D3-HBM2]
        tRFC=260,              # [D3-HBM2 tRFC]
        tREFI=3900,            # 3.9 us [D3-HBM2 tREFI]
        transaction_queue=32,  # [D3-CTRL; D3-HBM2 trans_queue_size]
        bank_queue=8,          # [D3-CTRL; D3-HBM2 cmd_queue_size, queue_structure PER_BANK]
        mapping="robabgcoch",  # assumed default: the project's layout (channel lowest); DRAMsim3's is rorabgbachco
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
    """Where one byte address lives under the spec's mapping (see :data:`DRAM_MAPPINGS`)."""

    channel: int
    bank: int  # 0 .. banks-1 within the channel; its bank group is ``bank % bank_groups``
    row: int
    column: int  # in bursts within the row
    bank_group: int


def map_address(spec: DramSpec, address: int) -> DramAddress:
    """Channel, bank, row, column (in bursts) and bank group of a byte ``address`` under ``spec.mapping``."""
    rest = address // spec.burst_bytes
    radix = {"co": spec.bursts_per_row, "ch": spec.channels, "bg": spec.bank_groups,
             "ba": spec.banks // spec.bank_groups}
    value: dict[str, int] = {}
    for field in reversed(_mapping_fields(spec.mapping)):
        if field == "ro":
            value[field] = rest
        else:
            rest, value[field] = divmod(rest, radix[field])
    bank = value["ba"] * spec.bank_groups + value["bg"]
    return DramAddress(value["ch"], bank, value["ro"], value["co"], value["bg"])


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
# Canonical layouts (the request lists both models time for a transfer)
# ---------------------------------------------------------------------------------------------------


def stream_requests(spec: DramSpec, nbytes: int, *, write: bool) -> list[DramRequest]:
    """The request list of a ``stream`` transfer: one range of ``nbytes`` from address 0 (a row boundary)."""
    _check_bytes(nbytes)
    return [DramRequest(0, nbytes, write)] if nbytes else []


def _footprint(spec: DramSpec, b: int) -> tuple[int, int]:
    """(footprint b' in bursts, chunks per row slot G) of a scattered chunk of ``b`` bursts (channel-lowest
    mappings)."""
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
    out = []
    if spec.mapping.endswith("coch"):
        bp, g = _footprint(spec, b)
        for i, start in enumerate(range(0, nbytes, chunk_bytes)):
            slot, lane = divmod(i, g)
            address = bb * (spec.channels * slot * spec.bursts_per_row + lane * bp)
            out.append(DramRequest(address, min(chunk_bytes, nbytes - start), write))
        return out
    pieces = -(-b // spec.bursts_per_row)  # column lowest: each chunk starts a row piece of its own
    for i, start in enumerate(range(0, nbytes, chunk_bytes)):
        out.append(DramRequest(i * pieces * spec.row_bytes, min(chunk_bytes, nbytes - start), write))
    return out


# ---------------------------------------------------------------------------------------------------
# Burst-level reference: the controller stepped cycle by cycle
# ---------------------------------------------------------------------------------------------------


def _reference_channel(s: DramSpec, seq: list[tuple[int, int, int, bool]], prev_write: bool | None) -> tuple[int, int]:
    """Step one channel's controller one DRAM cycle at a time; return (end of the last data beat, ACTs).

    ``seq``: the channel's bursts in request order, each ``(bank, bank group, row, write)``.
    """
    n = len(seq)
    moved = [False] * n  # left the transaction queue for its bank's queue
    fifo_head = done = 0
    bank_q: list[deque[int]] = [deque() for _ in range(s.banks)]
    open_row = [-1] * s.banks  # the start state: some other row open in every bank
    cas_ok = [0] * s.banks
    pre_ok = [0] * s.banks  # PRE allowed from cycle 0
    need: list[int | None] = [None] * s.banks  # cycle the bank's oldest queued burst was first seen needing a row
    pre_t: list[int | None] = [None] * s.banks  # cycle of the PRE issued for that burst's row
    act_times: deque[int] = deque(maxlen=4)
    last_act: int | None = None
    last_act_g: list[int | None] = [None] * s.bank_groups
    last_cas: int | None = None
    last_cas_g: list[int | None] = [None] * s.bank_groups
    bus_end = 0
    last_dir = prev_write
    wr_end: int | None = 0 if prev_write else None
    wr_end_g: list[int | None] = [wr_end] * s.bank_groups
    end = acts = t = 0
    rr = 0  # per-bank queue of the last command (queues numbered bank group first); the scan starts after it
    bpg = s.banks // s.bank_groups
    queue = [(b % s.bank_groups) * bpg + b // s.bank_groups for b in range(s.banks)]
    while done < n:
        cands = [q[0] for q in bank_q if q]  # each bank's oldest queued burst
        for i in cands:
            bank, _, row, _ = seq[i]
            if open_row[bank] != row and need[bank] is None:
                need[bank] = t  # first seen needing its row
        for i in sorted(cands, key=lambda i: (queue[seq[i][0]] - rr - 1) % s.banks):
            # one row command (PRE or ACT) per cycle: the first bank after the last command's that may go now
            bank, g, row, _ = seq[i]
            if open_row[bank] == row:
                continue
            pre_at = pre_t[bank]
            if pre_at is None:
                if t < max(pre_ok[bank], need[bank] or 0):
                    continue
                pre_t[bank] = t  # PRE
                rr = queue[bank]
                break
            if t < pre_at + s.tRP:
                continue
            if last_act is not None and t < last_act + s.tRRD_S:
                continue
            lag = last_act_g[g]
            if lag is not None and t < lag + s.tRRD_L:
                continue
            if len(act_times) == 4 and t < act_times[0] + s.tFAW:
                continue
            open_row[bank] = row  # ACT
            cas_ok[bank] = t + s.tRCD
            pre_ok[bank] = max(pre_ok[bank], t + s.tRAS)
            need[bank] = pre_t[bank] = None
            act_times.append(t)
            last_act = last_act_g[g] = t
            acts += 1
            rr = queue[bank]
            break
        for i in sorted(cands, key=lambda i: (queue[seq[i][0]] - rr - 1) % s.banks):
            # one column command per cycle: the first bank after the last command's that may go now
            bank, g, row, write = seq[i]
            if open_row[bank] != row or t < cas_ok[bank]:
                continue
            if last_cas is not None and t < last_cas + s.tCCD_S:
                continue
            lcg = last_cas_g[g]
            if lcg is not None and t < lcg + s.tCCD_L:
                continue
            lat = s.tCWL if write else s.tCL
            if t + lat < bus_end + (s.tRTW if write and last_dir is False else 0):
                continue
            if not write:
                if wr_end is not None and t < wr_end + s.tWTR_S:
                    continue
                weg = wr_end_g[g]
                if weg is not None and t < weg + s.tWTR_L:
                    continue
            data_end = t + lat + s.burst_cycles
            bus_end, last_dir, last_cas, last_cas_g[g] = data_end, write, t, t
            if write:
                wr_end = wr_end_g[g] = data_end
                pre_ok[bank] = max(pre_ok[bank], data_end + s.tWR)
            else:
                pre_ok[bank] = max(pre_ok[bank], t + s.tRTP)
            end = max(end, data_end)
            bank_q[bank].popleft()
            done += 1
            rr = queue[bank]
            break
        # one burst per cycle moves from the transaction queue (the next transaction_queue unmoved bursts) to
        # its bank's queue: the oldest whose bank queue has room
        i = fifo_head
        count = 0
        while i < n and count < s.transaction_queue:
            if not moved[i]:
                count += 1
                if len(bank_q[seq[i][0]]) < s.bank_queue:
                    moved[i] = True
                    bank_q[seq[i][0]].append(i)
                    break
            i += 1
        while fifo_head < n and moved[fifo_head]:
            fifo_head += 1
        t += 1
    return end, acts


class DramReference:
    """Burst-level reference model: the controller of the module docstring stepped cycle by cycle.

    Slow (a Python loop per DRAM cycle) and meant for tests: the fast :class:`DramModel` must agree with it.
    """

    def __init__(self, spec: DramSpec) -> None:
        self.spec = spec

    def run(self, requests: Iterable[DramRequest | tuple[int, int, bool]], *,
            prev_write: bool | None = None) -> DramReferenceResult:
        """Serve ``requests`` from the start state; return the finish time and counts.

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
        per_channel: list[list[tuple[int, int, int, bool]]] = [[] for _ in range(s.channels)]
        rd = wr = 0
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
            for k in range(address // s.burst_bytes, (address + nbytes - 1) // s.burst_bytes + 1):
                a = map_address(s, k * s.burst_bytes)
                per_channel[a.channel].append((a.bank, a.bank_group, a.row, write))
        cycles = bursts = acts = 0
        for seq in per_channel:
            if seq:
                end, n_act = _reference_channel(s, seq, prev_write)
                cycles = max(cycles, end)
                acts += n_act
                bursts += len(seq)
        return DramReferenceResult(cycles, cycles * s.ns_per_cycle, bursts, acts, bursts - acts, rd, wr)


# ---------------------------------------------------------------------------------------------------
# Fast per-transfer model: the same controller, advanced from event to event
# ---------------------------------------------------------------------------------------------------


class _EventChannel:
    """One channel's controller, advanced from one command to the next instead of cycle by cycle.

    Between two commands no state changes, so the next command's cycle is the smallest earliest-allowed cycle
    of any candidate (each a maximum of the timing bounds above), and the commands at that cycle are the ones
    the controller's rules pick there (one row command, then one column command, round robin over the
    bank queues), then the cycle's move between queues; while bursts can move, every cycle is decided.
    """

    def __init__(self, s: DramSpec, banks: list[int], groups: list[int], rows: list[int], writes: list[bool],
                 prev_write: bool | None) -> None:
        self.s, self.banks, self.groups, self.rows, self.writes = s, banks, groups, rows, writes
        self.prev_write = prev_write

    def run(self) -> tuple[int, int]:
        s = self.s
        banks, groups, rows, writes = self.banks, self.groups, self.rows, self.writes
        n = len(banks)
        fifo = list(range(min(n, s.transaction_queue)))  # the transaction queue, oldest first
        nxt = len(fifo)  # next burst to enter it
        bank_q: list[deque[int]] = [deque() for _ in range(s.banks)]
        open_row = [-1] * s.banks
        cas_ok = [0] * s.banks
        pre_ok = [0] * s.banks
        need: list[int | None] = [None] * s.banks
        pre_t: list[int | None] = [None] * s.banks
        fourth: deque[int] = deque(maxlen=4)
        last_act: int | None = None
        act_g: list[int | None] = [None] * s.bank_groups
        last_cas: int | None = None
        cas_g: list[int | None] = [None] * s.bank_groups
        bus_end = 0
        last_dir = self.prev_write
        wr_end: int | None = 0 if self.prev_write else None
        wr_g: list[int | None] = [wr_end] * s.bank_groups
        end = acts = done = 0
        now = 0  # the earliest cycle still to be decided
        nq = s.banks
        qn = [(b % s.bank_groups) * (nq // s.bank_groups) + b // s.bank_groups for b in range(nq)]
        # round robin: rr[p] lists the banks in the scan order after queue p (queue numbers p+1, p+2, ... mod nq)
        bank_of = [0] * nq
        for b in range(nq):
            bank_of[qn[b]] = b
        rr = [[bank_of[(p + 1 + j) % nq] for j in range(nq)] for p in range(nq)]
        ptr = 0
        cap = s.bank_queue
        # bursts of the transaction queue per bank, and how many of them may move now (their bank queue has room)
        in_fifo = [0] * nq
        for i in fifo:
            in_fifo[banks[i]] += 1
        movable = len(fifo)
        row_earliest = self._row_earliest
        t_cl, t_cwl, t_rtw, burst = s.tCL, s.tCWL, s.tRTW, s.burst_cycles
        t_ccd_s, t_ccd_l, t_wtr_s, t_wtr_l = s.tCCD_S, s.tCCD_L, s.tWTR_S, s.tWTR_L
        while done < n:
            heads = [b for b in rr[ptr] if bank_q[b]]  # banks with a candidate, in round-robin order
            if movable:
                t = now  # a burst moves to its bank queue this cycle: decide it
            else:
                best: int | None = None
                for b in heads:
                    i = bank_q[b][0]
                    g = groups[i]
                    if open_row[b] != rows[i]:
                        e = row_earliest(b, g, pre_ok, need, pre_t, last_act, act_g, fourth)
                    else:  # the column command's earliest cycle (written out: the hot path)
                        w = writes[i]
                        e = bus_end + (t_rtw if w and last_dir is False else 0) - (t_cwl if w else t_cl)
                        ok = cas_ok[b]
                        if ok > e:
                            e = ok
                        if e < 0:
                            e = 0
                        if last_cas is not None and last_cas + t_ccd_s > e:
                            e = last_cas + t_ccd_s
                        cg = cas_g[g]
                        if cg is not None and cg + t_ccd_l > e:
                            e = cg + t_ccd_l
                        if not w:
                            if wr_end is not None and wr_end + t_wtr_s > e:
                                e = wr_end + t_wtr_s
                            wg = wr_g[g]
                            if wg is not None and wg + t_wtr_l > e:
                                e = wg + t_wtr_l
                    if best is None or e < best:
                        best = e
                assert best is not None
                t = max(best, now)
            # at most one row command at t, then one column command: the first candidates after the last
            # command's bank (round robin) that may go
            for b in heads:
                i = bank_q[b][0]
                if open_row[b] == rows[i]:
                    continue
                g = groups[i]
                if row_earliest(b, g, pre_ok, need, pre_t, last_act, act_g, fourth) > t:
                    continue
                if pre_t[b] is None:
                    pre_t[b] = t
                else:
                    open_row[b] = rows[i]
                    cas_ok[b] = t + s.tRCD
                    pre_ok[b] = max(pre_ok[b], t + s.tRAS)
                    need[b] = pre_t[b] = None
                    fourth.append(t)
                    last_act = act_g[g] = t
                    acts += 1
                ptr = qn[b]
                heads = [b for b in rr[ptr] if bank_q[b]]
                break
            for b in heads:
                head = bank_q[b]
                i = head[0]
                if open_row[b] != rows[i]:
                    continue
                g = groups[i]
                # may it go at t? every bound of the column command's earliest cycle (above) at most t
                if cas_ok[b] > t or (last_cas is not None and last_cas + t_ccd_s > t):
                    continue
                cg = cas_g[g]
                if cg is not None and cg + t_ccd_l > t:
                    continue
                w = writes[i]
                lat = t_cwl if w else t_cl
                if bus_end + (t_rtw if w and last_dir is False else 0) - lat > t:
                    continue
                if not w:
                    if wr_end is not None and wr_end + t_wtr_s > t:
                        continue
                    wg = wr_g[g]
                    if wg is not None and wg + t_wtr_l > t:
                        continue
                data_end = t + lat + burst
                bus_end, last_dir, last_cas, cas_g[g] = data_end, w, t, t
                if w:
                    wr_end = wr_g[g] = data_end
                    pre_ok[b] = max(pre_ok[b], data_end + s.tWR)
                else:
                    pre_ok[b] = max(pre_ok[b], t + s.tRTP)
                end = max(end, data_end)
                ptr = qn[b]
                if len(head) == cap:  # the bank queue gets room: its waiting bursts may move
                    movable += in_fifo[b]
                head.popleft()
                done += 1
                if head and open_row[b] != rows[head[0]] and need[b] is None:
                    need[b] = t + 1  # the bank's next burst is first seen at the next cycle
                break
            if movable:  # the move of cycle t: the oldest burst of the transaction queue whose bank queue has room
                for k, i in enumerate(fifo):
                    b = banks[i]
                    q = bank_q[b]
                    if len(q) < cap:
                        del fifo[k]
                        in_fifo[b] -= 1
                        movable -= 1
                        q.append(i)
                        if len(q) == cap:
                            movable -= in_fifo[b]
                        if nxt < n:
                            fifo.append(nxt)
                            b2 = banks[nxt]
                            in_fifo[b2] += 1
                            if len(bank_q[b2]) < cap:
                                movable += 1
                            nxt += 1
                        if len(q) == 1 and open_row[b] != rows[i] and need[b] is None:
                            need[b] = t + 1
                        break
            now = t + 1
        return end, acts

    def _row_earliest(self, b: int, g: int, pre_ok: list[int], need: list[int | None], pre_t: list[int | None],
                      last_act: int | None, act_g: list[int | None], fourth: deque[int]) -> int:
        """Earliest cycle of bank ``b``'s next row command: its PRE, or once precharged its ACT."""
        s = self.s
        p = pre_t[b]
        if p is None:
            return max(pre_ok[b], need[b] or 0)
        e = p + s.tRP
        if last_act is not None:
            e = max(e, last_act + s.tRRD_S)
        ag = act_g[g]
        if ag is not None:
            e = max(e, ag + s.tRRD_L)
        if len(fourth) == 4:
            e = max(e, fourth[0] + s.tFAW)
        return e


class DramModel:
    """Fast per-transfer DRAM model used by the engine.

    Exact w.r.t. :class:`DramReference` on the canonical request lists (:func:`requests_for`): it runs the same
    controller rules, advanced from command to command (:class:`_EventChannel`) instead of cycle by cycle,
    once per distinct channel burst sequence, and remembers each transfer it has timed. O(bursts x
    transaction_queue) for a new transfer; repeated transfers are a dictionary look-up.
    """

    def __init__(self, spec: DramSpec) -> None:
        self.spec = spec
        self._ns_per_cycle = spec.ns_per_cycle
        self._memo: dict[tuple, DramTransfer] = {}

    def _validate(self, nbytes: int, pattern: str, chunk_bytes: int | None) -> None:
        _check_bytes(nbytes)
        if pattern == "stream":
            if chunk_bytes is not None:
                raise ValueError("chunk_bytes applies only to pattern='scattered'")
        elif pattern == "scattered":
            _check_chunk(self.spec, chunk_bytes)
        else:
            raise ValueError(f"unknown pattern {pattern!r}; valid: 'stream', 'scattered'")

    def _channels(self, nbytes: int, write: bool, pattern: str, chunk_bytes: int | None) -> list[list[int]]:
        """Per channel, its bursts' global burst indices in request order."""
        s = self.spec
        bb = s.burst_bytes
        out: list[list[int]] = [[] for _ in range(s.channels)]
        fields = _mapping_fields(s.mapping)
        below = 1  # bursts per step of the channel field
        for f in reversed(fields):
            if f == "ch":
                break
            below *= {"co": s.bursts_per_row, "bg": s.bank_groups, "ba": s.banks // s.bank_groups}[f]
        for req in requests_for(s, nbytes, write=write, pattern=pattern, chunk_bytes=chunk_bytes):  # type: ignore[arg-type]
            for k in range(req.address // bb, (req.address + req.nbytes - 1) // bb + 1):
                out[(k // below) % s.channels].append(k)
        return out

    def _decode(self, ks: list[int]) -> tuple[list[int], list[int], list[int]]:
        """(bank, bank group, row) of global bursts ``ks`` under the spec's mapping."""
        s = self.spec
        weights: dict[str, int] = {}
        step = 1
        for f in reversed(_mapping_fields(s.mapping)):
            weights[f] = step
            if f != "ro":
                step *= {"co": s.bursts_per_row, "ch": s.channels, "bg": s.bank_groups,
                         "ba": s.banks // s.bank_groups}[f]
        wb, wa, wr = weights["bg"], weights["ba"], weights["ro"]
        g_n, a_n = s.bank_groups, s.banks // s.bank_groups
        groups = [(k // wb) % g_n for k in ks]
        banks = [((k // wa) % a_n) * g_n + g for k, g in zip(ks, groups)]
        rows = [k // wr for k in ks]
        return banks, groups, rows

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
        key = (nbytes, write, pattern, chunk_bytes, prev_write)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        rd, wr = (0, nbytes) if write else (nbytes, 0)
        if nbytes == 0:
            return DramTransfer(0.0, 0, 0, rd, wr)
        cycles = bursts = acts = 0
        done: dict[tuple[int, ...], tuple[int, int]] = {}
        for ks in self._channels(nbytes, write, pattern, chunk_bytes):
            if not ks:
                continue
            banks, groups, rows = self._decode(ks)
            sig = tuple(banks) + (-1,) + tuple(rows)
            if sig not in done:
                done[sig] = _EventChannel(self.spec, banks, groups, rows, [write] * len(ks), prev_write).run()
            end, n_act = done[sig]
            cycles = max(cycles, end)
            bursts += len(ks)
            acts += n_act
        out = DramTransfer(cycles * self._ns_per_cycle, bursts, acts, rd, wr)
        self._memo[key] = out
        return out

    @classmethod
    def shared(cls, spec: DramSpec) -> DramModel:
        """The process-wide model of ``spec``: every run of one process (a sweep, repeated runs) on the same DRAM
        system shares its remembered transfers. A transfer's timing depends only on the spec and the
        transfer's own arguments (it always starts from the idle state of the module docstring), so sharing
        never changes a number. At most :data:`SHARED_MODELS` specs are kept (least recently used dropped)."""
        model = _SHARED.pop(spec, None)
        if model is None:
            model = cls(spec)
        _SHARED[spec] = model  # most recently used last
        while len(_SHARED) > SHARED_MODELS:
            del _SHARED[next(iter(_SHARED))]
        return model

    _PATTERNS = ("stream", "scattered")

    def memo_arrays(self) -> dict[str, np.ndarray]:
        """The remembered transfers as arrays (for a disk cache): ``keys`` int64 ``[n, 5]`` (nbytes, write,
        pattern index, chunk_bytes or -1, prev_write as -1 None / 0 / 1) and ``values`` ``[n, 5]`` float64
        (time_ns, bursts, activations, read_bytes, write_bytes; the counts are exact integers below 2^53)."""
        items = [(k, v) for k, v in self._memo.items() if k[2] in self._PATTERNS]
        keys = np.array([[k[0], int(k[1]), self._PATTERNS.index(k[2]), -1 if k[3] is None else k[3],
                          -1 if k[4] is None else int(k[4])] for k, _ in items], dtype=np.int64).reshape(-1, 5)
        values = np.array([[v.time_ns, v.bursts, v.activations, v.read_bytes, v.write_bytes] for _, v in items],
                          dtype=np.float64).reshape(-1, 5)
        return {"keys": keys, "values": values}

    def remember(self, keys: np.ndarray, values: np.ndarray) -> int:
        """Add transfers timed earlier by a model of the same spec and code (:meth:`memo_arrays`); returns how
        many were added. Raises ``ValueError`` on malformed arrays (nothing is added then)."""
        keys, values = np.asarray(keys), np.asarray(values)
        if keys.dtype != np.int64 or values.dtype != np.float64 or keys.ndim != 2 or keys.shape[1:] != (5,) \
                or values.shape != keys.shape:
            raise ValueError("malformed DRAM memo arrays")
        add: dict[tuple, DramTransfer] = {}
        for (nbytes, write, pat, chunk, prev), (t, bursts, acts, rd, wr) in zip(keys.tolist(), values.tolist(),
                                                                                 strict=True):
            if nbytes < 0 or write not in (0, 1) or pat not in (0, 1) or prev not in (-1, 0, 1) \
                    or not (math.isfinite(t) and t >= 0) or min(bursts, acts, rd, wr) < 0 \
                    or (rd, wr) != ((0, nbytes) if write else (nbytes, 0)):
                raise ValueError("malformed DRAM memo entry")
            key = (int(nbytes), bool(write), self._PATTERNS[pat], None if chunk < 0 else int(chunk),
                   None if prev < 0 else bool(prev))
            add[key] = DramTransfer(float(t), int(bursts), int(acts), int(rd), int(wr))
        new = {k: v for k, v in add.items() if k not in self._memo}
        self._memo.update(new)
        return len(new)

    @property
    def remembered(self) -> int:
        """Number of transfers remembered."""
        return len(self._memo)

    @staticmethod
    def cycles(time_ns: float, clock_hz: float) -> int:
        """``time_ns`` in cycles of a ``clock_hz`` Hz clock, rounded up (see :func:`to_cycles`)."""
        return to_cycles(time_ns, clock_hz)

    def streaming_bytes_per_s(self) -> float:
        """Sustained bandwidth of a long read stream in bytes per second, refresh derated; never above
        :attr:`DramSpec.peak_bytes_per_s`.

        Measured on the model: the extra time of a stream of ``8 x banks`` rows per channel over one of
        ``4 x banks`` rows (the start-up cost cancels).
        """
        s = self.spec
        unit = s.channels * s.row_bytes * s.banks * 4
        t1 = self.transfer(unit, write=False).time_ns
        t2 = self.transfer(2 * unit, write=False).time_ns
        return unit / ((t2 - t1) * 1e-9)

#: DRAM systems whose :meth:`DramModel.shared` model a process keeps (each remembers its timed transfers).
SHARED_MODELS = 8
_SHARED: dict[DramSpec, DramModel] = {}


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
