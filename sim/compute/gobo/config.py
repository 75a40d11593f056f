"""The ``compute:`` section of a GOBO design (``kind: gobo``)."""

from __future__ import annotations

from dataclasses import dataclass

from sim.compute.base import ComputeConfig
from sim.config.schema import spec_field


@dataclass(frozen=True, kw_only=True)
class GoboCompute(ComputeConfig):
    """GOBO accelerator compute: tiles of add-mostly PEs over 3-bit weight indices (see docs/hw/gobo.md)."""

    kind: str = spec_field(doc="compute kind", choices=("gobo",))
    tiles: int = spec_field(doc="number of GOBO tiles working in parallel", ge=1, le=1 << 16)
    pes_per_tile: int = spec_field(doc="PEs per tile; each PE produces one output column per block", ge=1, le=1 << 16)
    rows_per_pe: int = spec_field(doc="activation rows a PE processes together (bin sets per PE)", ge=1, le=1024)
    multipliers_per_pe: int = spec_field(1, doc="multipliers per PE for the centroid x bin-sum products", ge=1,
                                         le=1024)
    outlier_macs_per_cycle: int = spec_field(
        doc="int8 x int16 MACs per cycle of each tile's outlier unit", ge=1
    )
    outlier_positions_per_cycle: int = spec_field(
        2, doc="outlier positions each tile's comparator matches against the index stream per cycle (a column "
               "with more outliers stalls the Gaussian pass)", ge=1, le=1 << 16
    )
    outlier_port_bytes: int = spec_field(
        4, doc="activation bytes per cycle the outlier unit's read port delivers (one per outlier MAC)", ge=1,
        le=1 << 16
    )
    double_buffered_bins: bool = spec_field(
        False, doc="a second bin set lets the post-reduction overlap the next block's adds"
    )
    bin_bits: int = spec_field(
        32, doc="width of each bin accumulator in bits (two's complement); int8 activations summed over K need "
                "ceil(log2(K)) + 8 + 1 bits (21 for K <= 4096); a narrower width is priced as configured and the "
                "functional datapath raises an overflow naming the bin when a sum does not fit", ge=8, le=32
    )
    bin_storage: str = spec_field(
        "flipflop", doc="storage of the bin accumulators: flipflop (D flip-flops), latch (latch array with one "
                        "flip-flop input row per bin set and one clock gate per bin) or regfile (a small 1R1W "
                        "register-file macro per bin set)", choices=("flipflop", "latch", "regfile")
    )
    decode_latency_cycles: int = spec_field(1, doc="index decode pipeline latency in cycles", ge=0)
    add_latency_cycles: int = spec_field(
        1, doc="bin adder pipeline stages in cycles (the accumulate is the last)", ge=1)

    def peak_macs_per_cycle(self) -> int:
        """Weight x activation products per cycle at full occupancy (one per PE per activation row)."""
        return self.tiles * self.pes_per_tile * self.rows_per_pe
