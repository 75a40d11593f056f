"""The functional pass of ``sim run --functional``: run the design's integer pipeline and check its datapath.

:func:`functional_check` runs the workload's encoder on a fixed seeded input (``batch x seq_len`` token ids
drawn uniformly from the vocabulary by numpy's PCG64 seeded with :data:`INPUT_SEED`, no padding) through
the design's own arithmetic:

================================  ==================================================================
design                            functional model
================================  ==================================================================
``weights.format: gobo``,         GOBO integer weights of the design's quantized model through the
``compute.kind: gobo``            GOBO PE dataflow (bins per centroid, one multiply per bin, outlier
                                  products); attention BMMs as int8 MACs
``weights.format: int8``,         int8 per-channel weights (smoothed, see :mod:`.smoothing`), every
``compute.kind: systolic``        GEMM and BMM accumulated fold by fold (``compute.rows`` PE rows per
                                  fold) in int32 with every running sum checked
``weights.format: gobo``,         GOBO compression off chip, decompressed on chip to the integer
``compute.kind: systolic``        matrix (int8 centroids, int16 outliers), then the systolic fold model
``weights.format: ternary``,      TWN-ternarized weights (per row or per tensor), weight GEMMs as sums and
``compute.kind: ternary``         differences of int8 activations, attention BMMs bit-serial
``weights.format: bcq``,          q-plane binary-coded weights, weight GEMMs through lookup tables of partial
``compute.kind: biqgemm``         sums of activation groups (BiQGEMM), attention BMMs on int8 planes
``weights.format: olive``,        4-bit OVP weights (per output channel) decoded from their packed pairs
``compute.kind: olive``           at the array edge, folds accumulated in int32; 4-bit OVP activations
                                  (``compute.act_bits: 4``, the preset) encoded into pair bytes and
                                  decoded at the array edge, or int8; attention BMMs on decoded OVP pairs
                                  (Q K^T) and nibble passes (P V; int8: both)
``weights.format: olaccel``,      4-bit weights with sparse int8 outliers: dense nibbles on the lanes, the
``compute.kind: olaccel``         outlier list on the outlier MACs; 4-bit dense activations with int8
                                  outlier activations computed apart and merged (``compute.act_bits: 4``, the
                                  preset), or int8; attention BMMs as two nibble passes
``weights.format: fp16``          the float model with every GEMM operand rounded to fp16 and fp32
(tensor core)                     accumulation: not integer, so ``checked`` is None and ``exact`` False
``weights.format: gobo``,         the GOBO-dequantized weights through the same fp16 model
``compute.kind: tensorcore``
================================  ==================================================================

and the design's nonlinear kernel set (``vector.kernels``); the datapath is the compute-kind plug-in's
(:meth:`sim.compute.base.ComputeKind.datapath`; None: an fp16 engine). In the integer cases every datapath GEMM is
compared with :func:`sim.kernels.gemm.int_gemm` on the same integers: ``checked`` is True only if all are
equal bit for bit. Accuracy is the last hidden state against the float model (float32 arithmetic: it
agrees with float64 to ~1e-6, far below the integer model's error) with the original fp32 weights on the
same input.

ViT workloads run the pre-LN integer ViT (:meth:`~.integer.IntegerEncoder.forward_images`) on ``batch``
seeded synthetic images (:func:`~.calibration.random_image_batch` with :data:`INPUT_SEED`: uniform in
[-1, 1), the range of a ViT image processor's output) through the same datapaths; the accuracy is the
final LayerNorm's output (all tokens) against the float ViT. The kernel set is the design's
``vector.kernels`` as for BERT (the presets say ``ibert``; ``--set vector.kernels=ivit`` runs I-ViT's).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from sim.prepare import PreparedRun
from sim.progress import step
from sim.results.functional import FunctionalReport

from . import cache as fcache
from .api import calibration_batch, float_weights, integer_encoder
from .calibration import random_image_batch
from .dims import EncoderDims
from .metrics import cosine, max_abs_error
from .reference import bert_forward, vit_forward
from .weights import FloatWeights

__all__ = ["functional_check", "INPUT_SEED", "activation_note"]

#: Seed of the functional pass's input token ids.
INPUT_SEED = 0


def activation_note(name: str, counts: dict[str, int]) -> str:
    """One line of what an activation format counted over the functional input's forward."""
    n = max(1, counts.get("elements", 0))
    line = (f"{name} activations on this input: {counts.get('elements', 0)} GEMM-input values, "
            f"{counts.get('outliers', 0)} outliers ({100.0 * counts.get('outliers', 0) / n:.2f}%)")
    if "clipped" in counts:
        line += f", {counts['clipped']} clipped"
    return line


