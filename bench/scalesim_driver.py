"""Run SCALE-Sim 3.0.0 on GEMMs through its Python API and print what it reports, as JSON.

Runs *inside* the SCALE-Sim virtualenv (see ``bench/scalesim_env.py``), never imported by the project:

    <scalesim-venv>/bin/python bench/scalesim_driver.py < request.json

``request.json``: ``{"runs": [{"rows": R, "cols": C, "dataflow": "ws"|"os"|"is", "sram_kb": 1024,
"gemms": [[name, M, K, N], ...]}, ...]}`` for ``C[M, N] = A[M, K] @ B[K, N]`` (one process for many runs:
importing SCALE-Sim costs about a second). Each GEMM is one SCALE-Sim
run in bandwidth-estimate mode (``InterfaceBandwidth: CALC``: stall-free by construction, reports the
DRAM traffic it needed). Output: one JSON object per GEMM with ``compute_cycles`` (its reported compute
cycles minus its stall cycles), ``stall_cycles``, the SRAM request counts of its three operand buffers
(``ifmap_sram_reads`` = A, ``filter_sram_reads`` = B, ``ofmap_sram_writes`` = C; unit: words) and the
DRAM words moved (``ifmap_dram_reads``, ``filter_dram_reads``, ``ofmap_dram_writes``). A word is 1 byte
(int8) in SCALE-Sim.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import time

CONFIG = """[general]
run_name = gobosim_validation

[architecture_presets]
ArrayHeight : {rows}
ArrayWidth : {cols}
IfmapSramSzkB : {sram_kb}
FilterSramSzkB : {sram_kb}
OfmapSramSzkB : {sram_kb}
IfmapOffset : 0
FilterOffset : 10000000
OfmapOffset : 20000000
Dataflow : {dataflow}
Bandwidth : 10
ReadRequestBuffer : 32
WriteRequestBuffer : 32

[layout]
IfmapCustomLayout : False
IfmapSRAMBankBandwidth : 10
IfmapSRAMBankNum : 10
IfmapSRAMBankPort : 2
FilterCustomLayout : False
FilterSRAMBankBandwidth : 10
FilterSRAMBankNum : 10
FilterSRAMBankPort : 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth : CALC
UseRamulatorTrace : False
"""


def run_gemm(rows: int, cols: int, dataflow: str, sram_kb: int, name: str, m: int, k: int, n: int) -> dict:
    """One SCALE-Sim run of ``C[m, n] = A[m, k] @ B[k, n]``."""
    from scalesim.scale_sim import scalesim

    with tempfile.TemporaryDirectory(prefix="scalesim-") as tmp:
        cfg = os.path.join(tmp, "run.cfg")
        topo = os.path.join(tmp, "gemm.csv")
        layout = os.path.join(tmp, "layout.csv")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(rows=rows, cols=cols, dataflow=dataflow, sram_kb=sram_kb))
        with open(topo, "w") as f:  # its GEMM rows are name, M, N, K and must end with a comma
            f.write("Layer, M, N, K,\n")
            f.write(f"{name}, {m}, {n}, {k},\n")
        with open(layout, "w") as f:  # required even with custom layouts off
            f.write("Layer name, IFMAP Height Intraline Factor,\n")
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            s = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo, layout=layout,
                         input_type_gemm=True)
            s.run_scale(top_path=tmp)
        wall = time.perf_counter() - t0
        layer = s.runner.single_layer_sim_object_list[0]
        items = layer.get_compute_report_items()
        total, stall = int(items[1]), int(items[2])
        return {
            "name": name, "m": m, "k": k, "n": n, "rows": rows, "cols": cols, "dataflow": dataflow,
            "compute_cycles": total - stall, "stall_cycles": stall,
            "ifmap_sram_reads": int(layer.ifmap_sram_reads), "filter_sram_reads": int(layer.filter_sram_reads),
            "ofmap_sram_writes": int(layer.ofmap_sram_writes),
            "ifmap_dram_reads": int(layer.ifmap_dram_reads), "filter_dram_reads": int(layer.filter_dram_reads),
            "ofmap_dram_writes": int(layer.ofmap_dram_writes), "wall_s": round(wall, 3),
        }


def main() -> None:
    req = json.load(sys.stdin)
    out = [run_gemm(int(r["rows"]), int(r["cols"]), r["dataflow"], int(r.get("sram_kb", 1024)),
                    str(g[0]), int(g[1]), int(g[2]), int(g[3]))
           for r in req["runs"] for g in r["gemms"]]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
