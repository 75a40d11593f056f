"""Tensor-Core-like array: the per-cycle stepper and the closed form agree; the numerics are exact."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.compute.tensorcore.stepper import TensorCoreStepper
from sim.compute.tensorcore.timing import (
    TensorCoreParams,
    tensorcore_block_timing,
    tensorcore_peak_macs_per_cycle,
    tensorcore_rf_fetch_cycles,
)


def _fp32_reference(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """C + A @ B with exact fp32 products and sequential fp32 accumulation in k order."""
    acc = c.astype(np.float32).copy()
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    for kk in range(a.shape[1]):
        acc = (acc + a32[:, kk : kk + 1] * b32[kk : kk + 1, :]).astype(np.float32)
    return acc


def _check(params: TensorCoreParams, M: int, K: int, N: int, rng: np.random.Generator) -> None:
    a = rng.standard_normal((M, K)).astype(np.float16)
    b = rng.standard_normal((K, N)).astype(np.float16)
    c = rng.standard_normal((M, N)).astype(np.float32)
    res = TensorCoreStepper(params).run(a, b, c)
    closed = tensorcore_block_timing(params, M, K, N)
    assert res.cycles == closed.cycles
    assert dict(res.actions) == dict(closed.actions)
    assert res.output.dtype == np.float32 and res.output.shape == (M, N)
    np.testing.assert_array_equal(res.output, _fp32_reference(a, b, c))
    exact = c.astype(np.float64) + a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(res.output, exact, rtol=1e-4, atol=1e-4 * np.sqrt(K))


def test_random_shapes_stepper_equals_closed_form() -> None:
    rng = np.random.default_rng(7)
    for _ in range(150):
        params = TensorCoreParams(
            units=int(rng.integers(1, 7)),
            mma_m=int(rng.integers(1, 6)),
            mma_n=int(rng.integers(1, 6)),
            mma_k=int(rng.integers(1, 6)),
            pipeline_latency_cycles=int(rng.integers(1, 7)),
            rf_read_bytes_per_cycle=int(rng.integers(1, 80)),
        )
        M, K, N = (int(v) for v in rng.integers(1, 21, 3))
        _check(params, M, K, N, rng)


@settings(max_examples=60, deadline=None, database=None)
@given(
    M=st.integers(1, 24), K=st.integers(1, 24), N=st.integers(1, 24),
    units=st.integers(1, 8), latency=st.integers(1, 6), seed=st.integers(0, 2**16),
)
def test_property_volta_shape(M: int, K: int, N: int, units: int, latency: int, seed: int) -> None:
    _check(TensorCoreParams(units=units, pipeline_latency_cycles=latency), M, K, N, np.random.default_rng(seed))


def test_hand_computed() -> None:
    p = TensorCoreParams()  # 8 units, 4x4x4, latency 4
    # 16x16x16: 16 sub-tiles over 8 units -> 2 each, 4 k-steps each -> 8 issue cycles + 4.
    t = tensorcore_block_timing(p, 16, 16, 16)
    assert t.cycles == 12
    assert t.action("fma_fp16") == 16**3 and t.action("fma_fp16_padded") == 0
    # 5x4x4: 2 sub-tiles (one padded row block), 1 k-step -> 1 + 4 cycles; 2*64 - 80 padded FMAs.
    t = tensorcore_block_timing(p, 5, 4, 4)
    assert t.cycles == 5
    assert t.action("fma_fp16") == 80 and t.action("fma_fp16_padded") == 48
    assert t.action("reg_bits") == 2 * (16 * 32 + 32 * 16)
    assert t.action("rf_write_bits") == 2 * 512
    # Round-robin imbalance: 9 sub-tiles on 8 units -> busiest unit does 2.
    assert tensorcore_block_timing(p, 12, 4, 12).cycles == 2 + 4


def test_peak() -> None:
    assert tensorcore_peak_macs_per_cycle(TensorCoreParams()) == 8 * 64


def test_default_accumulator_and_errors() -> None:
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 5)).astype(np.float16)
    b = rng.standard_normal((5, 2)).astype(np.float16)
    res = TensorCoreStepper(TensorCoreParams(units=2)).run(a, b)
    np.testing.assert_array_equal(res.output, _fp32_reference(a, b, np.zeros((3, 2), np.float32)))
    with pytest.raises(TypeError):
        TensorCoreStepper(TensorCoreParams()).run(a.astype(np.float32), b)
    with pytest.raises(ValueError):
        tensorcore_block_timing(TensorCoreParams(), 0, 4, 4)
    with pytest.raises(ValueError):
        TensorCoreParams(pipeline_latency_cycles=0)


@settings(max_examples=60, deadline=None, database=None)
@given(
    M=st.integers(1, 20), K=st.integers(1, 20), N=st.integers(1, 20), units=st.integers(1, 6),
    mma=st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6)), latency=st.integers(1, 5),
    rf=st.integers(1, 100), seed=st.integers(0, 2**16),
)
def test_property_rf_read_port(M: int, K: int, N: int, units: int, mma: tuple[int, int, int], latency: int,
                               rf: int, seed: int) -> None:
    """Closed form == stepper with the register-file read port as a per-cycle resource, any width."""
    m, n, k = mma
    _check(TensorCoreParams(units=units, mma_m=m, mma_n=n, mma_k=k, pipeline_latency_cycles=latency,
                            rf_read_bytes_per_cycle=rf), M, K, N, np.random.default_rng(seed))


def test_rf_read_port_binds() -> None:
    """A narrower register-file port slows the MMA issue by ceil(fragment bytes / port) (fails if ignored)."""
    rng = np.random.default_rng(11)
    a = rng.standard_normal((16, 16)).astype(np.float16)
    b = rng.standard_normal((16, 16)).astype(np.float16)
    wide = TensorCoreParams(units=8, rf_read_bytes_per_cycle=64)  # 4x4x4 fp16: 32 B of A + 32 B of B
    narrow = TensorCoreParams(units=8, rf_read_bytes_per_cycle=24)  # ceil(64 / 24) = 3 fetch cycles
    assert tensorcore_rf_fetch_cycles(wide) == 1 and tensorcore_rf_fetch_cycles(narrow) == 3
    # 16 sub-tiles on 8 units -> 2 each x 4 k-steps = 8 MMAs on the busiest unit; + 4 execution stages
    assert TensorCoreStepper(wide).run(a, b).cycles == 8 + 4
    assert TensorCoreStepper(narrow).run(a, b).cycles == 8 * 3 + 4
    assert tensorcore_block_timing(narrow, 16, 16, 16).cycles == 8 * 3 + 4
    # the bytes read are the same: the port limits when, not how much
    assert (TensorCoreStepper(narrow).run(a, b).actions["rf_read_bits"]
            == tensorcore_block_timing(wide, 16, 16, 16).action("rf_read_bits"))
    # a port wider than one MMA's fragments gains nothing
    assert tensorcore_block_timing(TensorCoreParams(units=8, rf_read_bytes_per_cycle=4096), 16, 16, 16).cycles == 12


def test_rf_read_port_through_the_preset() -> None:
    """The compute.rf_read_bytes_per_cycle key reaches the engine's MMA timing."""
    from sim.compute.registry import get_kind
    from sim.config import load_hardware

    hw = load_hardware("tcore")
    assert hw.compute.rf_read_bytes_per_cycle == 64  # type: ignore[attr-defined]
    base = get_kind("tensorcore").unit(hw).dense_timing(128, 64, 128).cycles
    narrow = load_hardware("tcore", ["compute.rf_read_bytes_per_cycle=16"])
    assert get_kind("tensorcore").unit(narrow).dense_timing(128, 64, 128).cycles == (base - 4) * 4 + 4


