"""Tokenizers of the model families: the model's ``tokenizer.json`` through the ``tokenizers`` library, or BERT
WordPiece from ``vocab.txt``.

:func:`load_tokenizer` picks, for a model directory: ``tokenizer.json`` (a Hugging Face fast-tokenizer
definition: RoBERTa's byte-level BPE, BERT's WordPiece, any other) run by the ``tokenizers`` library
(:class:`JsonTokenizer`), else ``vocab.txt`` run by the hand-written :class:`WordPieceTokenizer` below (BERT
only: a RoBERTa model has no ``vocab.txt``, and WordPiece would give its text wrong ids).

The WordPiece tokenizer (hand-written, no ``tokenizers`` dependency):

It follows the Hugging Face fast tokenizer of ``bert-base-uncased``-style models (the Rust
``tokenizers`` crate: ``BertNormalizer`` -> ``BertPreTokenizer`` -> ``WordPiece`` -> ``[CLS] ... [SEP]``):

1. Clean text: drop U+0000, U+FFFD and "other" characters (Unicode categories Cc, Cf, Cs, Co, Cn)
   except tab / newline / carriage return; map whitespace (tab, newline, CR and the Unicode
   ``White_Space`` characters) to a space.
2. Put spaces around CJK ideographs (the BERT ranges), so each is its own word.
3. If lower-casing (``do_lower_case``): strip accents (NFD, drop non-spacing marks, category Mn), then
   lower-case (the crate's order; ``strip_accents`` follows ``lowercase`` unless set).
4. Split on whitespace, and split off every punctuation character (ASCII punctuation or a Unicode
   ``P*`` category) as its own word.
5. WordPiece per word: a word longer than 100 characters is ``[UNK]``; otherwise greedy longest match
   from the left, continuation pieces prefixed ``##``; if some position matches nothing the whole word is
   ``[UNK]``.
6. ``[CLS]`` + pieces (truncated to ``max_length - 2``) + ``[SEP]``; batches are padded with ``[PAD]`` to
   the longest sequence (or ``pad_to``), with attention mask 1 for tokens and 0 for padding.

Checked against the Hugging Face tokenizer's ids for the golden sentences (tests/data/minilm_golden.json).
"""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.errors import SimInputError

__all__ = ["JsonTokenizer", "WordPieceTokenizer", "TokenBatch", "load_tokenizer"]

