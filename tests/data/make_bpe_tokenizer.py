"""Build tests/data/bpe_tokenizer/tokenizer.json: a small RoBERTa-style byte-level BPE (the test fixture).

Trained by the ``tokenizers`` library on the sentences below (deterministic: one thread of training on a
fixed corpus), with RoBERTa's special tokens ``<s> <pad> </s> <unk> <mask>`` (ids 0..4) and its
post-processor (``<s> ... </s>``). Rerun with ``python tests/data/make_bpe_tokenizer.py`` after changing it.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "A byte-level BPE splits text into bytes first, then merges frequent pairs.",
    "RoBERTa uses a byte-level BPE vocabulary of 50265 tokens; BERT uses WordPiece.",
    "Accelerators for transformer inference quantize weights to a few bits per value.",
    "GOBO keeps outliers in full precision and clusters the Gaussian weights into centroids.",
    "Systolic arrays stream activations past stationary weights, fold after fold.",
    "Hello, world! Numbers like 3.14159 and 2026 appear, as do emoji-free symbols: #, $, %, &.",
    "Il était une fois, à Paris, un café où l'on parlait de réseaux de neurones.",
]
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def build() -> Tokenizer:
    """The fixture tokenizer."""
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, min_frequency=2, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")),
                                                      ("<s>", tok.token_to_id("<s>")), add_prefix_space=False)
    return tok


if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "bpe_tokenizer" / "tokenizer.json"
    out.parent.mkdir(exist_ok=True)
    build().save(str(out), pretty=False)
    print(out, out.stat().st_size, "bytes")