def _input(wl) -> tuple[np.ndarray, str]:
    if wl.family == "vit":
        px = random_image_batch(wl.batch, wl.channels, wl.image_size, INPUT_SEED)
        return px, (f"seeded random images: numpy default_rng({INPUT_SEED}).uniform(-1, 1, [{wl.batch}, "
                    f"{wl.channels}, {wl.image_size}, {wl.image_size}]) as float32")
    rng = np.random.default_rng(INPUT_SEED)
    ids = rng.integers(0, wl.vocab, size=(wl.batch, wl.seq_len), dtype=np.int64)
    return ids, (f"seeded random token ids: numpy default_rng({INPUT_SEED}).integers(0, {wl.vocab}, "
                 f"[{wl.batch}, {wl.seq_len}]), no padding")


def _gobo_dequantized(w: FloatWeights, qmodel) -> FloatWeights:
    from .names import canonical_name

    t = dict(w.tensors)
    for name, packed in qmodel.packed.items():
        canon = canonical_name(name)
        if canon in t:
            t[canon] = packed.integer().dequantize().astype(np.float32).reshape(t[canon].shape)
    return FloatWeights(t, w.source + " (GOBO dequantized)")


def float_reference(wl, weights: str | None, seed: int, ids: np.ndarray, mask: np.ndarray, desc: str) -> np.ndarray:
    """The float model's last hidden state (float32 forward) on the functional input ``ids`` (described by
    ``desc``), from the disk cache of :mod:`.cache` when an earlier run computed it."""
    dims = EncoderDims.from_workload(wl)
    key = fcache.entry_key("float-reference", {"weights": fcache.weights_identity(weights, seed),
                                               "dims": vars(dims), "family": wl.family, "input": desc,
                                               "dtype": "float32"})
    arrays = fcache.load_arrays(key)
    if arrays is not None and "hidden" in arrays and arrays["hidden"].shape == mask.shape + (dims.hidden,):
        return arrays["hidden"]
    w = float_weights(wl, weights, seed)
    with step("float reference"):
        if dims.is_vit:  # ids are the images, mask one per token
            out = vit_forward(w, dims, ids, dtype=np.float32).last_hidden_state
        else:
            out = bert_forward(w, dims, ids, mask, dtype=np.float32).last_hidden_state
    fcache.store_arrays(key, {"hidden": np.ascontiguousarray(out)})
    return out


