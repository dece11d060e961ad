"""On TensorFlow's CPU executor, inference splits a large batch over two loops.

`lstmsuite.layers.recurrent._split_batch` decides; each half must give the rows
the whole batch gives (to float32 rounding), for every layer and option
that reaches the loop.
"""

import keras
import numpy as np
import pytest

from lstmsuite.layers import LSTM, recurrent
from tests.layers.helpers import VARIANTS, randomize_weights, to_numpy

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the batch split is for TensorFlow's per-op loop executor only",
)

BATCH = 2 * recurrent._MIN_SPLIT_ROWS + 3  # large enough to split, halves unequal


@pytest.fixture(autouse=True)
def two_cpu_cores(monkeypatch):
    """The decision as on CI's 2-core CPU, wherever the tests run."""
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        pytest.skip("with a GPU visible the batch is never split")
    monkeypatch.setattr(recurrent, "_cpu_count", lambda: 2)


def loop_count(monkeypatch):
    """Counts the loops Keras's backend `rnn` runs while tracing."""
    calls = []
    original = recurrent.keras_backend.rnn

    def counting_rnn(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(recurrent.keras_backend, "rnn", counting_rnn)
    return calls


def run_both_ways(layer, x, monkeypatch, **call_kwargs):
    """The layer's inference outputs with and without the split, as NumPy."""
    import tensorflow as tf

    calls = loop_count(monkeypatch)
    split = tf.function(lambda x: layer(x, training=False, **call_kwargs))(x)
    assert len(calls) == 2, "the batch was not split"
    monkeypatch.setattr(recurrent, "_split_batch", lambda *args: False)
    whole = tf.function(lambda x: layer(x, training=False, **call_kwargs))(x)
    assert len(calls) == 3
    return [to_numpy(t) for t in keras.tree.flatten(split)], [
        to_numpy(t) for t in keras.tree.flatten(whole)
    ]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_split_rows_equal_whole_batch_rows(name, monkeypatch):
    layer_class, _, kwargs, _, _ = VARIANTS[name]
    layer = layer_class(5, return_sequences=True, return_state=True, **kwargs)
    x = np.random.default_rng(1).normal(size=(BATCH, 6, 4)).astype("float32")
    layer(x)
    randomize_weights(layer)
    split, whole = run_both_ways(layer, x, monkeypatch)
    for ours, reference in zip(split, whole):
        # Matmul kernels may round the last bit differently for fewer rows.
        np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "options",
    [
        {"go_backwards": True},
        {"zoneout_cell": 0.3, "zoneout_hidden": 0.2, "recurrent_dropout": 0.4},
        {"stateful": False, "unit_forget_bias": False, "cell_clip": 0.5},
    ],
    ids=["go_backwards", "zoneout_and_dropout", "clip"],
)
def test_split_keeps_options_and_masks(options, monkeypatch):
    layer = LSTM(5, return_sequences=True, return_state=True, **options)
    x = np.random.default_rng(2).normal(size=(BATCH, 7, 4)).astype("float32")
    layer(x)
    randomize_weights(layer)
    lengths = np.random.default_rng(3).integers(1, 8, size=BATCH)
    mask = np.arange(7)[None, :] < lengths[:, None]
    split, whole = run_both_ways(layer, x, monkeypatch, mask=mask)
    for ours, reference in zip(split, whole):
        # Matmul kernels may round the last bit differently for fewer rows.
        np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6)


def test_split_only_where_it_pays():
    import tensorflow as tf

    def decide(batch, training=False, jit=False, time_steps=5):
        spec = tf.TensorSpec((batch, time_steps, 4))
        decision = []

        def trace(x):
            decision.append(recurrent._split_batch(x, training, False))
            return x

        tf.function(trace, jit_compile=jit).get_concrete_function(spec)
        return decision[0]

    assert decide(BATCH) is True
    assert decide(2 * recurrent._MIN_SPLIT_ROWS - 1) is False  # too few rows
    assert decide(None) is False  # unknown batch size
    assert decide(BATCH, training=True) is False
    assert decide(BATCH, jit=True) is False  # XLA fuses the step itself
    assert decide(BATCH, time_steps=1) is False  # step-by-step decoding
    # Eager execution runs the two loops one after the other.
    assert recurrent._split_batch(tf.zeros((BATCH, 5, 4)), False, False) is False


@pytest.mark.parametrize(
    "batch, split, rows",
    [(BATCH + 1, True, (BATCH + 1) // 2), (BATCH, True, None), (3, False, 3)],
    ids=["even_split", "odd_split", "whole"],
)
def test_layer_norm_vectors_broadcast_per_loop(batch, split, rows, monkeypatch):
    """`LayerNormLSTM` in inference broadcasts its gains and offsets to each
    loop's rows once per sequence (where the loops' batch is known and the same):
    the outputs are those of the (n,) vectors."""
    import tensorflow as tf

    from lstmsuite.layers import LayerNormLSTM
    from lstmsuite.layers.layer_norm_lstm import LayerNormLSTMCell

    layer = LayerNormLSTM(5, return_sequences=True)
    x = np.random.default_rng(4).normal(size=(batch, 6, 4)).astype("float32")
    layer(x)
    randomize_weights(layer)
    seen = []
    original = LayerNormLSTMCell.sequence_masks

    def spy(cell, h, training, time_steps, rows=None):
        seen.append(rows)
        return original(cell, h, training, time_steps, rows)

    monkeypatch.setattr(LayerNormLSTMCell, "sequence_masks", spy)
    calls = loop_count(monkeypatch)
    broadcast = to_numpy(tf.function(lambda x: layer(x, training=False))(x))
    assert len(calls) == (2 if split else 1)
    assert seen == [rows]

    def without_rows(cell, h, training, time_steps, rows=None):
        return original(cell, h, training, time_steps, None)

    monkeypatch.setattr(LayerNormLSTMCell, "sequence_masks", without_rows)
    vectors = to_numpy(tf.function(lambda x: layer(x, training=False))(x))
    np.testing.assert_allclose(broadcast, vectors, rtol=0, atol=1e-7)
