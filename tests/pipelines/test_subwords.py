"""The in-graph SentencePiece tokenizer: round trip, unseen input, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from lstmsuite.pipelines.subwords import (
    BOS,
    EOS,
    PAD,
    Tokenizer,
    train_sentencepiece,
)
from tests.apps.translation.conftest import number_pairs


@pytest.fixture(scope="module")
def tokenizer():
    lines = [fr for _, fr in number_pairs(300)] + ["Où est la gare ?", "Ça va."]
    return Tokenizer.from_model(train_sentencepiece(lines, 400), name="fr")


def test_vocab_size_is_checked_against_the_model(tmp_path):
    model = train_sentencepiece(["a b c", "abc abd"] * 20, 300)
    tok = Tokenizer.from_model(model)
    assert 260 < tok.vocab_size <= 300  # reserved + 256 bytes + pieces found
    with pytest.raises(ValueError, match="pieces"):
        Tokenizer(tok.vocab_size + 1, model)
    (tmp_path / "bad.model").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.model: not a SentencePiece model"):
        Tokenizer.from_file(tmp_path / "bad.model")


def test_round_trip_of_seen_text(tokenizer):
    text = ["Un deux trois.", "Ça va.", "Où est la gare ?", ""]
    ids = tokenizer.tokenize(text)
    assert ids.shape[0] == 4 and ids[3].shape[0] == 0
    flat = np.concatenate([r.numpy() for r in ids])
    assert flat.min() > EOS  # reserved ids never come out of tokenize
    assert [s.decode() for s in tokenizer.detokenize(ids).numpy()] == text


def test_unseen_words_and_characters_never_raise_and_survive(tokenizer):
    text = ["Zébulon mange des 漢字 😀 ×÷.", "ЖЖЖ", "\t spaced \n"]
    ids = tokenizer.tokenize(text)  # byte fallback: no error, no UNK
    back = [s.decode() for s in tokenizer.detokenize(ids).numpy()]
    assert back[:2] == text[:2]
    assert back[2] == "spaced"  # SentencePiece normalizes whitespace


def test_detokenize_stops_at_end_and_skips_padding(tokenizer):
    ids = tokenizer.tokenize(["Un deux.", "Trois."]).to_tensor(default_value=PAD)
    dense = np.asarray(ids)
    batch = np.full((2, dense.shape[1] + 3), PAD, dtype=np.int32)
    batch[:, 0] = BOS
    batch[:, 1 : 1 + dense.shape[1]] = dense
    row1_len = int((dense[1] != PAD).sum())
    batch[1, 1 + row1_len] = EOS
    batch[1, 2 + row1_len :] = dense[0, : batch.shape[1] - 2 - row1_len]  # junk
    out = [s.decode() for s in tokenizer.detokenize(batch).numpy()]
    assert out == ["Un deux.", "Trois."]


def test_the_model_bytes_travel_as_a_keras_asset(tokenizer, tmp_path):
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, tokenizer(inputs))
    path = tmp_path / "tok.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    layer = loaded.layers[-1]
    assert isinstance(layer, Tokenizer) and layer.model_bytes == tokenizer.model_bytes
    np.testing.assert_array_equal(
        np.asarray(layer(np.array(["Un deux trois."]))),
        np.asarray(tokenizer(np.array(["Un deux trois."]))),
    )


def test_learning_from_no_text_is_a_clear_error():
    with pytest.raises(ValueError, match="no text"):
        train_sentencepiece(["", "  "], 300)
