"""Tensor-Core-like unit array: the per-cycle reference stepper (slow; :mod:`.timing`'s closed form is tested
against it). Each unit has an MMA queue (its round-robin sub-tiles x k-steps), an operand-fetch stage with
operand registers filled from the register file through a read port of ``rf_read_bytes_per_cycle`` bytes per
cycle, ``pipeline_latency_cycles`` execution stages and an fp32 accumulator register; an MMA leaves the fetch
stage once all its operand bytes have arrived, and the unit issues the next one into the freed stage. The
first MMA of every ``mma_set_size`` a unit issues first waits ``mma_set_overhead_cycles`` in the fetch stage
(operand buffers reloaded) before its port reads start. Every
action is counted. It shares no formula with the closed form: only the
parameter record :class:`~.timing.TensorCoreParams`.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from sim.compute.tensorcore.timing import TensorCoreParams
from sim.hw.timing import StepperResult


def _tiles(extent: int, size: int) -> int:
    n = 0
    while n * size < extent:
        n += 1
    return n


class _Mma:
    """One MMA instruction in flight: sub-tile (i, j), k-step, and its products once computed."""

    __slots__ = ("i", "j", "ks", "a", "b", "products", "fetched", "reload")

    def __init__(self, i: int, j: int, ks: int) -> None:
        self.i, self.j, self.ks = i, j, ks
        self.fetched = 0  # operand bytes read from the register file so far
        self.reload = 0  # operand-buffer reload cycles still to wait in the fetch stage
        self.a: np.ndarray | None = None
        self.b: np.ndarray | None = None
        self.products: np.ndarray | None = None


class TensorCoreStepper:
    """Per-cycle reference model of the unit array (slow; for tests).

    Each unit has an MMA queue (its round-robin sub-tiles x k-steps), an operand-fetch stage
    with operand registers and a register-file read port, ``pipeline_latency_cycles`` execution
    stages and an fp32 accumulator register. Issues an MMA whenever the fetch stage is free and
    counts every action.
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
        if min(M, K, N) < 1:
            raise ValueError(f"need M, K, N >= 1, got {M}, {K}, {N}")
        tm, tn, tk = _tiles(M, p.mma_m), _tiles(N, p.mma_n), _tiles(K, p.mma_k)
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
        issued = [0] * p.units  # MMAs queued per unit so far, to mark the first of each set
        for t in range(tm * tn):
            i, j = divmod(t, tn)
            for ks in range(tk):
                u = t % p.units
                mma = _Mma(i, j, ks)
                if issued[u] % p.mma_set_size == 0:
                    mma.reload = p.mma_set_overhead_cycles
                issued[u] += 1
                queues[u].append(mma)

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

        port = p.rf_read_bytes_per_cycle
        a_frag_bytes = 2 * m * k  # fp16 elements of the A fragment, then the B fragment, in this order
        b_frag_bytes = 2 * k * n
        cycle = 0
        while any(queues) or any(s is not None for st in stages for s in st):
            for u in range(p.units):
                st = stages[u]
                if st[0] is None and queues[u]:
                    st[0] = queues[u].popleft()  # issue into the free fetch stage
                fetched_now = False
                for s in range(L, -1, -1):
                    op = st[s]
                    if op is None:
                        continue
                    if s == 0:
                        if op.reload:
                            op.reload -= 1  # a reload cycle of the operand buffers: no port read yet
                            continue
                        # the read port delivers at most `port` bytes this cycle
                        take = min(port, a_frag_bytes + b_frag_bytes - op.fetched)
                        op.fetched += take
                        count("rf_read_bits", 8 * take)
                        if op.fetched == a_frag_bytes + b_frag_bytes:
                            rows = slice(op.i * m, (op.i + 1) * m)
                            cols = slice(op.j * n, (op.j + 1) * n)
                            kslice = slice(op.ks * k, (op.ks + 1) * k)
                            op.a = a_pad[rows, kslice].astype(np.float32)
                            op.b = b_pad[kslice, cols].astype(np.float32)
                            count("reg_bits", frag_bits)
                            fetched_now = True
                        continue
                    if s == 1:
                        # Exact: an fp16 x fp16 product fits fp32's 24-bit significand.
                        assert op.a is not None and op.b is not None
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
                        assert op.products is not None
                        for kk in range(k):
                            cur = (cur + op.products[:, kk, :]).astype(np.float32)
                        acc[u] = cur
                        count("reg_bits", acc_bits)
                        if op.ks == tk - 1:
                            out_pad[rows, cols] = cur
                            count("rf_write_bits", acc_bits)
                # advance the pipeline at the end of the cycle; the fetch stage holds an MMA still waiting for
                # operand bytes and sends a bubble down the execution stages
                for s in range(L, 1, -1):
                    st[s] = st[s - 1]
                st[1] = st[0] if fetched_now else None
                if fetched_now:
                    st[0] = None
            cycle += 1

        return StepperResult(out_pad[:M, :N].copy(), cycle, counts)
