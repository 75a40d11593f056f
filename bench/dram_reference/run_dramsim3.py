"""Build DRAMsim3, run it on the DRAM access patterns the simulator produces, store the results as reference data.

    python bench/dram_reference/run_dramsim3.py --work /tmp/dramsim3-work [--source DIR_OR_GIT_DIR]
                                                [--out tests/data/dram/dramsim3.json] [--quick]

``--source`` is a DRAMsim3 checkout or bare git directory (github.com/umd-memsys/DRAMsim3); without it the script
clones that repository into ``--work``. The tool is built in ``--work`` (never inside this repository) together
with ``dramsim3_driver.cc`` (this directory), which offers requests as fast as the controllers accept them and
writes DRAMsim3's command trace (``-DCMD_TRACE``). For every case the script writes a DRAMsim3 config (stored in
the output), generates the trace from the project's own canonical request lists (``sim.hw.dram.requests_for``;
the address bits mean the same under the same mapping string), runs it and times it from the first request to
the end of the last data burst, in DRAM cycles, from the command trace. The project's burst-level reference is
run on the same request lists and stored beside it (``tests/test_dram_reference_tools.py`` compares the fast
model with both).

Start state, as the project's models assume: before the timed phase every bank of every channel reads a row no
case uses (so each bank holds some other row open), then the memory idles 400 cycles. Posted writes that would
stay in a controller's write buffer are pushed out by 9 padding writes per channel to another unused row of the
bank of that channel's last write; their commands are not timed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from sim.hw.dram import DramReference, DramSpec, dram_spec, map_address, requests_for  # noqa: E402

SOURCES = ["bankstate", "channel_state", "command_queue", "common", "configuration", "controller", "dram_system",
           "hmc", "memory_system", "refresh", "simple_stats", "timing"]
KB, MB = 1024, 1024 * 1024

# DRAMsim3 device descriptions matching the project's presets (sim/hw/dram.py). DDR4 and HBM2 start from
# DRAMsim3's own configs/DDR4_8Gb_x8_3200.ini and configs/HBM2_8Gb_x128.ini; LPDDR4-3200 is not among DRAMsim3's
# configs, so its timings are the project's preset values (Ramulator's LPDDR4-3200, JESD209-4).
DEVICES = {
    "ddr4-3200": dict(
        structure=dict(protocol="DDR4", bankgroups=4, banks_per_group=4, rows=65536, columns=1024, device_width=8,
                       BL=8),
        timing=dict(tCK=0.63, AL=0, CL=22, CWL=16, tRCD=22, tRP=22, tRAS=52, tRFC=560, tRFC2=416, tRFC4=256,
                    tREFI=12480, tRPRE=1, tWPRE=1, tRRD_S=4, tRRD_L=8, tWTR_S=4, tWTR_L=12, tFAW=34, tWR=24,
                    tWR2=25, tRTP=12, tCCD_S=4, tCCD_L=8, tCKE=8, tCKESR=9, tXS=576, tXP=10, tRTRS=1),
        system=dict(channel_size=8192, bus_width=64),  # 8192 MB: one rank of eight x8 8 Gb devices
        rows=65536, lat=(22, 16), burst_cycles=4),
    "lpddr4-3200": dict(
        structure=dict(protocol="LPDDR4", bankgroups=1, banks_per_group=8, rows=65536, columns=1024,
                       device_width=16, BL=16),
        timing=dict(tCK=0.625, AL=0, CL=35, CWL=18, tRCD=29, tRP=27, tRAS=68, tRFC=288, tRFC2=288, tRFC4=288,
                    tREFI=6247, tRPRE=1, tWPRE=1, tRRD_S=16, tRRD_L=16, tWTR_S=16, tWTR_L=16, tFAW=64, tWR=28,
                    tWR2=28, tRTP=14, tCCD_S=8, tCCD_L=8, tCKE=12, tCKESR=12, tXS=300, tXP=12, tRTRS=1, tPPD=4),
        system=dict(channel_size=1024, bus_width=16),  # one x16 8 Gb die per channel
        rows=65536, lat=(35, 18), burst_cycles=8),
    "hbm2": dict(
        structure=dict(protocol="HBM2", bankgroups=4, banks_per_group=4, rows=32768, columns=64, device_width=64,
                       BL=4),
        timing=dict(tCK=1, CL=14, CWL=4, tRCDRD=14, tRCDWR=14, tRP=14, tRAS=34, tRFC=260, tREFI=3900, tREFIb=128,
                    tRPRE=1, tWPRE=1, tRRD_S=4, tRRD_L=6, tWTR_S=6, tWTR_L=8, tFAW=30, tWR=16, tCCD_S=1, tCCD_L=2,
                    tXS=268, tCKE=8, tCKSRE=10, tXP=8, tRTP_L=6, tRTP_S=4,
                    tRTP=6),  # DRAMsim3 reads tRTP (default 5), not tRTP_L: set to the preset's tRTP_L
        system=dict(channel_size=512, bus_width=64),  # a 64-bit pseudo-channel: half a 128-bit channel
        rows=32768, lat=(14, 4), burst_cycles=2),
}
NO_REFRESH_TREFI = 1_000_000_000  # refresh off: one refresh interval far longer than any case
QUEUES = dict(queue_structure="PER_BANK", row_buf_policy="OPEN_PAGE", cmd_queue_size=8, trans_queue_size=32)
WARM_ROW_FROM_TOP, PAD_ROW_FROM_TOP = 1, 2  # rows (counted from the last) no case uses


def dramsim3_mapping(mapping: str) -> str:
    """The project's mapping string with DRAMsim3's rank field (one rank: zero bits) put just below the row."""
    return "rora" + mapping[2:]


def config_text(kind: str, channels: int, mapping: str, refresh: bool = True) -> str:
    d = DEVICES[kind]
    system = dict(d["system"], channels=channels, address_mapping=dramsim3_mapping(mapping),
                  refresh_policy="RANK_LEVEL_STAGGERED", **QUEUES)
    timing = dict(d["timing"], tREFI=NO_REFRESH_TREFI) if not refresh else d["timing"]
    parts = []
    for name, values in (("dram_structure", d["structure"]), ("timing", timing), ("system", system),
                         ("other", dict(epoch_period=100_000_000, output_level=1))):
        parts.append(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()))
    return "\n".join(parts)


def encode(spec: DramSpec, channel: int, bank_group: int, bank: int, row: int, column: int) -> int:
    """Byte address of (channel, bank group, bank within the group, row, column in bursts) under spec.mapping."""
    radix = {"co": spec.bursts_per_row, "ch": spec.channels, "bg": spec.bank_groups,
             "ba": spec.banks // spec.bank_groups}
    value = {"ch": channel, "bg": bank_group, "ba": bank, "ro": row, "co": column}
    k, step = 0, 1
    for f in reversed([spec.mapping[i:i + 2] for i in range(0, len(spec.mapping), 2)]):
        k += value[f] * step
        step *= radix.get(f, 1)
    return k * spec.burst_bytes


CASES = [  # (name, [(nbytes, write, pattern, chunk_bytes), ...]); transfers of a case run back to back
    ("stream_read_4KiB", [(4 * KB, False, "stream", None)]),
    ("stream_read_16KiB", [(16 * KB, False, "stream", None)]),
    ("stream_read_64KiB", [(64 * KB, False, "stream", None)]),
    ("stream_read_256KiB", [(256 * KB, False, "stream", None)]),
    ("stream_read_1MiB", [(1 * MB, False, "stream", None)]),
    ("stream_read_4MiB", [(4 * MB, False, "stream", None)]),
    ("stream_write_64KiB", [(64 * KB, True, "stream", None)]),
    ("stream_write_1MiB", [(1 * MB, True, "stream", None)]),
    ("outliers_64B_chunks_32KiB", [(32 * KB, False, "scattered", 64)]),
    ("outliers_256B_chunks_64KiB", [(64 * KB, False, "scattered", 256)]),
    ("scattered_1KiB_chunks_64KiB", [(64 * KB, False, "scattered", 1024)]),
    ("spill_write_64KiB_then_read_64KiB", [(64 * KB, True, "stream", None), (64 * KB, False, "stream", None)]),
    ("read_256KiB_then_write_64KiB", [(256 * KB, False, "stream", None), (64 * KB, True, "stream", None)]),
]
QUICK = {"stream_read_4KiB", "stream_read_64KiB", "outliers_64B_chunks_32KiB", "spill_write_64KiB_then_read_64KiB"}
SYSTEMS = [  # (kind, channels, mapping)
    ("ddr4-3200", 1, "robabgcoch"),  # one channel: also DRAMsim3's default rochrababgco
    ("ddr4-3200", 2, "robabgcoch"),  # the designs' memory system (hwconfigs/*.yaml)
    ("ddr4-3200", 2, "rochbabgco"),  # DRAMsim3's default mapping
    ("lpddr4-3200", 4, "robabgcoch"),
    ("lpddr4-3200", 4, "rochbabgco"),
    ("hbm2", 16, "robabgcoch"),
    ("hbm2", 16, "robgbachco"),  # DRAMsim3's HBM2 default rorabgbachco
]


def case_requests(spec: DramSpec, transfers: list) -> list[tuple[int, int, bool]]:
    """The transfers' canonical request lists, each later one moved to rows of its own (a whole number of
    row slots higher, so channels, banks and columns are unchanged)."""
    out = []
    slot_bytes = spec.channels * spec.banks * spec.row_bytes
    for n, (nbytes, write, pattern, chunk) in enumerate(transfers):
        base = n * 4096 * slot_bytes
        out += [(base + r.address, r.nbytes, r.write) for r in requests_for(spec, nbytes, write=write,
                                                                            pattern=pattern, chunk_bytes=chunk)]
    return out


def trace_lines(spec: DramSpec, kind: str, reqs: list[tuple[int, int, bool]]) -> tuple[list[str], int]:
    rows = DEVICES[kind]["rows"]
    bpg = spec.banks // spec.bank_groups
    lines = ["PHASE warm"]
    for ch in range(spec.channels):
        for g in range(spec.bank_groups):
            for b in range(bpg):
                lines.append(f"R {encode(spec, ch, g, b, rows - WARM_ROW_FROM_TOP, 0):x} {ch}")
    lines.append("PHASE case")
    last_write: dict[int, tuple[int, int]] = {}
    bursts = 0
    bb = spec.burst_bytes
    for address, nbytes, write in reqs:
        for k in range(address // bb, (address + nbytes - 1) // bb + 1):
            a = map_address(spec, k * bb)
            lines.append(f"{'W' if write else 'R'} {k * bb:x} {a.channel}")
            bursts += 1
            if write:
                last_write[a.channel] = (a.bank_group, a.bank // spec.bank_groups)
    for ch, (g, b) in last_write.items():
        for col in range(9):
            lines.append(f"P {encode(spec, ch, g, b, rows - PAD_ROW_FROM_TOP, col):x} {ch}")
    return lines, bursts


def build(work: Path, source: Path | None) -> tuple[Path, str, list[str]]:
    src = work / "DRAMsim3"
    if src.exists():
        shutil.rmtree(src)
    if source is None:
        subprocess.run(["git", "clone", "-q", "https://github.com/umd-memsys/DRAMsim3", str(src)], check=True)
        git = ["git", "-C", str(src)]
    else:
        bare = (source / "HEAD").exists() and not (source / ".git").exists()
        git = ["git", f"--git-dir={source}"] if bare else ["git", "-C", str(source)]
        src.mkdir(parents=True)
        archive = subprocess.run(git + ["archive", "HEAD"], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    commit = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    exe = work / "dramsim3_driver"
    cmd = ["g++", "-O2", "-std=c++11", "-DCMD_TRACE", "-DFMT_HEADER_ONLY=1", "-Isrc", "-Iext/headers",
           "-Iext/fmt/include", str(HERE / "dramsim3_driver.cc")] + [f"src/{s}.cc" for s in SOURCES] + \
          ["-o", str(exe)]
    subprocess.run(cmd, check=True, cwd=src)
    shown = [c.replace(str(REPO), "REPO").replace(str(work), "WORK") for c in cmd]
    return exe, commit, ["cd WORK/DRAMsim3 &&"] + shown


def run_case(exe: Path, work: Path, kind: str, spec: DramSpec, name: str, transfers: list) -> dict:
    reqs = case_requests(spec, transfers)
    lines, bursts = trace_lines(spec, kind, reqs)
    on = run_tool(exe, work, kind, spec, name, lines, bursts, refresh=True)
    off = run_tool(exe, work, kind, spec, name, lines, bursts, refresh=False)
    # the project's burst-level reference on the same request lists, transfer by transfer (without the refresh
    # derating: raw DRAM cycles)
    ref_cycles = 0
    prev = None
    for nbytes, write, pattern, chunk in transfers:
        r = DramReference(spec).run(requests_for(spec, nbytes, write=write, pattern=pattern, chunk_bytes=chunk),
                                    prev_write=prev)
        ref_cycles += r.cycles
        prev = write
    return dict(name=name, kind=kind, channels=spec.channels, mapping=spec.mapping,
                transfers=[dict(nbytes=n, write=w, pattern=p, chunk_bytes=c) for n, w, p, c in transfers],
                bursts=bursts, dramsim3_cycles=on[0], dramsim3_activations=on[1],
                dramsim3_cycles_no_refresh=off[0], dramsim3_activations_no_refresh=off[1],
                project_reference_cycles=ref_cycles)


def run_tool(exe: Path, work: Path, kind: str, spec: DramSpec, name: str, lines: list[str], bursts: int, *,
             refresh: bool) -> tuple[int, int]:
    """Run one case through DRAMsim3; return (cycles from the first request to the last data beat, ACTs)."""
    d = DEVICES[kind]
    case_dir = work / f"{kind}-{spec.channels}ch-{spec.mapping}-{name}-{'ref' if refresh else 'noref'}"
    if case_dir.exists():
        shutil.rmtree(case_dir)
    case_dir.mkdir(parents=True)
    ini = case_dir / "config.ini"
    ini.write_text(config_text(kind, spec.channels, spec.mapping, refresh))
    out = subprocess.run([str(exe), str(ini), str(case_dir) + "/"], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, check=True).stdout.split()
    start = int(out[out.index("case") + 1])
    rows = d["rows"]
    skip = {rows - WARM_ROW_FROM_TOP, rows - PAD_ROW_FROM_TOP}
    read_lat, write_lat = d["lat"]
    end = acts = cols = 0
    for ch in range(spec.channels):
        path = case_dir / f"dramsim3ch_{ch}cmd.trace"
        for line in path.read_text().splitlines():
            f = line.split()
            clk, cmd, row = int(f[0]), f[1], int(f[6], 16)
            if clk < start or row in skip:
                continue
            if cmd in ("read", "write"):
                cols += 1
                end = max(end, clk + (read_lat if cmd == "read" else write_lat) + d["burst_cycles"])
            elif cmd == "activate":
                acts += 1
    if cols != bursts:
        raise RuntimeError(f"{case_dir.name}: {cols} column commands in the trace, {bursts} bursts requested")
    shutil.rmtree(case_dir)
    return end - start, acts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, required=True, help="scratch directory (outside the repository)")
    ap.add_argument("--source", type=Path, default=None, help="DRAMsim3 checkout or bare git dir")
    ap.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "dram" / "dramsim3.json")
    ap.add_argument("--quick", action="store_true", help="only a few small cases")
    args = ap.parse_args(argv)
    work = args.work.resolve()
    if REPO in (work, *work.parents):
        ap.error("--work must be outside the repository")
    work.mkdir(parents=True, exist_ok=True)
    exe, commit, build_cmd = build(work, args.source)
    results, configs = [], {}
    t0 = time.time()
    for kind, channels, mapping in SYSTEMS:
        spec = dram_spec(kind, channels=channels, mapping=mapping)
        configs[f"{kind}/{channels}ch/{mapping}"] = config_text(kind, channels, mapping)
        configs[f"{kind}/{channels}ch/{mapping}/no-refresh"] = config_text(kind, channels, mapping, refresh=False)
        for name, transfers in CASES:
            if args.quick and name not in QUICK:
                continue
            res = run_case(exe, work, kind, spec, name, transfers)
            model = res["project_reference_cycles"]
            on, off = res["dramsim3_cycles"], res["dramsim3_cycles_no_refresh"]
            print(f"{kind:12s} {channels:2d}ch {mapping}  {name:36s} dramsim3 {on:8d} (no refresh {off:8d})  "
                  f"model {model:8d} ({model / off - 1:+.1%}), x refresh {model * spec.refresh_factor:10.1f} "
                  f"({model * spec.refresh_factor / on - 1:+.1%})", flush=True)
            results.append(res)
    doc = dict(
        tool="DRAMsim3", repository="https://github.com/umd-memsys/DRAMsim3", commit=commit,
        build=" ".join(build_cmd),
        run="WORK/dramsim3_driver CONFIG.ini OUTDIR/ < TRACE  (trace: see bench/dram_reference/run_dramsim3.py)",
        regenerate="python bench/dram_reference/run_dramsim3.py --work WORK [--source DRAMsim3_DIR]",
        units="cycles: DRAM clock cycles (tCK) from the first request to the end of the last data burst; "
              "dramsim3_cycles with DRAMsim3's refresh, dramsim3_cycles_no_refresh with tREFI set to 1e9; "
              "project_reference_cycles: the project's burst-level reference without its refresh derating, "
              "summed over the case's transfers (each from the start state, the next given the previous "
              "direction)",
        configs=configs, cases=results, wall_s=round(time.time() - t0, 1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {os.path.relpath(args.out)} ({len(results)} cases)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