def functional_check(prep: PreparedRun) -> FunctionalReport:
    """Run the design's functional model on the prepared run's workload: the run report's ``functional``.

    The design's GOBO-quantized model and weights are the prepared run's (the checkpoint, or the synthetic
    weights of seed ``hw.weights.seed``). Keys: ``checked`` (bool, None where no integer datapath is modelled),
    ``cosine_vs_float``, ``max_abs_err_vs_float``, ``output_sha256`` (of the final int8 output bytes; of the
    fp16 output bytes for the float models), ``exact``, ``mode``, ``kernels``, ``engine``, ``gemms``,
    ``bmms``, ``gemms_checked``, ``mismatches``, ``input``, ``calibration``, ``weights_source``, ``notes``
    (:class:`~sim.results.functional.FunctionalReport`; no wall-clock time: reports are byte-identical across
    runs).
    """
    hw_cfg, wl, qmodel, weights = prep.hw, prep.workload, prep.qmodel, prep.weights_path
    fmt = hw_cfg.weights.format
    kernels = hw_cfg.vector.kernels
    seed = int(hw_cfg.weights.seed)
    base: dict[str, Any] = {"checked": None, "cosine_vs_float": None, "max_abs_err_vs_float": None,
                            "output_sha256": None, "exact": False, "kernels": kernels,
                            "weights_source": prep.weights_source}
    dims = EncoderDims.from_workload(wl)
    ids, desc = _input(wl)
    vit = dims.is_vit
    mask = np.ones(ids.shape[:1] + (wl.seq_len,), dtype=np.int64) if vit else np.ones_like(ids)

    def float_model(wf: FloatWeights, **kw: Any) -> np.ndarray:
        if vit:
            return vit_forward(wf, dims, ids, **kw).last_hidden_state
        return bert_forward(wf, dims, ids, mask, **kw).last_hidden_state

    ref = float_reference(wl, weights, seed, ids, mask, desc).astype(np.float64)
    base["input"] = desc
    datapath = prep.kind.datapath(hw_cfg)
    if datapath is None:  # not an integer engine: the float model with fp16 operands
        w = float_weights(wl, weights, seed)
        wf = _gobo_dequantized(w, qmodel) if fmt == "gobo" else w
        out = float_model(wf, fp16=True)
        base.update(mode="fp16" if fmt == "fp16" else f"gobo{hw_cfg.weights.bits}-dequantized-fp16",
                    engine=f"{prep.kind.name}-fp16",
                    output_sha256=hashlib.sha256(out.astype(np.float16).tobytes()).hexdigest(),
                    cosine_vs_float=cosine(out, ref), max_abs_err_vs_float=max_abs_error(out, ref),
                    gemms=None, bmms=None, gemms_checked=0, mismatches=[],
                    calibration=None,
                    notes=["fp16 operands, fp32 accumulation, float32 nonlinearities: not an integer datapath, "
                           "nothing to check bit for bit; the sha256 is of the fp16-rounded output and depends "
                           "on the BLAS summation order"])
        return FunctionalReport(**base)
    if fmt == "gobo" and qmodel is not None:
        mode = f"gobo{qmodel.params.bits}"
    elif fmt == "ternary":
        mode = "ternary" if hw_cfg.weights.ternary_granularity == "row" else "ternary-tensor"
    elif fmt == "bcq":
        mode = f"bcq{hw_cfg.weights.bcq_bits}"
    elif fmt in ("olive", "olaccel"):
        mode = fmt
    else:
        mode = "int8"
    engine = datapath.name
    notes = prep.kind.functional_notes(hw_cfg)
    act_format = prep.kind.activation_format(hw_cfg)
    enc = integer_encoder(wl, weights, mode, kernels, seed=seed, qmodel=qmodel if fmt == "gobo" else None,
                          datapath=datapath, act_format=act_format)
    res = enc.forward(ids, mask, check=True)
    st = res.stats
    if act_format is not None:
        notes.append(activation_note(act_format.name, st.activations))
    if enc.qw.fallback:
        notes.append(f"not GOBO-quantized in the model, run as int8: {', '.join(enc.qw.fallback)}")
    _, _, cal_desc = calibration_batch(wl, weights)
    base.update(checked=bool(st.all_equal), exact=True, mode=mode, engine=engine,
                cosine_vs_float=cosine(res.hidden, ref), max_abs_err_vs_float=max_abs_error(res.hidden, ref),
                output_sha256=res.sha256(), gemms=st.gemms, bmms=st.bmms, gemms_checked=st.checked,
                mismatches=list(st.mismatches), calibration=cal_desc,
                smoothing=bool(enc.smooth), notes=notes)
    return FunctionalReport(**base)
