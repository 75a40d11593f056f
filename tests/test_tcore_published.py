"""The V100-like preset's unit-level timing against published Volta tensor-core measurements.

Published figures (docs/sources.md 4.6): Raihan, Goli, Aamodt, "Modeling Deep Learning Accelerator Enabled
GPUs", ISPASS 2019 (Titan V, Volta). The model's numbers come from the closed form (``dense_timing``) of
``hwconfigs/tcore-v100.yaml``, and the stepper is checked to give the same cycles on each case, so each
assertion below fails if either the preset or the model moves away from the measurement by more than 10%.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.compute.registry import get_kind
from sim.compute.tensorcore.timing import TensorCoreParams
from sim.config import load_hardware

TOLERANCE = 0.10
SUBCORE_UNITS = 2  # a warp's wmma.mma runs on its sub-core's 2 tensor cores (Raihan et al. Section IV)
UNITS_PER_SM = 8  # 4 sub-cores x 2 tensor cores (V100 whitepaper; docs/sources.md 4.5)

# Raihan et al. 2019, Fig. 9a: cumulative clock cycles of the 16 HMMA.884.F32.F32 instructions of one
# 16x16x16 mixed-precision wmma.mma on a Titan V; the last completes at 54.
WMMA_MIXED_LATENCY_CYCLES = 54
# Raihan et al. 2019, Fig. 9a: the four HMMA sets (k-slices of 4, each accumulating into the same D registers,
# i.e. a dependent chain) start at 10, 20, 30 and 40 cumulative cycles: 10 cycles per dependent set.
SET_PERIOD_CYCLES = 10
# Raihan et al. 2019, Section V (p. 11; secondary, docs/sources.md 4.6): 108.7 TFLOPS sustained by repeated
# mixed-precision wmma.mma on a Titan V (640 tensor cores), against the paper's 125 TFLOPS peak at 1530 MHz.
SUSTAINED_TFLOPS = 108.7
PEAK_CLOCK_HZ = 1.53e9
TENSOR_CORES = 640


def _hw(units: int | None = None):
    return load_hardware("tcore-v100", [f"compute.units={units}"] if units else [])


def _unit(units: int | None = None):
    return get_kind("tensorcore").unit(_hw(units))


def _stepper_cycles(units: int, M: int, K: int, N: int) -> int:
    return _unit(units).reference_dense(M, K, N, np.random.default_rng(0)).cycles


def _err(model: float, published: float) -> float:
    return (model - published) / published


def test_preset_is_the_published_chip() -> None:
    """640 tensor cores of 4x4x4 at 1.53 GHz: 125.3 TFLOPS peak (V100 whitepaper; Raihan et al. p. 3: 125)."""
    hw = _hw()
    peak_tflops = 2 * hw.compute.peak_macs_per_cycle() * hw.clock_hz / 1e12  # type: ignore[attr-defined]
    assert abs(_err(peak_tflops, 125.0)) <= 0.01


def test_wmma_latency() -> None:
    """One 16x16x16 wmma.mma on a sub-core's 2 tensor cores: 54 cycles (Raihan et al. Fig. 9a, mixed precision)."""
    model = _unit(SUBCORE_UNITS).dense_timing(16, 16, 16).cycles
    assert model == _stepper_cycles(SUBCORE_UNITS, 16, 16, 16)
    assert abs(_err(model, WMMA_MIXED_LATENCY_CYCLES)) <= TOLERANCE, (model, WMMA_MIXED_LATENCY_CYCLES)


def test_dependent_chain_of_sets() -> None:
    """A dependent chain of k-slices into one 16x16 accumulator tile: 10 cycles per set of 16 HMMA.884 steps'
    worth of MMAs (Raihan et al. Fig. 9a: sets start at 10, 20, 30, 40). The model's cycles for n chained
    16x16x(4n) MMAs grow by its per-set time; measured between n = 4 (one wmma) and n = 8 (two chained)."""
    u = _unit(SUBCORE_UNITS)
    one, two = u.dense_timing(16, 16, 16).cycles, u.dense_timing(16, 32, 16).cycles
    assert two == _stepper_cycles(SUBCORE_UNITS, 16, 32, 16)
    per_set = (two - one) / 4
    assert abs(_err(per_set, SET_PERIOD_CYCLES)) <= TOLERANCE, (per_set, SET_PERIOD_CYCLES)
    # and the chained pair against twice the one-wmma latency less the overlap the chain allows: a second
    # dependent wmma adds its 4 sets, not another full 54-cycle latency
    assert two < 2 * one


@pytest.mark.parametrize("M,K,N", [(256, 256, 256), (1024, 512, 1024)])
def test_sustained_rate_per_tensor_core_and_per_sm(M: int, K: int, N: int) -> None:
    """Sustained FMA/cycle on a large GEMM tile: 108.7 TFLOPS over 640 tensor cores at 1.53 GHz = 55.5 FMA/cycle
    per tensor core, 444 per SM (Raihan et al. Section V, repeated wmma.mma, mixed precision)."""
    published_per_tc = SUSTAINED_TFLOPS * 1e12 / 2 / TENSOR_CORES / PEAK_CLOCK_HZ
    u = _unit(UNITS_PER_SM)  # one SM's 8 tensor cores
    cycles = u.dense_timing(M, K, N).cycles
    per_tc = M * K * N / cycles / UNITS_PER_SM
    assert abs(_err(per_tc, published_per_tc)) <= TOLERANCE, (per_tc, published_per_tc)
    assert abs(_err(per_tc * UNITS_PER_SM, published_per_tc * UNITS_PER_SM)) <= TOLERANCE
    # the whole preset (640 units) on a GEMM big enough to fill them sustains the same per-unit rate
    whole = _unit().dense_timing(4 * M, K, 4 * N).cycles
    assert abs(_err(16 * M * K * N / whole / TENSOR_CORES, published_per_tc)) <= TOLERANCE


def test_sustained_rate_through_the_stepper() -> None:
    """The per-cycle stepper sustains the same rate on one SM (a mid-size tile, to stay fast)."""
    u = _unit(UNITS_PER_SM)
    assert _stepper_cycles(UNITS_PER_SM, 64, 64, 64) == u.dense_timing(64, 64, 64).cycles


def test_sets_are_what_brings_the_model_to_the_measurement() -> None:
    """Without the set overhead the preset's model would miss the wmma latency and the sustained rate by more
    than 10%: the extension is needed, not decoration (fails if the set keys stop reaching the timing)."""
    c = _hw(SUBCORE_UNITS).compute
    plain = TensorCoreParams(SUBCORE_UNITS, c.mma_m, c.mma_n, c.mma_k,  # type: ignore[attr-defined]
                             c.pipeline_latency_cycles, c.rf_read_bytes_per_cycle)  # type: ignore[attr-defined]
    from sim.compute.tensorcore.timing import tensorcore_block_timing

    assert abs(_err(tensorcore_block_timing(plain, 16, 16, 16).cycles, WMMA_MIXED_LATENCY_CYCLES)) > TOLERANCE
    published_per_tc = SUSTAINED_TFLOPS * 1e12 / 2 / TENSOR_CORES / PEAK_CLOCK_HZ
    plain8 = TensorCoreParams(UNITS_PER_SM, 4, 4, 4, 10, 64)
    per_tc = 1024**2 * 512 / tensorcore_block_timing(plain8, 1024, 512, 1024).cycles / UNITS_PER_SM
    assert abs(_err(per_tc, published_per_tc)) > TOLERANCE
