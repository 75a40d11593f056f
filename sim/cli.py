"""The ``sim`` command line: a thin layer over :mod:`sim.api`.

Exit codes: 0 ok, 2 bad input (one line on stderr, no traceback), 1 internal error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from sim._version import __version__
from sim.errors import SimInputError, Terminated, one_line, shorten
from sim.io import check_writable, write_text_atomic
from sim.progress import reporting, step


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {shorten(one_line(message))} (see '{self.prog} --help')\n")


def _seq_len(args: argparse.Namespace) -> int | None:
    """--seq-len, or its decoder alias --prompt-len (both given: they must agree)."""
    prompt = getattr(args, "prompt_len", None)
    if prompt is not None and args.seq_len is not None and prompt != args.seq_len:
        raise SimInputError(f"--prompt-len {prompt} and --seq-len {args.seq_len}: give one (they are the same)")
    return prompt if prompt is not None else args.seq_len


def _cmd_run(args: argparse.Namespace) -> int:
    from sim import api

    check_writable(args.json, "--json")
    check_writable(args.csv, "--csv")
    check_writable(args.trace, "--trace")
    result = api.run(args.hw, args.workload, seq_len=_seq_len(args), batch=args.batch, sets=args.set,
                     weights=args.weights, functional=args.functional, trace=args.trace, gen_tokens=args.gen_tokens,
                     decode_samples=args.decode_samples)
    if args.json:  # files first: a closed stdout (e.g. `| head`) must not lose them
        result.to_json(args.json)
    if args.csv:
        result.to_csv(args.csv)
    print(result.summary())
    for path in (args.json, args.csv, args.trace):
        if path:
            print(f"wrote {path}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    import yaml

    from sim.config.loader import load_hardware_file, to_dict
    from sim.workload import encoder_macs_closed_form, load_workload, lower

    hw, path = load_hardware_file(args.hw, args.set)
    wl = load_workload(args.workload, seq_len=_seq_len(args), batch=args.batch, gen_tokens=args.gen_tokens,
                       decode_samples=args.decode_samples) if args.workload else None
    print(f"# {path}: valid")
    print(yaml.safe_dump({"hw": to_dict(hw)}, sort_keys=False).rstrip())
    print(f"# peak MACs per cycle: {hw.peak_macs_per_cycle}")
    if wl is not None:
        graph = lower(wl)
        print(yaml.safe_dump({"workload": to_dict(wl)}, sort_keys=False).rstrip())
        if wl.is_decoder:
            print(f"# operators per pass: {len(graph.ops)}; prefill MACs ({wl.seq_len} prompt tokens): "
                  f"{graph.total_macs():,}; then {wl.gen_tokens} decode steps")
        else:
            print(f"# operators: {len(graph.ops)}; encoder GEMM/BMM MACs: {graph.total_macs('encoder'):,} "
                  f"(closed form {encoder_macs_closed_form(wl):,}); all MACs: {graph.total_macs():,}")
    return 0


def _read_frequencies(path: str) -> Any:
    import numpy as np

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SimInputError(f"--token-frequencies {path}: cannot read ({one_line(str(exc))})") from None
    try:
        vals = np.array([float(x) for x in text.split()], dtype=np.float64)
    except ValueError:
        raise SimInputError(f"--token-frequencies {path}: expected one number per vocabulary row") from None
    if not np.isfinite(vals).all() or (vals < 0).any():
        raise SimInputError(f"--token-frequencies {path}: counts must be finite and >= 0")
    return vals


def _cmd_quantize_format(args: argparse.Namespace) -> int:
    from sim import api
    from sim.quant.formats import get_format

    fmt = get_format(args.format)
    opts: dict[str, Any] = {}
    if args.granularity is not None:
        if fmt.name != "ternary":
            raise SimInputError(f"--granularity: only for --format ternary, got --format {fmt.name}")
        opts["granularity"] = args.granularity
    if "bits" in fmt.options and args.bits_given:
        opts["bits"] = args.bits
    elif args.bits_given:
        raise SimInputError(f"--bits: format {fmt.name} has no bit width")
    freq = _read_frequencies(args.token_frequencies) if args.token_frequencies else None
    if freq is not None and not (args.embeddings and fmt.name == "bcq"):
        raise SimInputError("--token-frequencies: only with --format bcq --embeddings")
    report = api.quantize_format(fmt.name, args.workload, weights=args.weights, seed=args.seed, options=opts,
                                 embeddings=args.embeddings, frequencies=freq)
    rep = report.to_dict()
    print(f"{fmt.name} quantization of {one_line(rep['weights_source'])}: {fmt.description}")
    print(f"  options {', '.join(f'{k}={v}' for k, v in rep['options'].items()) or 'none'}")
    print(f"  quantized weights {rep['quantized_weights']:,} of {rep['weights']:,}: bits/weight "
          f"{rep['bits_per_weight']:.4f} (packed buffers), compression {rep['compression_ratio']:.2f}x vs fp32, "
          f"rel L2 error {rep['rel_l2_error']:.4f}; whole model {rep['model_bits_per_weight']:.3f} bits/weight")
    by_kind: dict[str, list] = {}
    for layer in rep["layers"]:
        if layer["quantized"]:
            by_kind.setdefault(layer["kind"], []).append(layer)
    print(f"  {'kind':<10} {'tensors':>7} {'weights':>12} {'bits/w':>7} {'rel L2':>7}  statistics (first tensor)")
    for kind, layers in by_kind.items():
        w = sum(x["weights"] for x in layers)
        bits = sum(x["bits_per_weight"] * x["weights"] for x in layers) / w
        err = max(x["rel_l2_error"] for x in layers)
        st = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in layers[0]["stats"].items()
                       if not isinstance(v, (dict, list)))
        print(f"  {kind:<10} {len(layers):>7} {w:>12,} {bits:>7.3f} {err:>7.4f}  {one_line(st)}")
    if args.json:
        report.to_json(args.json)
        print(f"wrote {args.json}")
    return 0


def _cmd_quantize(args: argparse.Namespace) -> int:
    from sim import api
    from sim.results import QuantizeReport

    args.bits_given = args.bits is not None
    if args.bits is None:
        args.bits = 3
    if args.format != "gobo":
        check_writable(args.json, "--json")
        if args.plot:
            raise SimInputError("--plot: the weight histogram is drawn for --format gobo only")
        if args.weights is None and args.workload is None:
            raise SimInputError("give --workload (synthetic weights) and/or --weights FILE.safetensors")
        return _cmd_quantize_format(args)
    for flag, given in (("--granularity", args.granularity is not None), ("--embeddings", args.embeddings),
                        ("--token-frequencies", args.token_frequencies is not None)):
        if given:
            raise SimInputError(f"{flag}: not an option of --format gobo")

    check_writable(args.json, "--json")
    check_writable(args.plot, "--plot")
    if args.plot and Path(args.plot).suffix.lower() not in (".png", ".svg", ".pdf"):
        raise SimInputError(f"--plot {args.plot}: expected a .png, .svg or .pdf file name")
    if args.weights is None and args.workload is None:
        raise SimInputError("give --workload (synthetic weights) and/or --weights FILE.safetensors")
    for name, value in (("--bits", args.bits), ("--embedding-bits", args.embedding_bits)):
        if not 2 <= value <= 8:
            raise SimInputError(f"{name}: must be between 2 and 8, got {value}")
    with step("quantize"):
        model = api.quantize(args.workload, weights=args.weights, bits=args.bits, embedding_bits=args.embedding_bits,
                             outlier_threshold=args.threshold, seed=args.seed)
    report = QuantizeReport.from_dict(model.report())
    rep = report.to_dict()
    src = args.weights or f"synthetic {args.workload} (seed {args.seed})"
    print(f"GOBO quantization of {src}: {args.bits}-bit FC weights, {args.embedding_bits}-bit embeddings")
    print(f"  weights {rep['weights']:,}  outliers {rep['outliers']:,} ({rep['outlier_fraction']:.4%})")
    print(f"  bits/weight {rep['bits_per_weight']:.4f}  compression {rep['compression_ratio']:.2f}x vs fp32  "
          f"rel L2 error {rep['rel_l2_error']:.4f}")
    print(f"  quantized tensors only: bits/weight {rep['quantized_bits_per_weight']:.4f}, "
          f"compression {rep['quantized_compression_ratio']:.2f}x  (cache: {model.cache_status})")
    by_kind: dict[str, list] = {}
    for layer in rep["layers"]:
        if layer.get("quantized"):
            by_kind.setdefault(layer["kind"], []).append(layer)
    print(f"  {'kind':<10} {'tensors':>7} {'weights':>12} {'outlier %':>9} {'bits/w':>7} {'iters':>6}")
    for kind, layers in by_kind.items():
        w = sum(x["weights"] for x in layers)
        o = sum(x["outliers"] for x in layers)
        bits = sum(x["bits_per_weight"] * x["weights"] for x in layers) / w
        it = max(x["iterations"] for x in layers)
        print(f"  {kind:<10} {len(layers):>7} {w:>12,} {o / w:>9.4%} {bits:>7.3f} {it:>6}")
    if args.json:
        report.to_json(args.json)
        print(f"wrote {args.json}")
    if args.plot:
        from sim.plotting import plot_weight_histogram

        name = args.tensor or next(n for n in model.order if n in model.packed and ".intermediate." in n) \
            if any(".intermediate." in n for n in model.packed) else (args.tensor or next(iter(model.packed)))
        if name not in model.packed:
            raise SimInputError(f"--tensor {name}: not a quantized tensor (e.g. {next(iter(model.packed))})")
        values = api.tensor_values(name, weights=args.weights, workload=args.workload, seed=args.seed)
        plot_weight_histogram(values, model.packed[name], args.plot)
        print(f"wrote {args.plot}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from sim import api

    check_writable(args.json, "--json")
    check_writable(args.csv, "--csv")
    report = api.compare(args.workload, args.hw, iso=args.iso, seq_len=_seq_len(args), batch=args.batch,
                         gen_tokens=args.gen_tokens, decode_samples=args.decode_samples, functional=args.functional)
    rep = report.to_dict()
    print(f"{one_line(str(rep['workload']))} (seq {rep['seq_len']}, batch {rep['batch']}), "
          f"baseline {one_line(str(rep['baseline']))}, "
          f"iso {rep['iso']}")
    head = (f"  {'design':<22} {'peak MAC/c':>10} {'cycles':>12} {'ms':>8} {'util':>5} {'energy mJ':>10} "
            f"{'area mm2':>9} {'DRAM rd MB':>10} {'DRAM wr MB':>10} {'speedup':>7} {'energy eff':>10}")
    print(head)
    for d in rep["designs"]:
        energy = f"{d['energy_pj'] / 1e9:10.3f}" if d["energy_pj"] is not None else f"{'-':>10}"
        area = f"{d['area_mm2']:9.2f}" if d["area_mm2"] is not None else f"{'-':>9}"
        eff = f"{d['energy_efficiency']:10.2f}" if d["energy_efficiency"] is not None else f"{'-':>10}"
        name = one_line(str(d['hw']))
        print(f"  {name:<22} {d['peak_macs_per_cycle']:>10,} {d['cycles']:>12,} {d['seconds'] * 1e3:>8.3f} "
              f"{d['utilization']:>5.2f} {energy} {area} {d['dram_read_bytes'] / 1e6:>10.2f} "
              f"{d['dram_write_bytes'] / 1e6:>10.2f} {d['speedup']:>7.2f} {eff}"
              + (f"  checked {d['functional_checked']}, cos {d['cosine_vs_float']:.4f}"
                 if args.functional and d["cosine_vs_float"] is not None else ""))
    if any(d.get("tpot_mean_seconds") is not None for d in rep["designs"]):
        print(f"  {'design':<22} {'TTFT ms':>10} {'TPOT ms':>10} {'tokens/s':>10} {'mJ/token':>10}")
        for d in rep["designs"]:
            e_tok = d.get("energy_per_token_pj")
            print(f"  {one_line(str(d['hw'])):<22} {d['ttft_seconds'] * 1e3:>10.3f} "
                  f"{(d['tpot_mean_seconds'] or 0) * 1e3:>10.3f} {d.get('tokens_per_second') or 0:>10.1f} "
                  f"{(e_tok or 0) / 1e9:>10.4f}")
    if args.json:
        report.to_json(args.json)
        print(f"wrote {args.json}")
    if args.csv:
        import pandas as pd

        cols = ["hw", "cycles", "seconds", "energy_pj", "area_mm2", "dram_read_bytes", "dram_write_bytes",
                "speedup", "energy_efficiency", "peak_macs_per_cycle", "utilization"]
        write_text_atomic(Path(args.csv), pd.DataFrame(rep["designs"])[cols].to_csv(index=False))
        print(f"wrote {args.csv}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from sim.sweeps.runner import run_sweep

    df = run_sweep(args.spec, args.out, backend=args.backend, workers=args.workers, scheduler=args.scheduler,
                   resume=args.resume, progress=not args.quiet)
    errors = int((df["status"] != "ok").sum()) if len(df) else 0
    print(f"{len(df)} points in {args.out}/results.csv ({len(df) - errors} ok, {errors} error)")
    if errors:
        first = df.loc[df["status"] != "ok", "error"].iloc[0]
        print(f"  first error: {first}")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from sim.plotting import make_plots

    check_writable(str(Path(args.out) / "plot.png"), "--out")
    with step("plot"):
        written, skipped = make_plots(args.inputs, args.out, kinds=args.kind, fmt=args.format, metrics=args.metrics,
                                  x=args.x, y=args.y)
    for path in written:
        print(f"wrote {path}")
    for message in skipped:
        print(f"skipped {message}")
    return 0


def _cmd_area(args: argparse.Namespace) -> int:
    from sim import api

    check_writable(args.json, "--json")
    rep = api.area(args.hw, sets=args.set, table=args.tech, node_nm=args.node_nm)
    name = one_line(str(rep.hw))
    print(f"{name}: {rep.area_mm2:.3f} mm2 at {rep.node_nm} nm ({rep.table}), leakage {rep.leakage_mw:.0f} mW")
    for comp, mm2 in rep.area_breakdown_mm2.items():
        print(f"  {comp:<22} {mm2:>10.3f} mm2  {mm2 / rep.area_mm2:>6.1%}")
        for part, v in rep.area_detail_mm2.items():
            if part.startswith(comp + ".") and v >= 0.005 * rep.area_mm2:
                print(f"    {part[len(comp) + 1:]:<20} {v:>10.3f}")
    if args.json:
        rep.to_json(args.json)
        print(f"wrote {args.json}")
    return 0


def _cmd_price(args: argparse.Namespace) -> int:
    from sim.cost.reprice import reprice_file

    check_writable(args.json, "--json")
    rep = reprice_file(args.report, table=args.tech, node_nm=args.node_nm)
    tech = rep["tech"]
    hw, wl = one_line(str(rep.get("hw"))), one_line(str(rep.get("workload")))
    print(f"{hw} on {wl}: {rep['energy_pj'] / 1e9:.4f} mJ, {rep['area_mm2']:.3f} mm2 "
          f"at {tech['node_nm']} nm ({tech['table']}); re-priced from the report's action counts, not re-simulated")
    for cat, pj in rep["energy_breakdown_pj"].items():
        print(f"  {cat:<14} {pj / 1e9:>10.4f} mJ  {pj / rep['energy_pj']:>6.1%}")
    if args.json:
        write_text_atomic(args.json, json.dumps(rep, indent=2, allow_nan=False) + "\n")
        print(f"wrote {args.json}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    p = _Parser(prog="sim", description="gobosim: cycle-level simulator of GOBO and baseline DNN accelerators")
    p.add_argument("--version", action="version", version=f"gobosim {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sp: argparse.ArgumentParser, workload_required: bool = True) -> None:
        sp.add_argument("--workload", required=workload_required,
                        help="workload: a path, a built-in name (bert-base, ...) or a Hugging Face config.json")
        sp.add_argument("--seq-len", type=int, default=None, help="override the workload's sequence length")
        sp.add_argument("--batch", type=int, default=None, help="override the workload's batch size")
        sp.add_argument("--prompt-len", type=int, default=None, dest="prompt_len",
                        help="decoder workloads: prompt tokens of the prefill pass (the same as --seq-len; the "
                             "built-ins' default 128)")
        sp.add_argument("--gen-tokens", type=int, default=None, dest="gen_tokens",
                        help="decoder workloads: tokens generated after the prompt, one decode step each (the "
                             "built-ins' default 64)")
        sp.add_argument("--decode-samples", type=int, default=None, dest="decode_samples",
                        help="decoder workloads: decode steps simulated exactly, each counted for its group of "
                             "steps (default 8; 0 simulates every step)")

    def quiet(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--quiet", action="store_true",
                        help="no progress output (progress is shown only when stderr is a terminal)")

    r = sub.add_parser("run", help="run one hardware configuration on one workload")
    r.add_argument("--hw", required=True, help="hardware: a path or a built-in name (gobo, tpu, tcore, ...)")
    common(r)
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a hardware key, e.g. --set compute.tiles=32 (repeatable)")
    r.add_argument("--weights", help="a safetensors checkpoint (BERT-family Hugging Face names) for the weights")
    r.add_argument("--functional", action=argparse.BooleanOptionalAction, default=True,
                   help="run the bit-accurate integer model through the design's dataflow and check it")
    r.add_argument("--json", help="write the report as JSON")
    r.add_argument("--csv", help="write the per-operator table as CSV")
    r.add_argument("--trace", metavar="OUT.json",
                   help="write the timeline as a Chrome trace-event JSON (open in Perfetto or chrome://tracing): "
                        "one track per unit (executor: compute and stalls; compute; vector; each DRAM channel; "
                        "each SRAM buffer's ports), spans named by operator with their category (load, compute, "
                        "epilogue, store, port or the stall reason), buffer-occupancy counters; timestamps in "
                        "microseconds of simulated time, exact cycles in each event's args")
    quiet(r)
    r.set_defaults(func=_cmd_run)

    c = sub.add_parser("compare", help="run several designs on one workload, side by side")
    c.add_argument("--hw", nargs="+", required=True, help="designs; the first is the baseline of the ratios")
    common(c)
    c.add_argument("--iso", choices=["area", "peak"], default=None,
                   help="scale each other design's compute to the first design's area or peak MACs/cycle")
    c.add_argument("--functional", action="store_true",
                   help="also run each design's functional pass (checked, cosine vs float in the rows; slow)")
    c.add_argument("--json", help="write the compare report as JSON")
    c.add_argument("--csv", help="write the designs table as CSV")
    quiet(c)
    c.set_defaults(func=_cmd_compare)

    a = sub.add_parser("area", help="print a design's area breakdown")
    a.add_argument("--hw", required=True)
    a.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    a.add_argument("--tech", help="energy/area table (name under hwconfigs/tech or a path); default: the design's")
    a.add_argument("--node-nm", type=int, help="technology node to scale to; default: the design's tech.node_nm")
    a.add_argument("--json", help="write the area report as JSON")
    a.set_defaults(func=_cmd_area)

    pr = sub.add_parser("price", help="re-price a run report's action counts (no re-simulation)")
    pr.add_argument("report", help="a run report written by 'sim run --json'")
    pr.add_argument("--tech", help="energy/area table (name under hwconfigs/tech or a path)")
    pr.add_argument("--node-nm", type=int, help="technology node to scale to")
    pr.add_argument("--json", help="write the re-priced report as JSON")
    pr.set_defaults(func=_cmd_price)

    q = sub.add_parser("quantize", help="quantize a checkpoint or a workload's synthetic weights (GOBO, or --format F)")
    q.add_argument("--workload", help="workload whose synthetic weights to quantize (when no --weights)")
    q.add_argument("--weights", help="a safetensors checkpoint (BERT, RoBERTa, DistilBERT names)")
    q.add_argument("--format", default="gobo",
                   help="weight format of the registry (sim.quant.formats): gobo (default), ternary, bcq, olive, "
                        "olaccel")
    q.add_argument("--bits", type=int, default=None,
                   help="GOBO: index bits of the FC weights (2..8, default 3); bcq: binary planes (1..8, default 3)")
    q.add_argument("--granularity", choices=["row", "tensor"], default=None,
                   help="ternary: one TWN threshold and scale per output channel (row, default) or per tensor")
    q.add_argument("--embeddings", action="store_true",
                   help="ternary/bcq: also quantize the word embedding (ternary row-wise; bcq mixed bits by frequency)")
    q.add_argument("--token-frequencies", help="bcq --embeddings: a text file with one count per vocabulary row "
                                               "(default: all equal, rows ranked by index)")
    q.add_argument("--embedding-bits", type=int, default=4, help="index bits of the embedding tables (2..8)")
    q.add_argument("--threshold", type=float, default=-4.0, help="outlier threshold on ln N(w; mu, sigma)")
    q.add_argument("--seed", type=int, default=0, help="synthetic-weight seed")
    q.add_argument("--json", help="write the quantize report as JSON")
    q.add_argument("--plot", help="write a weight histogram (PNG/SVG/PDF) of --tensor with centroids and thresholds")
    q.add_argument("--tensor", help="tensor to plot (default: the first FFN1 weight)")
    quiet(q)
    q.set_defaults(func=_cmd_quantize)

    sw = sub.add_parser("sweep", help="run a design-space sweep (a YAML spec) in parallel; results to DIR")
    sw.add_argument("spec", help="sweep spec YAML (see sweeps/*.yaml)")
    sw.add_argument("--out", required=True, help="output directory: results.csv, results.parquet, spec.yaml, meta.json")
    sw.add_argument("--backend", choices=["local", "dask"], default="local",
                    help="local process pool (default) or Dask (a LocalCluster unless --scheduler)")
    sw.add_argument("--workers", type=int, default=None, help="parallel points (default: all cores)")
    sw.add_argument("--scheduler", default=None, metavar="ADDR",
                    help="attach to an existing Dask scheduler, e.g. tcp://host:8786 (implies --backend dask). "
                         "Trust: Dask sends pickled Python objects both ways, so whoever runs the scheduler or "
                         "a worker can run code in this process and forge results; attach only to a scheduler "
                         "you started, on a network you control (or use Dask's TLS security)")
    sw.add_argument("--resume", action="store_true", help="continue the sweep in --out, skipping finished points")
    sw.add_argument("--quiet", action="store_true", help="no progress output")
    sw.set_defaults(func=_cmd_sweep)

    pl = sub.add_parser("plot", help="figures from a sweep directory / results.csv, run JSONs or a compare JSON")
    pl.add_argument("inputs", nargs="+", metavar="INPUT",
                    help="a sweep DIR or RESULTS.csv, one or more RUN.json, or a COMPARE.json")
    pl.add_argument("--out", required=True, help="directory for the figures")
    kinds = ["energy", "energy-ops", "area", "latency", "speedup", "pareto", "sweep", "roofline", "histogram"]
    pl.add_argument("--kind", nargs="+", action="extend", default=None, choices=kinds, metavar="KIND",
                    help=f"figures to make: {', '.join(kinds)} (default: every kind the input supports)")
    pl.add_argument("--format", choices=["png", "svg", "pdf"], default="png", help="file format (default png)")
    pl.add_argument("--metrics", nargs="+", default=None, metavar="METRIC",
                    help="pareto: x and y metrics (default seconds energy_pj), e.g. --metrics seconds dram_read_bytes")
    pl.add_argument("--x", default=None, metavar="KEY", help="sweep plot: the swept key on the x axis")
    pl.add_argument("--y", default=None, metavar="METRIC",
                    help="sweep plot: the metric on the y axis (default seconds)")
    quiet(pl)
    pl.set_defaults(func=_cmd_plot)

    v = sub.add_parser("validate", help="check a hardware configuration (and a workload) and print it resolved")
    v.add_argument("--hw", required=True)
    common(v, workload_required=False)
    v.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    v.set_defaults(func=_cmd_validate)
    return p


class _EscapingWriter:
    """stdout for the commands: every control character other than newline and tab (an ANSI escape sequence, a
    carriage return, a bell, a bidirectional override) is written as its escape (``\\x1b``), so a name from a
    file or report cannot drive the terminal. Names are also escaped where a command prints them, so a
    newline inside one stays on its line."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        if not text.isprintable():
            text = "".join(ch if ch.isprintable() or ch in "\n\t" else one_line(ch) for ch in text)
        return self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``sim`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    stdout = sys.stdout
    sys.stdout = _EscapingWriter(stdout)
    try:
        return _dispatch(args)
    finally:
        sys.stdout = stdout


def _dispatch(args: argparse.Namespace) -> int:
    try:
        if args.command == "sweep":  # the sweep draws its own counted bar (sim.sweeps.progress)
            return args.func(args)
        with reporting(enabled=not getattr(args, "quiet", False)):
            return args.func(args)
    except SimInputError as exc:
        print(f"sim {args.command}: error: {shorten(one_line(str(exc)))}", file=sys.stderr)
        return 2
    except Terminated as exc:
        print(f"sim {args.command}: {exc.args[0]}; stopped", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print(f"sim {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # an internal error: one line, the traceback on request
        if os.environ.get("SIM_DEBUG"):
            raise
        print(f"sim {args.command}: internal error: {type(exc).__name__}: {shorten(one_line(str(exc)))} "
              f"(set SIM_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
