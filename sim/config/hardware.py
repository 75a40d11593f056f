"""The hardware configuration: frozen dataclasses built from a validated YAML file.

Canonical keys (users' scripts and sweeps rely on them): ``clock_hz``, ``tech.node_nm``, ``compute.kind``
(gobo | systolic | tensorcore), ``compute.rows``/``compute.cols``/``compute.dataflow`` for systolic,
``buffers.<name>.capacity_bytes``, ``dram.kind``, ``dram.channels``. Every field's ``doc`` names its unit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sim.config.schema import TaggedUnion, spec_field

NODES_NM = (65, 45, 40, 32, 28, 22, 16, 14, 7)
DRAM_KINDS = ("ddr4-3200", "lpddr4-3200", "hbm2")
WEIGHT_FORMATS = ("gobo", "int8", "fp16")

Checks = Iterator[tuple[str, str]]


@dataclass(frozen=True, kw_only=True)
class TechSpec:
    """Technology: the node the design is priced at and the energy/area table used."""

    node_nm: int = spec_field(45, doc="technology node in nm", choices=NODES_NM)
    table: str = spec_field("horowitz45", doc="energy/area table name (hwconfigs/tech/<table>.yaml)")


@dataclass(frozen=True, kw_only=True)
class GoboCompute:
    """GOBO accelerator compute: tiles of add-mostly PEs over 3-bit weight indices (see sim/hw/gobo_tile.py)."""

    kind: str = spec_field(doc="compute kind", choices=("gobo",))
    tiles: int = spec_field(doc="number of GOBO tiles working in parallel", ge=1, le=1 << 16)
    pes_per_tile: int = spec_field(doc="PEs per tile; each PE produces one output column per block", ge=1, le=1 << 16)
    rows_per_pe: int = spec_field(doc="activation rows a PE processes together (bin sets per PE)", ge=1, le=1024)
    multipliers_per_pe: int = spec_field(1, doc="multipliers per PE for the centroid x bin-sum products", ge=1,
                                         le=1024)
    outlier_macs_per_cycle: int = spec_field(
        doc="int8 x int16 MACs per cycle of each tile's outlier unit", ge=1
    )
    double_buffered_bins: bool = spec_field(
        False, doc="a second bin set lets the post-reduction overlap the next block's adds"
    )
    decode_latency_cycles: int = spec_field(1, doc="index decode pipeline latency in cycles", ge=0)
    add_latency_cycles: int = spec_field(
        1, doc="bin adder pipeline stages in cycles (the accumulate is the last)", ge=1)

    def peak_macs_per_cycle(self) -> int:
        """Weight x activation products per cycle at full occupancy (one per PE per activation row)."""
        return self.tiles * self.pes_per_tile * self.rows_per_pe


@dataclass(frozen=True, kw_only=True)
class SystolicCompute:
    """TPU-like systolic array of int8 MACs with int32 accumulators (see sim/hw/systolic.py)."""

    kind: str = spec_field(doc="compute kind", choices=("systolic",))
    rows: int = spec_field(doc="PE rows of the array", ge=1, le=1 << 14)
    cols: int = spec_field(doc="PE columns of the array", ge=1, le=1 << 14)
    dataflow: str = spec_field(
        "ws", doc="ws (weight-), os (output-) or is (input-stationary)", choices=("ws", "os", "is"))
    weight_preload_overlap: bool = spec_field(
        True, doc="the next fold's stationary operand loads while the current fold computes (weight FIFO)"
    )

    def peak_macs_per_cycle(self) -> int:
        """MACs per cycle with every PE busy."""
        return self.rows * self.cols


@dataclass(frozen=True, kw_only=True)
class TensorCoreCompute:
    """Tensor-Core-like units, each an m x n x k FP16 MMA per cycle with FP32 accumulation (sim/hw/tensorcore.py)."""

    kind: str = spec_field(doc="compute kind", choices=("tensorcore",))
    units: int = spec_field(doc="number of tensor-core units", ge=1, le=1 << 20)
    mma_m: int = spec_field(4, doc="MMA tile rows per unit per cycle", ge=1)
    mma_n: int = spec_field(4, doc="MMA tile columns per unit per cycle", ge=1)
    mma_k: int = spec_field(4, doc="MMA reduction depth per unit per cycle", ge=1)
    pipeline_latency_cycles: int = spec_field(4, doc="MMA pipeline latency in cycles", ge=1)

    def peak_macs_per_cycle(self) -> int:
        """FMAs per cycle with every unit busy."""
        return self.units * self.mma_m * self.mma_n * self.mma_k


COMPUTE_KINDS = {"gobo": GoboCompute, "systolic": SystolicCompute, "tensorcore": TensorCoreCompute}
ComputeSpec = GoboCompute | SystolicCompute | TensorCoreCompute


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

    def bytes_per_cycle(self) -> int:
        """Aggregate read bandwidth in bytes per cycle."""
        return self.banks * self.port_bytes


@dataclass(frozen=True, kw_only=True)
class DramSpecConfig:
    """Off-chip memory: a preset kind and its channel count (timings come from the preset, sim/hw/dram.py)."""

    kind: str = spec_field(doc="DRAM preset", choices=DRAM_KINDS)
    channels: int = spec_field(doc="channels (64-bit for DDR4, x16 for LPDDR4, pseudo-channels for HBM2)", ge=1,
                               le=1024)


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
    decompress_per_cycle: int = spec_field(
        256, doc="GOBO decompressor output in weights per cycle (gobo format on a systolic/tensorcore core)", ge=1)


@dataclass(frozen=True, kw_only=True)
class HardwareConfig:
    """A whole accelerator configuration (one YAML file under hwconfigs/)."""

    version: int = spec_field(doc="schema version", choices=(1,))
    name: str = spec_field(doc="design name")
    clock_hz: float = spec_field(doc="core clock in Hz", gt=0, le=1e12)
    compute: ComputeSpec = field(
        metadata={"doc": "compute engine", "union": TaggedUnion("kind", COMPUTE_KINDS)}
    )
    vector: VectorSpec = spec_field(doc="vector unit")
    buffers: dict[str, BufferSpec] = spec_field(doc="on-chip buffers by name: weights, activations, outputs")
    dram: DramSpecConfig = spec_field(doc="off-chip memory")
    weights: WeightSpec = spec_field(doc="weight storage and quantization")
    tech: TechSpec = spec_field(default_factory=TechSpec, doc="technology")
    description: str = spec_field("", doc="one-line description")

    def check(self) -> Checks:
        """Semantic checks across fields (beyond each field's own rules)."""
        for name in ("weights", "activations", "outputs"):
            if name not in self.buffers:
                defined = ", ".join(sorted(self.buffers)) or "none"
                yield "buffers", f"must define buffer '{name}' (defined: {defined})"
        kind = self.compute.kind
        if kind == "gobo" and self.weights.format != "gobo":
            yield "weights.format", ("compute.kind gobo computes on GOBO indices, so weights.format must be gobo, "
                                     f"got '{self.weights.format}'")
        if kind == "systolic" and self.weights.format == "fp16":
            yield "weights.format", ("the systolic array is int8: weights.format must be int8 or gobo "
                                     "(decompressed on chip), got 'fp16'")
        if kind == "tensorcore" and self.weights.format == "int8":
            yield "weights.format", ("the tensor-core engine is fp16: weights.format must be fp16 or gobo "
                                     "(decompressed on chip), got 'int8'")
        out = self.buffers.get("outputs")
        if out is not None and kind == "systolic":
            need = self.compute.cols * 4  # one int32 partial sum per column: the smallest accumulator tile
            if out.capacity_bytes < need:
                yield "buffers.outputs.capacity_bytes", (f"must hold at least one int32 row of the array "
                                                         f"({need} bytes), got {out.capacity_bytes}")
        wb = self.buffers.get("weights")
        if wb is not None:
            need = self.min_weight_tile_bytes()
            if wb.capacity_bytes < need:
                yield "buffers.weights.capacity_bytes", (f"must hold at least one weight tile of the compute "
                                                         f"engine ({need} bytes), got {wb.capacity_bytes}")

    def min_weight_tile_bytes(self) -> int:
        """Bytes of the smallest weight tile the compute engine works on (one array/tile fill)."""
        c = self.compute
        if isinstance(c, GoboCompute):
            return (c.pes_per_tile * self.weights.bits + 7) // 8  # one index per PE
        if isinstance(c, SystolicCompute):
            return c.rows * c.cols  # int8
        return c.mma_k * c.mma_n * 2  # fp16

    @property
    def peak_macs_per_cycle(self) -> int:
        """Peak multiply-accumulates (or GOBO weight-activation products) per cycle."""
        return self.compute.peak_macs_per_cycle()
