"""Tensor-Core-like unit array: closed-form timing (``compute.kind: tensorcore``).

``C[M, N] += A[M, K] @ B[K, N]`` (fp16 operands, fp32 accumulation) on ``units`` units, each one
``mma_m x mma_n x mma_k`` MMA per cycle. The output is cut into ``Tm x Tn`` sub-tiles dealt round-robin to
the units; each issues ``Tk = ceil(K / mma_k)`` MMAs per sub-tile back to back through an operand-fetch
stage and ``L = pipeline_latency_cycles`` execution stages. The operand-fetch stage reads an MMA's A and B
fragments (``2*(m*k + k*n)`` bytes, fp16) from the unit's register file at ``rf_read_bytes_per_cycle``; an
MMA stays in it ``F = ceil(2*(m*k + k*n) / rf_read_bytes_per_cycle)`` cycles (no fragment is reused across
MMAs: k is the innermost loop, so consecutive MMAs share neither fragment). The MMAs of a unit's queue
come in sets of ``G = mma_set_size``; the first MMA of each set stays ``B = mma_set_overhead_cycles`` more
cycles in the fetch stage (the operand buffers are reloaded; Volta's HMMA sets, docs/hw/tensorcore.md).
With ``S = ceil(Tm*Tn / units) * Tk`` MMAs on the busiest unit:

    cycles = S * F + ceil(S / G) * B + L

Actions: ``fma_fp16`` (``M*N*K``), ``fma_fp16_padded`` (issued on padded lanes), ``reg_bits``,
``rf_read_bits``, ``rf_write_bits`` (see ``docs/hw/tensorcore.md``, which also gives the pipeline and its
sources). The per-cycle reference these are proven against is :mod:`.stepper`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.hw.timing import TileTiming
from sim.hw.timing import ceil_div as _cdiv
from sim.hw.timing import positive_int as _pos_int


@dataclass(frozen=True)
class TensorCoreParams:
    """Parameters of an array of Tensor-Core-like units."""

    units: int = 8
    """Tensor-core units fed by one register-file level (Volta: 8 per SM)."""
    mma_m: int = 4
    """Rows of the output sub-tile per MMA (Volta: 4)."""
    mma_n: int = 4
    """Columns of the output sub-tile per MMA (Volta: 4)."""
    mma_k: int = 4
    """Reduction depth per MMA (Volta: 4)."""
    pipeline_latency_cycles: int = 4
    """Execution stages after the operand-fetch cycle (cycles, >= 1; assumed, see module doc)."""
    rf_read_bytes_per_cycle: int = 64
    """Register-file read bandwidth into one unit's operand-fetch stage (bytes per cycle; default: one 4x4x4
    fp16 A + B fragment pair per cycle)."""
    mma_set_size: int = 1
    """MMAs per operand set of a unit's queue (>= 1); the first of each set pays the set overhead."""
    mma_set_overhead_cycles: int = 0
    """Extra operand-fetch cycles of the first MMA of each set (>= 0; default: none)."""

    def __post_init__(self) -> None:
        for name in ("units", "mma_m", "mma_n", "mma_k", "pipeline_latency_cycles", "rf_read_bytes_per_cycle",
                     "mma_set_size"):
            _pos_int(name, getattr(self, name))
        _pos_int("mma_set_overhead_cycles", self.mma_set_overhead_cycles, 0)

    @property
    def fmas_per_mma(self) -> int:
        """FMAs one MMA issues (m*n*k)."""
        return self.mma_m * self.mma_n * self.mma_k


def _grid(params: TensorCoreParams, M: int, K: int, N: int) -> tuple[int, int, int]:
    M = _pos_int("M", M)
    K = _pos_int("K", K)
    N = _pos_int("N", N)
    return _cdiv(M, params.mma_m), _cdiv(N, params.mma_n), _cdiv(K, params.mma_k)


def tensorcore_block_timing(params: TensorCoreParams, M: int, K: int, N: int) -> TileTiming:
    """Exact timing of ``C[M, N] += A[M, K] @ B[K, N]`` on the unit array (closed form, O(1)).

    Args:
        params: array parameters.
        M, K, N: block shape (each >= 1).

    Returns:
        ``TileTiming`` with cycles ``S*F + ceil(S/mma_set_size)*mma_set_overhead_cycles +
        pipeline_latency_cycles`` (``S = ceil(Tm*Tn/units)*Tk``, ``F`` the operand-fetch cycles of one MMA) and
        the actions listed in the module docstring.
    """
    tm, tn, tk = _grid(params, M, K, N)
    m, n, k = params.mma_m, params.mma_n, params.mma_k
    tiles = tm * tn
    steps = tiles * tk
    busiest = _cdiv(tiles, params.units) * tk
    useful = M * N * K
    frag_bits = 16 * (m * k + k * n)
    acc_bits = 32 * m * n
    fetch = _cdiv(frag_bits // 8, params.rf_read_bytes_per_cycle)
    actions = {
        "fma_fp16": useful,
        "fma_fp16_padded": steps * params.fmas_per_mma - useful,
        "reg_bits": steps * (frag_bits + acc_bits),
        "rf_read_bits": steps * frag_bits + tiles * acc_bits,
        "rf_write_bits": tiles * acc_bits,
    }
    reloads = _cdiv(busiest, params.mma_set_size) * params.mma_set_overhead_cycles
    return TileTiming(busiest * fetch + reloads + params.pipeline_latency_cycles, actions)


def tensorcore_rf_fetch_cycles(params: TensorCoreParams) -> int:
    """Cycles one MMA spends in the operand-fetch stage: ``ceil(2*(m*k + k*n) / rf_read_bytes_per_cycle)``."""
    return _cdiv(2 * (params.mma_m * params.mma_k + params.mma_k * params.mma_n), params.rf_read_bytes_per_cycle)


def tensorcore_peak_macs_per_cycle(params: TensorCoreParams) -> int:
    """Peak MACs (FMAs) per cycle of the array: units * m * n * k (unit: MACs/cycle)."""
    return params.units * params.fmas_per_mma
