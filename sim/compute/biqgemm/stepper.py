"""The BiQGEMM-style tile stepped cycle by cycle (slow; :mod:`.timing`'s closed form is tested against it).

One tile: a table builder, two table buffers, the lookup lanes with a ``latency - 1``-deep pipeline to their
accumulators, two accumulator banks and an epilogue unit. Each cycle, in order: the builder starts a group
when it is idle and the group's buffer is free, or advances the group it builds (the tables are written at the
end of its last cycle); the lanes make one lookup of the current group (one plane) if its tables are ready,
freeing the buffer after the group's last plane; the lookups due this cycle are added into their block's bank;
the epilogue combines one plane of a finished bank. Buffers, banks and the epilogue change state at the end of
the cycle. The tables hold real signed sums, the lanes read them by real keys. It shares no formula with the
closed form: only the parameter record and the widths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.compute.biqgemm.timing import ACC_BITS, ACT_BITS, BiqgemmParams, entry_bits
from sim.hw.timing import StepperResult, TileTiming


@dataclass
class BiqBlock:
    """One block: activations ``x [rows<=R, K]``, planes ``signs [Q, K, cols<=P]`` in {-1, +1}, per-plane
    coefficients ``coef [Q, cols]``; output ``sum_i coef_i * (x @ signs_i)``, halved when ``halve``."""

    x: np.ndarray
    signs: np.ndarray
    coef: np.ndarray
    halve: bool = False


class BiqgemmTileStepper:
    """One tile of ``lanes`` lookup lanes over ``rows`` tables; :meth:`run` a sequence of blocks."""

    def __init__(self, params: BiqgemmParams, epilogue_action: str = "mul_int8x32") -> None:
        self.p = params
        self.epilogue_action = epilogue_action

    def run(self, blocks: list[BiqBlock]) -> StepperResult:
        """Step the blocks in order; output: each block's result (int64 ``[rows, cols]``)."""
        p = self.p
        R, P, mu, L = p.rows, p.lanes, p.mu, p.latency
        size = 1 << mu
        Q = blocks[0].signs.shape[0]
        ebits = entry_bits(mu)
        # operands padded to whole groups, rows and lanes
        xs, keys, coefs, valid, groups = [], [], [], [], []
        for b in blocks:
            r, K = b.x.shape
            c = b.signs.shape[2]
            G = -(-K // mu)
            x = np.zeros((R, G * mu), dtype=np.int64)
            x[:r, :K] = b.x
            bits = np.zeros((Q, G * mu, P), dtype=np.int64)
            bits[:, :K, :c] = (b.signs > 0)
            k = np.zeros((Q, G, P), dtype=np.int64)  # the lanes' keys per plane and group
            for j in range(mu):
                k |= bits[:, j::mu, :] << j
            co = np.zeros((Q, P), dtype=np.int64)
            co[:, :c] = b.coef
            xs.append(x)
            keys.append(k)
            coefs.append(co)
            valid.append((r, c))
            groups.append(G)
        stream = [(bi, g) for bi, G in enumerate(groups) for g in range(G)]
        patterns = np.array([[1 if (e >> j) & 1 else -1 for j in range(mu)] for e in range(size)], dtype=np.int64)
        counts = {"add_int16": 0, "lut_write_bits": 0, "lut_reads": 0, "add_int32": 0, self.epilogue_action: 0,
                  "reg_bits": 0}
        buf_group: list[int | None] = [None, None]  # stream index whose tables the buffer holds
        buf_ready = [False, False]
        tables: list[np.ndarray | None] = [None, None]
        build_next, build_left = 0, 0
        building: int | None = None
        qi, li = 0, 0
        pending: list[tuple[int, int, int, np.ndarray]] = []  # (due cycle, block, plane, values [R, P])
        bank_block: list[int | None] = [None, None]
        banks = [np.zeros((Q, R, P), dtype=np.int64) for _ in range(2)]
        adds_left = [Q * G for G in groups]
        finished: list[int] = []  # blocks whose adds are all done, waiting for the epilogue
        epi: int | None = None
        epi_plane = 0
        epi_acc = np.zeros((R, P), dtype=np.int64)
        outputs: list[np.ndarray | None] = [None] * len(blocks)
        done = 0
        cycle = -1
        while done < len(blocks):
            cycle += 1
            end_free: list[int] = []
            end_ready: list[int] = []
            end_finished: list[int] = []
            # the builder
            if building is None and build_next < len(stream) and buf_group[build_next % 2] is None:
                building, build_left = build_next, -(-size // p.build)
                buf_group[build_next % 2] = build_next
                bi, g = stream[build_next]
                counts["reg_bits"] += ACT_BITS * mu * valid[bi][0]
                build_next += 1
            if building is not None:
                build_left -= 1
                if build_left == 0:
                    bi, g = stream[building]
                    tables[building % 2] = xs[bi][:, g * mu:(g + 1) * mu] @ patterns.T  # [R, 2^mu] signed sums
                    counts["add_int16"] += valid[bi][0] * size * (mu - 1)
                    counts["lut_write_bits"] += valid[bi][0] * size * ebits
                    end_ready.append(building % 2)
                    building = None
            # the lanes' lookup
            if qi < len(stream) and buf_ready[qi % 2] and buf_group[qi % 2] == qi:
                bi, g = stream[qi]
                r, c = valid[bi]
                tab = tables[qi % 2]
                assert tab is not None
                if li == 0:
                    counts["reg_bits"] += Q * mu * c
                vals = np.take_along_axis(tab, np.broadcast_to(keys[bi][li, g][None, :], (R, P)), axis=1)
                counts["lut_reads"] += r * c
                pending.append((cycle + L - 1, bi, li, vals))
                li += 1
                if li == Q:
                    end_free.append(qi % 2)
                    qi, li = qi + 1, 0
            # the accumulates due this cycle
            for item in [t for t in pending if t[0] == cycle]:
                pending.remove(item)
                _, bi, plane, vals = item
                bank = bi % 2
                if bank_block[bank] != bi:
                    if bank_block[bank] is not None:
                        raise RuntimeError("biqgemm schedule error: accumulator bank still in use")
                    bank_block[bank] = bi
                    banks[bank][:] = 0
                banks[bank][plane] += vals
                if np.abs(banks[bank]).max(initial=0) > 2**31 - 1:
                    raise OverflowError("int32 overflow in a BiQGEMM accumulator")
                r, c = valid[bi]
                counts["add_int32"] += r * c
                counts["reg_bits"] += ACC_BITS * r * c
                adds_left[bi] -= 1
                if adds_left[bi] == 0:
                    end_finished.append(bi)
            # the epilogue
            if epi is not None:
                r, c = valid[epi]
                term = coefs[epi][epi_plane][None, :] * banks[epi % 2][epi_plane]
                epi_acc = term if epi_plane == 0 else epi_acc + term
                counts[self.epilogue_action] += r * c
                if epi_plane:
                    counts["add_int32"] += r * c
                epi_plane += 1
                if epi_plane == Q:
                    out = epi_acc[:r, :c]
                    if blocks[epi].halve:
                        assert not (out % 2).any()
                        out = out // 2
                    outputs[epi] = out.copy()
                    bank_block[epi % 2] = None
                    done += 1
                    epi = None
            # end of the cycle
            for slot in end_ready:
                buf_ready[slot] = True
            for slot in end_free:
                buf_group[slot], buf_ready[slot], tables[slot] = None, False, None
            finished.extend(end_finished)
            if epi is None and finished:
                epi, epi_plane = finished.pop(0), 0
        return StepperResult(outputs, cycle + 1, TileTiming(cycle + 1, counts).actions)  # type: ignore[arg-type]
