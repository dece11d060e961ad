"""The language models: stateful windows equal one long sequence, the streaming
step equals re-reading the whole prefix, saving, the Transformer is causal."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from lstmsuite.apps.text.model import RecurrentLM, TransformerLM, inference_copy
from lstmsuite.apps.text.streaming import RecurrentStream, split_nats

VOCAB = 11
IDS = np.random.default_rng(0).integers(0, VOCAB, size=(3, 24)).astype(np.int32)


def model(cell="lstm", **kw):
    lm = RecurrentLM(VOCAB, embedding_dim=8, cell=cell, units=12, num_layers=2, **kw)
    lm.build()
    return lm


@pytest.mark.parametrize("cell", ["lstm", "gru", "mingru", "slstm"])
def test_streaming_step_equals_reading_the_whole_prefix(cell):
    lm = model(cell, residual=True)
    full = lm(IDS).numpy()
    stream = RecurrentStream(lm)
    state, last = stream.read(IDS[:, :1])  # nothing read yet; last = token 0
    for t in range(IDS.shape[1]):
        logits, state = stream.step_fn(state, last)
        np.testing.assert_allclose(logits, full[:, t], atol=2e-5)
        last = IDS[:, t + 1] if t + 1 < IDS.shape[1] else None
    # A prompt read once, then steps: the same logits as the whole sequence.
    state, last = stream.read(IDS[:, :10])
    logits, _ = stream.step_fn(state, last)
    np.testing.assert_allclose(logits, full[:, 9], atol=2e-5)


def test_stateful_windows_equal_one_long_sequence():
    stateful = model(stateful=True, batch_size=3)
    plain = inference_copy(stateful)
    assert not plain.hparams["stateful"]
    full = plain(IDS).numpy()
    parts = [stateful(IDS[:, k : k + 8]).numpy() for k in range(0, 24, 8)]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), full, atol=2e-5)
    stateful.reset_states()
    np.testing.assert_allclose(stateful(IDS[:, :8]).numpy(), full[:, :8], atol=2e-5)


def test_split_nats_carries_the_state():
    lm = model()
    ids = IDS.reshape(-1)
    total, count = split_nats(lm, ids, streams=1, window=5)
    logits = lm(ids[None, :-1]).numpy()[0]
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -logp[np.arange(len(ids) - 1), ids[1:]].sum()
    assert count == len(ids) - 1
    np.testing.assert_allclose(total, expected, rtol=1e-5)


def test_save_and_load(tmp_path):
    lm = model(stateful=True, batch_size=3, output_dropout=0.1)
    path = tmp_path / "lm.keras"
    lm.save(path)
    loaded = keras.models.load_model(path, safe_mode=True, compile=False)
    plain = inference_copy(loaded)
    np.testing.assert_allclose(
        plain(IDS).numpy(), inference_copy(lm)(IDS).numpy(), atol=1e-6
    )


def test_transformer_is_causal_and_saves(tmp_path):
    tlm = TransformerLM(VOCAB, context=24, units=16, num_layers=2, num_heads=2)
    tlm.build()
    changed = IDS.copy()
    changed[:, 15:] = (changed[:, 15:] + 1) % VOCAB
    a, b = tlm(IDS).numpy(), tlm(changed).numpy()
    np.testing.assert_allclose(a[:, :15], b[:, :15], atol=1e-5)
    assert not np.allclose(a[:, 15:], b[:, 15:])
    tlm.save(tmp_path / "t.keras")
    loaded = keras.models.load_model(tmp_path / "t.keras", safe_mode=True)
    np.testing.assert_allclose(loaded(IDS).numpy(), a, atol=1e-5)
    total, count = split_nats(tlm, IDS.reshape(-1), streams=1, window=8)
    assert count == (len(IDS.reshape(-1)) - 1) // 24 * 24 and np.isfinite(total)
    with pytest.raises(ValueError, match="multiple of num_heads"):
        TransformerLM(VOCAB, units=10, num_heads=4)


def test_stateful_needs_a_batch_size():
    with pytest.raises(ValueError, match="needs batch_size"):
        RecurrentLM(VOCAB, stateful=True)
    assert tf.executing_eagerly()
