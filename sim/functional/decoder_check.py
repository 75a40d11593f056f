"""The functional pass of a decoder run: the integer prefill and decode steps through the design's datapath.

:func:`decoder_functional_check` runs the run's decoder on a fixed seeded prompt (``batch x seq_len`` token ids
from numpy's PCG64 seeded with :data:`INPUT_SEED`) and then :data:`CHECK_STEPS` decode steps (at most the run's
``gen_tokens``) on seeded tokens, keeping the integer KV cache, through the design's own arithmetic (the
GEMMs, the attention over the cache and the LM head on the datapath of the compute kind, compared bit for bit
with :func:`sim.kernels.gemm.int_gemm`). Accuracy is the final norm's output at every prompt and generated
position against the float model (float32, original weights, the full forward over the same tokens).

GPT-2 and OPT families have the integer pipeline (:mod:`.decoder_integer`); on an fp16 design (no integer
datapath) the float model runs with fp16-rounded GEMM operands. Llama (RMSNorm, SiLU, rotary embedding) has
no integer kernels here: the pass returns None and the run report says why in its notes.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from sim.prepare import PreparedRun
from sim.results import RunResult
from sim.results.functional import FunctionalReport

from .api import float_weights
from .calibration import random_token_batch
from .decoder import DecoderDims, decoder_forward
from .decoder_integer import INTEGER_FAMILIES, IntegerDecoder
from .gemmrun import GemmRunner
from .metrics import cosine, max_abs_error

__all__ = ["CHECK_STEPS", "INPUT_SEED", "decoder_functional_check"]

INPUT_SEED = 0
CHECK_STEPS = 2  # decode steps the pass runs (each exercises the KV cache and the causal attention over it)
CALIBRATION_SEED = 1234
CALIBRATION_BATCH = 2


def _tokens(wl) -> tuple[np.ndarray, np.ndarray, str]:
    rng = np.random.default_rng(INPUT_SEED)
    steps = min(CHECK_STEPS, wl.gen_tokens)
    ids = rng.integers(0, wl.vocab, size=(wl.batch, wl.seq_len + steps), dtype=np.int64)
    return ids[:, :wl.seq_len], ids[:, wl.seq_len:], (
        f"seeded random token ids: numpy default_rng({INPUT_SEED}).integers(0, {wl.vocab}, "
        f"[{wl.batch}, {wl.seq_len} + {steps}]): the prompt, then the tokens fed to {steps} decode steps")


def decoder_functional_check(prep: PreparedRun, result: RunResult | None = None) -> FunctionalReport | None:
    """The functional report of a decoder run, or None (Llama: timing only; the reason goes to ``result.notes``)."""
    hw_cfg, wl, qmodel = prep.hw, prep.workload, prep.qmodel
    if wl.family not in INTEGER_FAMILIES:
        if result is not None:
            result.notes.append(f"functional: null: no integer kernels for the {wl.family} family here (RMSNorm, "
                                "SiLU and rotary embedding have no integer kernels in sim.kernels); timing only")
        return None
    fmt = hw_cfg.weights.format
    seed = int(hw_cfg.weights.seed)
    dims = DecoderDims.from_workload(wl)
    prompt, gen, desc = _tokens(wl)
    all_ids = np.concatenate([prompt, gen], axis=1)
    w = float_weights(wl, prep.weights_path, seed)
    ref = decoder_forward(w, dims, all_ids, dtype=np.float32).hidden.astype(np.float64)
    base: dict[str, Any] = {"checked": None, "exact": False, "kernels": hw_cfg.vector.kernels,
                            "weights_source": prep.weights_source, "input": desc}
    int8_note = None
    if prep.kind.activation_format(hw_cfg) is not None:
        # the decoder pipeline has no activation formats: its GEMM inputs are int8, on the design's int8 datapath
        int8_note = "decoder pass: activations int8 (the design's 4-bit activation format applies to encoders only)"
    datapath = prep.kind.datapath_int8_activations(hw_cfg)
    if datapath is None:
        wf = w
        if fmt == "gobo" and qmodel is not None:
            from .check import _gobo_dequantized

            wf = _gobo_dequantized(w, qmodel)
        out = decoder_forward(wf, dims, all_ids, dtype=np.float32, fp16=True).hidden
        base.update(mode="fp16" if fmt == "fp16" else f"gobo{hw_cfg.weights.bits}-dequantized-fp16",
                    engine=f"{prep.kind.name}-fp16", cosine_vs_float=cosine(out, ref),
                    max_abs_err_vs_float=max_abs_error(out, ref),
                    output_sha256=hashlib.sha256(out.astype(np.float16).tobytes()).hexdigest(), gemms_checked=0,
                    notes=["fp16 operands, fp32 accumulation, float32 nonlinearities: not an integer datapath; "
                           "the full forward over prompt and generated tokens (equal to the cached decode)"])
        return FunctionalReport(**base)
    mode = f"gobo{qmodel.params.bits}" if fmt == "gobo" and qmodel is not None else "int8"
    calib = random_token_batch(wl.vocab, CALIBRATION_BATCH, wl.seq_len + gen.shape[1], CALIBRATION_SEED)
    cal_desc = (f"seeded random token ids (batch {CALIBRATION_BATCH}, seq {calib.shape[1]}, "
                f"seed {CALIBRATION_SEED})")
    dec = IntegerDecoder.build(dims, w, "gobo" if mode != "int8" else "int8", calib,
                               qmodel=qmodel if mode != "int8" else None, datapath=datapath, calib_source=cal_desc)
    run = GemmRunner(datapath, check=True, act_bits=8)
    res, _ = dec.forward(prompt, run=run)
    hidden, q_parts, cache = [res.hidden], [res.q_out], res.cache
    for t in range(gen.shape[1]):
        res, _ = dec.forward(gen[:, t:t + 1], cache, run=run)
        cache = res.cache
        hidden.append(res.hidden)
        q_parts.append(res.q_out)
    got = np.concatenate(hidden, axis=1)
    q_all = np.ascontiguousarray(np.concatenate(q_parts, axis=1), dtype=np.int8)
    st = run.stats
    notes = prep.kind.functional_notes(hw_cfg)
    if int8_note is not None:
        notes.append(int8_note)
    if dec.qw.fallback:
        notes.append(f"not GOBO-quantized in the model, run as int8: {', '.join(dec.qw.fallback)}")
    notes.append(f"prefill of {wl.seq_len} tokens, then {gen.shape[1]} decode steps with the integer KV cache; the "
                 "LM head on the last token of each pass; GPT-2's tanh GELU is computed as I-BERT's erf GELU")
    base.update(checked=bool(st.all_equal), exact=True, mode=mode, engine=datapath.name,
                cosine_vs_float=cosine(got, ref), max_abs_err_vs_float=max_abs_error(got, ref),
                output_sha256=hashlib.sha256(q_all.tobytes()).hexdigest(), gemms=st.gemms, bmms=st.bmms,
                gemms_checked=st.checked, mismatches=list(st.mismatches), calibration=cal_desc, smoothing=False,
                notes=notes)
    return FunctionalReport(**base)
