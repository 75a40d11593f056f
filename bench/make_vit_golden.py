"""Generate ``tests/data/vit_tiny/``: a small seeded random ViT and its Hugging Face outputs (ground truth).

Run once, by hand, NOT in the tests (torch is not a run-time or test dependency of gobosim)::

    python -m venv VENV                                   # any throw-away virtualenv
    VENV/bin/pip install torch==2.13.0 transformers safetensors
    VENV/bin/python bench/make_vit_golden.py              # writes tests/data/vit_tiny/

Nothing is downloaded: the model is built from a config in this file with a seeded random initialisation.
The versions used for the committed files are recorded in ``golden.safetensors``'s metadata
(``generator``).

What it does, exactly:

1. Config (:data:`CONFIG`): ``transformers.ViTConfig`` with image 32x32, patch 8 (16 patches + [CLS] =
   17 tokens), hidden 64, 2 layers, 4 heads, MLP 128, exact GELU, LayerNorm eps 1e-12, 10 labels.
2. Model: ``transformers.ViTForImageClassification(config)`` (a ``ViTModel`` without its pooler, then the
   linear classifier on the [CLS] token) after ``torch.manual_seed(SEED)``, with eager attention, eval mode.
   Hugging Face's own initialisation leaves every LayerNorm at gamma = 1 / beta = 0 and every bias at 0;
   such a model would not notice a swapped norm or a dropped bias, so every parameter then gets seeded
   Gaussian noise (``torch.Generator`` seeded with ``SEED + 1``, in ``state_dict`` order): LayerNorm
   weights ``1 + 0.2 n``, LayerNorm biases and linear biases ``0.1 n``, [CLS] token and position embeddings
   ``0.5 n``, linear/conv weights ``+ 0.5 / sqrt(fan_in) n`` (``n`` standard normal).
3. Inputs: ``BATCH`` images ``[3, 32, 32]`` uniform in [-1, 1) (``torch.rand`` of a generator seeded with
   ``SEED + 2``, times 2, minus 1: the range of a ViT image processor's output, mean 0.5 / std 0.5).
4. Forward under ``torch.no_grad()``, once in float32 (the model's dtype) and once after ``.double()``
   (float64): the ViT's ``last_hidden_state`` (after its final LayerNorm, ``output_hidden_states``'s last
   entry is before it) and the classifier ``logits``.
5. Written: ``model.safetensors`` (``save_pretrained``, float32, the Hugging Face names ``vit.*`` and
   ``classifier.*``), ``config.json``, and ``golden.safetensors`` with ``pixel_values`` (float32) and
   ``last_hidden_state_float32``, ``logits_float32``, ``last_hidden_state_float64``, ``logits_float64``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

SEED = 20260
BATCH = 3
CONFIG = {
    "image_size": 32, "patch_size": 8, "num_channels": 3, "hidden_size": 64, "num_hidden_layers": 2,
    "num_attention_heads": 4, "intermediate_size": 128, "hidden_act": "gelu", "layer_norm_eps": 1e-12,
    "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "qkv_bias": True, "num_labels": 10,
}


def _perturb(model, torch) -> None:
    gen = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if not p.is_floating_point():
                continue
            n = torch.randn(p.shape, generator=gen, dtype=p.dtype)
            if "layernorm" in name and name.endswith(".weight"):
                p.copy_(1.0 + 0.2 * n)
            elif name.endswith(".bias"):
                p.copy_(0.1 * n)
            elif name.endswith(("cls_token", "position_embeddings")):
                p.copy_(0.5 * n)
            else:
                fan_in = math.prod(p.shape[1:])
                p.add_(0.5 / math.sqrt(fan_in) * n)


def main() -> None:
    import safetensors
    import safetensors.torch
    import torch
    import transformers

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests/data/vit_tiny")
    args = ap.parse_args()

    torch.manual_seed(SEED)
    config = transformers.ViTConfig(**CONFIG)
    config._attn_implementation = "eager"
    model = transformers.ViTForImageClassification(config)
    _perturb(model, torch)
    model.eval()
    gen = torch.Generator().manual_seed(SEED + 2)
    px = torch.rand((BATCH, 3, CONFIG["image_size"], CONFIG["image_size"]), generator=gen) * 2.0 - 1.0

    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(args.out), safe_serialization=True)
    out = {"pixel_values": px.contiguous()}
    for label, m, x in (("float32", model, px), ("float64", model.double(), px.double())):
        with torch.no_grad():
            r = m(pixel_values=x, output_hidden_states=False)
            h = m.vit(pixel_values=x).last_hidden_state
        out[f"last_hidden_state_{label}"] = h.contiguous()
        out[f"logits_{label}"] = r.logits.contiguous()
    meta = {"generator": json.dumps({"script": "bench/make_vit_golden.py", "torch": torch.__version__,
                                     "transformers": transformers.__version__,
                                     "safetensors": safetensors.__version__}),
            "seed": str(SEED), "config": json.dumps(CONFIG, sort_keys=True)}
    safetensors.torch.save_file(out, str(args.out / "golden.safetensors"), metadata=meta)
    for f in sorted(args.out.iterdir()):
        print(f"{f.name}: {f.stat().st_size} bytes")


if __name__ == "__main__":
    main()
