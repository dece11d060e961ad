"""Text <-> token ids: characters, bytes or SentencePiece subwords (`data.tokenizer`).

    tokenizer = make_tokenizer("char", train_text)
    ids = tokenizer.encode("ROMEO:")        # int32 array
    tokenizer.decode(ids) == "ROMEO:"

* `char` (the default, char-rnn's): one id per distinct character of the training
  text, in code-point order, plus id 0 for a character training never saw (it
  decodes to U+FFFD).
* `byte`: the 256 UTF-8 byte values; there is no unknown, any text encodes. A
  character outside ASCII costs several steps.
* `subword`: a SentencePiece model learned from the training text
  (`lstmsuite.pipelines.subwords.train_sentencepiece`, the translation app's),
  with its layout kept (spaces and newlines are pieces), so decoding gives back
  the exact text.

What a run needs to decode again is saved in it (`tokenizer.json`, and
`tokenizer.model` for subwords); a resumed run whose data gives another
vocabulary is an error rather than a model reading the wrong ids.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lstmsuite.pipelines.config import ConfigError
from lstmsuite.pipelines.contract import write_bytes, write_json

TOKENIZER_FILE = "tokenizer.json"
SUBWORD_MODEL_FILE = "tokenizer.model"
KINDS = ("char", "byte", "subword")
UNKNOWN = "\ufffd"


class Chars:
    """One id per character; id 0 is the unknown character."""

    kind = "char"

    def __init__(self, chars: str):
        self.chars = "".join(sorted(set(chars) - {UNKNOWN}))
        self.size = len(self.chars) + 1
        self._codes = np.frombuffer(self.chars.encode("utf-32-le"), np.uint32)

    @classmethod
    def learn(cls, text: str) -> Chars:
        if not text:
            raise ValueError("cannot build a character vocabulary from no text")
        return cls(text)

    def encode(self, text: str) -> np.ndarray:
        # Vectorized: code points, then their rank among the known ones.
        codes = np.frombuffer(text.encode("utf-32-le"), np.uint32)
        pos = np.searchsorted(self._codes, codes)
        pos = np.minimum(pos, len(self._codes) - 1)
        known = self._codes[pos] == codes
        return np.where(known, pos + 1, 0).astype(np.int32)

    def decode(self, ids) -> str:
        table = np.array([UNKNOWN, *self.chars])
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        return "".join(table[np.clip(ids, 0, self.size - 1)].tolist())

    def to_json(self) -> dict:
        return {"kind": self.kind, "chars": self.chars}


class Bytes:
    """The 256 byte values of the UTF-8 encoding."""

    kind = "byte"
    size = 256

    def encode(self, text: str) -> np.ndarray:
        return np.frombuffer(text.encode("utf-8"), np.uint8).astype(np.int32)

    def decode(self, ids) -> str:
        data = np.asarray(ids, dtype=np.int64).reshape(-1).clip(0, 255)
        # A sample can end inside a multi-byte character: replace, never raise.
        return data.astype(np.uint8).tobytes().decode("utf-8", errors="replace")

    def to_json(self) -> dict:
        return {"kind": self.kind}


class Subwords:
    """A SentencePiece model (bytes) run by the `sentencepiece` library."""

    kind = "subword"

    def __init__(self, model: bytes):
        import sentencepiece as spm

        self.model = bytes(model)
        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.LoadFromSerializedProto(self.model)
        except RuntimeError as e:
            raise ValueError(f"not a SentencePiece model ({e})") from None
        self.size = int(self._sp.GetPieceSize())

    @classmethod
    def learn(cls, text: str, vocab_size: int) -> Subwords:
        from lstmsuite.pipelines.subwords import train_sentencepiece

        lines = text.split("\n")
        return cls(train_sentencepiece(lines, vocab_size, keep_whitespace=True))

    def encode(self, text: str) -> np.ndarray:
        return np.asarray(self._sp.encode(text), dtype=np.int32)

    def decode(self, ids) -> str:
        return self._sp.decode([int(i) for i in np.asarray(ids).reshape(-1)])

    def to_json(self) -> dict:
        return {"kind": self.kind, "model": SUBWORD_MODEL_FILE}


def make_tokenizer(kind: str, train_text: str, vocab_size: int = 1024):
    """A tokenizer of `kind` learned from the training text."""
    if kind == "char":
        return Chars.learn(train_text)
    if kind == "byte":
        return Bytes()
    if kind == "subword":
        return Subwords.learn(train_text, vocab_size)
    raise ConfigError(f"data.tokenizer: expected one of {list(KINDS)}, got {kind!r}")


def save_tokenizer(tokenizer, run_dir) -> None:
    """Writes the tokenizer into the run; a different one already there (a resumed
    run whose data changed) is a ConfigError."""
    path = Path(run_dir) / TOKENIZER_FILE
    if path.exists():
        previous = load_tokenizer(run_dir)
        if previous.to_json() != tokenizer.to_json() or getattr(
            previous, "model", None
        ) != getattr(tokenizer, "model", None):
            raise ConfigError(
                f"{path}: this run was trained with another vocabulary than the data "
                "now gives (different text or data.tokenizer); use a new --run-dir"
            )
        return
    if tokenizer.kind == "subword":
        write_bytes(Path(run_dir) / SUBWORD_MODEL_FILE, tokenizer.model)
    write_json(path, tokenizer.to_json())


def load_tokenizer(run_dir):
    path = Path(run_dir) / TOKENIZER_FILE
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
        kind = spec["kind"]
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: no tokenizer; train this run first (`lstmsuite train text`)"
        ) from None
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a valid tokenizer file ({e})") from None
    if kind == "char":
        return Chars(str(spec["chars"]))
    if kind == "byte":
        return Bytes()
    if kind == "subword":
        model = Path(run_dir) / SUBWORD_MODEL_FILE
        try:
            return Subwords(model.read_bytes())
        except (OSError, ValueError) as e:
            raise ValueError(f"{model}: cannot be read ({e})") from None
    raise ValueError(f"{path}: unknown tokenizer kind {kind!r}")
