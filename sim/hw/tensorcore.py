"""Tensor-Core-like unit array: closed-form timing and a per-cycle reference stepper.

Work unit ("block")
-------------------
``C[M, N] += A[M, K] @ B[K, N]`` with fp16 ``A``, ``B`` and fp32 ``C``, on an array of
``units`` tensor-core units. Each unit performs one ``mma_m x mma_n x mma_k`` fp16 MMA with fp32
accumulation per cycle (Volta: 4 x 4 x 4 per tensor core per clock, 64 FMA/clk; see
``shared/reference/energy_area.md``, "Tensor Cores").

Distribution of the MMA steps
-----------------------------
The output is cut into ``Tm x Tn`` sub-tiles of ``mma_m x mma_n`` (``Tm = ceil(M/mma_m)``,
``Tn = ceil(N/mma_n)``), numbered row-major ``t = i*Tn + j``; sub-tile ``t`` goes to unit
``t mod units`` (round-robin). A unit processes its sub-tiles in increasing ``t``; for each it
issues ``Tk = ceil(K/mma_k)`` MMAs in increasing ``k``, one per cycle, back to back.
Partial tiles are zero-padded: a padded lane still costs its slot of the MMA (the unit issues
the full ``m x n x k`` every cycle).

Pipeline (per unit; assumed)
----------------------------
An MMA issued at cycle ``c`` spends cycle ``c`` in the operand-fetch stage (A and B fragments
read from the register-file level into the unit's operand registers) and cycles
``c+1 .. c+L`` in ``L = pipeline_latency_cycles`` execution stages: the first computes the
``m*n*k`` exact fp32 products of fp16 operands, the last adds them, in increasing ``k`` order,
into the unit's fp32 accumulator register (sequential fp32 additions, each rounded to nearest
even; accumulator forwarding lets the next MMA of the same sub-tile follow one cycle later, so
dependent MMAs never stall). The accumulator is loaded from ``C`` by a sub-tile's first MMA and
written back after its last one (the accumulator stays in the unit across the K loop).
Default ``L = 4`` is assumed: multiply, two levels of a 4-input fp32 adder tree, accumulate;
NVIDIA publishes no tensor-core stage count, and microbenchmarked HMMA latencies on Volta
(e.g. Jia et al. 2018; Raihan et al., ISPASS 2019) include warp-level operand collection and
the 16x16x16 decomposition, which this unit does not model. The numerics (sequential fp32
accumulation in k order) are this model's definition, not a claim about Volta's internal
adder (which truncates differently).

Closed form
-----------
``S = ceil(Tm*Tn / units) * Tk`` MMAs on the busiest unit; ``cycles = S + L`` (the busiest
unit's last MMA is issued at cycle ``S-1`` and leaves the last execution stage at ``S-1+L``).

Actions (``steps = Tm*Tn*Tk`` MMAs issued in total)
--------------------------------------------------
- ``fma_fp16``: ``M*N*K`` useful FMAs; ``fma_fp16_padded``: ``steps*m*n*k - M*N*K`` (issued
  FMAs = their sum, which is what the hardware spends).
- ``reg_bits``: per MMA ``16*(m*k + k*n)`` operand-register bits + ``32*m*n`` accumulator bits
  (inner pipeline registers between execution stages are not counted).
- ``rf_read_bits``: per MMA ``16*(m*k + k*n)`` (full fragments, padding included) + per
  sub-tile ``32*m*n`` (loading ``C``); ``rf_write_bits``: per sub-tile ``32*m*n``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from sim.hw.timing import StepperResult, TileTiming
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

    def __post_init__(self) -> None:
        for name in ("units", "mma_m", "mma_n", "mma_k", "pipeline_latency_cycles"):
            _pos_int(name, getattr(self, name))

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
        ``TileTiming`` with cycles ``ceil(Tm*Tn/units)*Tk + pipeline_latency_cycles`` and the
        actions listed in the module docstring.
    """
    tm, tn, tk = _grid(params, M, K, N)
    m, n, k = params.mma_m, params.mma_n, params.mma_k
    tiles = tm * tn
    steps = tiles * tk
    busiest = _cdiv(tiles, params.units) * tk
    useful = M * N * K
    frag_bits = 16 * (m * k + k * n)
    acc_bits = 32 * m * n
    actions = {
        "fma_fp16": useful,
        "fma_fp16_padded": steps * params.fmas_per_mma - useful,
        "reg_bits": steps * (frag_bits + acc_bits),
        "rf_read_bits": steps * frag_bits + tiles * acc_bits,
        "rf_write_bits": tiles * acc_bits,
    }
    return TileTiming(busiest + params.pipeline_latency_cycles, actions)


def tensorcore_peak_macs_per_cycle(params: TensorCoreParams) -> int:
    """Peak MACs (FMAs) per cycle of the array: units * m * n * k (unit: MACs/cycle)."""
    return params.units * params.fmas_per_mma


class _Mma:
    """One MMA instruction in flight: sub-tile (i, j), k-step, and its products once computed."""

    __slots__ = ("i", "j", "ks", "a", "b", "products")

    def __init__(self, i: int, j: int, ks: int) -> None:
        self.i, self.j, self.ks = i, j, ks
        self.a: np.ndarray | None = None
        self.b: np.ndarray | None = None
        self.products: np.ndarray | None = None