@settings(max_examples=60, deadline=None, database=None)
@given(
    M=st.integers(1, 20), K=st.integers(1, 20), N=st.integers(1, 20), units=st.integers(1, 6),
    mma=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)), latency=st.integers(1, 5),
    rf=st.integers(1, 100), set_size=st.integers(1, 12), set_overhead=st.integers(0, 5), seed=st.integers(0, 2**16),
)
def test_property_mma_sets(M: int, K: int, N: int, units: int, mma: tuple[int, int, int], latency: int,
                           rf: int, set_size: int, set_overhead: int, seed: int) -> None:
    """Closed form == stepper with operand sets (a reload bubble every mma_set_size MMAs of a unit)."""
    m, n, k = mma
    _check(TensorCoreParams(units=units, mma_m=m, mma_n=n, mma_k=k, pipeline_latency_cycles=latency,
                            rf_read_bytes_per_cycle=rf, mma_set_size=set_size,
                            mma_set_overhead_cycles=set_overhead), M, K, N, np.random.default_rng(seed))


def test_mma_sets_hand_computed() -> None:
    """A wmma-sized 16x16x16 on one Volta sub-core (2 units): 32 MMAs each, sets of 8, 2 reload cycles per set."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((16, 16)).astype(np.float16)
    b = rng.standard_normal((16, 16)).astype(np.float16)
    p = TensorCoreParams(units=2, pipeline_latency_cycles=10, mma_set_size=8, mma_set_overhead_cycles=2)
    assert tensorcore_block_timing(p, 16, 16, 16).cycles == 32 + 4 * 2 + 10
    assert TensorCoreStepper(p).run(a, b).cycles == 32 + 4 * 2 + 10
    # no overhead, or sets of one MMA with no overhead: the model without sets
    plain = TensorCoreParams(units=2, pipeline_latency_cycles=10)
    assert tensorcore_block_timing(plain, 16, 16, 16).cycles == 32 + 10
    # a partial last set still pays its reload: 33 MMAs in sets of 8 -> 5 reloads
    p33 = TensorCoreParams(units=1, mma_m=1, mma_n=1, mma_k=1, pipeline_latency_cycles=1, rf_read_bytes_per_cycle=4,
                           mma_set_size=8, mma_set_overhead_cycles=3)
    assert tensorcore_block_timing(p33, 1, 33, 1).cycles == 33 + 5 * 3 + 1
    with pytest.raises(ValueError):
        TensorCoreParams(mma_set_size=0)
    with pytest.raises(ValueError):
        TensorCoreParams(mma_set_overhead_cycles=-1)
