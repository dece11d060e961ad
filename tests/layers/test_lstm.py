"""`lstmsuite.layers.LSTM` against `keras.layers.LSTM` with the same weights."""

import keras
import numpy as np
import pytest

from lstmsuite.layers import LSTM, LSTMCell
from tests.layers import numpy_reference as ref_np
from tests.layers import parity
from tests.layers.helpers import cell_weights, randomize_weights, to_numpy


@pytest.mark.parametrize("case", parity.CASES, ids=parity.CASE_IDS)
def test_parity_with_keras(case):
    parity.check_case(keras.layers.LSTM, LSTM, {}, case, n_states=2)


def test_parity_stateful_and_reset_state():
    parity.check_stateful(keras.layers.LSTM, LSTM, {})


@pytest.mark.parametrize(
    "merge_mode, mask", [("concat", False), ("sum", True), (None, True)]
)
def test_parity_bidirectional(merge_mode, mask):
    parity.check_bidirectional(keras.layers.LSTM, LSTM, {}, merge_mode, mask)


def test_parity_embedding_mask_zero():
    parity.check_embedding_mask(keras.layers.LSTM, LSTM, {})


def test_parity_masking_layer():
    parity.check_masking_layer(keras.layers.LSTM, LSTM, {})


def test_weights_match_keras_names_and_shapes():
    ref, ours = parity.make_pair(keras.layers.LSTM, LSTM, {})
    assert [w.name for w in ours.weights] == [w.name for w in ref.weights]
    assert [tuple(w.shape) for w in ours.weights] == [
        tuple(w.shape) for w in ref.weights
    ]


def test_unit_forget_bias_initialization():
    layer = LSTM(3)
    layer.build((2, 4, 5))
    bias = to_numpy(layer.cell.bias)
    np.testing.assert_array_equal(bias[3:6], 1.0)
    np.testing.assert_array_equal(np.delete(bias, np.s_[3:6]), 0.0)
    layer = LSTM(3, unit_forget_bias=False)
    layer.build((2, 4, 5))
    np.testing.assert_array_equal(to_numpy(layer.cell.bias), 0.0)


def test_cell_in_keras_rnn_matches_layer():
    """`LSTMCell` in a plain `keras.layers.RNN` computes what `LSTM` computes."""
    layer = LSTM(3, return_sequences=True, return_state=True)
    rnn = keras.layers.RNN(LSTMCell(3), return_sequences=True, return_state=True)
    x = np.random.default_rng(0).normal(size=(2, 4, 5)).astype("float32")
    layer.build(x.shape)
    rnn.build(x.shape)
    randomize_weights(layer)
    rnn.set_weights(layer.get_weights())
    parity.assert_same_outputs(layer(x), rnn(x))


def test_matches_numpy_reference_with_cell_clip():
    layer = LSTM(3, return_sequences=True, return_state=True, cell_clip=0.3)
    x = np.random.default_rng(1).normal(size=(2, 4, 5)).astype("float32")
    layer.build(x.shape)
    randomize_weights(layer, scale=1.5)
    outputs, h, c = layer(x)
    expected, (h_ref, c_ref) = ref_np.run(
        ref_np.lstm_step, x, [np.zeros((2, 3))] * 2, cell_weights(layer), cell_clip=0.3
    )
    assert np.abs(c_ref).max() == pytest.approx(0.3)
    np.testing.assert_allclose(to_numpy(outputs), expected, atol=1e-5)
    np.testing.assert_allclose(to_numpy(h), h_ref, atol=1e-5)
    np.testing.assert_allclose(to_numpy(c), c_ref, atol=1e-5)


def test_dtype_and_trainable_reach_the_layer_and_the_cell():
    # (No orthogonal initializer: JAX has no float16 QR on CPU.)
    layer = LSTM(3, dtype="float16", trainable=False, recurrent_initializer="zeros")
    layer.build((2, 4, 5))
    assert layer.dtype_policy.name == layer.cell.dtype_policy.name == "float16"
    assert not layer.trainable and not layer.cell.trainable
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 3
    assert layer(np.zeros((2, 4, 5), "float16")).dtype == "float16"
    clone = LSTM.from_config(layer.get_config())
    assert clone.dtype_policy.name == "float16" and not clone.trainable
