"""The ``compute:`` section of a BiQGEMM-style design (``kind: biqgemm``)."""

from __future__ import annotations

from dataclasses import dataclass

from sim.compute.base import ComputeConfig
from sim.config.schema import spec_field


@dataclass(frozen=True, kw_only=True)
class BiqgemmCompute(ComputeConfig):
    """Tiles of lookup lanes over tables of activation partial sums (see docs/hw/biqgemm.md)."""

    kind: str = spec_field(doc="compute kind", choices=("biqgemm",))
    tiles: int = spec_field(doc="number of lookup-table tiles working in parallel", ge=1, le=1 << 16)
    lanes_per_tile: int = spec_field(doc="lookup lanes per tile; each lane produces one output column per block",
                                     ge=1, le=1 << 16)
    rows_per_tile: int = spec_field(doc="activation rows a tile processes together (one table per row)", ge=1,
                                    le=1024)
    group_size: int = spec_field(4, doc="activations per table (mu): a table holds the 2^mu signed sums of one "
                                        "group", ge=1, le=8)
    planes: int = spec_field(3, doc="binary weight planes the lanes accumulate (q; must equal weights.bcq_bits)",
                             ge=1, le=8)
    build_per_cycle: int = spec_field(8, doc="table entries each row's table builder writes per cycle (one adder "
                                             "tree of group_size inputs each)", ge=1, le=256)
    latency_cycles: int = spec_field(2, doc="cycles from a lane's table read to its accumulate (read + add "
                                            "stages)", ge=1, le=64)

    def peak_macs_per_cycle(self) -> int:
        """Weight-activation products per cycle with every lane busy: a lookup covers ``group_size`` products of
        one plane, a weight needs ``planes`` of them."""
        return self.tiles * self.lanes_per_tile * self.rows_per_tile * self.group_size // self.planes
