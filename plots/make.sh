#!/usr/bin/env bash
# Regenerate the figure gallery in plots/ (and the data behind it in plots/data/) from this checkout:
#   bash plots/make.sh
# What it runs: the three example sweeps in sweeps/ (timing only, bert-base), a compare of tcore (the
# baseline), gobo, gobo-compress-tcore and tpu on bert-base (seq 128, batch 1) plus one run report per
# design, then `sim plot` on each. About 1-2 minutes on 2 cores (+ ~10 s once to quantize bert-base's
# synthetic weights into $GOBOSIM_CACHE_DIR, default ~/.cache/gobosim). plots/README.md lists the figures.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
sim() { python -m sim "$@"; }

data=plots/data
sweeps=(gobo-tiles-pes-wbuf systolic-size-dataflow dram-seqlen)
designs=(tcore gobo gobo-compress-tcore tpu)
rm -rf "$data" "${sweeps[@]/#/plots/}" plots/compare-bert-base plots/designs-bert-base plots/gobo-bert-base \
       plots/tcore-bert-base
mkdir -p "$data"

for s in "${sweeps[@]}"; do
    sim sweep "sweeps/$s.yaml" --out "$data/$s" --quiet
    rm -f "$data/$s/.lock"
    sim plot "$data/$s" --out "plots/$s"                                   # pareto.png, sweep.png
done
# latency vs peak compute (a hardware-cost proxy that needs no energy/area model)
sim plot "$data/gobo-tiles-pes-wbuf" --out plots/gobo-tiles-pes-wbuf --kind pareto --metrics seconds peak_macs_per_cycle
sim plot "$data/systolic-size-dataflow" --out plots/systolic-size-dataflow --kind sweep --y energy_pj

sim compare --workload bert-base --hw "${designs[@]}" --json "$data/compare-bert-base.json" > "$data/compare-bert-base.txt"
runs=()
for h in "${designs[@]}"; do
    sim run --hw "$h" --workload bert-base --json "$data/run-$h.json" > /dev/null
    runs+=("$data/run-$h.json")
done
sim plot "$data/compare-bert-base.json" --out plots/compare-bert-base     # speedup, energy, area (totals)
sim plot "${runs[@]}" --out plots/designs-bert-base --kind energy area     # stacked breakdowns per design
sim plot "$data/run-gobo.json" --out plots/gobo-bert-base                  # latency, roofline, energy-ops, histogram, ...
sim plot "$data/run-tcore.json" --out plots/tcore-bert-base --kind latency roofline energy-ops
echo "gallery: $(find plots -name '*.png' | wc -l) figures under plots/"
