"""The hardware configuration: frozen dataclasses built from a validated YAML file.

Canonical keys (users' scripts and sweeps rely on them): ``clock_hz``, ``tech.node_nm``, ``compute.kind``
(a registered compute kind: gobo | systolic | tensorcore | ...), ``compute.rows``/``compute.cols``/
``compute.dataflow`` for systolic, ``buffers.<name>.capacity_bytes``, ``dram.kind``, ``dram.channels``,
``dram.mapping``. Every field's ``doc`` names its unit. The ``compute:`` section's spec class belongs to its
compute kind's plug-in (``sim/compute/<kind>/config.py``), chosen by ``compute.kind`` through the registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sim.compute.base import ComputeConfig
from sim.compute.registry import config_classes, get_kind
from sim.config.schema import TaggedUnion, spec_field
from sim.cost.sram import CELLS, DEFAULT_CELL, DEFAULT_TEMPERATURE_K, TEMPERATURES_K, banks_to_cycle, sram_macro
from sim.hw.dram import DRAM_KINDS, DRAM_MAPPINGS

NODES_NM = (65, 45, 40, 32, 28, 22, 16, 14, 7)
WEIGHT_FORMATS = ("gobo", "int8", "fp16", "ternary", "bcq", "olive", "olaccel")

Checks = Iterator[tuple[str, str]]


@dataclass(frozen=True, kw_only=True)
class TechSpec:
    """Technology: the node the design is priced at and the energy/area table used."""

    node_nm: int = spec_field(45, doc="technology node in nm", choices=NODES_NM)
    table: str = spec_field("horowitz45", doc="energy/area table name (hwconfigs/tech/<table>.yaml)")


@dataclass(frozen=True, kw_only=True)
class VectorSpec:
    """Vector unit for softmax, GELU, LayerNorm, residual adds and requantization."""

    lanes: int = spec_field(doc="integer lanes; each does one simple integer operation per cycle", ge=1,
                            le=1 << 20)
    divider_cycles: int = spec_field(
        8, doc="cycles one lane spends on an integer division (iterative divider)", ge=1
    )
    kernels: str = spec_field("ibert", doc="nonlinear kernel set the vector unit runs", choices=("ibert", "ivit"))


@dataclass(frozen=True, kw_only=True)
class BufferSpec:
    """One on-chip SRAM buffer."""

    capacity_bytes: int = spec_field(doc="capacity in bytes", gt=0, le=1 << 40)
    banks: int = spec_field(1, doc="independent banks", ge=1, le=1 << 16)
    port_bytes: int = spec_field(doc="bytes per bank port per cycle", gt=0, le=1 << 16)
    double_buffered: bool = spec_field(True, doc="half the capacity fills while the other half is used")
    cell: str = spec_field(DEFAULT_CELL, doc="ITRS device type of the cells and periphery (CACTI 7); default "
                                            "itrs-lstp, the default of Accelergy's CACTI plug-in", choices=CELLS)
    temperature_k: int = spec_field(DEFAULT_TEMPERATURE_K, doc="operating temperature in K for leakage (CACTI 7); "
                                                               "default 300, Accelergy's CACTI plug-in default",
                                    choices=TEMPERATURES_K)

    def bytes_per_cycle(self) -> int:
        """Aggregate read bandwidth in bytes per cycle."""
        return self.banks * self.port_bytes


@dataclass(frozen=True, kw_only=True)
class DramSpecConfig:
    """Off-chip memory: a preset kind and its channel count (timings come from the preset, sim/hw/dram.py)."""

    kind: str = spec_field(doc="DRAM preset", choices=DRAM_KINDS)
    channels: int = spec_field(doc="channels (64-bit for DDR4, x16 for LPDDR4, pseudo-channels for HBM2)", ge=1,
                               le=1024)
    mapping: str = spec_field("robabgcoch", doc="address mapping, fields MSB to LSB (row, bank, bank group, column, "
                              "channel; sim/hw/dram.py DRAM_MAPPINGS); default: the project's channel-interleaved "
                              "layout", choices=DRAM_MAPPINGS)


@dataclass(frozen=True, kw_only=True)
class WeightSpec:
    """How weights are stored off chip and quantized."""

    format: str = spec_field(doc="off-chip weight format", choices=WEIGHT_FORMATS)
    bits: int = spec_field(3, doc="GOBO index bits for FC weights (2^bits centroids)", ge=2, le=8)
    embedding_bits: int = spec_field(4, doc="GOBO index bits for the embedding tables", ge=2, le=8)
    quantize_embeddings: bool = spec_field(True, doc="quantize embedding tables with GOBO")
    outlier_threshold: float = spec_field(
        -4.0, doc="a weight is an outlier when ln(Gaussian pdf) <= this", ge=-1e6, le=0.0
    )
    seed: int = spec_field(0, doc="seed of the synthetic weight generator (when no checkpoint is given)", ge=0)
    convert_per_cycle: int = spec_field(
        1, doc="fp32 dictionary entries and outliers converted to integers per cycle as GOBO weights arrive", ge=1,
        le=1 << 16)
    decompress_per_cycle: int = spec_field(
        256, doc="GOBO decompressor output in weights per cycle (gobo format on a systolic/tensorcore core)", ge=1)
    ternary_granularity: str = spec_field(
        "row", doc="ternary format: one TWN threshold and scale per output channel (row) or per tensor (tensor, "
                   "TernaryBERT's choice for the layers' weights)", choices=("row", "tensor"))
    bcq_bits: int = spec_field(3, doc="bcq format: binary planes per weight (q), each with a per-row scale", ge=1,
                               le=8)


@dataclass(frozen=True, kw_only=True)
class HardwareConfig:
    """A whole accelerator configuration (one YAML file under hwconfigs/)."""

    version: int = spec_field(doc="schema version", choices=(1,))
    name: str = spec_field(doc="design name")
    clock_hz: float = spec_field(doc="core clock in Hz", gt=0, le=1e12)
    compute: ComputeConfig = field(
        metadata={"doc": "compute engine", "union": TaggedUnion("kind", config_classes)}
    )
    vector: VectorSpec = spec_field(doc="vector unit")
    buffers: dict[str, BufferSpec] = spec_field(doc="on-chip buffers by name: weights, activations, outputs")
    dram: DramSpecConfig = spec_field(doc="off-chip memory")
    weights: WeightSpec = spec_field(doc="weight storage and quantization")
    tech: TechSpec = spec_field(default_factory=TechSpec, doc="technology")
    description: str = spec_field("", doc="one-line description")

    def check(self) -> Checks:
        """Semantic checks across fields (beyond each field's own rules); the compute kind adds its own."""
        for name in ("weights", "activations", "outputs"):
            if name not in self.buffers:
                defined = ", ".join(sorted(self.buffers)) or "none"
                yield "buffers", f"must define buffer '{name}' (defined: {defined})"
        yield from get_kind(self.compute.kind).check(self)
        yield from self._check_bank_cycle()
        wb = self.buffers.get("weights")
        if wb is not None:
            need = self.min_weight_tile_bytes()
            if wb.capacity_bytes < need:
                yield "buffers.weights.capacity_bytes", (f"must hold at least one weight tile of the compute "
                                                         f"engine ({need} bytes), got {wb.capacity_bytes}")

    def _check_bank_cycle(self) -> Checks:
        """Every buffer's banks must cycle at ``clock_hz`` (CACTI 7 bank cycle time at the design's node)."""
        period_ns = 1e9 / self.clock_hz
        node = self.tech.node_nm
        for name, b in self.buffers.items():
            m = sram_macro(b.capacity_bytes, b.port_bytes, b.banks, b.cell, b.temperature_k, node)
            if m.cycle_ns <= period_ns:
                continue
            bank = b.capacity_bytes / b.banks
            need = banks_to_cycle(period_ns, b.capacity_bytes, b.port_bytes, b.banks, b.cell, node)
            fix = (f"banks: {need} ({b.capacity_bytes / need / 1024:g} KiB banks) would" if need is not None else
                   "no bank count in the CACTI table does at this port width; use a faster cell or a lower clock")
            yield f"buffers.{name}.banks", (
                f"a {bank / 1024:g} KiB {b.cell} bank with {b.port_bytes}-byte words cycles in {m.cycle_ns:.3g} ns "
                f"(CACTI 7, {m.cacti_node_nm} nm), longer than the clock period {period_ns:.3g} ns "
                f"(clock_hz {self.clock_hz:g}); {fix}")

    def min_weight_tile_bytes(self) -> int:
        """Bytes of the smallest weight tile the compute engine works on (one array/tile fill)."""
        return get_kind(self.compute.kind).min_weight_tile_bytes(self)

    @property
    def peak_macs_per_cycle(self) -> int:
        """Peak multiply-accumulates (or GOBO weight-activation products) per cycle."""
        return self.compute.peak_macs_per_cycle()
