"""Generate the decoder golden data in ``tests/data/decoder_golden/``: seeded random-initialised tiny GPT-2, OPT
and Llama models (no download) and their Hugging Face float32 outputs, prefill and incremental decode.

Run once, by hand, NOT in the tests (torch is not a run-time or test dependency of gobosim)::

    python -m venv GOLDENV
    GOLDENV/bin/pip install torch==2.13.0 transformers safetensors     # the local CPU torch wheel
    GOLDENV/bin/python bench/make_decoder_golden.py

(``--out`` defaults to ``tests/data/decoder_golden``.) The versions used for the committed files are
recorded in ``golden.json`` (``generator``).

What it does, exactly, per model (``MODELS``):

1. ``torch.manual_seed(SEED)``; the model is built from its config (``GPT2LMHeadModel``, ``OPTForCausalLM``,
   ``LlamaForCausalLM``; ``attn_implementation="eager"``), so every weight has the library's random
   initialisation; then every parameter gets seeded noise (``p += 0.05 * randn``, LayerNorm/RMSNorm weights
   ``1 + 0.1 * randn``) so that biases and norms are not trivially 0 and 1 and every tensor matters.
2. The weights are saved as ``<name>.safetensors`` (float32, Hugging Face names; tied LM heads once).
3. Input: ``BATCH x PROMPT`` token ids from ``torch.randint`` (after the weights, same generator).
4. Prefill: the model in eval mode, ``torch.no_grad()``, float32, ``use_cache=True``: the final norm's output
   (``output_hidden_states``' last entry) and the first ``LOGITS_KEPT`` logits of every position.
5. Decode: ``STEPS`` greedy tokens (argmax of the last logits over the whole vocabulary), each one a forward
   of the one new token with ``past_key_values``; stored: the token, the final hidden state and the first
   ``LOGITS_KEPT`` logits of that token.
6. Full forward of prompt + generated tokens (no cache): its hidden states at the generated positions, so
   the file also shows that Hugging Face's own incremental decode equals its full forward.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SEED = 0
BATCH = 2
PROMPT = 12
STEPS = 4
LOGITS_KEPT = 48  # logits stored per position: the first 48 of the vocabulary (keeps the file small)

MODELS = {
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", dict(
        n_layer=2, n_embd=32, n_head=4, n_inner=128, vocab_size=512, n_positions=64, layer_norm_epsilon=1e-5,
        activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=True)),
    "opt": ("OPTConfig", "OPTForCausalLM", dict(
        num_hidden_layers=2, hidden_size=32, num_attention_heads=4, ffn_dim=128, vocab_size=256,
        max_position_embeddings=64, word_embed_proj_dim=32, activation_function="relu", do_layer_norm_before=True,
        dropout=0.0, attention_dropout=0.0, layerdrop=0.0, tie_word_embeddings=True, pad_token_id=1)),
    "llama": ("LlamaConfig", "LlamaForCausalLM", dict(
        num_hidden_layers=2, hidden_size=32, num_attention_heads=4, num_key_value_heads=2, intermediate_size=64,
        vocab_size=256, max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=10000.0, hidden_act="silu",
        tie_word_embeddings=True, attention_bias=False, mlp_bias=False)),
}


def _perturb(model, torch) -> None:
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if p.ndim == 1 and ("ln" in name or "norm" in name or "layer_norm" in name) and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * noise)
            else:
                p.add_(0.05 * noise)


def _list(t) -> list:
    return [round(float(v), 8) for v in t.reshape(-1).tolist()]


def main() -> None:
    import torch
    import transformers
    from safetensors.torch import save_file

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "tests" / "data" / "decoder_golden"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    golden: dict = {"generator": {"torch": torch.__version__, "transformers": transformers.__version__,
                                  "seed": SEED, "batch": BATCH, "prompt": PROMPT, "steps": STEPS}, "models": {}}
    for name, (cfg_cls, model_cls, kw) in MODELS.items():
        torch.manual_seed(SEED)
        cfg = getattr(transformers, cfg_cls)(**kw)
        model = getattr(transformers, model_cls)(cfg, attn_implementation="eager") \
            if "attn_implementation" in getattr(transformers, model_cls).__init__.__code__.co_varnames \
            else getattr(transformers, model_cls)(cfg)
        model.config._attn_implementation = "eager"
        _perturb(model, torch)
        model.eval()
        state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()
                 if not k.startswith("lm_head") and not k.endswith(".attn.bias") and not k.endswith(".masked_bias")
                 and "rotary_emb" not in k}
        save_file(state, str(out / f"{name}.safetensors"))
        ids = torch.randint(0, cfg.vocab_size, (BATCH, PROMPT))
        with torch.no_grad():
            res = model(ids, use_cache=True, output_hidden_states=True)
            hidden, logits, past = res.hidden_states[-1], res.logits, res.past_key_values
            steps = []
            tok = logits[:, -1].argmax(-1, keepdim=True)
            seq = ids
            for _ in range(STEPS):
                seq = torch.cat([seq, tok], dim=1)
                r = model(tok, past_key_values=past, use_cache=True, output_hidden_states=True)
                past = r.past_key_values
                steps.append({"token": [int(v) for v in tok.reshape(-1)], "hidden": _list(r.hidden_states[-1]),
                              "logits_head": _list(r.logits[:, -1, :LOGITS_KEPT])})
                tok = r.logits[:, -1].argmax(-1, keepdim=True)
            full = model(seq, use_cache=False, output_hidden_states=True)
            full_gen = full.hidden_states[-1][:, PROMPT:]
        inc = torch.stack([torch.tensor(s["hidden"]).reshape(BATCH, -1) for s in steps], dim=1)
        golden["models"][name] = {
            "config": {k: v for k, v in cfg.to_dict().items() if isinstance(v, (int, float, str, bool, dict)) or v is None},
            "input_ids": ids.tolist(), "hidden": _list(hidden), "logits_head": _list(logits[..., :LOGITS_KEPT]),
            "hidden_shape": list(hidden.shape), "steps": steps,
            "full_forward_generated_hidden": _list(full_gen),
            "hf_incremental_vs_full_max_abs": float((inc - full_gen).abs().max()),
        }
        print(f"{name}: {sum(p.numel() for p in model.parameters()):,} parameters; HF incremental vs full "
              f"max |diff| {golden['models'][name]['hf_incremental_vs_full_max_abs']:.2e}")
    (out / "golden.json").write_text(json.dumps(golden, separators=(",", ":")) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
