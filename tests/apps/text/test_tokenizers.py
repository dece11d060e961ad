"""Characters, bytes and subwords: exact round trips, unknowns, saving in a run."""

from __future__ import annotations

import numpy as np
import pytest

from lstmsuite.apps.text.tokenizers import (
    Bytes,
    Chars,
    load_tokenizer,
    make_tokenizer,
    save_tokenizer,
)
from lstmsuite.pipelines.config import ConfigError

TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\n  Speak!\n"
)


def test_chars_round_trip_and_unknown():
    chars = Chars.learn(TEXT)
    assert chars.size == len(set(TEXT)) + 1
    ids = chars.encode(TEXT)
    assert ids.dtype == np.int32 and ids.min() >= 1
    assert chars.decode(ids) == TEXT
    # Sorted by code point: the vocabulary of the same text is the same.
    assert chars.encode("\n")[0] == 1
    unseen = chars.encode("Z€")
    assert (unseen == 0).all() and chars.decode(unseen) == "\ufffd\ufffd"


def test_bytes_encode_anything():
    text = "naïve café → 🎭\n"
    ids = Bytes().encode(text)
    assert len(ids) == len(text.encode("utf-8")) and ids.max() < 256
    assert Bytes().decode(ids) == text
    assert Bytes().decode(ids[:-3]).endswith("\ufffd")  # cut inside a character


def test_subwords_keep_the_layout_exactly():
    from lstmsuite.apps.text.data import load_shakespeare

    train = load_shakespeare()["train"][:60_000]
    sub = make_tokenizer("subword", train, vocab_size=600)
    text = "ROMEO:\n\n  What say you?\tnew: ü\n"
    ids = sub.encode(text)
    assert sub.decode(ids) == text
    assert len(sub.encode(train)) < len(train) / 1.5  # pieces longer than chars


@pytest.mark.parametrize("kind", ["char", "byte", "subword"])
def test_saved_in_the_run_and_checked_on_resume(kind, tmp_path):
    tok = make_tokenizer(kind, TEXT * 30, vocab_size=300)
    save_tokenizer(tok, tmp_path)
    again = load_tokenizer(tmp_path)
    assert again.size == tok.size
    assert again.decode(again.encode(TEXT)) == tok.decode(tok.encode(TEXT))
    save_tokenizer(make_tokenizer(kind, TEXT * 30, vocab_size=300), tmp_path)
    if kind == "char":
        with pytest.raises(ConfigError, match="another vocabulary"):
            save_tokenizer(Chars.learn("xyz"), tmp_path)


def test_unknown_kind_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="data.tokenizer"):
        make_tokenizer("words", TEXT)
    with pytest.raises(FileNotFoundError, match="train this run first"):
        load_tokenizer(tmp_path)