# Unicode White_Space (Rust char::is_whitespace), which the crate maps to " ".
_WHITESPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
                        "\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
               (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def _is_cjk(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


@dataclass(frozen=True)
class TokenBatch:
    """A padded batch: ``input_ids``, ``attention_mask``, ``token_type_ids``, each int64 ``[batch, seq]``."""

    input_ids: np.ndarray
    attention_mask: np.ndarray
    token_type_ids: np.ndarray


class WordPieceTokenizer:
    """BERT WordPiece tokenizer (see the module docstring for the exact steps).

    ``vocab``: token -> id (``vocab.txt`` order: line number = id). ``lowercase``: lower-case and, unless
    ``strip_accents`` says otherwise, strip accents. ``max_input_chars_per_word``: longer words are UNK.
    """

    def __init__(self, vocab: dict[str, int], *, lowercase: bool = True, strip_accents: bool | None = None,
                 max_input_chars_per_word: int = 100, unk_token: str = "[UNK]", cls_token: str = "[CLS]",
                 sep_token: str = "[SEP]", pad_token: str = "[PAD]", model_max_length: int = 512) -> None:
        for tok in (unk_token, cls_token, sep_token, pad_token):
            if tok not in vocab:
                raise SimInputError(f"vocabulary has no special token {tok!r}")
        self.vocab = vocab
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.max_input_chars_per_word = max_input_chars_per_word
        self.unk_id = vocab[unk_token]
        self.cls_id = vocab[cls_token]
        self.sep_id = vocab[sep_token]
        self.pad_id = vocab[pad_token]
        self.unk_token = unk_token
        self.model_max_length = model_max_length

    @classmethod
    def from_dir(cls, model_dir: str | os.PathLike[str]) -> WordPieceTokenizer:
        """Read ``vocab.txt`` (one token per line) and, when present, ``tokenizer_config.json``
        (``do_lower_case``, ``strip_accents``, ``model_max_length``, special tokens) from a model directory."""
        d = Path(model_dir)
        vocab_path = d / "vocab.txt"
        if not vocab_path.is_file():
            raise SimInputError(f"{d}: no vocab.txt")
        vocab: dict[str, int] = {}
        with vocab_path.open(encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                tok = line.rstrip("\n").rstrip("\r")
                vocab.setdefault(tok, i)
        kw: dict[str, object] = {}
        cfg_path = d / "tokenizer_config.json"
        if cfg_path.is_file():
            cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
            if "do_lower_case" in cfg:
                kw["lowercase"] = bool(cfg["do_lower_case"])
            if cfg.get("strip_accents") is not None:
                kw["strip_accents"] = bool(cfg["strip_accents"])
            if isinstance(cfg.get("model_max_length"), int) and cfg["model_max_length"] < 1 << 20:
                kw["model_max_length"] = cfg["model_max_length"]
            for key in ("unk_token", "cls_token", "sep_token", "pad_token"):
                if isinstance(cfg.get(key), str):
                    kw[key] = cfg[key]
        return cls(vocab, **kw)  # type: ignore[arg-type]

    # ---- steps -------------------------------------------------------------------------------

    def normalize(self, text: str) -> str:
        """Steps 1-3: clean, space out CJK, strip accents, lower-case."""
        out = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or _is_control(ch):
                continue
            if ch in _WHITESPACE:
                out.append(" ")
            elif _is_cjk(cp):
                out.append(f" {ch} ")
            else:
                out.append(ch)
        s = "".join(out)
        if self.strip_accents:
            s = "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")
        if self.lowercase:
            s = s.lower()
        return s

    @staticmethod
    def pre_tokenize(text: str) -> list[str]:
        """Step 4: words split on whitespace, punctuation characters as words of their own."""
        words: list[str] = []
        for chunk in text.split():
            cur: list[str] = []
            for ch in chunk:
                if _is_punctuation(ch):
                    if cur:
                        words.append("".join(cur))
                        cur = []
                    words.append(ch)
                else:
                    cur.append(ch)
            if cur:
                words.append("".join(cur))
        return words

    def wordpiece(self, word: str) -> list[str]:
        """Step 5: greedy longest-match-first pieces of one word (``[UNK]`` if it cannot be covered)."""
        if len(word) > self.max_input_chars_per_word:
            return [self.unk_token]
        pieces: list[str] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                sub = word[start:end] if start == 0 else "##" + word[start:end]
                if sub in self.vocab:
                    found = sub
                    break
                end -= 1
            if found is None:
                return [self.unk_token]
            pieces.append(found)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """The word pieces of ``text`` (no special tokens)."""
        return [p for w in self.pre_tokenize(self.normalize(text)) for p in self.wordpiece(w)]

    def encode(self, text: str, max_length: int | None = None) -> list[int]:
        """Token ids ``[CLS] pieces [SEP]``, truncated to ``max_length`` (default ``model_max_length``) ids."""
        limit = self.model_max_length if max_length is None else int(max_length)
        if limit < 2:
            raise SimInputError(f"max_length must be >= 2 (room for [CLS] and [SEP]), got {limit}")
        ids = [self.vocab.get(p, self.unk_id) for p in self.tokenize(text)][: limit - 2]
        return [self.cls_id, *ids, self.sep_id]

    def batch(self, texts: list[str] | tuple[str, ...], max_length: int | None = None,
              pad_to: int | None = None) -> TokenBatch:
        """Encode several texts and pad them to the longest (or to ``pad_to``) with ``[PAD]``."""
        return _pad_batch(self, texts, max_length, pad_to)


#: Largest ``tokenizer.json`` read (RoBERTa-large's is 1.4 MB; multilingual ones reach ~20 MB).
MAX_TOKENIZER_JSON_BYTES = 64 << 20


class JsonTokenizer:
    """A model's ``tokenizer.json`` run by the ``tokenizers`` library, with the interface of
    :class:`WordPieceTokenizer` (``encode``, ``batch``, ``vocab``).

    The file's own normalizer, pre-tokenizer, model and post-processor (special tokens: ``<s> ... </s>`` for
    RoBERTa, ``[CLS] ... [SEP]`` for BERT) are used as they are; its stored truncation and padding settings are
    replaced by this class's (``max_length`` per call, padding to the longest sequence with the pad token).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError:  # pragma: no cover - a declared dependency
            raise SimInputError(f"{path}: reading tokenizer.json needs the 'tokenizers' package "
                                "(pip install tokenizers)") from None
        p = Path(path)
        if not p.is_file():
            raise SimInputError(f"{p}: no such tokenizer file")
        size = p.stat().st_size
        if size > MAX_TOKENIZER_JSON_BYTES:
            raise SimInputError(f"{p}: {size} bytes, larger than the {MAX_TOKENIZER_JSON_BYTES}-byte limit of a "
                                "tokenizer.json")
        try:
            self._tok = Tokenizer.from_str(p.read_text(encoding="utf-8"))
        except Exception as exc:  # the library raises plain Exception on a malformed definition
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SimInputError(f"{p}: not a tokenizer.json the tokenizers library can read ({first})") from None
        self.path = p
        self.vocab: dict[str, int] = self._tok.get_vocab(with_added_tokens=True)
        pad = self._tok.padding
        pad_token = pad.get("pad_token") if pad else None
        self.pad_id = next((self.vocab[t] for t in (pad_token, "<pad>", "[PAD]") if t and t in self.vocab), 0)
        self._tok.no_padding()
        self.n_special = self._tok.num_special_tokens_to_add(False)
        self.model_max_length = 512

    def encode(self, text: str, max_length: int | None = None) -> list[int]:
        """Token ids with the model's special tokens, truncated to ``max_length`` ids (default 512)."""
        limit = self.model_max_length if max_length is None else int(max_length)
        if limit < self.n_special:
            raise SimInputError(f"max_length must be >= {self.n_special} (room for the special tokens), got {limit}")
        self._tok.enable_truncation(limit)
        return list(self._tok.encode(text).ids)

    def batch(self, texts: list[str] | tuple[str, ...], max_length: int | None = None,
              pad_to: int | None = None) -> TokenBatch:
        """Encode several texts and pad them to the longest (or to ``pad_to``) with the pad token."""
        return _pad_batch(self, texts, max_length, pad_to)



def _pad_batch(tok: WordPieceTokenizer | JsonTokenizer, texts: list[str] | tuple[str, ...],
               max_length: int | None, pad_to: int | None) -> TokenBatch:
    """``tok.encode`` every text and pad the ids to the longest (or to ``pad_to``) with ``tok.pad_id``."""
    if isinstance(texts, str):
        raise SimInputError("batch() takes a list of texts, got a single string")
    seqs = [tok.encode(t, max_length) for t in texts]
    width = max((len(s) for s in seqs), default=0)
    if pad_to is not None:
        if pad_to < width:
            raise SimInputError(f"pad_to {pad_to} is shorter than the longest sequence ({width} ids)")
        width = pad_to
    ids = np.full((len(seqs), width), tok.pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return TokenBatch(ids, mask, np.zeros_like(ids))

def load_tokenizer(model_dir: str | os.PathLike[str]) -> tuple[JsonTokenizer | WordPieceTokenizer, Path] | None:
    """The tokenizer of a model directory and the file it was built from: ``tokenizer.json`` (any family, by the
    ``tokenizers`` library), else ``vocab.txt`` (BERT WordPiece), else None."""
    d = Path(model_dir)
    if (d / "tokenizer.json").is_file():
        return JsonTokenizer(d / "tokenizer.json"), d / "tokenizer.json"
    if (d / "vocab.txt").is_file():
        return WordPieceTokenizer.from_dir(d), d / "vocab.txt"
    return None