class TensorCoreStepper:
    """Per-cycle reference model of the unit array (slow; for tests).

    Each unit has an MMA queue (its round-robin sub-tiles x k-steps), an operand-fetch stage
    with operand registers, ``pipeline_latency_cycles`` execution stages and an fp32
    accumulator register. Issues one MMA per unit per cycle and counts every action.
    """

    def __init__(self, params: TensorCoreParams) -> None:
        """Args: params: the array parameters the closed form uses too."""
        self.params = params

    def run(self, a: np.ndarray, b: np.ndarray, c: np.ndarray | None = None) -> StepperResult:
        """Compute ``C + A @ B`` cycle by cycle.

        Args:
            a: [M, K] float16. b: [K, N] float16. c: [M, N] float32 initial accumulator
                (zeros when None).

        Returns:
            ``StepperResult(output=[M, N] float32, cycles, actions)``.
        """
        p = self.params
        a = np.asarray(a)
        b = np.asarray(b)
        if a.dtype != np.float16 or b.dtype != np.float16:
            raise TypeError("a and b must be float16 arrays")
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
            raise ValueError(f"need a [M, K] and b [K, N], got {a.shape} and {b.shape}")
        M, K = a.shape
        N = b.shape[1]
        tm, tn, tk = _grid(p, M, K, N)
        m, n, k = p.mma_m, p.mma_n, p.mma_k
        if c is None:
            c = np.zeros((M, N), dtype=np.float32)
        c = np.asarray(c)
        if c.dtype != np.float32 or c.shape != (M, N):
            raise ValueError(f"c must be float32 of shape {(M, N)}")

        # Zero-padded operands as the register file holds them (padded lanes are real slots).
        a_pad = np.zeros((tm * m, tk * k), dtype=np.float16)
        a_pad[:M, :K] = a
        b_pad = np.zeros((tk * k, tn * n), dtype=np.float16)
        b_pad[:K, :N] = b
        c_pad = np.zeros((tm * m, tn * n), dtype=np.float32)
        c_pad[:M, :N] = c
        out_pad = c_pad.copy()  # register-file copy of C; sub-tiles are written back into it

        queues: list[deque[_Mma]] = [deque() for _ in range(p.units)]
        for t in range(tm * tn):
            i, j = divmod(t, tn)
            for ks in range(tk):
                queues[t % p.units].append(_Mma(i, j, ks))

        L = p.pipeline_latency_cycles
        frag_bits = 16 * (m * k + k * n)
        acc_bits = 32 * m * n
        # stages[u][0] = operand fetch, stages[u][1..L] = execution stages.
        stages: list[list[_Mma | None]] = [[None] * (L + 1) for _ in range(p.units)]
        acc = [np.zeros((m, n), dtype=np.float32) for _ in range(p.units)]
        counts: dict[str, int] = {}

        def count(name: str, value: int) -> None:
            if value:
                counts[name] = counts.get(name, 0) + int(value)

        cycle = 0
        while any(queues) or any(s is not None for st in stages for s in st):
            for u in range(p.units):
                st = stages[u]
                if queues[u]:
                    st[0] = queues[u].popleft()  # issue
                for s in range(L, -1, -1):
                    op = st[s]
                    if op is None:
                        continue
                    if s == 0:
                        rows = slice(op.i * m, (op.i + 1) * m)
                        cols = slice(op.j * n, (op.j + 1) * n)
                        ks = slice(op.ks * k, (op.ks + 1) * k)
                        op.a = a_pad[rows, ks].astype(np.float32)
                        op.b = b_pad[ks, cols].astype(np.float32)
                        count("rf_read_bits", frag_bits)
                        count("reg_bits", frag_bits)
                        continue
                    if s == 1:
                        # Exact: an fp16 x fp16 product fits fp32's 24-bit significand.
                        op.products = op.a[:, :, None] * op.b[None, :, :]  # [m, k, n]
                        ok = op.ks * k
                        valid_m = min(m, M - op.i * m)
                        valid_n = min(n, N - op.j * n)
                        valid_k = min(k, K - ok)
                        useful = valid_m * valid_n * valid_k
                        count("fma_fp16", useful)
                        count("fma_fp16_padded", m * n * k - useful)
                    if s == L:
                        rows = slice(op.i * m, (op.i + 1) * m)
                        cols = slice(op.j * n, (op.j + 1) * n)
                        if op.ks == 0:
                            acc[u] = c_pad[rows, cols].copy()
                            count("rf_read_bits", acc_bits)
                        cur = acc[u]
                        for kk in range(k):
                            cur = (cur + op.products[:, kk, :]).astype(np.float32)
                        acc[u] = cur
                        count("reg_bits", acc_bits)
                        if op.ks == tk - 1:
                            out_pad[rows, cols] = cur
                            count("rf_write_bits", acc_bits)
                # advance the pipeline at the end of the cycle
                for s in range(L, 0, -1):
                    st[s] = st[s - 1]
                st[0] = None
            cycle += 1

        return StepperResult(out_pad[:M, :N].copy(), cycle, counts)
